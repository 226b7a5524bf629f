// The walk before treecopy.copytree()'s engine call when ignore() is given: ignore() must be called
// in shutil's order (depth first, each directory before its entries, subdirectories in os.scandir
// order), which a parallel walk cannot give. Done here rather than with os.scandir in Python: no
// DirEntry per entry and no Python call per entry, only the names ignore() is given.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>

namespace treecopy_py {

namespace py = pybind11;

/// Walks below SRC as python/treecopy/_shutil.py's _PreWalk describes it, SRC's own
/// ignore() call already made (top_ignored: the names it left out, as bytes). Returns
/// (ignored, calls, failure, handover): ignored {relative directory (bytes): [names left out
/// (bytes)]} for every directory it called ignore() for; calls [("ignore", directory as passed,
/// result)] in order; failure None or ("ignore", directory, exception) for an exception ignore()
/// raised, which ends the walk; handover: the walk stopped where only shutil's own recursion can
/// say what happens, for the Python walk to go on: a followed link led back to a directory being
/// walked or to SRC or one of its ancestors (shutil follows it until the system refuses), a
/// directory max_depth levels below SRC (shutil's recursion nears the interpreter's limit:
/// RecursionError), or no descriptor left. The walk is a loop over an explicit stack (no C++
/// recursion), each directory opened relative to its parent and read with getdents64.
py::tuple copytree_prewalk(py::object src, py::object top_ignored, py::object ignore, bool symlinks,
                           bool ignore_dangling_symlinks, std::size_t max_depth);

}  // namespace treecopy_py

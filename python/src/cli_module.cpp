// treecopy._cli: the treecopy command run inside the Python process, for python -m treecopy
// (python/treecopy/__main__.py). The CLI's own code (src/cli/entry.hpp) linked in: the same
// options, output and exit codes as the treecopy program, with no program to find on PATH.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "entry.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_cli, m) {
  m.doc() = "The treecopy command, run in this process (python -m treecopy).";
  m.def(
      "main",
      [](std::vector<std::string> args) {
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        // The copy takes the whole run; the command's own SIGINT/SIGTERM handling stops it.
        py::gil_scoped_release release;
        return treecopy_cli::cli_main(static_cast<int>(args.size()), argv.data());
      },
      py::arg("argv"),
      "Runs the treecopy command with argv (bytes, argv[0] first) and returns its exit code. It "
      "closes the standard output at the end, as the program does: exit right after.");
}

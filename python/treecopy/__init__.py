"""treecopy: copy directory trees in parallel, from Python.

Entry points:

* ``copytree(src, dst, ...)`` -- a drop-in replacement for ``shutil.copytree()``: same arguments,
  return value, exceptions and resulting metadata; with copy2 (the default) the whole tree is one
  call into the engine, which walks and copies in parallel.
* ``copy2(src, dst)``, ``copyfile(src, dst)`` -- drop-ins for ``shutil.copy2()`` and
  ``shutil.copyfile()``, one native call per file (clone or copy_file_range, GIL released).
* ``copy_tree(src, dst, **options)`` -- the treecopy engine itself, with the fidelity of ``cp -a``
  (symlinks kept as links, hard links, ownership, special files, xattrs), returning a ``Report``.

Paths may be ``str``, ``bytes`` or ``os.PathLike``. The tree copies release the GIL while copying and
turn Ctrl-C (KeyboardInterrupt) into a clean stop of the worker threads.
"""

import os

from ._copytree import copytree
from ._shutil import copy2, copyfile
from ._treecopy import EntryError, Progress, Report, default_jobs, version
from . import _treecopy

__all__ = ["copytree", "copy2", "copyfile", "copy_tree", "Progress", "Report", "EntryError", "default_jobs", "version"]
__version__ = version()


def copy_tree(src, dst=None, *, jobs=None, progress=None, **options):
    """Makes dst a copy of src, like ``cp -aT src dst``, and returns a Report.

    copy_tree([(src, dst), ...], **options) copies several pairs in one call: one pool of workers,
    one progress callback, one Report (a src missing among several is an entry of report.errors).

    src may be a directory, a file, a symlink (copied as a link) or a special file; dst's parent must
    exist, and dst itself must not unless merge=True. Keyword options, as treecopy::copy_options in
    C++ (see include/treecopy/options.hpp):

    jobs                concurrent workers; None or 0: default_jobs()
    merge               copy into an existing dst, replacing its non-directory entries
    reflink             'auto' (clone where possible, the default), 'always' (clone or fail), 'never'
    fail_fast           stop at the first failed entry
    preserve_ownership  copy owner and group (default True; skipped where not permitted, as cp -a)
    preserve_xattrs     copy extended attributes and ACLs (default True)
    preserve_mode       copy permission bits (default True; else SRC's bits less the umask)
    preserve_timestamps copy atime and mtime (default True)
    preserve_links      keep hard links as links (default True)
    dereference         which symlinks are followed: 'never' (default), 'command_line', 'always'
    filters             [('include' | 'exclude', glob), ...]: the first matching rule decides
    gitignore           also leave out what git ignores (.gitignore, info/exclude, core.excludesFile)
    update              skip entries whose destination has the same type, size and mtime (implies merge)
    checksum            with update: compare contents instead of size and mtime
    modify_window       with update: mtimes at most this many seconds apart count as equal
    delete_extraneous   with merge or update: remove destination entries missing from src
    one_file_system     do not descend into other file systems
    files_from          [path, ...]: copy only these paths relative to src, with their parents
    link                hard-link files to the source files instead of copying (cp -l)
    link_dest           [prev, ...]: hard-link files unchanged in prev, copy the rest (rsync)
    dry_run             report what would be copied without changing anything
    progress            callable(Progress), called on this thread every progress_interval seconds
                        (default 0.1) and once at the end; returning False stops the copy
    max_errors_kept     failures kept in report.errors (report.error_count counts them all)

    Raises OSError (FileNotFoundError, FileExistsError, NotADirectoryError, ...) before anything is
    created when the copy cannot start: src missing, dst inside src, dst existing without merge, dst's
    parent missing. Failures of single entries do not raise: they are in report.errors, and the rest
    of the tree is still copied. KeyboardInterrupt stops the copy cleanly and propagates.
    """
    if jobs is None:
        jobs = 0
    elif jobs < 0:
        raise ValueError("jobs must be positive, not %r" % (jobs,))
    for key in ("files_from", "link_dest"):
        if key in options:
            options[key] = [os.fsencode(p) for p in options[key]]
    if dst is None:
        pairs = [(os.fsencode(s), os.fsencode(d)) for s, d in src]
        return _treecopy.copy_tree(b"", b"", dict(options, jobs=jobs, progress=progress,
                                                  pairs=pairs))
    return _treecopy.copy_tree(os.fsencode(src), os.fsencode(dst),
                               dict(options, jobs=jobs, progress=progress))

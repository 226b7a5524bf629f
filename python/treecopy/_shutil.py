"""shutil drop-ins that run in the engine: copytree() with copy2 as one engine call, copy2(), copyfile().

copytree(): the engine walks and copies the whole tree (one copy_tree() call, files copied by its
workers, the GIL released) with copy2's semantics: data, permission bits, times and extended
attributes, never the owner; hard links become separate files; symlinks are followed unless
symlinks=True. What the engine does not do as shutil does is handed back to shutil's own code:

* ignore() must be called in shutil's order (depth first, each directory before its entries are
  copied, subdirectories in os.scandir order), which a parallel walk cannot give. The directories
  are therefore listed once in that order before the copy, calling ignore() exactly as shutil does
  (os.fspath of the directory path as shutil builds it, names in os.scandir order, once per
  directory not itself ignored); the engine then leaves out what it said, directory by directory,
  through its per-directory hook (copy_options::on_listing). A directory that only the copy meets
  (made meanwhile) gets its ignore() call from the engine, with the GIL taken for that call. The
  same walk raises the audit event shutil.copytree once per directory, as shutil's recursion does.
* Where shutil's walk shows through (an exception from ignore() or an audit hook below the top, a
  followed link that leads back to a directory being walked), the Python walk of _copytree.py
  copies instead, replaying the calls already made (see _PreWalk, _Replay).
* FIFOs, sockets, devices, and with symlinks=False symlinks that lead to neither a file nor a
  directory (dangling ones included), are left out by the hook and copied afterwards by
  shutil.copy2, which raises shutil's own errors (or copies a device's data), and
  ignore_dangling_symlinks is applied to them as shutil applies it. shutil sets a directory's mode
  after its entries: a copy that the engine already made read-only is opened to its owner for them,
  and its metadata set again.
* The engine's failures become shutil.Error's (srcname, dstname, str(OSError)) tuples, sorted into
  shutil's order (the order of the walk, a directory's own metadata failure after its entries').
* A destination that exists (dirs_exist_ok=True) is merged by the Python walk (_copytree.py):
  copy2 overwrites files in place, and a symlink or a file where a directory is to go are errors,
  which the engine's merge does otherwise.
"""

import collections
import errno
import fnmatch
import os
import posixpath
import shutil
import stat
import sys

from . import _treecopy

# Failures of a directory's own metadata come after those of its entries (shutil.copystat runs last).
_DIR_META_OPS = ("set_mode", "set_times", "set_xattr", "set_owner")


def _join(top, rel):
    """os.path.join(top, *rel.split(b'/')) with the names in top's type, as shutil builds paths."""
    if not rel:
        return top
    parts = rel.split(b"/")
    if isinstance(os.fspath(top), str):
        parts = [os.fsdecode(p) for p in parts]
    return os.path.join(top, *parts)


class _PreWalk:
    """Walks the tree in shutil's order before the copy, as shutil's recursion meets it: calls
    ignore() as shutil does, and remembers what ignore() left out. The walk below SRC is native
    (_treecopy.copytree_prewalk: no DirEntry and no Python call per entry). It runs only with
    ignore() and without audit hooks (with a hook, shutil copies: see audit_hooked()), so the audit
    event shutil raises per directory goes to no one.

    shutil's walk shows through in three cases, which the Python walk (_copytree.py) then copies,
    replaying the calls made here (see _Replay): an exception raised by ignore() below the top
    (shutil raises it midway, with what comes before it copied; an OSError becomes an entry of
    shutil.Error), a followed link to a directory being walked or to SRC or one of its
    ancestors (shutil follows it until the system refuses: ELOOP), and a tree deep enough for
    shutil's recursion to near the interpreter's limit (RecursionError: see _recursion_room())."""

    def __init__(self, ignore, symlinks, ignore_dangling_symlinks):
        self.ignore = ignore
        self.symlinks = symlinks
        self.ignore_dangling_symlinks = ignore_dangling_symlinks
        self.ignored = {}  # relative directory (bytes) -> [ignored names (bytes)]
        self.calls = []  # ("audit" | "ignore", directory as passed, ignore()'s result), in order
        self.failure = None  # ("ignore", directory, exception) below the top
        self.handover = False  # the walk stopped where the Python walk must go on

    def directory(self, path, rel, entries):
        """ignore() for one listed directory; returns the entries to descend into, in order."""
        if self.ignore is None:
            return entries
        names = [e.name for e in entries]
        ignored_names = self.ignore(os.fspath(path), names)
        self.calls.append(("ignore", path, ignored_names))
        left_out = [os.fsencode(n) for n in names if n in ignored_names]
        self.ignored[rel] = left_out
        return [e for e in entries if e.name not in ignored_names]

    def walk(self, src):
        """The walk below SRC, once SRC's own entries are listed and ignore() asked about them."""
        ignored, calls, self.failure, self.handover = _treecopy.copytree_prewalk(
            os.fspath(src), self.ignored[b""], self.ignore, self.symlinks,
            self.ignore_dangling_symlinks, _recursion_room())
        self.ignored.update(ignored)
        self.calls.extend(calls)


def _recursion_room():
    """Levels below SRC that the walk before the copy may go: shutil recurses through two Python
    frames per level (copytree, _copytree), and so does the Python walk that takes over deeper; a
    quarter of the room left keeps well clear of RecursionError, which the Python walk then raises
    where shutil would."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return max(1, (sys.getrecursionlimit() - depth) // 4)


class _Replay:
    """audit and ignore for the Python walk that takes over from _PreWalk: the calls it made are
    not made again (their results are given back), its failure is raised at its place, and any
    other directory gets real calls. Calls are matched by directory, not by position: a directory
    the Python walk does not reach (its parent's copy failed) leaves the others matched."""

    def __init__(self, walk):
        self.calls = {}  # (kind, os.fspath(directory)) -> [results, in order]
        for kind, path, result in walk.calls:
            self.calls.setdefault((kind, os.fspath(path)), collections.deque()).append(result)
        self.failure = walk.failure
        self.real_ignore = walk.ignore

    def next(self, kind, path):
        """(True, result) when the walk before the copy made this call; raises its failure."""
        key = (kind, os.fspath(path))
        results = self.calls.get(key)
        if results:
            return True, results.popleft()
        if self.failure and self.failure[:2] == key:
            failure, self.failure = self.failure[2], None
            raise failure
        return False, None

    def audit(self, src, dst):
        if not self.next("audit", src)[0]:
            sys.audit("shutil.copytree", src, dst)

    def ignore(self, src, names):
        made, result = self.next("ignore", src)
        return result if made else self.real_ignore(src, names)


def _native_patterns(ignore, src):
    """The patterns of ignore when it is shutil.ignore_patterns(*patterns) and the engine's hook
    can compute its results itself (see CopytreeListing's patterns), else None.

    ignore_patterns() returns set(fnmatch.filter(names, p) for each p): no effect but its result,
    the same in any order or thread, and it raises only when patterns and names are of different
    types. fnmatch's translation is reproduced for '*' and '?' only (with '[' the function is
    called as usual), on posix paths (normcase does nothing), with fnmatch unpatched."""
    code = getattr(ignore, "__code__", None)
    if (code is None or code is not shutil.ignore_patterns().__code__ or os.path is not posixpath
            or getattr(fnmatch.filter, "__module__", None) != "fnmatch"
            or getattr(shutil.fnmatch, "filter", None) is not fnmatch.filter
            or code.co_freevars != ("patterns",)):
        return None
    patterns = ignore.__closure__[0].cell_contents
    kind = bytes if isinstance(os.fspath(src), bytes) else str
    if not isinstance(patterns, tuple) or not all(type(p) is kind for p in patterns):
        return None
    if any(("[" if kind is str else b"[") in p for p in patterns):
        return None
    return list(patterns)


def _scandir_order_key(src, rel, listings):
    """The position of src/rel in shutil's walk: the os.scandir index of each component."""
    key = []
    here = b""
    for name in rel.split(b"/") if rel else []:
        if here not in listings:
            try:
                with os.scandir(os.fsencode(_join(src, here))) as itr:
                    listings[here] = {e.name: i for i, e in enumerate(itr)}
            except OSError:
                listings[here] = {}
        key.append(listings[here].get(name, sys.maxsize))
        here = here + b"/" + name if here else name
    return key


class _Failures:
    """Failures as shutil.Error tuples, with their place in shutil's order."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.src_prefix = os.fsencode(src).rstrip(b"/") or b"/"
        self.items = []  # (rel, after_children, tuple)
        self.seen = set()

    def rel_of(self, path, on_destination):
        prefix = os.fsencode(self.dst).rstrip(b"/") or b"/" if on_destination else self.src_prefix
        if path == prefix:
            return b""
        return path[len(prefix):].lstrip(b"/")

    def add_engine_error(self, e):
        on_destination = e.side == "destination"
        rel = self.rel_of(e.path_bytes, on_destination)
        srcname, dstname = _join(self.src, rel), _join(self.dst, rel)
        after = False
        if e.operation_id in _DIR_META_OPS:
            after = os.path.isdir(dstname) and not os.path.islink(dstname)
        # copy2 and copystat stop at their first failure: one tuple per entry (and per directory's
        # own metadata).
        if (rel, after) in self.seen:
            return
        self.seen.add((rel, after))
        if e.errno:
            reason = str(OSError(e.errno, e.strerror, dstname if on_destination else srcname))
        else:
            reason = e.message()
        self.items.append((rel, after, (srcname, dstname, reason)))

    def add(self, rel, error, after=False):
        self.items.append((rel, after, error))

    def raise_if_any(self):
        if not self.items:
            return
        listings = {}

        def key(item):
            rel, after, _ = item
            return _scandir_order_key(self.src, rel, listings) + ([sys.maxsize + 1] if after else [])

        self.items.sort(key=key)
        raise shutil.Error([error for _, _, error in self.items])


def _copy_deferred(src, dst, rel_dir, name, symlinks, ignore, ignore_dangling_symlinks, failures):
    """One entry left to shutil's code, as shutil._copytree() treats it. True: dst's directory changed."""
    rel = rel_dir + b"/" + name if rel_dir else name
    srcname, dstname = _join(src, rel), _join(dst, rel)
    try:
        if os.path.islink(srcname) and not symlinks:
            linkto = os.readlink(srcname)
            # As shutil: linkto is tested relative to the current directory.
            if not os.path.exists(linkto) and ignore_dangling_symlinks:
                return False
            if os.path.isdir(srcname):
                # A link that leads back (see CopytreeListing): shutil's recursion follows it.
                return _copy_subtree(srcname, dstname, rel, symlinks, ignore,
                                     ignore_dangling_symlinks, failures)
        elif os.path.isdir(srcname):
            # A bind mount of a directory above it (see _bind_alias()).
            return _copy_subtree(srcname, dstname, rel, symlinks, ignore, ignore_dangling_symlinks,
                                 failures)
        shutil.copy2(srcname, dstname)
        return True
    except shutil.Error as err:
        for error in err.args[0]:
            failures.add(rel, error)
    except OSError as why:
        failures.add(rel, (srcname, dstname, str(why)))
    return False


def _copy_subtree(srcname, dstname, rel, symlinks, ignore, ignore_dangling_symlinks, failures):
    """shutil's recursion into srcname, by shutil.copytree itself. True: dst's directory changed."""
    try:
        shutil.copytree(srcname, dstname, symlinks, ignore, shutil.copy2, ignore_dangling_symlinks)
    except shutil.Error as err:
        for error in err.args[0]:
            failures.add(rel, error)
    return True


def _bind_alias(error, src, failures):
    """(rel_dir, name) of a directory the engine did not copy as a cycle (same device and inode as
    one it is copying above it, as cp -a refuses it) that is no symlink: a bind mount of that
    directory, whose tree is finite (a bind mount does not hold itself) and which shutil copies as
    any directory. None otherwise."""
    if not error.directory_cycle or error.side != "source":
        return None
    rel = failures.rel_of(error.path_bytes, False)
    srcname = _join(src, rel)
    if not rel or os.path.islink(srcname) or not os.path.isdir(srcname):
        return None
    rel_dir, _, name = rel.rpartition(b"/")
    return rel_dir, name


def _let_write(dst_dir):
    """shutil sets a directory's mode after copying its entries; the engine has set it already: lets
    the owner write into the copy for the entries copied afterwards (copystat is applied again).
    True when the mode was changed."""
    try:
        st = os.lstat(dst_dir)
        if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or os.geteuid() == 0
                or st.st_mode & 0o300 == 0o300):
            return False
        os.chmod(dst_dir, stat.S_IMODE(st.st_mode) | 0o300)
        return True
    except OSError:
        return False


def _unlisted_dir_made(error, dst, failures):
    """The engine, as cp, makes the copy of a directory it may not read; shutil does not: removes it.
    True when it did."""
    if error.operation_id != "open_source" or error.side != "source" or error.errno != errno.EACCES:
        return False
    dstname = _join(dst, failures.rel_of(error.path_bytes, False))
    try:
        if os.path.islink(dstname) or not os.path.isdir(dstname):
            return False
        os.rmdir(dstname)
        return True
    except OSError:
        return False


def audit_hooked():
    """Whether an audit hook is installed (sys.addaudithook, or DTrace): CPython's sys.audit()
    checks that before the type of its event, so an event that is not a str raises TypeError only
    then. Other interpreters: assumed installed."""
    if sys.implementation.name != "cpython":
        return True
    try:
        sys.audit(0)
    except TypeError:
        return True
    return False


def copytree(src, dst, symlinks, ignore, ignore_dangling_symlinks, jobs, progress, python_walk):
    """shutil.copytree(src, dst, ...) with copy_function=copy2 into a destination that does not exist.
    python_walk(audit, ignore) runs the Python walk instead, when shutil's walk shows through."""
    walk = _PreWalk(ignore, symlinks, ignore_dangling_symlinks)
    sys.audit("shutil.copytree", src, dst)
    walk.calls.append(("audit", src, None))
    with os.scandir(src) as itr:  # shutil's first step, with its exceptions
        entries = list(itr)
    kept = walk.directory(src, b"", entries)
    # shutil.copytree's os.makedirs(dst): FileExistsError when dst exists, parents made as needed.
    if os.path.lexists(dst):
        os.makedirs(dst)
    head = os.path.dirname(os.fspath(dst).rstrip(os.sep if isinstance(os.fspath(dst), str) else b"/"))
    if head:
        os.makedirs(head, exist_ok=True)
    if kept and isinstance(os.fspath(src), str) != isinstance(os.fspath(dst), str):
        # shutil makes dst, then joins it with its first entry: "Can't mix strings and bytes".
        os.mkdir(dst)
        os.path.join(dst, kept[0].name)
    patterns = _native_patterns(ignore, src)
    if ignore is None or patterns is not None:
        # Nothing to call in shutil's order (no audit hook: see audit_hooked(); ignore_patterns()
        # is computed by the engine's hook): the hook hands a link that leads back to Python,
        # which follows it as shutil does.
        walk = None
    else:
        walk.walk(src)
        if walk.failure or walk.handover:
            replay = _Replay(walk)
            return python_walk(replay.audit, replay.ignore)

    def live(rel, names):
        names = names if isinstance(os.fspath(src), bytes) else [os.fsdecode(n) for n in names]
        ignored_names = ignore(os.fspath(_join(src, rel)), names)
        return [os.fsencode(n) for n in names if n in ignored_names]

    listing = _treecopy.CopytreeListing(walk.ignored if walk else {}, live if walk else None,
                                        not symlinks, ignore_dangling_symlinks and not symlinks,
                                        os.fsencode(src) if walk is None and not symlinks else b"",
                                        patterns, isinstance(os.fspath(src), bytes))
    options = dict(jobs=jobs, progress=progress, preserve_ownership=False, preserve_links=False,
                   dereference="command_line" if symlinks else "always", max_errors_kept=1 << 62)
    report = _treecopy.copytree_walk(os.fsencode(src), os.fsencode(dst), options, listing)
    listing.rethrow()
    failures = _Failures(src, dst)
    changed = set()
    deferred = listing.take_deferred()
    for error in report.errors:
        alias = _bind_alias(error, src, failures)
        if alias is not None:
            deferred.append(alias)
            continue
        failures.add_engine_error(error)
        if _unlisted_dir_made(error, dst, failures):
            parent = failures.rel_of(error.path_bytes, False).rpartition(b"/")[0]
            changed.add(parent)
    writable = set()
    # The ignore() calls the walk before the copy made are not made again (a bind mount's tree).
    ignore = _Replay(walk).ignore if walk else ignore
    for rel_dir, name in sorted(deferred):
        if rel_dir not in writable:
            writable.add(rel_dir)
            if _let_write(_join(dst, rel_dir)):
                changed.add(rel_dir)
        if _copy_deferred(src, dst, rel_dir, name, symlinks, ignore, ignore_dangling_symlinks,
                          failures):
            changed.add(rel_dir)
    # A directory that got an entry after the engine set its metadata: set it again, deepest first.
    for rel_dir in sorted(changed, key=lambda r: -r.count(b"/") - bool(r)):
        try:
            shutil.copystat(_join(src, rel_dir), _join(dst, rel_dir))
        except OSError as why:
            failures.add(rel_dir, (_join(src, rel_dir), _join(dst, rel_dir), str(why)), after=True)
    failures.raise_if_any()
    return dst


def _check_copyfile(src, dst, follow_symlinks):
    """shutil.copyfile()'s checks before any data moves: SameFileError, named pipes."""
    if shutil._samefile(src, dst):
        raise shutil.SameFileError("{!r} and {!r} are the same file".format(src, dst))
    for i, fn in enumerate([src, dst]):
        try:
            st = shutil._stat(fn)
        except OSError:
            continue
        if stat.S_ISFIFO(st.st_mode):
            fn = fn.path if isinstance(fn, os.DirEntry) else fn
            raise shutil.SpecialFileError("`%s` is a named pipe" % fn)


def _native_copy(src, dst, metadata, reflink):
    failure = _treecopy.copy_file(os.fsencode(src), os.fsencode(dst), metadata, reflink)
    if failure is not None:
        err, on_destination, message = failure
        name = dst if on_destination else src
        if isinstance(name, os.DirEntry):
            name = name.path
        if on_destination and err == errno.EISDIR and not os.path.exists(dst):
            # As shutil (bpo-43219): the less confusing error.
            raise FileNotFoundError(f"Directory does not exist: {dst}") from OSError(err, message,
                                                                                    name)
        raise OSError(err, message, name)


def copyfile(src, dst, *, follow_symlinks=True, reflink="auto"):
    """A drop-in for shutil.copyfile(): copies src's data (no metadata) into dst and returns dst.

    dst is created (mode 0666 less the umask) or truncated in place; SameFileError when src and dst
    are the same file, SpecialFileError for a named pipe, OSError naming src or dst as shutil's. With
    follow_symlinks=False a symlink src is copied as a new symlink. The data is cloned where the
    file systems allow it (reflink='auto'), else copied in the kernel, with the GIL released.
    """
    sys.audit("shutil.copyfile", src, dst)
    _check_copyfile(src, dst, follow_symlinks)
    if not follow_symlinks and shutil._islink(src):
        os.symlink(os.readlink(src), dst)
        return dst
    _native_copy(src, dst, False, reflink)
    return dst


def copy2(src, dst, *, follow_symlinks=True, reflink="auto"):
    """A drop-in for shutil.copy2(): copyfile() and then copystat() (times, extended attributes,
    permission bits; never the owner). dst may be a directory: the copy goes to dst/basename(src).
    Returns the path of the copy."""
    if os.path.isdir(dst):
        dst = os.path.join(dst, os.path.basename(src))
    if not follow_symlinks and shutil._islink(src):
        return shutil.copy2(src, dst, follow_symlinks=False)
    sys.audit("shutil.copyfile", src, dst)
    _check_copyfile(src, dst, follow_symlinks)
    sys.audit("shutil.copystat", src, dst)
    _native_copy(src, dst, True, reflink)
    return dst

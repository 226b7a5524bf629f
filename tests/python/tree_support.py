"""Test support for the Python module: builds source trees on disk and takes entry-by-entry
snapshots of copies, so that treecopy.copytree() and shutil.copytree() results can be compared."""

import hashlib
import os
import socket
import stat
import time

# Times given to every source entry. Under relatime, reading a file moves its atime when that atime is
# not after both mtime and ctime; ctime is "now" once times are set, so atime is set in the future to
# stay put, and every copy sees the same source times whichever copy read the tree first.
_NOW_NS = time.time_ns()
MTIME_NS = _NOW_NS - 3600 * 10**9 + 123456789
ATIME_NS = _NOW_NS + 3600 * 10**9 + 987654321


def xattrs_supported(path):
    probe = os.path.join(os.fsencode(path), b".xattr-probe")
    with open(probe, "wb"):
        pass
    try:
        os.setxattr(probe, b"user.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        os.unlink(probe)


def write(path, data=b"", mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def set_times_deepest_first(root):
    """Gives every entry under root (root included) the fixed times, children before parents."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), ns=(ATIME_NS, MTIME_NS), follow_symlinks=False)
        os.utime(dirpath, ns=(ATIME_NS, MTIME_NS))


def build_tree(root, *, dangling=True, xattrs=True, special=None, owner=None):
    """A source tree with the cases copytree must handle. root (bytes or str) must not exist.

    dangling: include a dangling symlink. special: None, "fifo" or "socket". owner: (uid, gid) given
    to every entry when running as root.
    """
    root = os.fsencode(root)
    j = os.path.join
    os.mkdir(root)
    write(j(root, b"empty.txt"))
    write(j(root, b"small.txt"), b"hello\n")
    write(j(root, b"big.bin"), os.urandom(3 * 1024 * 1024 + 17))
    write(j(root, b"exec.sh"), b"#!/bin/sh\necho hi\n", 0o755)
    write(j(root, b"private"), b"secret", 0o600)
    write(j(root, b"readonly"), b"ro", 0o444)
    write(j(root, b"setuid"), b"suid", 0o4755)
    write(j(root, b"with space"), b"space")
    write(j(root, b"new\nline"), b"newline")
    write(j(root, b"caf\xe9-latin1"), b"not utf-8")
    os.mkdir(j(root, b"empty-dir"))
    os.makedirs(j(root, b"a", b"b", b"c"))
    write(j(root, b"a", b"one.txt"), b"1")
    write(j(root, b"a", b"b", b"two.txt"), b"22")
    write(j(root, b"a", b"b", b"c", b"three.py"), b"333")
    os.mkdir(j(root, b"sticky"))
    os.chmod(j(root, b"sticky"), 0o1777)
    os.mkdir(j(root, b"ro-dir"))
    write(j(root, b"ro-dir", b"inside"), b"in a 0555 directory")
    os.mkdir(j(root, b"ro-dir", b"sub"))
    write(j(root, b"ro-dir", b"sub", b"deeper"), b"deeper")
    os.link(j(root, b"small.txt"), j(root, b"a", b"hardlink-to-small"))
    os.symlink(b"small.txt", j(root, b"link-to-file"))
    os.symlink(b"a/b", j(root, b"link-to-dir"))
    os.symlink(os.path.abspath(j(root, b"exec.sh")), j(root, b"a", b"abs-link"))
    if dangling:
        os.symlink(b"does-not-exist", j(root, b"dangling"))
    if xattrs:
        os.setxattr(j(root, b"small.txt"), b"user.color", b"blue")
        os.setxattr(j(root, b"a"), b"user.dir", b"attr on a directory")
    if special == "fifo":
        os.mkfifo(j(root, b"a", b"pipe"))
    elif special == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(os.fsdecode(j(root, b"a", b"sock")))
        s.close()
    if owner is not None and os.geteuid() == 0:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                os.chown(j(dirpath, name), *owner, follow_symlinks=False)
        os.chown(root, *owner)
        os.chmod(j(root, b"setuid"), 0o4755)  # chown cleared the set-id bit
    set_times_deepest_first(root)
    os.chmod(j(root, b"ro-dir"), 0o555)
    os.utime(j(root, b"ro-dir"), ns=(ATIME_NS, MTIME_NS))
    return root


def make_writable(root):
    """Lets a tree built or copied by these tests be removed."""
    root = os.fsencode(root)
    if not os.path.lexists(root):
        return
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)


def snapshot(root):
    """{relative bytes path: attributes} for every entry under root (root itself as b'.').

    Attributes: type, permission bits, owner, size, nlink (files), data or link target, mtime and
    atime in ns, extended attributes. Directory sizes depend on history, so they are left out.
    """
    root = os.fsencode(root)
    result = {}

    def describe(path):
        st = os.lstat(path)
        kind = stat.S_IFMT(st.st_mode)
        entry = {"type": kind, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                 "mtime_ns": st.st_mtime_ns, "atime_ns": st.st_atime_ns}
        if stat.S_ISREG(kind):
            entry["size"] = st.st_size
            entry["nlink"] = st.st_nlink
            with open(path, "rb") as f:
                entry["sha256"] = hashlib.sha256(f.read()).hexdigest()
        elif stat.S_ISLNK(kind):
            entry["target"] = os.readlink(path)
            entry.pop("mode")  # Linux symlinks are always 0777
        try:
            names = os.listxattr(path, follow_symlinks=False)
            entry["xattrs"] = {n: os.getxattr(path, n, follow_symlinks=False) for n in sorted(names)}
        except OSError:
            entry["xattrs"] = None
        return entry

    result[b"."] = describe(root)
    # Snapshot before descending: listing a directory must not change what is recorded of it.
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            result[os.path.relpath(path, root)] = describe(path)
    return result


def normalize_errors(errors, replacements):
    """shutil.Error's list with paths made comparable: os.PathLike (DirEntry) turned into paths and
    each (old, new) prefix of replacements rewritten, in str and bytes alike."""
    out = []
    for error in errors:
        items = []
        for item in error:
            if isinstance(item, os.PathLike):
                item = os.fspath(item)
            for old, new in replacements:
                if isinstance(item, bytes):
                    item = item.replace(os.fsencode(old), os.fsencode(new))
                else:
                    item = item.replace(os.fsdecode(old), os.fsdecode(new))
            items.append(item)
        out.append(tuple(items))
    return out


def diff_snapshots(expected, actual):
    """Readable differences between two snapshot() results: [(path, field, expected, actual)]."""
    if expected is None or actual is None:
        return [] if expected is actual else [(b"", "exists", expected is not None, actual is not None)]
    out = []
    for key in sorted(set(expected) | set(actual)):
        a, b = expected.get(key), actual.get(key)
        if a is None or b is None:
            out.append((key, "exists", a is not None, b is not None))
            continue
        for field in sorted(set(a) | set(b)):
            if a.get(field) != b.get(field):
                out.append((key, field, a.get(field), b.get(field)))
    return out

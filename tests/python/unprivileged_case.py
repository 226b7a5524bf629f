"""Run by test_copytree.py as an unprivileged user: copies a tree holding unreadable entries with
shutil.copytree() and treecopy.copytree() and exits 0 when both give the same error list and result.
Usage: unprivileged_case.py WORKDIR (exit 77: cannot run here)."""

import os
import shutil
import sys

import treecopy
from test_copytree import run_copy
from tree_support import diff_snapshots, make_writable, set_times_deepest_first, write


def main(workdir):
    if os.geteuid() == 0:
        print("still root: permissions would not be checked")
        return 77
    base = os.path.join(os.fsencode(workdir), b"unprivileged")
    os.mkdir(base)
    src = os.path.join(base, b"src")
    os.makedirs(os.path.join(src, b"ok", b"deep"))
    write(os.path.join(src, b"ok", b"deep", b"file"), b"fine")
    write(os.path.join(src, b"unreadable-file"), b"no", 0o000)
    os.mkdir(os.path.join(src, b"unreadable-dir"))
    write(os.path.join(src, b"unreadable-dir", b"hidden"), b"hidden")
    os.mkdir(os.path.join(src, b"unlistable-dir"))
    os.mkdir(os.path.join(src, b"read-only-dir"))
    write(os.path.join(src, b"read-only-dir", b"child"), b"child")
    write(os.path.join(src, b"z-last"), b"after the failures")
    set_times_deepest_first(src)
    os.chmod(os.path.join(src, b"unreadable-dir"), 0o000)
    os.chmod(os.path.join(src, b"unlistable-dir"), 0o333)
    os.chmod(os.path.join(src, b"read-only-dir"), 0o555)

    results = []
    for name, func in ((b"shutil", shutil.copytree), (b"treecopy", treecopy.copytree)):
        results.append(run_copy(func, src, os.path.join(base, name), (), {}, str))
    make_writable(base)
    if results[0] != results[1]:
        print("shutil:  ", results[0][0], "\ntreecopy:", results[1][0])
        print("tree differences:", diff_snapshots(results[0][1], results[1][1]))
        return 1
    if results[0][0][0] != "shutil.Error" or len(results[0][0][1]) != 3:
        print("expected three failures, got", results[0][0])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

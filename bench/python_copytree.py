#!/usr/bin/env python3
"""treecopy.copytree() against shutil.copytree() on a real source tree in memory.

Copies SOURCE (default /usr/include) into a scratch directory in /dev/shm once, then times (wall
clock, and the CPU time of the process's threads, which says what a busy machine leaves), for each
case (default arguments; ignore=shutil.ignore_patterns('*.pyc', 'tmp*'); the same as a function of
its own, which treecopy calls from a walk before the copy), shutil.copytree and
treecopy.copytree into a fresh destination, alternating, RUNS times each, and prints the medians
and the ratio. The copies of each case are compared entry by entry with shutil's (type, mode,
size, content, times, extended attributes; tests/python/tree_support.py), in the last run (the
first reads move the source's atimes under relatime). The tree is read from the page cache: both
copiers see the same warm cache.

Usage: PYTHONPATH=build/python python3 bench/python_copytree.py [--source DIR] [--runs N] [--jobs N]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))

import treecopy  # noqa: E402
from tree_support import diff_snapshots, snapshot  # noqa: E402


def timed(func, src, dst, kwargs, errors):
    """Seconds one copy took; shutil.Error's list (links dangling in the copied tree) goes to errors."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        func(src, dst, **kwargs)
    except shutil.Error as e:
        errors[:] = [tuple(str(x).replace(dst, "<DST>") for x in err) for err in e.args[0]]
    return time.perf_counter() - started, time.process_time() - cpu


def ignore_pyc_tmp(path, names):
    """What ignore_patterns('*.pyc', 'tmp*') leaves out, as a function of its own: treecopy calls it
    from its walk before the copy (ignore_patterns() is computed by the engine's hook)."""
    return {n for n in names if n.endswith(".pyc" if isinstance(n, str) else b".pyc")
            or n.startswith("tmp" if isinstance(n, str) else b"tmp")}


def remove(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


def count_entries(root):
    n = 0
    for _, dirs, files in os.walk(root):
        n += len(dirs) + len(files)
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="/usr/include")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=None, help="treecopy workers (default: default_jobs())")
    parser.add_argument("--scratch", default="/dev/shm")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="treecopy-pybench-", dir=args.scratch)
    try:
        src = os.path.join(work, "src")
        # cp -a: the tree as it is (links kept), so both copiers read the same thing from memory.
        subprocess.run(["cp", "-a", args.source, src], check=True)
        print("source: %s copied to %s: %d entries, %.1f MiB" % (
            args.source, src, count_entries(src),
            int(subprocess.run(["du", "-sk", src], capture_output=True, text=True,
                               check=True).stdout.split()[0]) / 1024))
        print("python %s, treecopy %s, jobs %s, runs %d" % (
            sys.version.split()[0], treecopy.version(), args.jobs or treecopy.default_jobs(),
            args.runs))
        print("uptime before:", os.popen("uptime").read().strip())
        cases = [("default arguments", {}),
                 ("ignore=shutil.ignore_patterns('*.pyc', 'tmp*')",
                  {"ignore": shutil.ignore_patterns("*.pyc", "tmp*")}),
                 ("ignore=<function> (walk before the copy)", {"ignore": ignore_pyc_tmp})]
        for name, kwargs in cases:
            times = {"shutil": [], "treecopy": []}
            errors = {"shutil": [], "treecopy": []}
            for run in range(args.runs):
                for who, func, extra in (("shutil", shutil.copytree, {}),
                                         ("treecopy", treecopy.copytree, {"jobs": args.jobs})):
                    dst = os.path.join(work, who)
                    remove(dst)
                    times[who].append(timed(func, src, dst, dict(kwargs, **extra), errors[who]))
                if run == args.runs - 1:  # the source's atimes settled by earlier reads
                    diffs = diff_snapshots(snapshot(os.path.join(work, "shutil")),
                                           snapshot(os.path.join(work, "treecopy")))
                    # Directory atimes move whenever a directory is read (relatime).
                    diffs = [d for d in diffs if d[1] != "atime_ns" or not os.path.isdir(
                        os.path.join(work, "shutil", os.fsdecode(d[0])))]
                    print("  %s: %s; %d errors (dangling links), %s" % (
                        name, "same tree as shutil, entry by entry" if not diffs
                        else "DIFFERENT from shutil: %r" % diffs[:10], len(errors["shutil"]),
                        "the same list" if errors["shutil"] == errors["treecopy"]
                        else "DIFFERENT lists: %r" % [errors["shutil"][:3], errors["treecopy"][:3]]))
            s = statistics.median(w for w, _ in times["shutil"])
            t = statistics.median(w for w, _ in times["treecopy"])
            sc = statistics.median(c for _, c in times["shutil"])
            tc = statistics.median(c for _, c in times["treecopy"])
            print("%-50s shutil %.3f s, treecopy %.3f s (medians of %d): %.1fx; CPU time (all "
                  "threads, user + system) %.3f s and %.3f s: %.1fx" % (
                      name, s, t, args.runs, s / t, sc, tc, sc / tc))
        print("uptime after:", os.popen("uptime").read().strip())
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

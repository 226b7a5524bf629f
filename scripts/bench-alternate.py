#!/usr/bin/env python3
"""Times copy commands alternately on one source: the quick A/B check of an engine change.

Usage: scripts/bench-alternate.py [--rounds N] [--warmup N] [--dst DIR] SRC NAME=COMMAND...

Every round runs each COMMAND once, in the order given, as `COMMAND SRC DST` after removing DST
(default /dev/shm/bench-alternate-dst, so put SRC in /dev/shm too for an in-memory copy; a DST
that is a symlink or not a directory is refused, as what its removal and the copies would do there
is not the job being timed). Warm-up
rounds are not counted. Prints, per command, the median wall time with its quartiles, the median
CPU time (user + system of the command and its children, from getrusage) and the ratio of the
median to the first command's. A command that exits non-zero is reported and its run left out.

Alternating spreads a slow drift of a shared machine over all commands; on a 2-core machine whose
speed moves by a quarter within minutes, only commands compared in one run mean anything.
"""
import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dst", default="/dev/shm/bench-alternate-dst")
    ap.add_argument("src")
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()
    if args.rounds < 1 or args.warmup < 0:
        ap.error("--rounds must be at least 1 and --warmup at least 0")
    if os.path.islink(args.dst) or (os.path.lexists(args.dst) and not os.path.isdir(args.dst)):
        ap.error(f"--dst must not be a symlink or a non-directory: {args.dst}")
    commands = []
    for spec in args.commands:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command.strip():
            ap.error(f"not NAME=COMMAND: {spec!r}")
        commands.append((name, shlex.split(command)))

    wall = {name: [] for name, _ in commands}
    cpu = {name: [] for name, _ in commands}
    for rnd in range(args.warmup + args.rounds):
        for name, argv in commands:
            shutil.rmtree(args.dst, ignore_errors=True)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            rc = subprocess.run(argv + [args.src, args.dst], stdout=subprocess.DEVNULL).returncode
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if rc != 0:
                print(f"{name}: exit {rc} in round {rnd}", file=sys.stderr)
                continue
            if rnd >= args.warmup:
                wall[name].append(elapsed * 1000)
                cpu[name].append((after.ru_utime - before.ru_utime +
                                  after.ru_stime - before.ru_stime) * 1000)
    shutil.rmtree(args.dst, ignore_errors=True)

    base = statistics.median(wall[commands[0][0]]) if wall[commands[0][0]] else None
    for name, _ in commands:
        runs = wall[name]
        if not runs:
            print(f"{name:14s} no successful run")
            continue
        med = statistics.median(runs)
        q = statistics.quantiles(runs, n=4) if len(runs) > 1 else [med, med, med]
        ratio = f"  x{med / base:.3f}" if base else ""
        print(f"{name:14s} median {med:8.1f} ms  (q1 {q[0]:7.1f}, q3 {q[2]:7.1f}, {len(runs)} runs)"
              f"  cpu {statistics.median(cpu[name]):7.1f} ms{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

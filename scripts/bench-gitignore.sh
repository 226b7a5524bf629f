#!/usr/bin/env bash
# The cost of --gitignore: a tree of 100,000 small files in 1,000 directories (10 x 10 x 10), a
# .gitignore in the top directory and in every other directory (five patterns each, matching none
# of the files, so both runs copy the same entries), copied tmpfs to tmpfs with and without
# --gitignore. Prints the median of RUNS wall times of each.
# Usage: scripts/bench-gitignore.sh TREECOPY [WORKDIR on tmpfs, default /dev/shm] [RUNS, default 5]
set -euo pipefail
bin=$1
work=${2:-/dev/shm}/treecopy-bench-gitignore
runs=${3:-5}
rm -rf "$work"
mkdir -p "$work"
python3 - "$work/src" <<'PY'
import os, sys
root = sys.argv[1]
os.makedirs(root)
for sub in (".git", ".git/objects", ".git/refs", ".git/info"):  # a repository, as git sees one
    os.mkdir(os.path.join(root, sub))
open(os.path.join(root, ".git/HEAD"), "w").write("ref: refs/heads/main\n")
open(os.path.join(root, ".git/info/exclude"), "w").write("*.swp\n")
patterns = "*.o\nbuild/\n/tmp-*\n!keep.o\n**/cache/*.bin\n"
open(os.path.join(root, ".gitignore"), "w").write(patterns)
n = 0
for a in range(10):
    for b in range(10):
        for c in range(10):
            d = os.path.join(root, f"a{a}", f"b{b}", f"c{c}")
            os.makedirs(d, exist_ok=True)
            if (a + b + c) % 2 == 0:
                open(os.path.join(d, ".gitignore"), "w").write(patterns)
            for f in range(100):
                with open(os.path.join(d, f"f{f}.txt"), "w") as out:
                    out.write("x" * 64)
                n += 1
        open(os.path.join(root, f"a{a}", ".gitignore"), "w").write(patterns)
print(f"{n} files", file=sys.stderr)
PY
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
run() {  # prints the wall time of one copy
  rm -rf "$work/dst"
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" -q -j2 "$@" "$work/src" "$work/dst"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
plain=() with=()
for ((i = 0; i < runs; ++i)); do  # interleaved, so that a change in load hits both
  plain+=("$(run)")
  with+=("$(run --gitignore)")
done
p=$(printf '%s\n' "${plain[@]}" | median)
g=$(printf '%s\n' "${with[@]}" | median)
echo "uptime: $(uptime)"
echo "without --gitignore: ${plain[*]} -> median $p s"
echo "with --gitignore:    ${with[*]} -> median $g s"
echo "cost: $(echo "scale=1; ($g - $p) * 100 / $p" | bc) %"
rm -rf "$work"

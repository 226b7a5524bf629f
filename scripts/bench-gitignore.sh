#!/usr/bin/env bash
# The cost of --gitignore: a tree of 100,000 small files in 1,000 directories (10 x 10 x 10), a
# .gitignore in the top directory and in every other directory (five patterns each, matching none
# of the files, so both runs copy the same entries), copied tmpfs to tmpfs with and without
# --gitignore. Prints the medians of RUNS wall and CPU times of each.
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
run() {  # prints "wall cpu" seconds of one copy (cpu: user + system, steadier on a loaded machine)
  rm -rf "$work/dst"
  local TIMEFORMAT='%R %U %S' t
  t=$( { time "$bin" -q -j2 "$@" "$work/src" "$work/dst" >/dev/null; } 2>&1 )
  awk '{printf "%s %.3f\n", $1, $2 + $3}' <<<"$t"
}
plain=() with=()
for ((i = 0; i < runs; ++i)); do  # interleaved, so that a change in load hits both
  plain+=("$(run)")
  with+=("$(run --gitignore)")
done
col() { printf '%s\n' "${@:2}" | awk -v c="$1" '{print $c}' | median; }
pw=$(col 1 "${plain[@]}") pc=$(col 2 "${plain[@]}") gw=$(col 1 "${with[@]}") gc=$(col 2 "${with[@]}")
echo "uptime: $(uptime)"
echo "without --gitignore: median wall $pw s, cpu $pc s"
echo "with --gitignore:    median wall $gw s, cpu $gc s"
echo "cost: wall $(echo "scale=1; ($gw - $pw) * 100 / $pw" | bc) %, cpu $(echo "scale=1; ($gc - $pc) * 100 / $pc" | bc) %"
rm -rf "$work"

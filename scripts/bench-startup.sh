#!/bin/bash
# bench-startup.sh: start-up cost, for build tools that run a copier thousands of times. Times
# 200 invocations in a row of `cp -a SRC DST` and of `treecopy SRC DST` for two inputs, in a tmpfs
# (/dev/shm): one 4 KiB file, and a tree of 10 such files. Each loop copies to 200 fresh names
# (removed afterwards, outside the timing). Loops alternate between the copiers; each figure is
# the median of --rounds loops, and the ratio is treecopy's median over cp's. A first, untimed
# round warms the page cache and the loader's. The machine's load (uptime) is printed with the
# figures: on a shared machine, run it twice and compare.
#
#   scripts/bench-startup.sh [--rounds 5] [--runs 200] [--treecopy BIN]... [--dir /dev/shm]
#
# Several --treecopy binaries (e.g. a base and a new build) are timed in the same rounds.
set -euo pipefail

rounds=5
runs=200
dir=/dev/shm
bins=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --treecopy) bins+=("$(realpath "$2")"); shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench-startup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ ${#bins[@]} -eq 0 ]]; then
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  bins=("$repo/build-rel/treecopy")
fi
for b in "${bins[@]}"; do
  [[ -x $b ]] || { echo "bench-startup.sh: $b is not an executable" >&2; exit 2; }
done

work=$(mktemp -d "$dir/bench-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c 4096 /dev/urandom >"$work/file"
mkdir "$work/tree"
for i in $(seq 10); do head -c 4096 /dev/urandom >"$work/tree/f$i"; done

# Prints the nanoseconds that $runs invocations of "$@" SRC DST/i take.
time_loop() {
  local src=$1; shift
  rm -rf "$work/out"
  mkdir "$work/out"
  local start end i
  start=$(date +%s%N)
  for ((i = 0; i < runs; i++)); do
    "$@" "$src" "$work/out/$i" >/dev/null 2>&1 || { echo "failed: $* $src" >&2; exit 1; }
  done
  end=$(date +%s%N)
  rm -rf "$work/out"
  echo $((end - start))
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

names=("cp -a")
cmds=("cp -a")
for b in "${bins[@]}"; do names+=("$b"); cmds+=("$b"); done

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $runs invocations per loop, median of $rounds loops"
echo "# load before: $(uptime)"
for input in file tree; do
  declare -A samples=()
  for ((r = 0; r <= rounds; r++)); do
    n=${#cmds[@]}
    for ((k = 0; k < n; k++)); do
      c=$(((k + r) % n))  # rotate the order each round
      # shellcheck disable=SC2086  # the command's words are meant to split
      t=$(time_loop "$work/$input" ${cmds[$c]})
      ((r > 0)) && samples[$c]+="$t "
    done
  done
  base=$(tr ' ' '\n' <<<"${samples[0]}" | grep . | median)
  printf '%-6s %-60s %9s %s\n' input command "us/call" "ratio to cp -a"
  for ((c = 0; c < ${#cmds[@]}; c++)); do
    m=$(tr ' ' '\n' <<<"${samples[$c]}" | grep . | median)
    awk -v i="$input" -v n="${names[$c]}" -v m="$m" -v b="$base" -v runs="$runs" \
      'BEGIN {printf "%-6s %-60s %9.0f %.2f\n", i, n, m / runs / 1000, m / b}'
  done
  unset samples
done
echo "# load after: $(uptime)"

#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan) and runs each for a while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 180 seconds each, all targets
#
# Seeds are fuzz/corpus/<target>/ (read-only); new inputs go to build-fuzz/corpus/<target>/.
# A crash, leak or timeout is saved as fuzz/corpus/<target>/crash-*, timeout-*, ... (commit it
# as a regression seed once fixed) and makes the script exit 1. -timeout bounds each input: the
# glob matcher promises O(|pattern| x |text|), so a slow input is a finding too.
# Needs clang and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
seconds=${1:-180}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(filter_fuzz options_fuzz)

command -v clang++ >/dev/null || { echo "fuzz: clang++ is not installed (apt-get install clang)" >&2; exit 2; }
if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S "$root/fuzz" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
make -C "$build" -j "${FUZZ_BUILD_JOBS:-2}" "${targets[@]}" >/dev/null

status=0
for t in "${targets[@]}"; do
  seeds=$root/fuzz/corpus/$t
  work=$build/corpus/$t
  mkdir -p "$seeds" "$work"
  extra=()
  # The option parser prints help and errors on every input: keep the target's output closed.
  [[ $t == options_fuzz ]] && extra=(-close_fd_mask=3)
  echo "== $t: ${seconds}s"
  if ! (cd "$build" && "./$t" "$work" "$seeds" -max_total_time="$seconds" -timeout=5 \
          -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 \
          -artifact_prefix="$seeds/" "${extra[@]}" </dev/null) >"$build/$t.log" 2>&1; then
    status=1
    echo "$t: FAILED (see $build/$t.log; reproducer in $seeds/)"
    grep -E "ERROR|SUMMARY|Test unit written" "$build/$t.log" | head -20
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^#[0-9]+.*DONE" \
    "$build/$t.log" || true
done
exit $status

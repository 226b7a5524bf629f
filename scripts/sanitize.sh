#!/usr/bin/env bash
# Builds treecopy and its whole test suite with sanitizers and runs it with ctest:
#
#   scripts/sanitize.sh asan    AddressSanitizer + UndefinedBehaviorSanitizer (leaks included)
#   scripts/sanitize.sh tsan    ThreadSanitizer (suppressions: scripts/sanitizers/tsan.supp,
#                               third-party libtbb only, each explained there)
#   scripts/sanitize.sh all     both (default)
#
# Build dirs: build-asan, build-tsan (clang, RelWithDebInfo, no benchmarks, no Python module).
# Every process the tests start (the treecopy CLI included) writes its sanitizer reports to
# <build>/sanitizer-logs/; the script prints a summary of them and exits 1 when there is any
# report or failed test. Sanitizer exit codes are moved away from treecopy's own (0/1/2): a
# report ends a process with 86 (ASan), 87 (UBSan) or 66 (TSan), so a test that expects exit
# code 1 cannot mistake a sanitizer abort for an entry error.
# Extra ctest arguments: SANITIZE_CTEST_ARGS="-R fault" scripts/sanitize.sh asan
# The consumer projects (a fresh CMake build each) and the Python module are left out.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-all}
jobs=${SANITIZE_JOBS:-2}
overall=0

command -v clang++ >/dev/null || { echo "sanitize: clang++ is not installed (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

run_one() {
  local name=$1 flags=$2
  local build=$root/build-$name
  local logs=$build/sanitizer-logs
  echo "== $name: building in $build"
  if [[ ! -f $build/CMakeCache.txt ]]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DTREECOPY_BUILD_BENCH=OFF -DTREECOPY_BUILD_PYTHON=OFF -DTREECOPY_INSTALL=OFF \
      -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer" \
      -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null || return 1
  fi
  make -C "$build" -j "$jobs" >"$build/build.log" 2>&1 || { tail -30 "$build/build.log"; return 1; }
  rm -rf "$logs" && mkdir -p "$logs"
  echo "== $name: running ctest"
  local supp=$root/scripts/sanitizers
  (
    cd "$build" &&
    ASAN_OPTIONS="log_path=$logs/asan:exitcode=86:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1" \
    UBSAN_OPTIONS="log_path=$logs/ubsan:exitcode=87:print_stacktrace=1:halt_on_error=1" \
    TSAN_OPTIONS="log_path=$logs/tsan:exitcode=66:second_deadlock_stack=1:history_size=4:suppressions=$supp/tsan.supp" \
    ctest --output-on-failure -E '^(consumer_|python_)' ${SANITIZE_CTEST_ARGS:-} >"$build/ctest.log" 2>&1
  )
  local ctest_status=$?
  grep -E "tests passed|tests failed|The following tests|Failed|Timeout|\*\*\*" "$build/ctest.log" | tail -40
  local reports
  reports=$(find "$logs" -type f | wc -l)
  if [[ $reports -gt 0 ]]; then
    echo "== $name: $reports processes wrote sanitizer reports; distinct findings:"
    cat "$logs"/* | grep -E "^SUMMARY:" | sort | uniq -c | sort -rn
    echo "(full reports: $logs)"
  else
    echo "== $name: no sanitizer reports"
  fi
  [[ $ctest_status -eq 0 && $reports -eq 0 ]]
}

case $mode in
  asan | all)
    run_one asan "-fsanitize=address,undefined -fno-sanitize-recover=undefined" || overall=1 ;;&
  tsan | all)
    run_one tsan "-fsanitize=thread" || overall=1 ;;
  asan) ;;
  *) echo "usage: sanitize.sh [asan|tsan|all]" >&2; exit 2 ;;
esac
exit $overall

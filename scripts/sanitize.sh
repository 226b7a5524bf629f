#!/usr/bin/env bash
# Builds treecopy and its whole test suite with sanitizers and runs it with ctest:
#
#   scripts/sanitize.sh asan    AddressSanitizer + UndefinedBehaviorSanitizer (leaks included)
#   scripts/sanitize.sh tsan    ThreadSanitizer, against a oneTBB built with -fsanitize=thread
#                               (see below; suppressions: scripts/sanitizers/tsan.supp,
#                               third-party code only, each explained there)
#   scripts/sanitize.sh all     both (default)
#
# Build dirs: build-asan, build-tsan (clang, RelWithDebInfo, no benchmarks, no Python module).
# Every process the tests start (the treecopy CLI included) writes its sanitizer reports to
# <build>/sanitizer-logs/; the script prints a summary of them and exits 1 when there is any
# report or failed test. Sanitizer exit codes are moved away from treecopy's own (0/1/2): a
# report ends a process with 86 (ASan), 87 (UBSan) or 66 (TSan), so a test that expects exit
# code 1 cannot mistake a sanitizer abort for an entry error.
# The tests run SANITIZE_JOBS at a time (default 2), as in the normal build; their timeouts are
# tripled (TREECOPY_TEST_TIMEOUT_SCALE=3): under TSan the longest, resume_test's 24 killed and
# resumed copies, takes over 5 minutes.
# Extra ctest arguments: SANITIZE_CTEST_ARGS="-R fault" scripts/sanitize.sh asan
# The consumer projects (a fresh CMake build each) and the Python module are left out.
#
# ThreadSanitizer only sees the synchronization of code it instruments. Debian's libtbb.so.12 is
# built without it, so every task hand-off (task_group::run() on one thread, the task's body on
# another) would look like a race. The tsan mode therefore fetches Debian's own oneTBB source
# package (the same version as libtbb-dev: scripts/onetbb-source.sh, through apt with a private
# deb-src list made from the machine's own apt sources, signatures checked by apt), builds it with
# TBB_SANITIZE=thread into build-tsan-tbb/ (about 25 s) and builds treecopy against it.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-all}
jobs=${SANITIZE_JOBS:-2}
overall=0

command -v clang++ >/dev/null || { echo "sanitize: clang++ is not installed (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

# Prints the install prefix of a TSan-instrumented oneTBB matching the installed libtbb-dev.
tsan_tbb() {
  local dir=$root/build-tsan-tbb
  local prefix=$dir/prefix
  local version
  version=$(dpkg-query -W -f='${source:Version}' libtbb-dev 2>/dev/null) ||
    { echo "sanitize: libtbb-dev is not installed (scripts/deps.sh)" >&2; return 1; }
  if [[ -f $prefix/.version && $(cat "$prefix/.version") == "$version" ]]; then
    echo "$prefix"; return 0
  fi
  local tree
  echo "== tsan: building Debian's onetbb $version source with -fsanitize=thread ($(date -u +%T) UTC)" >&2
  tree=$("$root/scripts/onetbb-source.sh" "$dir") || return 1
  rm -rf "$dir/build" "$prefix"
  CC=clang CXX=clang++ cmake -S "$tree" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTBB_SANITIZE=thread -DTBB_TEST=OFF -DTBB_EXAMPLES=OFF -DTBB_STRICT=OFF -DTBBMALLOC_BUILD=OFF \
    -DTBB_DISABLE_HWLOC_AUTOMATIC_SEARCH=ON -DCMAKE_INSTALL_PREFIX="$prefix" >"$dir/build.log" 2>&1 &&
    make -C "$dir/build" -j "$jobs" install >>"$dir/build.log" 2>&1 || { tail -20 "$dir/build.log" >&2; return 1; }
  echo "$version" >"$prefix/.version"
  echo "$prefix"
}

run_one() {
  local name=$1 flags=$2 prefix_path=${3:-}
  local build=$root/build-$name
  local logs=$build/sanitizer-logs
  echo "== $name: building in $build ($(date -u +%T) UTC)"
  # treecopy-mpi is left to the normal build: Open MPI's own libraries, not built with the
  # sanitizers, report their leaks and races at every rank's exit.
  # Configured every time (a second of work when nothing changed), so that a build tree made by
  # an older version of this script gets today's settings.
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTREECOPY_BUILD_BENCH=OFF -DTREECOPY_BUILD_PYTHON=OFF -DTREECOPY_INSTALL=OFF \
    -DTREECOPY_BUILD_MPI=OFF -DTREECOPY_TEST_TIMEOUT_SCALE=3 \
    -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
    ${prefix_path:+-DCMAKE_PREFIX_PATH="$prefix_path"} >/dev/null || return 1
  make -C "$build" -j "$jobs" >"$build/build.log" 2>&1 || { tail -30 "$build/build.log"; return 1; }
  rm -rf "$logs" && mkdir -p "$logs"
  echo "== $name: running ctest ($(date -u +%T) UTC)"
  # Each runtime also reads the other sanitizers' common flags (log_path, exitcode): set only the
  # variables of the sanitizer in use.
  local env=()
  if [[ $name == asan ]]; then
    env+=("ASAN_OPTIONS=log_path=$logs/asan:exitcode=86:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1")
    env+=("UBSAN_OPTIONS=log_path=$logs/ubsan:exitcode=87:print_stacktrace=1:halt_on_error=1")
  else
    env+=("TSAN_OPTIONS=log_path=$logs/tsan:exitcode=66:second_deadlock_stack=1:history_size=4:suppressions=$root/scripts/sanitizers/tsan.supp")
  fi
  (
    cd "$build" &&
    env "${env[@]}" ctest --output-on-failure -j "$jobs" -E '^(consumer_|python_)' \
      ${SANITIZE_CTEST_ARGS:-} >"$build/ctest.log" 2>&1
  )
  local ctest_status=$?
  grep -E "tests passed|tests failed|The following tests|Failed|Timeout|\*\*\*" "$build/ctest.log" | tail -40
  # LeakSanitizer checks for leaks at exit with the process stopped by a tracer; when a test kills
  # the process meanwhile (resume_test sends SIGKILL at random moments), the tracer writes only
  # "Unable to get registers from thread N". That is a killed process, not a finding: such a log
  # is named and not counted. Any other line, or an empty log, counts.
  local reports=0 log
  for log in "$logs"/*; do
    [[ -f $log ]] || continue
    if [[ -s $log ]] &&
       ! grep -q -v -E '^==[0-9]+==Unable to get registers from thread [0-9]+\.?$' "$log"; then
      echo "== $name: ${log##*/}: $(head -1 "$log") (a process killed during its exit-time leak check; not a finding)"
    else
      reports=$((reports + 1))
    fi
  done
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
    if tbb_prefix=$(tsan_tbb); then
      run_one tsan "-fsanitize=thread" "$tbb_prefix" || overall=1
    else
      overall=1
    fi ;;
  asan) ;;
  *) echo "usage: sanitize.sh [asan|tsan|all]" >&2; exit 2 ;;
esac
exit $overall

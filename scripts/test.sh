#!/usr/bin/env bash
# Installs what is missing, builds everything (library, CLI, tests, benchmarks) and runs the whole
# test suite with ctest: first under AddressSanitizer + UndefinedBehaviorSanitizer and under
# ThreadSanitizer (scripts/sanitize.sh; consumer and Python tests aside), then the normal build,
# whose ctest summary ends the output. TREECOPY_SANITIZERS=0 skips the sanitizer builds.
# Usage: scripts/test.sh [extra ctest arguments for the normal build]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${TREECOPY_TEST_BUILD_DIR:-$here/build-test}

"$here/scripts/deps.sh" test

sanitizers=0
if [[ ${TREECOPY_SANITIZERS:-1} != 0 ]]; then
  SANITIZE_JOBS=$(nproc) "$here/scripts/sanitize.sh" all || sanitizers=$?
  [[ $sanitizers -eq 0 ]] || echo "test.sh: the sanitizer runs failed (above); running the normal suite anyway"
fi

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTREECOPY_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
status=0
ctest --output-on-failure -j "$(nproc)" "$@" || status=$?
[[ $status -ne 0 ]] && exit "$status"
exit "$sanitizers"

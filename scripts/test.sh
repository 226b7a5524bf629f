#!/usr/bin/env bash
# Installs what is missing, builds everything (library, CLI, tests, benchmarks) and runs the whole
# test suite with ctest. Usage: scripts/test.sh [extra ctest arguments]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${TREECOPY_TEST_BUILD_DIR:-$here/build-test}

"$here/scripts/deps.sh" test
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTREECOPY_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
exec ctest --output-on-failure -j "$(nproc)" "$@"

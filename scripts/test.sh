#!/usr/bin/env bash
# Installs what is missing, builds everything (library, CLI, tests, benchmarks) and runs the whole
# test suite with ctest: first under AddressSanitizer + UndefinedBehaviorSanitizer and under
# ThreadSanitizer (scripts/sanitize.sh; consumer and Python tests aside), then the fuzzers for a
# short time (scripts/fuzz.sh, TREECOPY_FUZZ_SECONDS each, default 20; 0 skips them), then the
# normal build, whose ctest summary ends the output. TREECOPY_SANITIZERS=0 skips the sanitizer
# builds.
#
# Every test program runs confined (tests/confine.sh: the system's directories read-only). On top
# of that, the run fails when a file of the system's user database changed while it ran, and it
# refuses to start on a machine whose /etc/passwd is already damaged (owner tests would lie).
# Usage: scripts/test.sh [extra ctest arguments for the normal build]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${TREECOPY_TEST_BUILD_DIR:-$here/build-test}

"$here/scripts/deps.sh" test
"$here/scripts/deps.sh" check-users || exit 1

# Files outside every scratch area that no test may change.
guarded=(/etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/hosts /etc/fstab)
fingerprint() {
  local f
  for f in "${guarded[@]}"; do
    if [[ -e $f || -L $f ]]; then
      printf '%s %s\n' "$f" "$(stat -c '%F %s %Y %i' "$f") $(sha256sum <"$f" 2>/dev/null | cut -c1-64)"
    else
      printf '%s absent\n' "$f"
    fi
  done
}
before=$(fingerprint)
check_guarded() {
  local after
  after=$(fingerprint)
  if [[ $after != "$before" ]]; then
    echo "test.sh: files outside the scratch areas changed during the run:" >&2
    diff <(echo "$before") <(echo "$after") >&2 || true
    echo "test.sh: restore them (e.g. cp -a /etc/passwd- /etc/passwd) and find the test that wrote them" >&2
    return 1
  fi
}

sanitizers=0
if [[ ${TREECOPY_SANITIZERS:-1} != 0 ]]; then
  SANITIZE_JOBS=$(nproc) "$here/scripts/sanitize.sh" all || sanitizers=$?
  [[ $sanitizers -eq 0 ]] || echo "test.sh: the sanitizer runs failed (above); running the normal suite anyway"
fi

fuzz=0
if [[ ${TREECOPY_FUZZ_SECONDS:-20} != 0 ]]; then
  "$here/scripts/fuzz.sh" "${TREECOPY_FUZZ_SECONDS:-20}" || fuzz=$?
  [[ $fuzz -eq 0 ]] || echo "test.sh: the fuzzers found a failing input (above); running the normal suite anyway"
fi

# The command as Release builds and packages make it (TREECOPY_STATIC_CLI): the suite tests what
# is shipped. Its static oneTBB is built once per build tree (build-test/onetbb-static/, ~30 s).
echo "== normal: building in $build ($(date -u +%T) UTC)"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTREECOPY_BUILD_TESTS=ON \
  -DTREECOPY_STATIC_CLI=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
echo "== normal: running ctest ($(date -u +%T) UTC)"
status=0
ctest --output-on-failure -j "$(nproc)" "$@" || status=$?
check_guarded || exit 1
[[ $status -ne 0 ]] && exit "$status"
[[ $sanitizers -ne 0 ]] && exit "$sanitizers"
exit "$fuzz"

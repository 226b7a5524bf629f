#!/usr/bin/env bash
# Static analysis of the library and the CLI: the layout of every C++ file against .clang-format,
# clang-tidy (checks in .clang-tidy) and cppcheck (scripts/cppcheck.sh) over src/ and include/,
# driven by a compile_commands.json.
#
#   scripts/lint.sh [BUILD_DIR]     default BUILD_DIR: build-lint (configured here if missing)
#   scripts/lint.sh --format        only the clang-format check (what the test suite runs)
#   scripts/lint.sh --fix-format    rewrite the files clang-format would change
#
# Prints every finding and a count per check; exits 1 when there are findings, 0 when clean.
# Needs clang-format, clang-tidy and cppcheck (Debian: apt-get install clang-format clang-tidy
# cppcheck).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

# ---- clang-format: every tracked C++ file (in a tree without git: every one under the source dirs).
format_check() {
  command -v clang-format >/dev/null || { echo "lint: clang-format is not installed (apt-get install clang-format)" >&2; return 2; }
  local files
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(cd "$root" && git ls-files -- '*.cpp' '*.hpp' '*.h' '*.cc')
  else
    mapfile -t files < <(cd "$root" && find src include tests bench fuzz python -type f \
                           \( -name '*.cpp' -o -name '*.hpp' \) | sort)
  fi
  if [[ ${1:-} == fix ]]; then
    (cd "$root" && clang-format -i -- "${files[@]}")
    echo "clang-format: ${#files[@]} files formatted"
    return 0
  fi
  local bad
  bad=$(cd "$root" && clang-format --dry-run -- "${files[@]}" 2>&1 | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' || true)
  if [[ -n $bad ]]; then
    local n
    n=$(printf '%s\n' "$bad" | cut -d: -f1 | sort -u | wc -l)
    printf '%s\n' "$bad" | head -n 40
    echo "clang-format: $n of ${#files[@]} files differ from .clang-format (fix: scripts/lint.sh --fix-format)"
    return 1
  fi
  echo "clang-format: ${#files[@]} files formatted as .clang-format says"
}

case ${1:-} in
  --format) format_check; exit $? ;;
  --fix-format) format_check fix; exit $? ;;
esac
build=${1:-$root/build-lint}
jobs=${LINT_JOBS:-2}

format_status=0
format_check || format_status=1

for tool in clang-tidy cppcheck cmake; do
  command -v "$tool" >/dev/null || { echo "lint: $tool is not installed (apt-get install $tool)" >&2; exit 2; }
done

if [[ ! -f $build/compile_commands.json ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DTREECOPY_BUILD_BENCH=OFF \
        -DTREECOPY_BUILD_PYTHON=OFF -DTREECOPY_BUILD_TESTS=OFF >/dev/null
fi

report=$build/lint
mkdir -p "$report"
status=0

# ---- clang-tidy: every translation unit of src/ (headers of src/ and include/ through them).
mapfile -t units < <(cd "$root" && find src -name '*.cpp' | sort)
echo "clang-tidy: ${#units[@]} files"
printf '%s\n' "${units[@]}" |
  (cd "$root" && xargs -P "$jobs" -n 1 clang-tidy -p "$build" --quiet) \
    >"$report/clang-tidy.txt" 2>"$report/clang-tidy.stderr" || true
# The same header is seen through several units: keep each finding once.
grep -E '^/.*: (warning|error):' "$report/clang-tidy.txt" | sort -u >"$report/clang-tidy-findings.txt" || true
tidy_count=$(wc -l <"$report/clang-tidy-findings.txt")
if [[ $tidy_count -gt 0 ]]; then
  status=1
  cat "$report/clang-tidy-findings.txt"
  echo "clang-tidy findings per check:"
  sed -E 's/.*\[([^]]+)\]$/\1/' "$report/clang-tidy-findings.txt" | sort | uniq -c | sort -rn
fi
echo "clang-tidy: $tidy_count findings (full output: $report/clang-tidy.txt)"

# ---- cppcheck.
if ! "$root/scripts/cppcheck.sh" "$build" >"$report/cppcheck.txt" 2>&1; then
  status=1
fi
cat "$report/cppcheck.txt"

[[ $format_status -eq 0 ]] || status=1
exit $status

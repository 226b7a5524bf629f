#!/usr/bin/env bash
# cppcheck over src/ and include/ with the compile commands of a build directory, and the
# project's suppressions (scripts/cppcheck-suppressions.txt, each one explained there).
#
#   scripts/cppcheck.sh BUILD_DIR      (BUILD_DIR must hold compile_commands.json)
#
# Prints the findings as "file:line: severity: message [id]"; exits 1 when there are any.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: cppcheck.sh BUILD_DIR}
out=$build/lint
mkdir -p "$out/cppcheck-cache"

# Only the project's own translation units (cppcheck 2.10's --file-filter does not apply to
# --project entries, so the compile commands are filtered here).
python3 - "$build/compile_commands.json" "$root/src/" >"$out/compile_commands.json" <<'PY'
import json, sys
entries = json.load(open(sys.argv[1]))
json.dump([e for e in entries if e["file"].startswith(sys.argv[2])], sys.stdout, indent=1)
PY

cppcheck --project="$out/compile_commands.json" \
  --enable=warning,performance,portability,style \
  --std=c++20 --language=c++ --inline-suppr --quiet \
  --cppcheck-build-dir="$out/cppcheck-cache" \
  --suppressions-list="$root/scripts/cppcheck-suppressions.txt" \
  -I "$root/include" -I "$root/src" -j "${LINT_JOBS:-2}" \
  --template='{file}:{line}: {severity}: {message} [{id}]' \
  2>"$out/cppcheck-findings.txt" >/dev/null || true

# Only findings in the project's own sources count.
grep -E "^($root/)?(src|include)/" "$out/cppcheck-findings.txt" | sort -u >"$out/cppcheck-own.txt" || true
count=$(wc -l <"$out/cppcheck-own.txt")
cat "$out/cppcheck-own.txt"
echo "cppcheck: $count findings"
[[ $count -eq 0 ]]

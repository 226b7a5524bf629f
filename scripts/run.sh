#!/usr/bin/env bash
# Installs what is missing, builds treecopy (Release) and copies SRC to DST with it.
# Usage: scripts/run.sh SRC DST [treecopy options...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${TREECOPY_BUILD_DIR:-$here/build}

if [ $# -lt 2 ]; then
  echo "usage: scripts/run.sh SRC DST [options]   (see: $build/treecopy --help)" >&2
  exit 2
fi
"$here/scripts/deps.sh" build
# TREECOPY_STATIC_CLI: the command without the shared libstdc++ and libtbb (it starts 2-3x faster;
# the first configure fetches and builds a static oneTBB, cmake/static_cli.cmake).
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTREECOPY_BUILD_TESTS=OFF \
  -DTREECOPY_BUILD_BENCH=OFF -DTREECOPY_STATIC_CLI=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target treecopy_cli >/dev/null
exec "$build/treecopy" "$@"

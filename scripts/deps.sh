#!/usr/bin/env bash
# Installs the Debian 12 packages treecopy needs to build, test and benchmark, skipping (quickly)
# those already present. Usage: scripts/deps.sh [build|test|bench]   (default: test)
set -euo pipefail

profile=${1:-test}
build_pkgs=(cmake make g++ pkg-config libtbb-dev libcli11-dev libboost-filesystem-dev)
test_pkgs=(libgtest-dev libgmock-dev python3 python3-dev pybind11-dev python3-venv python3-setuptools
           python3-wheel acl attr util-linux coreutils tar rsync e2fsprogs xfsprogs btrfs-progs
           clang libclang-rt-14-dev dpkg-dev)
bench_pkgs=(libbenchmark-dev hyperfine rsync gnuplot-nox strace e2fsprogs)

case "$profile" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}" libbenchmark-dev) ;;
  bench) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

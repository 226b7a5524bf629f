#!/usr/bin/env bash
# Installs the Debian 12 packages treecopy needs to build, test and benchmark, skipping (quickly)
# those already present. Usage: scripts/deps.sh [build|test|bench]   (default: test)
#        scripts/deps.sh check-users   exits 1, saying how to repair it, when the machine's user
#                                      database is damaged (owner tests cannot be trusted then)
set -euo pipefail

profile=${1:-test}

# A test run that wrote through a symlink once left /etc/passwd as "root:x:0:" and NUL bytes: every
# user lookup fails, and any result about owners (runs as uid 65534) means nothing.
check_users() {
  local damaged=""
  if [[ -f /etc/passwd ]] && LC_ALL=C grep -qaP '\x00' /etc/passwd 2>/dev/null; then
    damaged="it holds NUL bytes"
  elif command -v getent >/dev/null && ! { getent passwd root && getent passwd 65534; } >/dev/null 2>&1; then
    damaged="getent finds no root or no uid 65534"
  fi
  [[ -z $damaged ]] && return 0
  echo "deps: /etc/passwd is damaged ($damaged)." >&2
  if [[ -s /etc/passwd- ]]; then
    echo "deps: restore it from the backup, as root:  cp -a /etc/passwd- /etc/passwd  (check /etc/group too)" >&2
  else
    echo "deps: restore it from a backup or reinstall the base-passwd package (dpkg-reconfigure base-passwd)" >&2
  fi
  echo "deps: until then no test result that involves owners can be trusted." >&2
  return 1
}
if [[ $profile == check-users ]]; then
  check_users
  exit
fi
check_users || true
# libopenmpi-dev, openmpi-bin: treecopy-mpi (src/mpi), built and tested when MPI is found.
build_pkgs=(cmake make g++ pkg-config libtbb-dev libcli11-dev libboost-filesystem-dev
            libopenmpi-dev openmpi-bin)
test_pkgs=(libgtest-dev libgmock-dev python3 python3-dev pybind11-dev python3-venv python3-pip python3-setuptools
           python3-wheel acl attr util-linux coreutils tar rsync e2fsprogs xfsprogs btrfs-progs
           clang libclang-rt-14-dev clang-format dpkg-dev git man-db groff-base
           hyperfine strace liburing-dev)  # the benchmark tools' own tests (tests/bench)
# openmpi-bin .. libcap2: what the peer copier dcp (mpiFileUtils, ../shared/peers) runs on.
bench_pkgs=(libbenchmark-dev hyperfine rsync gnuplot-nox strace e2fsprogs
            openmpi-bin libopenmpi-dev libarchive13 libattr1 libcap2)

case "$profile" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}" libbenchmark-dev) ;;
  bench) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench|check-users]" >&2; exit 2 ;;
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

#!/usr/bin/env bash
# Runs one MPI job across N "hosts" of this machine (network namespaces sharing the file system,
# made by hosts.sh), then removes them, whatever the job did:
#   run-on-hosts.sh N [MPIRUN_OPTIONS...] PROGRAM [ARGS...]
# runs `mpirun $(cat DIR/mca) MPIRUN_OPTIONS... PROGRAM ARGS...` from the head namespace, e.g.
#   run-on-hosts.sh 2 -np 4 build/treecopy-mpi SRC DST
# Each host has $TREECOPY_HOSTS_SLOTS slots (default 2). With TREECOPY_HOSTS_TRAFFIC=1, one line
# per host on stderr after the job: the bytes its interface received and sent meanwhile (the job's
# traffic between hosts, plus Open MPI's own start-up and wire-up, about 3 KB per host for a job
# that does nothing). The exit status is mpirun's, or 77 when this machine cannot make the hosts
# (not root, no network namespaces, no Open MPI).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
[[ $# -ge 2 ]] || { echo "usage: run-on-hosts.sh N [MPIRUN_OPTIONS...] PROGRAM [ARGS...]" >&2; exit 2; }
count=$1
shift

dir=$(mktemp -d "${TMPDIR:-/tmp}/treecopy-hosts.XXXXXX")
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  "$here/hosts.sh" down "$dir" || true
  rm -rf -- "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TREECOPY_HOSTS_OWNER=$$ "$here/hosts.sh" up "$dir" "$count" "${TREECOPY_HOSTS_SLOTS:-2}" || exit
# Not exec: the trap must run after mpirun to remove the hosts.
read -ra mca <"$dir/mca"
iface=$(<"$dir/iface")
mapfile -t hosts <"$dir/hosts"
# Prints HOST RX TX for each host.
counters() {
  local host
  for host in "${hosts[@]}"; do
    echo "$host" \
      "$(ip netns exec "$host" cat "/sys/class/net/$iface/statistics/rx_bytes")" \
      "$(ip netns exec "$host" cat "/sys/class/net/$iface/statistics/tx_bytes")"
  done
}
[[ ${TREECOPY_HOSTS_TRAFFIC:-0} == 1 ]] && counters >"$dir/before"
rc=0
"$dir/head" mpirun "${mca[@]}" "$@" || rc=$?
if [[ ${TREECOPY_HOSTS_TRAFFIC:-0} == 1 ]]; then
  counters | paste -d' ' "$dir/before" - |
    awk -v iface="$iface" '{ printf "run-on-hosts: %s %s rx +%d tx +%d bytes\n", $1, iface, $5 - $2, $6 - $3 }' >&2
fi
exit $rc

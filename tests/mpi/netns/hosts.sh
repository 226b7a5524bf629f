#!/usr/bin/env bash
# Several "hosts" on one machine for the MPI tests: network namespaces that share the file system,
# each with its own loopback, its own address on a private test subnet and, through the launcher
# agent, its own hostname. Open MPI then starts ranks in them as it would over ssh, and ranks on
# different hosts can only talk over TCP through the veth pairs (the proof the transport tests read
# from the interfaces' byte counters).
#
# Nothing is made in the machine's own network namespace: a "head" namespace holds the bridge that
# joins the hosts' veth pairs, and mpirun runs there (DIR/head), so the test subnet exists only
# inside namespaces made here and no address reaches any other network.
#
# Usage (root only):
#   hosts.sh up DIR N [SLOTS]  make N hosts with SLOTS slots each (default 2); writes into DIR:
#       hostfile  one host name per line with slots=SLOTS (the names are the namespaces' names)
#       agent     the plm_rsh_agent: `agent HOST COMMAND...` runs COMMAND on HOST, as ssh would
#       head      `head COMMAND...` runs COMMAND in the head namespace, where mpirun must run
#       mca       mpirun's arguments (hostfile, agent, TCP on the test subnet only, run as root)
#       hosts     the host names, one a line;  iface  the hosts' interface name (eth0)
#     so that a job runs as:  DIR/head mpirun $(cat DIR/mca) -np 4 PROGRAM ARGS...
#   hosts.sh down DIR          remove everything `up DIR` made (processes left in its namespaces too)
#   hosts.sh sweep             remove the namespaces of runs whose owner has gone
# Exit status 77 (a skip for ctest) when not root, without `ip`, `unshare`, network namespaces, veth
# or bridge support, or without Open MPI's mpirun.
#
# Names: tcmpi-OWNER-START-RANDOM-hI (and -head; no dots, which Open MPI would take for a domain
# and cut off), where OWNER is the process that asked for the hosts
# (the caller, or $TREECOPY_HOSTS_OWNER) and START its start time, so parallel runs never clash and
# `up` removes leftovers of killed runs (owner gone) before making its own. A watcher process removes
# the hosts when their owner exits without calling `down`; `up` that fails half-way removes what it
# made.
set -euo pipefail

readonly name_prefix=tcmpi-
readonly subnet_base=10.213.0
readonly subnet=${subnet_base}.0/24
readonly head_addr=${subnet_base}.254
readonly iface=eth0
readonly skip=77

die() { echo "hosts.sh: $*" >&2; exit 1; }
skip_because() { echo "hosts.sh: skipped: $*" >&2; exit $skip; }

# Field 22 of /proc/PID/stat: the start time, which tells a live owner from a reused pid.
start_time_of() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }  # the command name may hold spaces; the fields after it do not
  read -ra fields <<<"$stat"
  echo "${fields[19]}"
}

# Kills the processes left in one namespace (ranks, orteds of a failed job), then removes it, and
# the session directory Open MPI keeps under the host's name, which a killed job leaves behind.
remove_netns() {
  local ns=$1 pids
  mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
  if [[ ${#pids[@]} -gt 0 ]]; then
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  ip netns delete "$ns" 2>/dev/null || true
  if [[ $ns == "$name_prefix"* ]]; then
    rm -rf -- "${TMPDIR:-/tmp}/ompi.$ns."*
  fi
}

# Removes the namespaces of one run, named PREFIX-head and PREFIX-hI, given PREFIX-head [DIR].
remove_prefix() {
  local run=${1%-head} ns
  [[ $run =~ ^${name_prefix}[0-9]+-[0-9]+-[0-9a-f]+$ ]] || die "not a run of hosts.sh: '$1'"
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns == "$run"-* ]] && remove_netns "$ns"
  done
  # Then the files of DIR, when DIR is still this run's (a real directory naming this head), and
  # DIR itself when nothing else is left in it.
  local dir=${2:-}
  if [[ -n $dir && -d $dir && ! -L $dir && -f $dir/namespaces && ! -L $dir/namespaces ]] &&
     [[ $(head -n 1 "$dir/namespaces") == "$1" ]]; then
    remove_files "$dir"
    rmdir -- "$dir" 2>/dev/null || true
  fi
  return 0
}

# The files `up` writes into DIR (and run-on-hosts.sh's counters).
remove_files() {
  rm -f -- "$1"/{hostfile,agent,head,mca,hosts,iface,namespaces,watcher,subnet,before}
}

sweep() {
  local ns pid start rest now
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns == "$name_prefix"* ]] || continue
    IFS=- read -r pid start rest <<<"${ns#"$name_prefix"}"
    now=$(start_time_of "$pid") || now=
    [[ $now == "$start" ]] && continue
    remove_netns "$ns"
  done
}

down() {
  local dir=$1 ns watcher
  [[ -d $dir ]] || return 0
  if [[ -f $dir/watcher ]]; then
    watcher=$(<"$dir/watcher")
    # Only the watcher this run started (its command line names this run's prefix), and not when
    # the watcher itself is removing the hosts; it leads a process group of its own (setsid).
    if [[ -n $watcher && $watcher != "$$" && -f $dir/namespaces ]] &&
       grep -qF -- "$(head -n 1 "$dir/namespaces")" "/proc/$watcher/cmdline" 2>/dev/null; then
      kill -- "-$watcher" 2>/dev/null || true
    fi
  fi
  if [[ -f $dir/namespaces ]]; then
    while read -r ns; do
      [[ -n $ns ]] && remove_netns "$ns"
    done <"$dir/namespaces"
  fi
  remove_files "$dir"
}

check_tools() {
  [[ $(id -u) -eq 0 ]] || skip_because "needs root (network namespaces)"
  command -v ip >/dev/null || skip_because "no 'ip' (iproute2)"
  command -v unshare >/dev/null || skip_because "no 'unshare' (util-linux)"
  command -v mpirun >/dev/null || skip_because "no Open MPI (mpirun)"
  mpirun --version 2>/dev/null | grep -q "Open MPI" || skip_because "mpirun is not Open MPI"
}

write_agent() {
  local dir=$1
  cat >"$dir/agent" <<AGENT
#!/usr/bin/env bash
# plm_rsh_agent made by hosts.sh: Open MPI calls it as it would call ssh, \`agent [OPTIONS] HOST
# COMMAND...\`; COMMAND runs inside HOST's network namespace, with HOST as its hostname, through
# sh -c on the joined words as ssh's remote shell would.
set -euo pipefail
while [[ \${1:-} == -* ]]; do shift; done
host=\${1:?usage: agent HOST COMMAND...}
shift
grep -qxF -- "\$host" "$dir/hosts" || { echo "agent: \$host is not a host of $dir" >&2; exit 255; }
exec ip netns exec "\$host" unshare --uts sh -c 'hostname "\$0" && exec sh -c "\$*"' "\$host" "\$@"
AGENT
  cat >"$dir/head" <<HEAD
#!/usr/bin/env bash
# Runs its command in the head namespace made by hosts.sh (the bridge's side of the test subnet),
# with the head's name as hostname: where mpirun must run to reach the hosts.
set -euo pipefail
exec ip netns exec "$2" unshare --uts sh -c 'hostname "\$0" && exec "\$@"' "$2" "\$@"
HEAD
  chmod 0755 "$dir/agent" "$dir/head"
}

up() {
  local dir=$1 count=$2 slots=$3
  [[ $count =~ ^[0-9]+$ && $count -ge 1 && $count -le 250 ]] || die "N must be 1..250, not '$count'"
  [[ $slots =~ ^[0-9]+$ && $slots -ge 1 ]] || die "SLOTS must be a positive number, not '$slots'"
  [[ $dir != *[[:space:]]* ]] || die "DIR must not hold white space (DIR/mca is split on it)"
  check_tools
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  sweep

  local owner=${TREECOPY_HOSTS_OWNER:-$PPID} start prefix head i host
  start=$(start_time_of "$owner") || die "owner process $owner not found"
  prefix=$name_prefix$owner-$start-$(printf '%04x%04x' $RANDOM $RANDOM)
  head=$prefix-head
  : >"$dir/namespaces"
  # From here on, a failure removes what was made.
  # shellcheck disable=SC2154 # rc is assigned in the trap itself
  trap 'rc=$?; trap - EXIT; [[ $rc -eq 0 ]] || down "$dir"; exit $rc' EXIT
  trap 'exit 130' INT TERM HUP

  echo "$head" >>"$dir/namespaces"
  ip netns add "$head" 2>/dev/null || skip_because "cannot make a network namespace"
  ip -n "$head" link set lo up
  ip -n "$head" link add br0 type bridge forward_delay 0 2>/dev/null ||
    skip_because "no bridge support"
  ip -n "$head" addr add "$head_addr/24" dev br0
  ip -n "$head" link set br0 up
  : >"$dir/hosts"
  : >"$dir/hostfile"
  for ((i = 0; i < count; i++)); do
    host=$prefix-h$i
    echo "$host" >>"$dir/namespaces"
    ip netns add "$host"
    ip -n "$host" link set lo up
    # Both ends are made inside namespaces: nothing ever appears in the machine's own.
    ip -n "$head" link add "p$i" type veth peer name "$iface" netns "$host" 2>/dev/null ||
      skip_because "no veth support"
    ip -n "$head" link set "p$i" master br0 up
    ip -n "$host" addr add "$subnet_base.$((i + 1))/24" dev "$iface"
    ip -n "$host" link set "$iface" up
    echo "$host" >>"$dir/hosts"
    echo "$host slots=$slots" >>"$dir/hostfile"
  done
  write_agent "$dir" "$head"
  echo "$iface" >"$dir/iface"
  echo "$subnet" >"$dir/subnet"
  # Tree spawn would have each orted start others through the agent too; the head starts them all.
  echo "--hostfile $dir/hostfile --mca plm_rsh_agent $dir/agent --mca plm_rsh_no_tree_spawn 1" \
    "--mca btl tcp,self --mca btl_tcp_if_include $subnet --mca oob_tcp_if_include $subnet" \
    "--allow-run-as-root" >"$dir/mca"
  # The watcher removes the hosts when the owner exits without `down` (a killed test), by their
  # names' prefix, which works even when DIR has been removed already, then DIR's files.
  # It writes its own pid: setsid forks when the caller leads a process group, so $! may not be it.
  : >"$dir/watcher"
  # shellcheck disable=SC2016 # expanded by the watcher's shell
  setsid bash -c 'echo $$ >"$4"; tail --pid="$1" -f /dev/null 2>/dev/null || true
                  exec "$2" remove-prefix "$3" "$5"' \
    hosts-watcher "$owner" "$(realpath "$0")" "$head" "$dir/watcher" "$dir" </dev/null >/dev/null 2>&1 &
  for ((i = 0; i < 100; i++)); do
    [[ -s $dir/watcher ]] && break
    sleep 0.05
  done
  [[ -s $dir/watcher ]] || die "the watcher did not start"
}

case ${1:-} in
  up) [[ $# -ge 3 && $# -le 4 ]] || die "usage: hosts.sh up DIR N [SLOTS]"
      up "$2" "$3" "${4:-2}" ;;
  down) [[ $# -eq 2 ]] || die "usage: hosts.sh down DIR"
        [[ $(id -u) -eq 0 ]] || skip_because "needs root"
        down "$(cd "$2" 2>/dev/null && pwd -P || echo "$2")" ;;
  sweep) [[ $(id -u) -eq 0 ]] || skip_because "needs root"
         sweep ;;
  remove-prefix) remove_prefix "${2:-}" "${3:-}" ;;  # the watcher's call
  *) die "usage: hosts.sh up DIR N [SLOTS] | down DIR | sweep" ;;
esac

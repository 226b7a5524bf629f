#!/bin/bash
# bench-peers.sh: time treecopy (at several -j) against cp -a, tar | tar, rsync -a, the floor
# copier (bench/floor_copy.cpp) and the peer copiers cpz, fcp, xcp and dcp (--peers, see
# ../shared/peers/README.md) on generated corpora, with hyperfine, in three places (with
# "read only (cat)", which reads every source file once and copies nothing: the bound where
# reading is the cost, as from a cold cache):
#   tmpfs  tmpfs -> tmpfs (a tmpfs mounted here): only the copier's own CPU and syscall work counts
#   ext4   warm source on ext4 -> a freshly made ext4 with a journal in a loop image (mkfs + mount
#          before every run), like a CI runner's disk
#   cold   the same, with `sync; echo 3 > /proc/sys/vm/drop_caches` before every run
# Never on the root file system: it is ext4 without a journal, whose allocator skips inodes freed
# in the last minutes, so delete-then-copy there measures the allocator, not the copier. The
# mounts live in a private mount namespace (see below).
#
# Every copier that takes a worker count gets one row per count, like treecopy's -j: cpz pinned
# with taskset to 1, 2, 4... CPUs (up to nproc), fcp with RAYON_NUM_THREADS, xcp -w, dcp with
# mpirun -np; the report names each one's best. A peer that is absent or cannot copy a one-file
# tree is left out with a line saying so. cpz hangs on a FIFO: it is never given a tree that
# holds one, and runs under timeout all the same.
#
# Tools alternate: each round is one hyperfine call with one run of every command, in an order
# rotated each round; round 0 warms the cache and is not counted. Round 0 also measures, with
# scripts/tree-fidelity.py, what each copy kept of its source (content, modes, dir modes, times,
# dir times, owner, xattrs, hard links, symlinks, symlink times, FIFOs); before the corpora every
# copier copies a small probe tree holding all of these once, since the corpora hold no owners,
# xattrs, hard links or FIFOs. Wrong content, a failed copier or a treecopy that loses anything
# is printed with !!!!! and makes the exit status 1. Raw JSON goes to bench/results/<stamp>/raw/,
# then scripts/bench-report.py prints the markdown tables (what each copier keeps, the best of
# each copier, medians, ratios to cp -a and to the floor, the worker-count sweeps) and
# scripts/plot-bench.py draws throughput.png. Run as root. docs/benchmarks.md has the method.
#
#   scripts/bench-peers.sh --scale 0.05 --runs 5            # quick check, a few minutes
#   scripts/bench-peers.sh                                  # full size, all corpora and places
set -euo pipefail

cmdline="$0$(printf ' %q' "$@")"
args_in=("$@")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

corpora="small source large flat"
places="tmpfs ext4 cold"
scale=1
large_scale=""
runs=5
jobs="1 2 4 8 16"
seed=1
treecopy=""
baseline=""
floor=""
peers=""
cpz_cpus=""
fcp_threads="1 2 4 8"
xcp_workers="1 2 4 8"
dcp_np="1 2 4"
treecopy_mpi=""
mpi_np="1 2"
peer_timeout=1800
work=/var/tmp/treecopy-bench
out=""
keep=0

usage() {
  cat <<EOF
usage: $0 [options]
  --corpora LIST      corpora to run, from: small source large flat   [$corpora]
  --places LIST       places to run, from: tmpfs ext4 cold             [$places]
  --scale F           corpus scale for make-corpus.py                  [$scale]
  --large-scale F     scale of the large corpus (default: --scale)
  --runs N            counted rounds per corpus and place (>= 5 for reports) [$runs]
  --jobs LIST         treecopy -j values                               [$jobs]
  --seed N            corpus seed                                      [$seed]
  --treecopy PATH     treecopy binary, or "none" to time only the peers [newest build*/treecopy]
  --baseline PATH     a second treecopy binary (an earlier build), timed as "treecopy base -j N"
  --floor PATH        floor_copy binary                                [built from bench/floor_copy.cpp]
  --peers DIR         peer copiers cpz fcp xcp dcp, or "none"          [<repo>/../shared/peers]
  --cpz-cpus LIST     CPUs cpz may use (taskset), one row each         [1 2 4 8 16, up to nproc]
  --fcp-threads LIST  fcp's RAYON_NUM_THREADS, one row each            [$fcp_threads]
  --xcp-workers LIST  xcp -w values                                    [$xcp_workers]
  --dcp-np LIST       dcp's MPI process counts (mpirun -np)            [$dcp_np]
  --treecopy-mpi PATH treecopy-mpi binary: timed as "treecopy-mpi -np N" (one worker a rank,
                      as dcp's ranks), in the same rounds as dcp      [not timed]
  --mpi-np LIST       treecopy-mpi's MPI process counts (mpirun -np)   [$mpi_np]
  --peer-timeout S    cpz runs under timeout S (it hangs on a FIFO)    [$peer_timeout]
  --work DIR          scratch dir for mounts and loop images (not tmpfs) [$work]
  --out DIR           results dir                                      [bench/results/<stamp>]
  --keep              leave corpora, images and mounts in place
LISTs are space- or comma-separated.
EOF
  exit "${1:-2}"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --corpora) corpora=${2//,/ }; shift 2 ;;
    --places) places=${2//,/ }; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --large-scale) large_scale=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=${2//,/ }; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --treecopy) treecopy=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --floor) floor=$2; shift 2 ;;
    --peers) peers=$2; shift 2 ;;
    --cpz-cpus) cpz_cpus=${2//,/ }; shift 2 ;;
    --fcp-threads) fcp_threads=${2//,/ }; shift 2 ;;
    --xcp-workers) xcp_workers=${2//,/ }; shift 2 ;;
    --dcp-np) dcp_np=${2//,/ }; shift 2 ;;
    --treecopy-mpi) treecopy_mpi=$2; shift 2 ;;
    --mpi-np) mpi_np=${2//,/ }; shift 2 ;;
    --peer-timeout) peer_timeout=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done

die() { echo "bench-peers: $*" >&2; exit 2; }
log() { echo "== $*" >&2; }

[[ $(id -u) -eq 0 ]] || die "run as root (mounts, loop images, drop_caches)"
# The mounts live in a mount namespace of the benchmark's own. Otherwise a namespace that another
# process makes meanwhile (a confined test run, a container) holds copies of them: after our
# umount the loop device stays busy ("apparently in use by the system"), and when that namespace
# ends, the old file system is written over the fresh one. --keep stays in the caller's namespace
# so that the mounts it keeps can be looked at.
if [[ $keep -eq 0 && -z ${TREECOPY_BENCH_OWN_NS:-} ]]; then
  exec env TREECOPY_BENCH_OWN_NS=1 unshare --mount --propagation private "$0" "${args_in[@]}"
fi
for tool in hyperfine rsync tar cp mkfs.ext4 python3; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install hyperfine rsync e2fsprogs)"
done
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || die "bad --runs $runs"
for c in $corpora; do [[ $c =~ ^(small|source|large|flat)$ ]] || die "unknown corpus $c"; done
for p in $places; do [[ $p =~ ^(tmpfs|ext4|cold)$ ]] || die "unknown place $p"; done
# The CPUs this process may run on: cpz with N CPUs is pinned to the first N of them.
allowed_cpus=$(python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')
ncpus=$(wc -w <<<"$allowed_cpus")
if [[ -z $cpz_cpus ]]; then
  for n in 1 2 4 8 16; do (( n <= ncpus )) && cpz_cpus+="$n "; done
fi
for j in $jobs $cpz_cpus $fcp_threads $xcp_workers $dcp_np $mpi_np; do
  [[ $j =~ ^[1-9][0-9]*$ ]] || die "bad worker count $j"
done
for n in $cpz_cpus; do (( n <= ncpus )) || die "--cpz-cpus $n: only $ncpus CPUs to pin cpz to"; done
[[ $peer_timeout =~ ^[1-9][0-9]*$ ]] || die "bad --peer-timeout $peer_timeout"
: "${large_scale:=$scale}"

if [[ -z $treecopy ]]; then
  treecopy=$(ls -t "$repo"/build*/treecopy 2>/dev/null | head -n1 || true)
  [[ -n $treecopy ]] || die "no build*/treecopy found: build it or pass --treecopy PATH (or none)"
fi
if [[ $treecopy != none ]]; then
  [[ -x $treecopy ]] || die "not executable: $treecopy"
  treecopy=$(realpath "$treecopy")
fi

if [[ -n $treecopy_mpi ]]; then
  [[ -x $treecopy_mpi ]] || die "not executable: $treecopy_mpi"
  command -v mpirun >/dev/null || die "--treecopy-mpi: no mpirun (scripts/deps.sh installs Open MPI)"
  treecopy_mpi=$(realpath "$treecopy_mpi")
fi

mkdir -p "$work"
work=$(realpath "$work")
[[ $(stat -f -c %T "$work") != tmpfs ]] || die "--work must not be on tmpfs (loop images live there)"

if [[ -z $floor ]]; then
  floor=$work/floor_copy
  g++ -O2 -std=c++20 -pthread -o "$floor" "$repo/bench/floor_copy.cpp" || die "cannot build floor_copy"
fi
[[ -x $floor ]] || die "not executable: $floor"
floor=$(realpath "$floor")

# --- peer copiers (../shared/peers/README.md) -----------------------------------------------------
# peer[name] = the command that runs it; a peer that is absent or does not run is left out, with a
# line saying why.
declare -A peer
peer_versions=""
find_peers() {
  if [[ -z $peers ]]; then
    peers=$repo/../shared/peers
    # From a linked git worktree: beside the main checkout.
    local common
    if [[ ! -d $peers ]] &&
       common=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) &&
       [[ -d $(dirname "$common")/../shared/peers ]]; then
      peers=$(dirname "$common")/../shared/peers
    fi
  fi
  [[ $peers == none ]] && { log "peers: none (--peers none)"; return; }
  if [[ ! -d $peers ]]; then log "peers: no directory $peers: timing no peer copier"; return; fi
  peers=$(realpath "$peers")
  local p
  for p in cpz fcp xcp; do
    if [[ -x $peers/$p ]]; then peer[$p]=$peers/$p; else log "peer $p: absent ($peers/$p), skipped"; fi
  done
  if [[ ! -x $peers/dcp ]]; then
    log "peer dcp: absent ($peers/dcp), skipped"
  elif ! command -v mpirun >/dev/null; then
    log "peer dcp: no mpirun (scripts/deps.sh bench installs Open MPI), skipped"
  elif [[ -x $peers/mpifileutils/bin/dcp && -d $peers/mpifileutils/lib ]]; then
    # dcp's own wrapper sets LD_LIBRARY_PATH to the libraries beside it. Where a copy of that
    # directory turned its library symlinks into small files holding the target's name, the
    # loader stops ("file too short"): run it through a directory of real symlinks instead.
    local lib=$work/dcp-lib f t
    rm -rf "$lib" && mkdir "$lib"
    for f in "$peers"/mpifileutils/lib/*; do
      t=""
      [[ -f $f && ! -L $f && $(stat -c %s "$f") -lt 256 ]] && t=$(tr -d '\n' <"$f")
      if [[ -n $t && $t != */* && -f $peers/mpifileutils/lib/$t ]]; then
        ln -s "$t" "$lib/${f##*/}"
      else
        ln -s "$f" "$lib/${f##*/}"
      fi
    done
    # shellcheck disable=SC2016 # $LD_LIBRARY_PATH and $@ belong to the wrapper
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %q "$@"\n' \
      "$lib" "$peers/mpifileutils/bin/dcp" >"$work/dcp"
    chmod +x "$work/dcp"
    peer[dcp]=$work/dcp
  else
    peer[dcp]=$peers/dcp
  fi
  # A peer that cannot copy one file (missing libraries...) is left out.
  local smoke=$work/smoke rc
  for p in "${!peer[@]}"; do
    rm -rf "$smoke" && mkdir -p "$smoke/src" && echo smoke >"$smoke/src/f"
    rc=0
    case $p in
      dcp) timeout -k 5 60 mpirun --allow-run-as-root --oversubscribe -np 1 "${peer[dcp]}" -q \
             "$smoke/src" "$smoke/dst" >/dev/null 2>"$smoke.err" || rc=$? ;;
      xcp) timeout -k 5 60 "${peer[xcp]}" -r --no-progress "$smoke/src" "$smoke/dst" \
             >/dev/null 2>"$smoke.err" || rc=$? ;;
      *) timeout -k 5 60 "${peer[$p]}" "$smoke/src" "$smoke/dst" >/dev/null 2>"$smoke.err" || rc=$? ;;
    esac
    if [[ $rc -ne 0 || $(cat "$smoke/dst/f" 2>/dev/null) != smoke ]]; then
      log "peer $p: does not copy a one-file tree (exit $rc: $(head -c 200 "$smoke.err" | tr '\n' ' ')), skipped"
      unset "peer[$p]"
    fi
  done
  rm -rf "$smoke" "$smoke.err"
  local v
  for p in cpz fcp xcp; do
    [[ -n ${peer[$p]:-} ]] || continue
    v=$("${peer[$p]}" --version 2>&1 | head -n1 || true)  # fcp --version exits 1
    peer_versions+="$p ${v#"$p "}; "
  done
  if [[ -n ${peer[dcp]:-} ]]; then
    peer_versions+="dcp (mpiFileUtils) with $(mpirun --version 2>&1 | head -n1 || true); "
  fi
  log "peers: ${!peer[*]}"
}
find_peers

stamp=$(date +%Y%m%d-%H%M%S)
: "${out:=$repo/bench/results/$stamp}"
mkdir -p "$out/raw"
out=$(realpath "$out")

tmpfs_mnt=$work/tmpfs
src_mnt=$work/src-ext4
dst_mnt=$work/dst-ext4
src_img=$work/src.img
dst_img=$work/dst.img
dst_dev=""

cleanup() {
  set +e
  [[ $keep -eq 1 ]] && return
  for m in "$dst_mnt" "$src_mnt" "$tmpfs_mnt"; do
    mountpoint -q "$m" && umount "$m"
  done
  [[ -n $dst_dev ]] && losetup -d "$dst_dev"
  rm -f "$src_img" "$dst_img"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# --- corpora -------------------------------------------------------------------------------------
mkdir -p "$tmpfs_mnt" "$src_mnt" "$dst_mnt"
mountpoint -q "$tmpfs_mnt" && umount "$tmpfs_mnt"
mem_kib=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
mount -t tmpfs -o "size=$((mem_kib * 3 / 4))k,mode=755" treecopy-bench "$tmpfs_mnt"
mkdir "$tmpfs_mnt/src"

declare -A corpus_scale
for c in $corpora; do
  s=$scale
  [[ $c == large ]] && s=$large_scale
  corpus_scale[$c]=$s
  log "making corpus $c (scale $s)"
  python3 "$here/make-corpus.py" "$c" "$tmpfs_mnt/src/$c" --seed "$seed" --scale "$s" | tee -a "$out/corpora.txt"
done

tree_bytes() { du -s -B1 "$1" | cut -f1; }

if [[ " $places " == *" ext4 "* || " $places " == *" cold "* ]]; then
  used=$(tree_bytes "$tmpfs_mnt/src")
  # Room for the trees plus ext4's per-file and journal overhead (4 KiB blocks, small files).
  files_total=$(find "$tmpfs_mnt/src" | wc -l)
  img_bytes=$(( (used * 3 / 2 + files_total * 4096 + (1 << 30)) / (1 << 20) * (1 << 20) ))
  log "making source ext4 image ($((img_bytes >> 20)) MiB) and copying the corpora into it"
  mountpoint -q "$src_mnt" && umount "$src_mnt"
  rm -f "$src_img"
  truncate -s "$img_bytes" "$src_img"
  mkfs.ext4 -q -F -N $((files_total + 100000)) "$src_img"
  mount -o loop,noinit_itable "$src_img" "$src_mnt"
  for c in $corpora; do cp -a "$tmpfs_mnt/src/$c" "$src_mnt/$c"; done
  sync
  # The destination image must hold the largest tree, written without holes by tar and rsync.
  biggest=0
  for c in $corpora; do
    b=$(du -s -B1 --apparent-size "$tmpfs_mnt/src/$c" | cut -f1)
    n=$(find "$tmpfs_mnt/src/$c" | wc -l)
    b=$(( b + n * 4096 ))
    (( b > biggest )) && biggest=$b
  done
  dst_bytes=$(( (biggest * 3 / 2 + (1 << 30)) / (1 << 20) * (1 << 20) ))
  dst_inodes=$(( files_total + 100000 ))
  rm -f "$dst_img"
  truncate -s "$dst_bytes" "$dst_img"
  # One loop device for the whole run, made and mounted through the device: with `mount -o loop`
  # on the image after mkfs on the image file, a loop device detached and attached again between
  # runs now and then showed the previous file system's blocks (an ext4 checksum error on the
  # fresh root directory, or the last copy still there).
  dst_dev=$(losetup -f --show "$dst_img")
fi

# --- metadata ------------------------------------------------------------------------------------
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
{
  echo "{"
  echo "  \"date\": $(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),"
  echo "  \"host\": $(json_str "$(hostname)"),"
  echo "  \"kernel\": $(json_str "$(uname -r)"),"
  echo "  \"cpu\": $(json_str "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"),"
  echo "  \"cores\": $(nproc),"
  echo "  \"mem_gib\": $(( mem_kib >> 20 )),"
  echo "  \"loadavg_at_start\": $(json_str "$(cut -d' ' -f1-3 /proc/loadavg)"),"
  echo "  \"command\": $(json_str "$cmdline"),"
  echo "  \"treecopy\": $(json_str "$treecopy"),"
  echo "  \"treecopy_version\": $(json_str "$([[ $treecopy == none ]] || "$treecopy" --version 2>&1 | head -n1)"),"
  echo "  \"treecopy_mpi\": $(json_str "$treecopy_mpi"),"
  echo "  \"treecopy_commit\": $(json_str "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"),"
  echo "  \"baseline\": $(json_str "${baseline:-none}"),"
  echo "  \"cp_version\": $(json_str "$(cp --version | head -n1)"),"
  echo "  \"tar_version\": $(json_str "$(tar --version | head -n1)"),"
  echo "  \"rsync_version\": $(json_str "$(rsync --version | head -n1)"),"
  echo "  \"hyperfine_version\": $(json_str "$(hyperfine --version)"),"
  echo "  \"peers\": $(json_str "$peers"),"
  echo "  \"peer_versions\": $(json_str "${peer_versions%; }"),"
  echo "  \"runs\": $runs, \"seed\": $seed,"
  echo "  \"corpora\": {"
  first=1
  for c in $corpora; do
    d=$tmpfs_mnt/src/$c
    [[ $first -eq 1 ]] || echo ","
    first=0
    printf '    "%s": {"scale": %s, "files": %s, "dirs": %s, "symlinks": %s, "bytes": %s}' "$c" \
      "${corpus_scale[$c]}" "$(find "$d" -type f | wc -l)" "$(find "$d" -mindepth 1 -type d | wc -l)" \
      "$(find "$d" -type l | wc -l)" "$(find "$d" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%d", s}')"
  done
  echo
  echo "  }"
  echo "}"
} >"$out/meta.json"

# --- runs ----------------------------------------------------------------------------------------
if [[ -n $baseline ]]; then
  [[ -x $baseline ]] || die "not executable: $baseline"
  baseline=$(realpath "$baseline")
fi

q() { printf '%q' "$1"; }

# The first $1 CPUs this process may use, as a taskset list.
cpu_list() { local a; read -ra a <<<"$allowed_cpus"; local IFS=,; echo "${a[*]:0:$1}"; }

# Sets names[] and cmds[] for copying $1 to $2, and notes[] for the copiers left out. Each peer
# copier gets one row per worker count, like treecopy's -j; the report picks the best.
commands_for() {
  local src=$1 dst=$2 n
  names=() cmds=() notes=()
  names+=("cp -a"); cmds+=("cp -a $(q "$src") $(q "$dst")")
  names+=("tar | tar"); cmds+=("mkdir $(q "$dst") && tar -cf - -C $(q "$src") . | tar -xf - -C $(q "$dst")")
  names+=("rsync -a"); cmds+=("rsync -a $(q "$src")/ $(q "$dst")")
  names+=("floor (2 threads)"); cmds+=("$(q "$floor") -j 2 $(q "$src") $(q "$dst")")
  # Not a copy: reading every file once, the bound no copier can beat where reads are the cost.
  names+=("read only (cat)"); cmds+=("find $(q "$src") -type f -exec cat {} + >/dev/null")
  if [[ -n ${peer[cpz]:-} ]]; then
    # cpz opens a FIFO for reading and waits for a writer forever: never give it one, and bound
    # every run with timeout all the same.
    if [[ -n $(find "$src" -type p -print -quit) ]]; then
      notes+=("cpz: skipped, the tree holds a FIFO (cpz hangs on one)")
    else
      for n in $cpz_cpus; do
        names+=("cpz ($n CPU$([[ $n -eq 1 ]] || echo s))")
        cmds+=("taskset -c $(cpu_list "$n") timeout -k 10 $peer_timeout $(q "${peer[cpz]}") $(q "$src") $(q "$dst")")
      done
    fi
  fi
  if [[ -n ${peer[fcp]:-} ]]; then
    for n in $fcp_threads; do
      names+=("fcp ($n thread$([[ $n -eq 1 ]] || echo s))")
      cmds+=("RAYON_NUM_THREADS=$n $(q "${peer[fcp]}") $(q "$src") $(q "$dst")")
    done
  fi
  if [[ -n ${peer[xcp]:-} ]]; then
    for n in $xcp_workers; do
      names+=("xcp -w $n"); cmds+=("$(q "${peer[xcp]}") -r -w $n --no-progress $(q "$src") $(q "$dst")")
    done
  fi
  if [[ -n ${peer[dcp]:-} ]]; then
    for n in $dcp_np; do
      names+=("dcp -np $n")
      cmds+=("mpirun --allow-run-as-root --oversubscribe -np $n $(q "${peer[dcp]}") -p -q $(q "$src") $(q "$dst")")
    done
  fi
  if [[ -n $treecopy_mpi ]]; then
    for n in $mpi_np; do
      names+=("treecopy-mpi -np $n")
      cmds+=("mpirun --allow-run-as-root --oversubscribe -np $n $(q "$treecopy_mpi") -q -j 1 $(q "$src") $(q "$dst")")
    done
  fi
  if [[ $treecopy != none ]]; then
    local j
    for j in $jobs; do
      names+=("treecopy -j $j"); cmds+=("$(q "$treecopy") -q -j $j $(q "$src") $(q "$dst")")
    done
  fi
  if [[ -n $baseline ]]; then
    local j
    for j in $jobs; do
      names+=("treecopy base -j $j"); cmds+=("$(q "$baseline") -q -j $j $(q "$src") $(q "$dst")")
    done
  fi
}

# The command run before every timed run, per place.
prepare_for() {
  local place=$1 dst=$2
  if [[ $place == tmpfs ]]; then
    echo "rm -rf $(q "$dst")"
    return
  fi
  # Unmount flushes the previous copy; sync writes the loop image out, so neither lands in the
  # next timed run. noinit_itable: no background inode-table zeroing during the run.
  local p="if mountpoint -q $(q "$dst_mnt"); then umount $(q "$dst_mnt"); fi; sync"
  p+=" && mkfs.ext4 -q -F -E nodiscard -N $dst_inodes $(q "$dst_dev")"
  p+=" && mount -o noinit_itable $(q "$dst_dev") $(q "$dst_mnt") && sync"
  [[ $place == cold ]] && p+=" && echo 3 > /proc/sys/vm/drop_caches"
  echo "$p"
}

# Keeps the rows of names[] and cmds[] whose name matches (in) or does not match (out) glob $2.
keep_rows() {
  local i kept_names=() kept_cmds=() match
  for ((i = 0; i < ${#names[@]}; i++)); do
    match=0
    # shellcheck disable=SC2053 # $2 is a glob
    [[ ${names[i]} == $2 ]] && match=1
    if [[ ($1 == in && $match -eq 1) || ($1 == out && $match -eq 0) ]]; then
      kept_names+=("${names[i]}"); kept_cmds+=("${cmds[i]}")
    fi
  done
  names=("${kept_names[@]}") cmds=("${kept_cmds[@]}")
}

# Round 0: runs every command once (after $3, the place's preparation; each bounded by $5
# seconds) copying $1 to $2 and measures with scripts/tree-fidelity.py what each copy kept of
# the source; writes {tool: result} to $4. Sets status=1 when a copier fails, a copy's content
# is wrong, or treecopy loses anything.
check_copies() {
  local src=$1 dst=$2 prep=$3 json=$4 limit=${5:-$peer_timeout}
  local snap=$work/snapshot.json err=$work/check.err
  local i rc res sum entries=() note
  python3 "$here/tree-fidelity.py" snapshot "$src" "$snap"
  for note in "${notes[@]}"; do
    log "   $note"
    entries+=("$(json_str "${note%%:*}"): {\"status\": $(json_str "${note#*: }")}")
  done
  for ((i = 0; i < ${#cmds[@]}; i++)); do
    bash -c "$prep" >/dev/null || die "cannot prepare the destination: $prep"
    rc=0
    timeout -k 10 "$limit" bash -c "${cmds[i]}" >/dev/null 2>"$err" || rc=$?
    if [[ $rc -ne 0 ]]; then
      echo "   ${names[i]}: exit $rc ($(head -c 300 "$err"))" >&2
      entries+=("$(json_str "${names[i]}"): {\"status\": \"failed\", \"exit\": $rc, \"error\": $(json_str "$(head -c 300 "$err")")}")
      status=1
      continue
    fi
    if [[ ${names[i]} == "read only (cat)" ]]; then
      entries+=("$(json_str "${names[i]}"): {\"status\": \"reads only\"}")
      continue
    fi
    res=$(python3 "$here/tree-fidelity.py" compare "$snap" "$dst")
    sum=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["summary"])' "$res")
    entries+=("$(json_str "${names[i]}"): $res")
    if [[ $sum == "CONTENT WRONG"* ]]; then
      echo "   !!!!! ${names[i]}: $sum" >&2
      status=1
    elif [[ ${names[i]} == treecopy* && $sum != everything ]]; then
      echo "   !!!!! ${names[i]} lost what it must keep: $sum" >&2
      status=1
    else
      echo "   ${names[i]}: $sum" >&2
    fi
  done
  (IFS=,; echo "{${entries[*]}}") >"$json"
  rm -f "$snap" "$err"
}

status=0

# What every copier keeps, on a small tree that holds every attribute (owners other than root,
# xattrs, hard links, FIFOs, set-id and sticky bits, read-only directories, nanosecond times),
# on tmpfs; the corpora hold no owners, xattrs, hard links or FIFOs to show it. cpz gets the tree
# without its FIFO.
log "fidelity probe (tmpfs)"
python3 "$here/tree-fidelity.py" probe "$tmpfs_mnt/probe"
python3 "$here/tree-fidelity.py" probe "$tmpfs_mnt/probe-nofifo" --no-fifo
probe_prep="rm -rf $(q "$tmpfs_mnt/probe-copy")"
commands_for "$tmpfs_mnt/probe" "$tmpfs_mnt/probe-copy"
keep_rows out "read only (cat)"
keep_rows out "cpz *"
notes=()
check_copies "$tmpfs_mnt/probe" "$tmpfs_mnt/probe-copy" "$probe_prep" "$out/raw/probe-fidelity.json" 120
if [[ -n ${peer[cpz]:-} ]]; then
  commands_for "$tmpfs_mnt/probe-nofifo" "$tmpfs_mnt/probe-copy"
  keep_rows in "cpz *"
  check_copies "$tmpfs_mnt/probe-nofifo" "$tmpfs_mnt/probe-copy" "$probe_prep" \
    "$out/raw/probe-nofifo-fidelity.json" 120
fi
rm -rf "$tmpfs_mnt/probe" "$tmpfs_mnt/probe-nofifo" "$tmpfs_mnt/probe-copy"

for place in $places; do
  for c in $corpora; do
    if [[ $place == tmpfs ]]; then
      src=$tmpfs_mnt/src/$c dst=$tmpfs_mnt/dst
    else
      src=$src_mnt/$c dst=$dst_mnt/dst
    fi
    commands_for "$src" "$dst"
    prep=$(prepare_for "$place" "$dst")
    n=${#cmds[@]}

    log "$c on $place: round 0 (fidelity check and warm-up)"
    check_copies "$src" "$dst" "$prep" "$out/raw/$c-$place-fidelity.json"

    for ((r = 1; r <= runs; r++)); do
      args=()
      for ((k = 0; k < n; k++)); do
        i=$(( (k + r) % n ))
        args+=(-n "${names[i]}" "${cmds[i]}")
      done
      json=$out/raw/$c-$place-r$r.json
      hyperfine --runs 1 --style none -i --prepare "$prep" --export-json "$json" "${args[@]}" >/dev/null
      python3 - "$json" "$c" "$place" "$r" "$runs" <<'EOF' >&2
import json, sys
res = json.load(open(sys.argv[1]))["results"]
print(f"   {sys.argv[2]} {sys.argv[3]} round {sys.argv[4]}/{sys.argv[5]}: " +
      ", ".join(f"{r['command']} {r['times'][0]:.3f}s" + ("" if r['exit_codes'][0] == 0 else " (FAILED)")
                for r in sorted(res, key=lambda r: r['command'])))
EOF
    done
  done
  if [[ $place == tmpfs && $keep -eq 0 ]]; then rm -rf "$tmpfs_mnt/dst"; fi
done
if mountpoint -q "$dst_mnt"; then umount "$dst_mnt"; fi

python3 "$here/bench-report.py" "$out" | tee "$out/summary.md"
python3 "$here/plot-bench.py" "$out" || echo "bench-peers: plot failed" >&2
log "results in $out"
exit $status

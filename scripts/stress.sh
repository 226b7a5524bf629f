#!/usr/bin/env bash
# Stress runs of the treecopy CLI on a private tmpfs, too slow for ctest: 1,000,000 small files,
# a 100 GiB sparse file, a tree 2,000 levels deep (with ulimit -n 256), and the million files
# again with --jobs 64. Prints wall time and peak memory (/usr/bin/time -v) for each, and checks
# each copy (entry counts; size, allocation and data of the sparse file; depth).
#
#   scripts/stress.sh [TREECOPY_BINARY]
#
# Default binary: $TREECOPY, else build/treecopy, else build-faults/treecopy. Needs root (mount),
# python3 and /usr/bin/time (apt-get install time). The tmpfs is sized explicitly (STRESS_TMPFS_SIZE,
# default 10g; nr_inodes 3,000,000) and always unmounted at the end. Half of the million files are
# empty and half hold 1-200 bytes (a page each on tmpfs): about 2 GiB per tree.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${TREECOPY:-}}
if [[ -z $bin ]]; then
  for c in "$root/build/treecopy" "$root/build-faults/treecopy"; do [[ -x $c ]] && { bin=$c; break; }; done
fi
[[ -x ${bin:-} ]] || { echo "stress: no treecopy binary (build it, or pass its path)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "stress: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "stress: needs root to mount a tmpfs" >&2; exit 2; }

files=${STRESS_FILES:-1000000}
mnt=$(mktemp -d /tmp/treecopy-stress-XXXX)
mount -t tmpfs -o "size=${STRESS_TMPFS_SIZE:-10g},nr_inodes=3000000,mode=755" tmpfs "$mnt"
cleanup() { umount -l "$mnt" 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT

echo "treecopy: $bin ($("$bin" --version | head -n1))"
echo "tmpfs: $mnt; $(nproc) cores; $(grep MemTotal /proc/meminfo)"
printf '%-34s %10s %14s %s\n' "case" "seconds" "peak RSS MiB" "check"

# measure NAME CHECK-COMMAND -- treecopy arguments...
measure() {
  local name=$1 check=$2
  shift 3
  local log=$mnt/time.log
  local status=0
  /usr/bin/time -v -o "$log" "$@" >"$mnt/out.log" 2>"$mnt/err.log" || status=$?
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$log")
  local secs
  secs=$(awk -v t="$wall" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }')
  local verdict="exit $status"
  if [[ $status -eq 0 ]]; then verdict="$verdict; $(eval "$check")"; else verdict="$verdict; $(head -3 "$mnt/err.log")"; fi
  printf '%-34s %10s %14s %s\n' "$name" "$secs" "$rss" "$verdict"
}

count() { find "$1" | wc -l; }

# ---- 1,000,000 small files: 1,000 directories of 1,000.
python3 - "$mnt/many" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
os.mkdir(root)
per = 1000
for d in range((n + per - 1) // per):
    dd = os.path.join(root, "d%04d" % d)
    os.mkdir(dd)
    fd = os.open(dd, os.O_RDONLY | os.O_DIRECTORY)
    for f in range(min(per, n - d * per)):
        i = d * per + f
        w = os.open("f%04d" % f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
        if i % 2:
            os.write(w, b"x" * (1 + i % 200))
        os.close(w)
    os.close(fd)
PY
want=$(count "$mnt/many")
measure "1,000,000 small files (-j default)" '[[ $(count $mnt/many_copy) -eq $want ]] && echo "entries equal ($want)" || echo "ENTRY COUNT DIFFERS"' \
  -- "$bin" -q "$mnt/many" "$mnt/many_copy"
rm -rf "$mnt/many_copy"
measure "1,000,000 small files, --jobs 64" '[[ $(count $mnt/many_copy64) -eq $want ]] && echo "entries equal ($want)" || echo "ENTRY COUNT DIFFERS"' \
  -- "$bin" -q --jobs 64 "$mnt/many" "$mnt/many_copy64"
rm -rf "$mnt/many_copy64" "$mnt/many"

# ---- A 100 GiB sparse file with data at the start, in the middle and at the end.
mkdir "$mnt/sparse"
truncate -s 100G "$mnt/sparse/big"
for off in 0 53687091200 107374182400; do
  head -c 1048576 /dev/urandom | dd of="$mnt/sparse/big" bs=1M seek=$((off / 1048576)) conv=notrunc status=none
done
sparse_check() {
  local s d
  s=$(stat -c '%s' "$mnt/sparse/big"); d=$(stat -c '%s' "$mnt/sparse_copy/big")
  local alloc
  alloc=$(du -k "$mnt/sparse_copy/big" | cut -f1)
  local same=yes
  for off in 0 51200 102400; do
    cmp -s <(dd if="$mnt/sparse/big" bs=1M skip=$off count=1 status=none) \
           <(dd if="$mnt/sparse_copy/big" bs=1M skip=$off count=1 status=none) || same=no
  done
  echo "size $d (source $s), allocated ${alloc} KiB, data extents equal: $same"
}
measure "100 GiB sparse file" sparse_check -- "$bin" -q "$mnt/sparse" "$mnt/sparse_copy"
rm -rf "$mnt/sparse" "$mnt/sparse_copy"

# ---- 2,000 levels deep, with a file every 100 levels, copied with 256 descriptors.
python3 - "$mnt/deep" <<'PY'
import os, sys
os.mkdir(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for level in range(2000):
    os.mkdir("level%d" % level, dir_fd=fd)
    if level % 100 == 0:
        w = os.open("file", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd); os.write(w, b"%d" % level); os.close(w)
    nfd = os.open("level%d" % level, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd); fd = nfd
os.close(fd)
PY
deep_check() {
  local n
  n=$(python3 -c '
import os, sys
def count(fd):
    n = 0
    while True:
        names = os.listdir(fd)
        n += len(names)
        sub = [x for x in names if x.startswith("level")]
        if not sub: return n
        nfd = os.open(sub[0], os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd); os.close(fd); fd = nfd
print(count(os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)))' "$mnt/deep_copy")
  echo "$n entries below the root (expected 2020)"
}
measure "2,000 levels deep, ulimit -n 256" deep_check -- bash -c 'ulimit -n 256 && exec "$0" "$@"' "$bin" -q "$mnt/deep" "$mnt/deep_copy"
rm -rf "$mnt/deep" "$mnt/deep_copy"

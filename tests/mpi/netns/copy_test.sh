#!/usr/bin/env bash
# mpi_netns_copy: treecopy-mpi copies a tree with its ranks spread over several "hosts" of this
# machine (network namespaces sharing the file system, see hosts.sh), and the copy is what
# `cp -a` makes of the same tree, attribute by attribute (scripts/tree-fidelity.py).
#   copy_test.sh TREECOPY_MPI [HOSTS [RANKS_PER_HOST]]     (default 2 hosts x 2 ranks)
# The source: the fidelity probe (every attribute: modes, owners, xattrs, hard links across
# directories, symlinks, a FIFO, times to the nanosecond), 2,000 small files in a hundred
# directories, a 24 MiB file (to be split among ranks) and a directory chain 60 deep.
# Exit 77 (skip) when the hosts cannot be made (not root, no network namespaces, no Open MPI).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
scripts=$(cd "$here/../../../scripts" && pwd -P)
[[ $# -ge 1 && $# -le 3 ]] || { echo "usage: copy_test.sh TREECOPY_MPI [HOSTS [RANKS_PER_HOST]]" >&2; exit 2; }
bin=$(realpath "$1")
hosts=${2:-2}
per_host=${3:-2}
[[ -x $bin ]] || { echo "copy_test.sh: $bin is not an executable" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "copy_test.sh: skipped: needs root (network namespaces)" >&2; exit 77; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/mpi-netns-copy.XXXXXX")
trap 'rm -rf -- "$scratch"' EXIT
src=$scratch/src
mkdir "$src"
python3 "$scripts/tree-fidelity.py" probe "$src/probe"
python3 "$scripts/make-corpus.py" small "$src/corpus" --seed 16 --scale 0.02 >/dev/null
head -c $((24 << 20)) /dev/urandom >"$src/large.bin"
deep=$src/deep
for ((i = 0; i < 60; i++)); do deep=$deep/d$i; done
mkdir -p "$deep"
echo bottom >"$deep/leaf"
touch -d '2021-05-06 07:08:09.123456789' "$src/large.bin" "$deep/leaf"

python3 "$scripts/tree-fidelity.py" snapshot "$src" "$scratch/source.json"
cp -a "$src" "$scratch/ref"

rc=0
TREECOPY_HOSTS_SLOTS=$per_host TREECOPY_HOSTS_TRAFFIC=1 "$here/run-on-hosts.sh" "$hosts" -np $((hosts * per_host)) \
  "$bin" "$src" "$scratch/dst" || rc=$?
if [[ $rc -eq 77 ]]; then
  exit 77
fi
[[ $rc -eq 0 ]] || { echo "FAILED: treecopy-mpi across $hosts hosts exited $rc" >&2; exit 1; }

python3 "$scripts/tree-fidelity.py" compare "$scratch/source.json" "$scratch/ref" >"$scratch/ref.json"
python3 "$scripts/tree-fidelity.py" compare "$scratch/source.json" "$scratch/dst" >"$scratch/dst.json"
python3 - "$scratch/ref.json" "$scratch/dst.json" <<'PY'
import json, sys
ref, dst = (json.load(open(p)) for p in sys.argv[1:3])
print(f"cp -a kept:        {ref['summary']}")
print(f"treecopy-mpi kept: {dst['summary']}")
bad = [a for a in dst if a != "summary" and dst[a]["wrong"] > ref[a]["wrong"]]
if dst["content"]["wrong"] or bad:
    for a in bad or ["content"]:
        print(f"FAILED: {a}: {dst[a]['wrong']} of {dst[a]['checked']} wrong "
              f"(cp -a: {ref[a]['wrong']}), e.g. {dst[a]['examples']}", file=sys.stderr)
    sys.exit(1)
PY

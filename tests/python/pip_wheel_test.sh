#!/usr/bin/env bash
# pip wheel ./python and pip install of the wheel, offline (--no-index, --no-build-isolation: the
# build dependencies are the system's), into a scratch virtual environment; then the installed
# package copies a tree with copytree(), copy2() and copy_tree(), and python -m treecopy runs the
# CLI's copy. Usage: pip_wheel_test.sh SOURCE_DIR WORK_DIR [PYTHON]
# WORK_DIR is emptied first (under the build tree, so that ccache finds the previous run's objects).
set -euo pipefail

source_dir=$1
work=$2
python=${3:-/usr/bin/python3}

for module in venv setuptools wheel; do
  if ! "$python" -c "import $module" 2>/dev/null; then
    echo "SKIP: $python has no $module module (scripts/deps.sh installs python3-venv, python3-setuptools, python3-wheel)"
    exit 77
  fi
done

rm -rf "$work"
mkdir -p "$work/src"
# A copy of the sources: an in-tree pip build writes python/build and *.egg-info beside setup.py.
tar -C "$source_dir" --exclude=./.git --exclude='./build*' --exclude=./python/build \
    --exclude='*.egg-info' -cf - . | tar -C "$work/src" -xf -

"$python" -m venv --system-site-packages "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check --no-input)
export PIP_NO_INDEX=1 PIP_NO_CACHE_DIR=1
# ccache where its cache is writable (not under tests/confine.sh, which makes /root read-only).
if command -v ccache >/dev/null && [[ -w $(ccache -k cache_dir 2>/dev/null || echo /nonexistent) ]]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
"${pip[@]}" wheel --no-build-isolation --no-index --no-deps -w "$work/wheels" "$work/src/python"
wheels=("$work"/wheels/treecopy-*.whl)
[[ ${#wheels[@]} -eq 1 && -f ${wheels[0]} ]] || { echo "FAIL: no single wheel: ${wheels[*]}"; exit 1; }
"${pip[@]}" install --no-index --no-deps "${wheels[0]}"

# Outside every source tree, so that only the installed package can be imported.
cd "$work"
mkdir -p tree/sub
printf 'hello\n' > tree/a.txt
printf 'deeper\n' > tree/sub/b.txt
ln -s a.txt tree/link
"$work/venv/bin/python" - "$work" <<'PY'
import os, shutil, sys
import treecopy
work = sys.argv[1]
where = os.path.dirname(treecopy.__file__)
assert where.startswith(os.path.join(work, "venv")), where
src = os.path.join(work, "tree")
treecopy.copytree(src, os.path.join(work, "copytree"), ignore=shutil.ignore_patterns("*.txt"))
assert sorted(os.listdir(os.path.join(work, "copytree"))) == ["link", "sub"]
treecopy.copy2(os.path.join(src, "a.txt"), os.path.join(work, "copy2.txt"))
report = treecopy.copy_tree(src, os.path.join(work, "copy_tree"))
assert report.ok and report.entries == 5, report
print("installed treecopy", treecopy.__version__, "from", where)
PY
"$work/venv/bin/python" -m treecopy tree cli-copy
diff -r --no-dereference tree cli-copy
"$work/venv/bin/python" -m treecopy --version
echo "OK: wheel built and installed offline"

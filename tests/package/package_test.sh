#!/usr/bin/env bash
# The Debian package, as a user gets it: cpack -G DEB from the build directory, unpacked with
# dpkg-deb -x into an empty root (nothing installed on the machine), then
#  - the CLI run from that root (its libtreecopy found through LD_LIBRARY_PATH, unless it was linked
#    with TREECOPY_STATIC_CLI and loads none) copies a small tree;
#  - the man page renders with man -l and names every long option of --help, and the exit codes;
#  - the bash completion, sourced, completes --ref and --reflink=;
#  - a program built with `pkg-config --cflags --libs treecopy` alone runs against the root's library.
# cpack writes its staging area and the .deb into the scratch directory (-B), not the build.
# The build must be complete (as for every test): the package is made of what it holds.
# Usage: package_test.sh BUILD_DIR
set -euo pipefail

build=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/treecopy-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() {
  echo "package_test: FAIL: $*" >&2
  exit 1
}
for tool in cpack dpkg-deb man pkg-config c++; do
  command -v $tool >/dev/null || fail "$tool is missing (scripts/deps.sh test installs it)"
done

# ---- the package --------------------------------------------------------------------------------
# cpack runs on a copy of the build's CPackConfig.cmake whose install step is the build's install
# script itself: the same files as `cpack -G DEB` in the build directory, without its "preinstall"
# step, which runs make in the build directory (and would rebuild and relink, while other tests
# run, whatever changed since the build, such as the commit --version names).
sed -e '/^set(CPACK_INSTALL_CMAKE_PROJECTS /d' "$build/CPackConfig.cmake" >"$work/CPackConfig.cmake"
cat >>"$work/CPackConfig.cmake" <<CMAKE
set(CPACK_INSTALL_CMAKE_PROJECTS "")
set(CPACK_INSTALL_SCRIPTS "$work/install.cmake")
CMAKE
cat >"$work/install.cmake" <<CMAKE
# Into the package's prefix (/usr), under the staging directory cpack gives as DESTDIR.
set(CMAKE_INSTALL_PREFIX "\${CPACK_PACKAGING_INSTALL_PREFIX}")
include("$build/cmake_install.cmake")
CMAKE
(cd "$work" && cpack -G DEB --config "$work/CPackConfig.cmake" -B "$work/out") >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack -G DEB failed"; }
debs=("$work"/out/*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "cpack made no single .deb: ${debs[*]}"
deb=${debs[0]}
depends=$(dpkg-deb -f "$deb" Depends)
[[ $depends == *libtbb* && $depends == *libstdc++* ]] || fail "Depends misses libtbb or libstdc++: $depends"
root=$work/root
mkdir "$root"
dpkg-deb -x "$deb" "$root"
usr=$root/usr
for f in bin/treecopy include/treecopy/treecopy.hpp share/man/man1/treecopy.1.gz \
         share/bash-completion/completions/treecopy share/zsh/vendor-completions/_treecopy \
         share/fish/vendor_completions.d/treecopy.fish; do
  [[ -f $usr/$f ]] || fail "the package has no /usr/$f"
done
pc=$(find "$usr" -name treecopy.pc -path '*/pkgconfig/*')
config=$(find "$usr" -name treecopyConfig.cmake)
[[ -n $pc && -n $config ]] || fail "the package has no treecopy.pc or treecopyConfig.cmake"
libdir=$(dirname "$(dirname "$pc")")
soname=$(find "$libdir" -maxdepth 1 -name 'libtreecopy.so.*' -type l)
[[ -n $soname ]] || fail "no versioned libtreecopy.so.N link in $libdir"
export LD_LIBRARY_PATH=$libdir
treecopy=$usr/bin/treecopy
# Not the build tree's library: the root's, or the test proves nothing. A CLI built with
# TREECOPY_STATIC_CLI holds its own libtreecopy, oneTBB and libstdc++, and loads none of them.
libs=$(ldd "$treecopy")
if [[ $libs == *libtreecopy* ]]; then
  [[ $libs == *"$libdir/libtreecopy.so"* ]] || fail "the CLI does not load the root's library: $libs"
else
  [[ $libs != *libtbb* && $libs != *libstdc++* ]] || fail "the static CLI loads libtbb or libstdc++: $libs"
fi

# ---- the CLI copies a tree ----------------------------------------------------------------------
mkdir -p "$work/src/sub/deeper"
printf 'one\n' >"$work/src/a.txt"
head -c 300000 /dev/urandom >"$work/src/sub/blob"
ln -s ../a.txt "$work/src/sub/link"
ln "$work/src/a.txt" "$work/src/sub/deeper/hard"
chmod 0640 "$work/src/sub/blob"
"$treecopy" -q "$work/src" "$work/dst" || fail "treecopy exited with $?"
diff -r --no-dereference "$work/src" "$work/dst" || fail "the copy differs from the source"
[[ $(readlink "$work/dst/sub/link") == ../a.txt ]] || fail "the symlink was not kept"
[[ $(stat -c %a "$work/dst/sub/blob") == 640 ]] || fail "the mode was not kept"
[[ $(stat -c %i "$work/dst/a.txt") == $(stat -c %i "$work/dst/sub/deeper/hard") ]] ||
  fail "the hard link was not kept"
version=$("$treecopy" --version)
[[ $version =~ ^treecopy\ [0-9]+\.[0-9]+\.[0-9]+$'\n' ]] || fail "--version: $version"

# ---- the man page -------------------------------------------------------------------------------
help=$("$treecopy" --help)
page=$(LC_ALL=C MANWIDTH=120 man -l "$usr/share/man/man1/treecopy.1.gz" 2>"$work/man.err") ||
  fail "man -l failed: $(cat "$work/man.err")"
[[ ! -s $work/man.err ]] || fail "man -l warns: $(cat "$work/man.err")"
mapfile -t long_options < <(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
[[ ${#long_options[@]} -gt 20 ]] || fail "found only ${#long_options[@]} long options in --help"
for o in "${long_options[@]}"; do
  grep -qF -- "$o" <<<"$page" || fail "the man page does not mention $o"
done
for section in NAME SYNOPSIS OPTIONS 'EXIT STATUS' EXAMPLES; do
  grep -q "^$section" <<<"$page" || fail "the man page has no $section section"
done
for code in 0 1 2 130 143; do
  grep -qE "^ +$code +[a-z]" <<<"$page" || fail "the man page does not explain exit code $code"
done

# ---- the bash completion ------------------------------------------------------------------------
# complete_line LINE: what the completion offers at the end of LINE, one per line.
complete_line() {
  bash --norc --noprofile -c '
    source "$1"
    fn=$(complete -p treecopy | sed -E "s/.*-F ([^ ]+).*/\1/")
    COMP_LINE=$2 COMP_POINT=${#2}
    read -ra COMP_WORDS <<<"$2"
    [[ $2 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    "$fn" treecopy "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$usr/share/bash-completion/completions/treecopy" "$1"
}
got=$(complete_line "treecopy --ref")
[[ $got == --reflink ]] || fail "completing --ref gave: $got"
got=$(complete_line "treecopy --reflink=" | sort | tr '\n' ' ')
[[ $got == "always auto never " ]] || fail "completing --reflink= gave: $got"
got=$(complete_line "treecopy --progress=j")
[[ $got == json ]] || fail "completing --progress=j gave: $got"

# ---- a program built with pkg-config alone ------------------------------------------------------
cat >"$work/consumer.cpp" <<'CPP'
#include <treecopy/treecopy.hpp>
#include <cstdio>
int main(int argc, char** argv) {
  if (argc != 3) return 2;
  treecopy::copy_report r = treecopy::copy_tree(argv[1], argv[2], {});
  std::printf("%s %llu\n", treecopy::version(), static_cast<unsigned long long>(r.error_count));
  return r.error_count == 0 ? 0 : 1;
}
CPP
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --define-prefix --cflags --libs treecopy) || fail "pkg-config treecopy failed"
[[ $flags == *"-I$usr/include"* ]] || fail "pkg-config does not point into the unpacked root: $flags"
# shellcheck disable=SC2086  # the flags are words
c++ -o "$work/consumer" "$work/consumer.cpp" $flags || fail "the consumer does not build with: $flags"
out=$("$work/consumer" "$work/src" "$work/dst2") || fail "the consumer failed: $out"
diff -r --no-dereference "$work/src" "$work/dst2" || fail "the consumer's copy differs"
echo "package_test: ok ($(basename "$deb"), Depends: $depends)"

#!/usr/bin/env bash
# Fetches Debian's own oneTBB source package, the same version as the installed libtbb-dev, and
# unpacks it into DIR/src/tree; prints that path. The fetch goes through apt with a private
# deb-src list made from the machine's own apt sources (Debian's main mirror when none is
# configured), so apt checks the signatures as for any package. Done once per version: a tree
# already unpacked for the installed version is reused. Used by scripts/sanitize.sh (a
# TSan-instrumented oneTBB) and by the build's TREECOPY_STATIC_CLI (a static oneTBB for the CLI).
# Usage: scripts/onetbb-source.sh DIR     (exit 1, with the reason on stderr, when it cannot)
set -uo pipefail

dir=${1:?usage: onetbb-source.sh DIR}
mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || exit 1
version=$(dpkg-query -W -f='${source:Version}' libtbb-dev 2>/dev/null) ||
  { echo "onetbb-source: libtbb-dev is not installed (scripts/deps.sh)" >&2; exit 1; }
tree=$dir/src/tree
if [[ -f $dir/src/.version && $(cat "$dir/src/.version") == "$version" && -d $tree ]]; then
  echo "$tree"; exit 0
fi
command -v dpkg-source >/dev/null || apt-get install -y -q dpkg-dev >&2 || exit 1
rm -rf "$dir/apt" "$dir/src" && mkdir -p "$dir/apt/lists/partial" "$dir/apt/parts" "$dir/src"
# The machine's own mirrors, as deb-src; Debian's main mirror when none is configured.
: >"$dir/apt/sources.list"
if [[ -f /etc/apt/sources.list ]]; then
  sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list >>"$dir/apt/sources.list"
fi
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] && sed 's/^Types:.*/Types: deb-src/' "$f" >"$dir/apt/parts/$(basename "$f")"
done
for f in /etc/apt/sources.list.d/*.list; do
  [[ -f $f ]] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >"$dir/apt/parts/$(basename "$f")"
done
if [[ ! -s $dir/apt/sources.list && -z $(ls "$dir/apt/parts") ]]; then
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
    >"$dir/apt/sources.list"
fi
apt=(apt-get -q -o "Dir::Etc::SourceList=$dir/apt/sources.list" -o "Dir::Etc::SourceParts=$dir/apt/parts"
     -o "Dir::State::Lists=$dir/apt/lists")
echo "onetbb-source: fetching Debian's onetbb $version source" >&2
"${apt[@]}" update >"$dir/apt.log" 2>&1 &&
  (cd "$dir/src" && "${apt[@]}" source --download-only "onetbb=$version" >>"$dir/apt.log" 2>&1) ||
  { tail -5 "$dir/apt.log" >&2; exit 1; }
(cd "$dir/src" && dpkg-source -x ./*.dsc tree >"$dir/unpack.log" 2>&1) || { tail -5 "$dir/unpack.log" >&2; exit 1; }
echo "$version" >"$dir/src/.version"
echo "$tree"

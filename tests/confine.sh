#!/usr/bin/env bash
# Runs one test program (every ctest command goes through here) where the rest of the system is
# read-only to it: a private mount namespace in which the system's directories and the home
# directory are bind-mounted read-only. A test helper that follows a planted symlink out of its
# scratch directory then fails with EROFS instead of writing /etc/passwd. Scratch areas (/dev/shm,
# /tmp, /var/tmp) and the build directory stay writable.
#
# Where a mount namespace cannot be made (not root, no CAP_SYS_ADMIN, no unshare), the program runs
# as it is, after one line on stderr saying so; TREECOPY_CONFINE=0 asks for that too.
# Usage: tests/confine.sh PROGRAM [ARGS...]
set -euo pipefail

readonly_dirs=(/etc /usr /boot /opt /srv /root /home /var/lib /var/cache /var/log /var/mail)

if [[ ${1:-} == --inside ]]; then
  shift
  for d in "${readonly_dirs[@]}" ${HOME:+"$HOME"}; do
    [[ -d $d && ! -L $d ]] || continue
    case $d in /tmp | /tmp/* | /dev/shm | /dev/shm/* | /var/tmp | /var/tmp/*) continue ;; esac
    # A bind mount of the directory onto itself, then read-only: only this namespace sees it.
    mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" || {
      echo "confine: cannot make '$d' read-only" >&2
      exit 125
    }
  done
  export TREECOPY_CONFINED=1
  exec "$@"
fi

if [[ ${TREECOPY_CONFINED:-} == 1 ]]; then
  exec "$@"
fi
if [[ ${TREECOPY_CONFINE:-1} == 0 ]]; then
  export TREECOPY_CONFINED=0 TREECOPY_UNCONFINED_WHY="TREECOPY_CONFINE=0"
  exec "$@"
fi
if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null &&
   unshare --mount --propagation private true 2>/dev/null; then
  exec unshare --mount --propagation private bash "$0" --inside "$@"
fi
export TREECOPY_CONFINED=0 TREECOPY_UNCONFINED_WHY="no private mount namespace (not root, or no CAP_SYS_ADMIN)"
[[ $(id -u) -eq 0 ]] && echo "confine: $TREECOPY_UNCONFINED_WHY: running unconfined" >&2
exec "$@"

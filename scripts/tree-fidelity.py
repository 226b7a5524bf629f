#!/usr/bin/env python3
"""Measure what a copy of a directory tree preserved, attribute by attribute, for bench-peers.sh.

Usage:
  tree-fidelity.py snapshot SRC OUT.json     record SRC (types, bytes' hash, modes, times, owners,
                                             xattrs, hard links, link targets) once
  tree-fidelity.py compare SNAPSHOT.json DST compare the copy DST with the snapshot; prints JSON
  tree-fidelity.py probe DIR [--no-fifo]     make a small tree holding every attribute below
  tree-fidelity.py summary RESULT.json       one line: what was lost

The attributes, each counted as {"checked": entries that can show it, "wrong": entries where
the copy differs, "examples": a few paths}:
  content      every directory and regular file exists with its type, files byte for byte
               equal, and the copy holds no entry the source lacks
  modes        permission and special bits of everything but directories and symlinks
  dir_modes    the same for directories (the top one included)
  times        mtime of regular files and FIFOs, to the nanosecond; "seconds" counts those
               right only to the second (tar's default format keeps no more), as for
               dir_times and link_times
  dir_times    mtime of directories: a copier must set it after filling the directory
  owner        uid and gid of every entry; only entries not owned by the user running the
               copy count, since a copier that ignores owners gets those right by accident
  xattrs       every extended attribute of the source entry, same value
  hard_links   every group of names of one inode in the source is one inode in the copy
  symlinks     every symlink exists as a symlink with the same target
  link_times   mtime of symlinks
  fifos        every FIFO exists as a FIFO
atime is not compared: reading the source changes it. An attribute with "checked": 0 did not
occur in the source, so the copy could not show whether it is kept.
"""

import hashlib
import json
import os
import stat
import sys

ATTRS = ["content", "modes", "dir_modes", "times", "dir_times", "owner", "xattrs",
         "hard_links", "symlinks", "link_times", "fifos"]
LABELS = {"content": "content", "modes": "modes", "dir_modes": "dir modes", "times": "times",
          "dir_times": "dir times", "owner": "owner", "xattrs": "xattrs",
          "hard_links": "hard links", "symlinks": "symlinks", "link_times": "symlink times",
          "fifos": "FIFOs"}
TIMES = ["times", "dir_times", "link_times"]
EXAMPLES = 3


def file_hash(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def xattrs_of(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in names:
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False).hex()
        except OSError:
            pass
    return out


def walk(root):
    """(relative path, lstat) of root and everything below it, root as ""."""
    yield "", os.lstat(root)
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            for e in it:
                r = os.path.join(rel, e.name) if rel else e.name
                st = e.stat(follow_symlinks=False)
                yield r, st
                if stat.S_ISDIR(st.st_mode):
                    stack.append(r)


def describe(root, with_content=True):
    """{rel: record} for every entry of the tree at root."""
    entries = {}
    for rel, st in walk(root):
        path = os.path.join(root, rel) if rel else root
        rec = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode),
               "mtime_ns": st.st_mtime_ns, "uid": st.st_uid, "gid": st.st_gid,
               "ino": [st.st_dev, st.st_ino], "nlink": st.st_nlink, "xattrs": xattrs_of(path)}
        if stat.S_ISREG(st.st_mode):
            rec["size"] = st.st_size
            if with_content:
                rec["hash"] = file_hash(path)
        elif stat.S_ISLNK(st.st_mode):
            rec["target"] = os.readlink(path)
        entries[rel] = rec
    return entries


def compare(src, dst_root):
    """What dst_root kept of the snapshot src, as {attr: {"checked", "wrong", "examples"}}."""
    dst = describe(dst_root, with_content=False)
    res = {a: {"checked": 0, "wrong": 0, "examples": []} for a in ATTRS}
    for a in TIMES:
        res[a]["seconds"] = 0
    me = (os.geteuid(), os.getegid())

    def count(attr, rel, ok):
        res[attr]["checked"] += 1
        if not ok:
            res[attr]["wrong"] += 1
            if len(res[attr]["examples"]) < EXAMPLES:
                res[attr]["examples"].append(rel or ".")

    def count_time(attr, rel, s, d):
        count(attr, rel, d["mtime_ns"] == s["mtime_ns"])
        if d["mtime_ns"] != s["mtime_ns"] and d["mtime_ns"] // 10**9 == s["mtime_ns"] // 10**9:
            res[attr]["seconds"] += 1

    for rel, s in src.items():
        d = dst.get(rel)
        same_type = d is not None and d["type"] == s["type"]
        t = s["type"]
        if stat.S_ISREG(t):
            ok = same_type and d["size"] == s["size"]
            if ok:
                ok = file_hash(os.path.join(dst_root, rel)) == s["hash"]
            count("content", rel, ok)
        elif stat.S_ISDIR(t):
            count("content", rel, same_type)
        elif stat.S_ISLNK(t):
            count("symlinks", rel, same_type and d["target"] == s["target"])
        elif stat.S_ISFIFO(t):
            count("fifos", rel, same_type)
        if not same_type:
            continue
        if stat.S_ISDIR(t):
            count("dir_modes", rel, d["mode"] == s["mode"])
            count_time("dir_times", rel, s, d)
        elif stat.S_ISLNK(t):
            count_time("link_times", rel, s, d)
        else:
            count("modes", rel, d["mode"] == s["mode"])
            count_time("times", rel, s, d)
        if (s["uid"], s["gid"]) != me:
            count("owner", rel, (d["uid"], d["gid"]) == (s["uid"], s["gid"]))
        if s["xattrs"]:
            count("xattrs", rel, all(d["xattrs"].get(k) == v for k, v in s["xattrs"].items()))
    for rel in dst:
        if rel not in src:
            count("content", rel, False)

    groups = {}
    for rel, s in src.items():
        if s["nlink"] > 1 and not stat.S_ISDIR(s["type"]):
            groups.setdefault(tuple(s["ino"]), []).append(rel)
    for names in groups.values():
        if len(names) > 1:
            inodes = {tuple(dst[n]["ino"]) if n in dst else None for n in names}
            count("hard_links", names[0], len(inodes) == 1 and None not in inodes)
    return res


def attr_state(res, a):
    """How one attribute fared: "n/a" (not in the source), "kept", "seconds" (times right to
    the second only), "lost" (all wrong) or "partly" (some wrong)."""
    r = res[a]
    if not r["checked"]:
        return "n/a"
    if not r["wrong"]:
        return "kept"
    if a in TIMES and r.get("seconds") == r["wrong"]:
        return "seconds"
    return "lost" if r["wrong"] == r["checked"] else "partly"


def summary(res):
    """A short phrase: "everything", "CONTENT WRONG (...)", "keeps only modes, symlinks",
    "no times, no owner, dir modes partly (1 of 7 wrong)"."""
    if res["content"]["wrong"]:
        return (f"CONTENT WRONG ({res['content']['wrong']} of {res['content']['checked']} "
                f"entries, e.g. {', '.join(res['content']['examples'])})")
    state = {a: attr_state(res, a) for a in ATTRS if a != "content"}
    kept = [LABELS[a] for a, s in state.items() if s == "kept"]
    lost = [LABELS[a] for a, s in state.items() if s == "lost"]
    rest = {a: f"{res[a]['wrong']} of {res[a]['checked']} wrong"
            for a, s in state.items() if s == "partly"}
    seconds = [f"{LABELS[a]} to the second" for a, s in state.items() if s == "seconds"]
    if not lost and not rest and not seconds:
        return "everything" if kept else "content"
    # A copier that loses most attributes is told by what it keeps, the others by what they lose.
    if len(lost) > len(kept) + len(rest) + len(seconds):
        head = kept + [f"{LABELS[a]} ({w})" for a, w in rest.items()] + seconds
        return "keeps only " + ", ".join(head) if head else "content only"
    parts = [f"no {x}" for x in lost] + [f"{LABELS[a]} partly ({w})" for a, w in rest.items()]
    return ", ".join(parts + seconds)


def make_probe(root, fifo=True):
    """A few entries carrying every attribute compare() checks, with owners not root's."""
    os.makedirs(root)
    os.umask(0o022)
    xattr_ns = "user"
    try:
        os.setxattr(root, "user.probe", b"1")
        os.removexattr(root, "user.probe")
    except OSError:
        xattr_ns = "trusted"  # tmpfs before Linux 6.6 takes only trusted.* (root)
    j = lambda *p: os.path.join(root, *p)  # noqa: E731
    for d, mode in (("d700", 0o700), ("d750", 0o750), ("ro", 0o555), ("plain", 0o755),
                    ("plain/sub", 0o755), ("sticky", 0o1777)):
        os.mkdir(j(d))
    for name, mode, size in (("plain/a.txt", 0o644, 100), ("plain/exec.sh", 0o755, 40),
                             ("plain/empty", 0o600, 0), ("d700/secret", 0o600, 5000),
                             ("d750/group", 0o640, 1234), ("ro/readonly", 0o444, 77),
                             ("plain/sub/setgid", 0o2755, 10), ("sticky/f", 0o666, 3)):
        with open(j(name), "wb") as f:
            f.write(bytes((i * 7 + size) % 251 for i in range(size)))
        os.chmod(j(name), mode)
    os.link(j("plain/a.txt"), j("plain/a-link.txt"))
    os.link(j("plain/a.txt"), j("d750/a-elsewhere.txt"))
    os.link(j("plain/exec.sh"), j("plain/sub/exec-again.sh"))
    os.symlink("a.txt", j("plain/rel-link"))
    os.symlink("/nonexistent/target", j("plain/dangling"))
    os.symlink("../plain", j("d750/dir-link"))
    if fifo:
        os.mkfifo(j("plain/fifo"), 0o640)
    for name, value in (("plain/a.txt", b"text"), ("d750", b"dir"), ("plain/exec.sh", b"x" * 300)):
        try:
            os.setxattr(j(name), f"{xattr_ns}.probe", value)
        except OSError:
            pass
    for name, ids in (("d750/group", (65534, 65534)), ("d700", (1000, 1000)),
                      ("plain/sub/setgid", (0, 65534)), ("plain/rel-link", (65534, 65534))):
        try:
            os.chown(j(name), *ids, follow_symlinks=False)
        except PermissionError:
            pass  # not root: owners stay the runner's and the owner column reads n/a
    os.chmod(j("plain/sub/setgid"), 0o2755)  # chown clears set-id bits
    for d, mode in (("d700", 0o700), ("d750", 0o750), ("ro", 0o555), ("sticky", 0o1777)):
        os.chmod(j(d), mode)
    # Times last, deepest first, with nanoseconds, each entry its own.
    everything = sorted((rel for rel, _ in walk(root)), key=lambda r: (-r.count(os.sep), r))
    for i, rel in enumerate(everything):
        t = 1_600_000_000 * 10**9 + i * 86_400 * 10**9 + 123_456_789 + i
        os.utime(j(rel) if rel else root, ns=(t, t), follow_symlinks=False)


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "snapshot":
        with open(a[2], "w") as f:
            json.dump(describe(a[1]), f)
    elif len(a) == 3 and a[0] == "compare":
        with open(a[1]) as f:
            src = json.load(f)
        res = compare(src, a[2])
        res["summary"] = summary(res)
        json.dump(res, sys.stdout)
        print()
    elif len(a) in (2, 3) and a[0] == "probe" and (len(a) == 2 or a[2] == "--no-fifo"):
        make_probe(a[1], fifo=len(a) == 2)
    elif len(a) == 2 and a[0] == "summary":
        with open(a[1]) as f:
            print(summary(json.load(f)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

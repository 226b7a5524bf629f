#!/usr/bin/env python3
"""Generate deterministic benchmark corpora (directory trees) for treecopy.

Usage: make-corpus.py KIND DIR [--seed N] [--scale F]

Kinds:
  small   100,000 files of 0-4 KiB in about 1,000 directories
  source  a source checkout: ~30,000 files with a repo-like size distribution (most 1-20 KiB,
          long tail, a few files of several MB), symlinks, deep and wide directories, and a
          .git directory with many small loose objects and pack files
  large   four files of 1 GiB and one sparse file of 1 GiB apparent size
  flat    one directory holding 100,000 files of 0-4 KiB

--scale multiplies file counts (small, source, flat) or file sizes (large). The same KIND,
seed and scale always give the same names, sizes, contents, modes and times. DIR must not
exist or be empty. Python standard library only; files are written through directory file
descriptors from a shared random pool, so 100,000 files take a few seconds on tmpfs.
"""

import argparse
import math
import os
import random
import sys
import time

POOL_SIZE = 8 << 20  # random bytes shared by all files; each file takes a slice
BASE_TIME_NS = 1_672_531_200 * 10**9  # 2023-01-01, so times are reproducible
YEAR_NS = 365 * 86400 * 10**9


class Writer:
    """Creates entries below a root and counts what it made."""

    def __init__(self, root, rng):
        self.root = root
        self.rng = rng
        self.pool = memoryview(rng.randbytes(POOL_SIZE))
        self.dir_fds = {}
        self.files = self.dirs = self.symlinks = self.bytes = 0
        self.dir_order = []  # created directories, parents before children

    def dir_fd(self, rel):
        fd = self.dir_fds.get(rel)
        if fd is None:
            fd = os.open(os.path.join(self.root, rel) if rel else self.root,
                         os.O_RDONLY | os.O_DIRECTORY)
            self.dir_fds[rel] = fd
        return fd

    def mkdir(self, rel, mode=0o755):
        parent, name = os.path.split(rel)
        os.mkdir(name, mode, dir_fd=self.dir_fd(parent))
        self.dirs += 1
        self.dir_order.append(rel)

    def stamp(self):
        """A reproducible (atime, mtime) pair in nanoseconds."""
        mtime = BASE_TIME_NS + self.rng.randrange(YEAR_NS)
        return (mtime + self.rng.randrange(86400 * 10**9), mtime)

    def file(self, rel, size, mode=0o644):
        parent, name = os.path.split(rel)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode, dir_fd=self.dir_fd(parent))
        try:
            self._fill(fd, size)
            if mode & 0o7000:
                os.fchmod(fd, mode)  # umask and open() drop special bits
            os.utime(fd, ns=self.stamp())
        finally:
            os.close(fd)
        self.files += 1
        self.bytes += size

    def _fill(self, fd, size):
        if size <= 0:
            return
        if size < POOL_SIZE:
            off = self.rng.randrange(POOL_SIZE - size + 1)
            os.write(fd, self.pool[off:off + size])
            return
        left = size
        chunk = POOL_SIZE // 2
        while left > 0:
            off = self.rng.randrange(POOL_SIZE - chunk + 1)
            n = min(left, chunk)
            written = os.write(fd, self.pool[off:off + n])
            left -= written

    def sparse(self, rel, size, extents):
        """A file of apparent size `size` holding `extents` data runs of 1 MiB, holes between."""
        parent, name = os.path.split(rel)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=self.dir_fd(parent))
        try:
            run = min(1 << 20, max(4096, size // (2 * extents)))
            stride = size // extents
            written = 0
            for i in range(extents):
                os.lseek(fd, i * stride, os.SEEK_SET)
                off = self.rng.randrange(POOL_SIZE - run + 1)
                os.write(fd, self.pool[off:off + run])
                written += run
            os.ftruncate(fd, size)
            os.utime(fd, ns=self.stamp())
        finally:
            os.close(fd)
        self.files += 1
        self.bytes += size
        return written

    def symlink(self, target, rel):
        parent, name = os.path.split(rel)
        os.symlink(target, name, dir_fd=self.dir_fd(parent))
        os.utime(name, ns=self.stamp(), dir_fd=self.dir_fd(parent), follow_symlinks=False)
        self.symlinks += 1

    def finish(self):
        """Directory times last, deepest first, so creating children does not change them."""
        for rel in sorted(self.dir_order, key=lambda r: -r.count(os.sep)):
            os.utime(rel, ns=self.stamp(), dir_fd=self.dir_fd(""), follow_symlinks=False)
        os.utime(self.dir_fd(""), ns=self.stamp())
        for fd in self.dir_fds.values():
            os.close(fd)
        self.dir_fds.clear()


def small_size(rng):
    return rng.randrange(4097)


def make_small(w, scale):
    n_files = max(1, round(100_000 * scale))
    n_dirs = max(1, round(1_000 * scale))
    top = max(1, round(math.sqrt(n_dirs)))
    leaves = []
    for t in range(top):
        w.mkdir(f"d{t:03d}")
    for d in range(n_dirs - top if n_dirs > top else n_dirs):
        rel = os.path.join(f"d{d % top:03d}", f"s{d // top:03d}")
        w.mkdir(rel)
        leaves.append(rel)
    for i in range(n_files):
        w.file(os.path.join(leaves[i % len(leaves)], f"f{i:06d}.dat"), small_size(w.rng))


def make_flat(w, scale):
    n_files = max(1, round(100_000 * scale))
    for i in range(n_files):
        w.file(f"f{i:06d}.dat", small_size(w.rng))


def make_large(w, scale):
    size = max(1 << 20, round((1 << 30) * scale))
    for i in range(4):
        w.file(f"large{i}.bin", size)
    w.sparse("sparse.img", size, 16)


DIR_WORDS = ("src lib core util net io fs ui api db model view test tests bench docs tools "
             "scripts build cmake include internal common platform linux posix win drivers "
             "crypto parser codec render audio video http json xml proto gen vendor pkg cmd "
             "app server client plugins config locale assets fixtures data impl detail").split()
FILE_WORDS = ("main util helper types config error buffer stream reader writer parser lexer "
              "token node tree graph cache pool queue table index map list handler manager "
              "service client server session request response context options state event "
              "logger format string path file dir socket thread task worker codec hash").split()
EXTS = [(".c", 14), (".h", 12), (".cc", 8), (".cpp", 6), (".hpp", 4), (".py", 10), (".rs", 5),
        (".go", 5), (".js", 7), (".ts", 4), (".json", 4), (".md", 4), (".txt", 3), (".yml", 2),
        (".html", 2), (".css", 2), (".sh", 2), (".S", 1), ("", 1), (".png", 2), (".svg", 2)]


def source_size(rng, ext):
    """Sizes like a real checkout: median ~5 KiB, most 1-20 KiB, a long tail, some empty."""
    if rng.random() < 0.03:
        return 0
    mu = math.log(12_000 if ext in (".png", ".svg") else 5_000)
    return min(int(rng.lognormvariate(mu, 1.15)), 2 << 20)


def make_source(w, scale):
    rng = w.rng
    n_files = max(50, round(30_000 * scale))
    n_dirs = max(8, n_files // 14)
    exts, ext_w = zip(*EXTS)

    # A random recursive tree: each directory hangs under a random earlier one, which gives
    # depths of 5-10 like real projects; a few directories get far more files than others.
    dirs = [""]
    taken = set()
    for i in range(n_dirs):
        parent = dirs[rng.randrange(len(dirs))] if i >= 12 else ""
        name = f"{rng.choice(DIR_WORDS)}{i if rng.random() < 0.5 else ''}"
        rel = os.path.join(parent, name)
        if rel in taken:
            rel = f"{rel}_{i}"
        taken.add(rel)
        w.mkdir(rel)
        dirs.append(rel)
    weights = [rng.paretovariate(1.2) for _ in dirs]

    # One deep chain (vendored dependencies nest deeply) and one wide directory.
    deep = "third_party"
    w.mkdir(deep)
    for level in range(30):
        deep = os.path.join(deep, "node_modules" if level % 2 else f"pkg{level}")
        w.mkdir(deep)
        w.file(os.path.join(deep, "index.js"), source_size(rng, ".js"))
    w.mkdir("fixtures_wide")
    for i in range(max(10, n_files // 20)):
        w.file(os.path.join("fixtures_wide", f"case{i:05d}.json"), source_size(rng, ".json"))

    made = []
    cum = []
    total = 0.0
    for x in weights:
        total += x
        cum.append(total)
    for i, d in enumerate(rng.choices(dirs, cum_weights=cum, k=n_files)):
        ext = rng.choices(exts, weights=ext_w)[0]
        name = f"{rng.choice(FILE_WORDS)}_{i}{ext}"
        mode = 0o755 if ext in (".sh", ".py") and rng.random() < 0.3 else 0o644
        rel = os.path.join(d, name)
        w.file(rel, source_size(rng, ext), mode)
        made.append(rel)

    # A few files of several MB (generated blobs, test data, binaries).
    for i in range(max(2, round(8 * scale))):
        rel = os.path.join(dirs[rng.randrange(len(dirs))], f"blob{i}.bin")
        w.file(rel, rng.randrange(2 << 20, 12 << 20))

    # Symlinks: relative links to other files, a few to directories, a few dangling.
    for i in range(max(3, n_files // 200)):
        at = rng.choice(dirs)
        target = os.path.relpath(rng.choice(made), at or ".")
        w.symlink(target, os.path.join(at, f"link{i}"))
    for i in range(max(1, n_files // 5000)):
        at = rng.choice(dirs)
        w.symlink(os.path.relpath(rng.choice(dirs) or ".", at or "."), os.path.join(at, f"dirlink{i}"))
        w.symlink(f"missing/target{i}", os.path.join(at, f"dangling{i}"))

    make_git(w, scale, n_files)


def make_git(w, scale, n_files):
    rng = w.rng
    w.mkdir(".git")
    for d in ("objects", "objects/pack", "objects/info", "refs", "refs/heads", "refs/tags",
              "hooks", "info", "logs"):
        w.mkdir(os.path.join(".git", d))
    w.file(".git/HEAD", 23)
    w.file(".git/config", 300)
    w.file(".git/description", 73)
    w.file(".git/index", n_files * 90)
    w.file(".git/packed-refs", 4_000)
    for h in ("pre-commit", "pre-push", "commit-msg", "update", "post-update"):
        w.file(f".git/hooks/{h}.sample", rng.randrange(400, 5_000), 0o755)
    for b in ("main", "dev", "release"):
        w.file(f".git/refs/heads/{b}", 41)
    # Loose objects: fan-out directories of zlib-sized blobs, read-only as git leaves them.
    fans = set()
    for _ in range(max(20, round(12_000 * scale))):
        h = rng.getrandbits(160).to_bytes(20, "big").hex()
        if h[:2] not in fans:
            fans.add(h[:2])
            w.mkdir(f".git/objects/{h[:2]}")
        size = min(int(rng.lognormvariate(math.log(700), 1.0)), 200_000)
        w.file(f".git/objects/{h[:2]}/{h[2:]}", size, 0o444)
    for i in range(2):
        h = rng.getrandbits(160).to_bytes(20, "big").hex()
        w.file(f".git/objects/pack/pack-{h}.pack", max(1 << 20, round((24 << 20) * scale)), 0o444)
        w.file(f".git/objects/pack/pack-{h}.idx", max(4096, round((900 << 10) * scale)), 0o444)


KINDS = {"small": make_small, "source": make_source, "large": make_large, "flat": make_flat}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=sorted(KINDS))
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    if args.scale <= 0:
        ap.error("--scale must be positive")
    os.makedirs(args.dir, exist_ok=True)
    if os.listdir(args.dir):
        ap.error(f"{args.dir} is not empty")

    start = time.monotonic()
    old_umask = os.umask(0o022)
    w = Writer(os.path.abspath(args.dir), random.Random(f"{args.kind}:{args.seed}"))
    try:
        KINDS[args.kind](w, args.scale)
        w.finish()
    finally:
        os.umask(old_umask)
    secs = time.monotonic() - start
    print(f"{args.kind}: {w.files} files, {w.dirs} directories, {w.symlinks} symlinks, "
          f"{w.bytes / 1e6:.1f} MB in {args.dir} (seed {args.seed}, scale {args.scale:g}, "
          f"{secs:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

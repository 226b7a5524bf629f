"""treecopy.copytree() at shutil's limits: a tree deeper than shutil's recursion can go, progress
with an audit hook installed, a bind mount of SRC inside SRC; and shutil.ignore_patterns()
computed by the engine's hook. Each against shutil.copytree() on the same tree."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import treecopy
import tree_support
from tree_support import diff_snapshots, set_times_deepest_first, snapshot, write

HERE = os.path.dirname(os.path.abspath(__file__))


def make_deep_tree(top, levels):
    """top/d/d/.../d, `levels` directories below top, each holding a file f; times set as
    tree_support's builders set them. Built with relative paths (the deepest ones are longer than
    PATH_MAX), changing into each level and back."""
    os.mkdir(top)
    here = os.getcwd()
    os.chdir(top)
    try:
        for level in range(levels + 1):
            with open("f", "wb") as f:
                f.write(b"level %d\n" % level)
            os.utime("f", ns=(tree_support.ATIME_NS, tree_support.MTIME_NS), follow_symlinks=False)
            if level == levels:
                break
            os.mkdir("d")
            os.chdir("d")
        for _ in range(levels):
            os.utime(".", ns=(tree_support.ATIME_NS, tree_support.MTIME_NS))
            os.chdir("..")
        os.utime(".", ns=(tree_support.ATIME_NS, tree_support.MTIME_NS))
    finally:
        os.chdir(here)


def outcome_of(func, src, dst, **kwargs):
    try:
        func(src, dst, **kwargs)
        return ("returned",)
    except shutil.Error as e:
        return ("shutil.Error", len(e.args[0]))
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return (type(e).__name__,)


def times_marked(tree):
    """The snapshot with times copied from the source told apart from those made in the run."""
    for entry in tree.values():
        for field in ("mtime_ns", "atime_ns"):
            if entry[field] not in (tree_support.MTIME_NS, tree_support.ATIME_NS):
                entry[field] = "fresh"
    return tree


class EnginePathLimits(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="treecopy-limits-")

    def tearDown(self):
        # rm walks without recursion: the deep trees are beyond shutil.rmtree's.
        subprocess.run(["rm", "-rf", "--one-file-system", self.tmp], check=True)

    def test_deeper_than_shutil_recursion(self):
        """3,000 levels with an ignore function: shutil raises RecursionError partway down, with the
        levels above copied and no directory's metadata set; treecopy.copytree does the same (and the
        walk before the copy neither overflows the C stack nor walks past where shutil stops).
        (ignore_patterns(), computed by the engine's hook, copies the whole tree, as without
        ignore: see python/README.md.)"""
        src = os.path.join(self.tmp, "src")
        make_deep_tree(src, 3000)
        def ignore(path, names):
            return [name for name in names if name.endswith(".pyc")]

        outcomes = [outcome_of(func, src, os.path.join(self.tmp, name), ignore=ignore)
                    for name, func in (("shutil", shutil.copytree), ("treecopy", treecopy.copytree))]
        self.assertEqual(outcomes, [("RecursionError",)] * 2)
        shutil_tree, tree = (times_marked(snapshot(os.path.join(self.tmp, name)))
                             for name in ("shutil", "treecopy"))
        deepest = [max(p.count(b"/") for p in t) for t in (shutil_tree, tree)]
        self.assertGreater(min(deepest), 100)
        # The last few levels depend on how many frames each caller has below its recursion.
        self.assertLessEqual(abs(deepest[0] - deepest[1]), 4)
        cut = min(deepest) - 4

        def shallow(t):
            return {p: e for p, e in t.items() if p.count(b"/") < cut}
        self.assertEqual(diff_snapshots(shallow(shutil_tree), shallow(tree)), [])

    def test_progress_with_audit_hook(self):
        """With an audit hook installed, shutil's own events are raised (as before) and progress is
        called too: snapshots on the calling thread, the last one complete."""
        src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(src, "a", "b"))
        for rel in ("top", "a/one", "a/b/two", "a/skip.pyc"):
            with open(os.path.join(src, rel), "wb") as f:
                f.write(rel.encode() * 100)
        script = textwrap.dedent("""
            import os, shutil, sys, threading
            import treecopy
            events, seen = [], []
            def hook(event, args):
                if event.startswith(("shutil.", "os.", "open")):
                    events.append((event,) + tuple(os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike))
                                                   else type(a).__name__ for a in args))
            def progress(p):
                assert threading.current_thread() is threading.main_thread()
                seen.append(p)
            src, out, which = sys.argv[1:]
            os.mkdir(out)
            os.chdir(out)
            sys.addaudithook(hook)
            if which == "shutil":
                shutil.copytree(src, "copy", ignore=shutil.ignore_patterns("*.pyc"))
            else:
                treecopy.copytree(src, "copy", ignore=shutil.ignore_patterns("*.pyc"), progress=progress)
                last = seen[-1]
                print("progress", len(seen) >= 1, last.scan_complete, last.entries_found,
                      last.entries_done, last.bytes_done, last.errors, file=sys.stderr)
            for event in events:
                print(repr(event).replace(src, "<SRC>"))
            """)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + sys.path))
        printed = []
        for which in ("shutil", "treecopy"):
            out = os.path.join(self.tmp, "events-" + which)
            run = subprocess.run([sys.executable, "-c", script, src, out, which],
                                 env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(run.returncode, 0, run.stderr)
            printed.append(run.stdout.splitlines())
            if which == "treecopy":
                # 6 entries: the top, a, a/b and three files; 3 files of 300, 500 and 700 bytes.
                self.assertIn("progress True True 6 6 1500 0", run.stderr)
        self.assertEqual(printed[0], printed[1])
        self.assertTrue(any("shutil.copyfile" in line for line in printed[0]))


    def test_ignore_patterns_matched_as_fnmatch(self):
        """shutil.ignore_patterns() is computed by the engine's hook ('*' and '?' only): the same
        names left out as fnmatch leaves out, '?' one character of the decoded name (str) or one
        byte (bytes), names that are not UTF-8, regex characters taken literally, '*' across dots;
        a pattern with '[' (called as usual) too."""
        src = os.path.join(os.fsencode(self.tmp), b"src")
        names = [b"a.pyc", b"b.py", "\u00e9.pyc".encode(), b"\xff.pyc", b"\xffy", "\u00e9y".encode(),
                 b"xy", b"tmp1", b".hidden.pyc", b"c+d.txt", b"e\\f", b"x.y", b"a.b.c", b"ab", b"abc",
                 b"[ab]", b"zz"]
        for sub in (b"", b"d1", b"d1/tmp-dir", "d\u00e9".encode(), b"d1/ok/deeper"):
            os.makedirs(os.path.join(src, sub), exist_ok=True)
            for name in names:
                write(os.path.join(src, sub, name), sub + b"/" + name)
        set_times_deepest_first(src)
        cases = [("*.pyc", "tmp*", "?y", "c+d.*", "e\\f", "a*c"),
                 ("*", ), ("", ), ("a?", "?", "??"), ("*.*.*", ), ("[ab]", "z*"), ()]
        for patterns in cases:
            for kind in (os.fsdecode, os.fsencode):
                with self.subTest(patterns=patterns, kind=kind.__name__):
                    results = []
                    for name, func in (("shutil", shutil.copytree), ("treecopy", treecopy.copytree)):
                        dst = os.path.join(self.tmp, "pat-%d-%s" % (len(os.listdir(self.tmp)), name))
                        ignore = shutil.ignore_patterns(*map(kind, patterns))
                        try:
                            func(kind(src), kind(dst), ignore=ignore)
                            outcome = "returned"
                        except Exception as e:  # noqa: BLE001 - the exception is what is compared
                            outcome = type(e).__name__
                        results.append((outcome, snapshot(dst) if os.path.lexists(dst) else None))
                    self.assertEqual(results[0][0], results[1][0])
                    self.assertEqual(sorted(results[0][1]), sorted(results[1][1]))
                    self.assertEqual(diff_snapshots(results[0][1], results[1][1]), [])


    def test_bind_mount_of_src_inside_src(self):
        """src/sub/loop is a bind mount of src (same device and inode as src, which the engine's
        cycle check refuses as cp -a does): its tree is finite (the mount does not hold itself) and
        shutil copies it as any directory; so does treecopy.copytree, with and without ignore."""
        if os.geteuid() != 0 or shutil.which("mount") is None:
            self.skipTest("bind mounts need root and mount(8)")
        src = os.path.join(self.tmp, "src")
        loop = os.path.join(src, "sub", "loop")
        os.makedirs(loop)
        for rel in ("f", "sub/g", "sub/h.pyc"):
            with open(os.path.join(src, rel), "wb") as f:
                f.write(rel.encode())
        set_times_deepest_first(os.fsencode(src))
        if subprocess.run(["mount", "--bind", src, loop], capture_output=True).returncode != 0:
            self.skipTest("mount --bind refused")
        try:
            def ignore(path, names):
                return [n for n in names if n.endswith(".pyc")]

            for label, kwargs in (("none", {}), ("function", {"ignore": ignore}),
                                  ("patterns", {"ignore": shutil.ignore_patterns("*.pyc")})):
                with self.subTest(ignore=label):
                    results = []
                    for name, func in (("shutil", shutil.copytree), ("treecopy", treecopy.copytree)):
                        dst = os.path.join(self.tmp, "bind-%s-%s" % (label, name))
                        results.append((outcome_of(func, src, dst, **kwargs), snapshot(dst)))
                    self.assertEqual(results[0][0], ("returned",))
                    self.assertEqual(results[1][0], results[0][0])
                    self.assertIn(b"sub/loop/sub/loop", results[0][1])
                    self.assertEqual(sorted(results[0][1]), sorted(results[1][1]))
                    self.assertEqual(diff_snapshots(results[0][1], results[1][1]), [])
        finally:
            subprocess.run(["umount", "-l", loop], check=False)


if __name__ == "__main__":
    unittest.main()

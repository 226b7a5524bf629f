"""treecopy.copytree() with copy2 as one engine call, and the copy2()/copyfile() drop-ins: each
against shutil on the same input, entry by entry and bit for bit, and the calls made to ignore()."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

import treecopy
from test_copytree import Recorder, run_copy
from tree_support import (build_tree, diff_snapshots, make_writable, normalize_errors,
                          set_times_deepest_first, snapshot, write, xattrs_supported)


def deep_tree(root, fanout=3, depth=3):
    """Directories fanout wide and depth deep, each with files (some matching *.pyc and tmp*)."""
    root = os.fsencode(root)
    os.mkdir(root)

    def fill(path, level):
        for i in range(fanout):
            write(os.path.join(path, b"f%d.txt" % i), b"data %d" % i)
        write(os.path.join(path, b"x.pyc"), b"bytecode")
        os.mkdir(os.path.join(path, b"tmp-dir"))
        write(os.path.join(path, b"tmp-dir", b"inside"), b"never copied")
        if level < depth:
            for i in range(fanout):
                sub = os.path.join(path, b"d%d" % i)
                os.mkdir(sub)
                fill(sub, level + 1)

    fill(root, 1)
    os.symlink(b"d1", os.path.join(root, b"link-to-d1"))
    set_times_deepest_first(root)
    return root


class EnginePath(unittest.TestCase):
    def setUp(self):
        self.tmp = os.fsencode(tempfile.mkdtemp(prefix="treecopy-engine-"))
        self.old_cwd = os.getcwd()
        os.chdir(self.tmp)

    def tearDown(self):
        os.chdir(self.old_cwd)
        make_writable(self.tmp)
        shutil.rmtree(self.tmp)

    def test_copy2_trees_take_one_engine_call(self):
        """No per-file pool and one copy_tree() call for the whole tree."""
        src = deep_tree(os.path.join(self.tmp, b"src"))
        calls = []
        real = treecopy._treecopy.copytree_walk

        def counting(*args):
            calls.append(args[:2])
            return real(*args)

        with mock.patch.object(treecopy._treecopy, "copytree_walk", counting), \
                mock.patch.object(treecopy._treecopy, "FilePool", side_effect=AssertionError):
            treecopy.copytree(os.fsdecode(src), os.fsdecode(os.path.join(self.tmp, b"dst")),
                              ignore=shutil.ignore_patterns("*.pyc"))
        self.assertEqual(len(calls), 1)

    def test_ignore_calls_match_shutil_on_a_deep_tree(self):
        """ignore() sees shutil's calls, in shutil's order, with every jobs value; same result."""
        src = deep_tree(os.path.join(self.tmp, b"src"))
        for symlinks in (False, True):
            for jobs in (1, 2, 8):
                with self.subTest(symlinks=symlinks, jobs=jobs):
                    recs = [Recorder(shutil.ignore_patterns("*.pyc", "tmp*")) for _ in range(2)]
                    dsts = [os.path.join(self.tmp, b"out-%d-%d-%d" % (symlinks, jobs, i), b"copy")
                            for i in range(2)]
                    expected = run_copy(shutil.copytree, src, dsts[0], (),
                                        {"ignore": recs[0], "symlinks": symlinks}, str)
                    actual = run_copy(treecopy.copytree, src, dsts[1], (),
                                      {"ignore": recs[1], "symlinks": symlinks, "jobs": jobs}, str)
                    self.assertEqual(expected[0], actual[0])
                    self.assertEqual(diff_snapshots(expected[1], actual[1]), [])
                    reps = [(dsts[0], b"<DST>"), (dsts[1], b"<DST>")]
                    self.assertEqual(normalize_errors(recs[0].calls, reps),
                                     normalize_errors(recs[1].calls, reps))
                    # 13 directories, and d1's 4 again through link-to-d1 when links are followed.
                    self.assertEqual(len(recs[0].calls), 13 if symlinks else 17)

    def test_ignore_exception_propagates(self):
        src = os.fsdecode(deep_tree(os.path.join(self.tmp, b"src"), depth=2))

        def ignore(path, names):
            if path.endswith("d1"):
                raise ValueError("from ignore")
            return ()

        for func in (shutil.copytree, treecopy.copytree):
            with self.subTest(func=func.__module__), self.assertRaisesRegex(ValueError, "from ignore"):
                func(src, os.path.join(os.fsdecode(self.tmp), func.__module__), ignore=ignore)

    def test_errors_in_shutil_order(self):
        """Failures of the engine (unreadable files and directories) and of shutil's own code (FIFOs,
        dangling links) in several directories: the same tuples as shutil's, in the same order."""
        if os.geteuid() == 0:
            return self.run_unprivileged("test_errors_in_shutil_order")
        src = deep_tree(os.path.join(self.tmp, b"src"))
        for rel in (b"d2/f1.txt", b"f0.txt", b"d0/f2.txt", b"d1/d0", b"d0/d2"):
            os.chmod(os.path.join(src, rel), 0)
        os.mkfifo(os.path.join(src, b"d1", b"fifo"))
        os.symlink(b"nowhere", os.path.join(src, b"d2", b"dangling"))
        os.symlink(b"nowhere", os.path.join(src, b"dangling"))
        dsts = [os.path.join(self.tmp, b"out-%d" % i) for i in range(2)]
        expected = run_copy(shutil.copytree, src, dsts[0], (), {}, str)
        actual = run_copy(treecopy.copytree, src, dsts[1], (), {}, str)
        self.assertEqual(expected[0][0], "shutil.Error")
        self.assertGreaterEqual(len(expected[0][1]), 8)
        self.assertEqual(expected, actual)

    def run_unprivileged(self, name):
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            self.skipTest("running as root and setpriv is missing")
        here = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([here] + sys.path))
        os.chmod(self.tmp, 0o777)
        result = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                 sys.executable, "-m", "unittest", "-v", "test_engine_path.EnginePath." + name],
                                cwd=here, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("ok", result.stderr)


class CopyFileDropIns(unittest.TestCase):
    def setUp(self):
        self.tmp = os.fsencode(tempfile.mkdtemp(prefix="treecopy-copy2-"))
        self.xattrs = xattrs_supported(self.tmp)
        self.src = build_tree(os.path.join(self.tmp, b"src"), xattrs=self.xattrs)

    def tearDown(self):
        make_writable(self.tmp)
        shutil.rmtree(self.tmp)

    def both(self, name, *args, prepare=None, **kwargs):
        """Runs shutil.<name> and treecopy.<name> into fresh directories: (outcome, snapshot) each,
        the snapshot without the directory's own times (they change with every entry made)."""
        results = []
        self.runs = getattr(self, "runs", 0) + 1
        for module in (shutil, treecopy):
            out = os.path.join(self.tmp, b"out-%d-" % self.runs + module.__name__.encode())
            os.mkdir(out)
            if prepare:
                prepare(out)
                set_times_deepest_first(out)
            conv = [a.replace(b"<OUT>", out) if isinstance(a, bytes) else a for a in args]
            try:
                returned = getattr(module, name)(*conv, **kwargs)
                outcome = ("returned", returned.replace(out, b"<OUT>"))
            except OSError as e:
                outcome = (type(e).__name__, e.errno, str(e).replace(os.fsdecode(out), "<OUT>"))
            tree = snapshot(out)
            del tree[b"."]["atime_ns"], tree[b"."]["mtime_ns"]
            results.append((outcome, tree))
        return results

    def assert_same(self, name, *args, **kwargs):
        """Same outcome and same tree; copyfile() copies no times: the copy's own are not compared."""
        expected, actual = self.both(name, *args, **kwargs)
        self.assertEqual(expected[0], actual[0])
        diffs = diff_snapshots(expected[1], actual[1])
        if name == "copyfile":
            diffs = [d for d in diffs if d[1] not in ("atime_ns", "mtime_ns")]
        self.assertEqual(diffs, [])
        return expected[0]

    def test_copy2_files(self):
        for rel in (b"small.txt", b"big.bin", b"setuid", b"readonly", b"exec.sh", b"empty.txt",
                    b"link-to-file"):
            with self.subTest(rel=rel):
                src = os.path.join(self.src, rel)
                self.assertEqual(self.assert_same("copy2", src, b"<OUT>/copy"),
                                 ("returned", b"<OUT>/copy"))

    def test_copy2_into_a_directory_and_over_a_file(self):
        src = os.path.join(self.src, b"small.txt")

        def prepare(out):
            write(os.path.join(out, b"existing"), b"older and longer", 0o600)

        self.assertEqual(self.assert_same("copy2", src, b"<OUT>", prepare=prepare),
                         ("returned", b"<OUT>/small.txt"))
        self.assert_same("copy2", src, b"<OUT>/existing", prepare=prepare)

    def test_copy2_symlink_not_followed(self):
        src = os.path.join(self.src, b"link-to-file")
        self.assert_same("copy2", src, b"<OUT>/link", follow_symlinks=False)

    def test_copyfile_data_only(self):
        def prepare(out):
            write(os.path.join(out, b"existing"), b"older and longer", 0o600)

        for rel in (b"setuid", b"big.bin", b"small.txt"):
            for dst in (b"<OUT>/new", b"<OUT>/existing"):
                with self.subTest(rel=rel, dst=dst):
                    self.assert_same("copyfile", os.path.join(self.src, rel), dst, prepare=prepare)

    def test_copyfile_keeps_the_inode(self):
        dst = os.path.join(self.tmp, b"existing")
        write(dst, b"old", 0o600)
        ino = os.lstat(dst).st_ino
        treecopy.copyfile(os.path.join(self.src, b"big.bin"), dst)
        self.assertEqual(os.lstat(dst).st_ino, ino)

    def test_errors(self):
        missing = os.path.join(self.src, b"missing")
        small = os.path.join(self.src, b"small.txt")
        os.mkfifo(os.path.join(self.src, b"fifo"))
        for name in ("copy2", "copyfile"):
            with self.subTest(name=name):
                self.assertEqual(self.assert_same(name, missing, b"<OUT>/x")[0], "FileNotFoundError")
                self.assertEqual(self.assert_same(name, small, b"<OUT>/no/such/dir")[0],
                                 "FileNotFoundError")
                self.assertEqual(self.both(name, small, small)[0][0][0], "SameFileError")
                self.assertEqual(self.assert_same(name, os.path.join(self.src, b"fifo"),
                                                  b"<OUT>/x")[0], "SpecialFileError")
        self.assertEqual(self.assert_same("copyfile", small, b"<OUT>")[0], "IsADirectoryError")

    def test_path_types(self):
        import pathlib
        src = pathlib.Path(os.fsdecode(os.path.join(self.src, b"small.txt")))
        dst = pathlib.Path(os.fsdecode(self.tmp)) / "p"
        self.assertEqual(treecopy.copy2(src, dst), dst)
        self.assertEqual(treecopy.copyfile(str(src), str(dst)), str(dst))
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), b"hello\n")


if __name__ == "__main__":
    unittest.main()

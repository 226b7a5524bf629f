"""treecopy.copy_tree(): the engine from Python -- options, the report, setup errors as OSError,
progress, cancelling, and cp -a fidelity on a generated tree (compared with `cp -a`)."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

import treecopy
from tree_support import build_tree, diff_snapshots, make_writable, snapshot, write, xattrs_supported


class CopyTree(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="treecopy-py-")
        self.src = os.fsdecode(build_tree(os.path.join(self.tmp, "src"),
                                          xattrs=xattrs_supported(self.tmp), owner=(1234, 4321)))

    def tearDown(self):
        make_writable(self.tmp)
        shutil.rmtree(self.tmp)

    def path(self, *names):
        return os.path.join(self.tmp, *names)

    def test_same_result_as_cp_a(self):
        report = treecopy.copy_tree(self.src, self.path("dst"), jobs=3)
        subprocess.run(["cp", "-a", self.src, self.path("cp")], check=True)
        self.assertTrue(report.ok, report.errors)
        self.assertEqual(diff_snapshots(snapshot(self.path("cp")), snapshot(self.path("dst"))), [])
        self.assertEqual(report.copied["hardlink"], 1)
        self.assertEqual(report.copied["symlink"], 4)
        self.assertGreater(report.bytes_copied, 3 * 1024 * 1024)
        self.assertEqual(report.entries, sum(report.copied.values()))
        self.assertEqual(report.error_count, 0)
        self.assertFalse(report.cancelled)
        self.assertGreaterEqual(report.elapsed, 0)
        json.dumps(report.to_dict())

    def test_path_types(self):
        for i, conv in enumerate((os.fsencode, pathlib.Path)):
            report = treecopy.copy_tree(conv(self.src), conv(self.path("dst%d" % i)))
            self.assertTrue(report.ok)

    def test_without_ownership(self):
        treecopy.copy_tree(self.src, self.path("dst"), preserve_ownership=False)
        st = os.lstat(self.path("dst", "small.txt"))
        self.assertEqual((st.st_uid, st.st_gid), (os.geteuid(), os.getegid()))

    def test_setup_errors_are_os_errors(self):
        with self.assertRaises(FileNotFoundError) as cm:
            treecopy.copy_tree(self.path("missing"), self.path("dst"))
        self.assertEqual(cm.exception.filename, self.path("missing"))
        os.mkdir(self.path("exists"))
        with self.assertRaises(FileExistsError):
            treecopy.copy_tree(self.src, self.path("exists"))
        with self.assertRaises(OSError):
            treecopy.copy_tree(self.src, os.path.join(self.src, "a", "inside"))
        with self.assertRaises(FileNotFoundError):
            treecopy.copy_tree(self.src, self.path("no-parent", "dst"))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["exists", "src"])

    def test_merge(self):
        os.mkdir(self.path("dst"))
        write(self.path("dst", "small.txt"), b"old")
        report = treecopy.copy_tree(self.src, self.path("dst"), merge=True)
        self.assertTrue(report.ok, report.errors)
        with open(self.path("dst", "small.txt"), "rb") as f:
            self.assertEqual(f.read(), b"hello\n")

    def test_bad_options(self):
        with self.assertRaises(TypeError):
            treecopy.copy_tree(self.src, self.path("dst"), no_such_option=True)
        with self.assertRaises(ValueError):
            treecopy.copy_tree(self.src, self.path("dst"), reflink="sometimes")
        with self.assertRaises(ValueError):
            treecopy.copy_tree(self.src, self.path("dst"), jobs=-1)
        self.assertFalse(os.path.exists(self.path("dst")))

    def test_filters_and_dereference(self):
        report = treecopy.copy_tree(self.src, self.path("dst"), filters=[("exclude", "*.txt")],
                                    dereference="always")
        self.assertFalse(os.path.exists(self.path("dst", "small.txt")))
        self.assertFalse(os.path.islink(self.path("dst", "link-to-dir")))
        self.assertGreater(report.skipped, 0)

    def test_progress_and_stop(self):
        seen = []
        report = treecopy.copy_tree(self.src, self.path("dst"), progress=seen.append,
                                    progress_interval=0.01)
        self.assertTrue(seen)
        self.assertIsInstance(seen[-1], treecopy.Progress)
        self.assertTrue(seen[-1].scan_complete)
        self.assertEqual(seen[-1].bytes_done, report.bytes_copied)

        report = treecopy.copy_tree(self.wide_tree(), self.path("stopped"), progress=lambda p: False,
                                    progress_interval=0.001, jobs=1)
        self.assertTrue(report.cancelled or report.ok)  # a fast machine may finish first

    def test_keyboard_interrupt(self):
        src = self.wide_tree()
        timer = threading.Timer(0.02, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with self.assertRaises(KeyboardInterrupt):
                treecopy.copy_tree(src, self.path("dst"), jobs=1)
                threading.Event().wait(5)  # finished before the signal: let it arrive here
        finally:
            timer.cancel()
        # A later copy runs normally: nothing was left behind.
        self.assertTrue(treecopy.copy_tree(src, self.path("again")).ok)

    def test_entry_errors_are_reported(self):
        report = treecopy.copy_tree(self.src, self.path("dst"), reflink="always")
        if report.ok:
            self.skipTest("this file system clones files: reflink=always does not fail")
        self.assertGreater(report.error_count, 0)
        error = report.errors[0]
        self.assertIsInstance(error, treecopy.EntryError)
        self.assertTrue(error.path)
        self.assertIsInstance(error.to_os_error(), OSError)
        self.assertIn(error.strerror, error.message())

    def test_entry_errors_say_their_side(self):
        # Destination: a directory where SRC has a file, in a merge.
        os.makedirs(self.path("dst", "small.txt"))
        report = treecopy.copy_tree(self.src, self.path("dst"), merge=True)
        failed = [e for e in report.errors if e.path.endswith("small.txt")]
        self.assertEqual(len(failed), 1, report.errors)
        self.assertEqual((failed[0].side, failed[0].operation_id), ("destination", "create"))
        self.assertEqual(failed[0].operation, "create")
        item = [d for d in report.to_dict()["errors"] if d["path"].endswith("small.txt")][0]
        self.assertEqual((item["side"], item["operation_id"]), ("destination", "create"))

        # Source: a link back to an ancestor, followed, is a directory cycle met while reading SRC.
        src = self.path("cyclic")
        os.makedirs(os.path.join(src, "a"))
        os.symlink("..", os.path.join(src, "a", "up"))
        report = treecopy.copy_tree(src, self.path("cyclic-copy"), dereference="always")
        self.assertEqual(report.error_count, 1, report.errors)
        self.assertEqual(report.errors[0].side, "source")
        self.assertTrue(report.errors[0].path.startswith(src), report.errors[0].path)

    def test_pool_failures_say_their_side(self):
        # A clone refused is about the file being written: the pool reports it on the destination
        # (with the destination's path), as shutil would name dst for a failed write.
        write(self.path("one"), b"data")
        pool = treecopy._treecopy.FilePool(1, "always")
        pool.submit(1, os.fsencode(self.path("one")), os.fsencode(self.path("one-copy")), False)
        pool.wait()
        failures = pool.take_failures()
        if not failures:
            self.skipTest("this file system clones files: reflink=always does not fail")
        seq, _err, on_destination, setup, operation, path, _message = failures[0]
        self.assertEqual((seq, setup, operation), (1, False, "clone"))
        self.assertEqual(path, self.path("one-copy"))
        self.assertTrue(on_destination)

    def wide_tree(self, files=2000):
        root = self.path("wide")
        os.mkdir(root)
        for i in range(files):
            write(os.path.join(root, "f%05d" % i), b"x" * 100)
        return root


class Module(unittest.TestCase):
    def test_version(self):
        self.assertRegex(treecopy.version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(treecopy.__version__, treecopy.version())
        self.assertGreaterEqual(treecopy.default_jobs(), 1)


if __name__ == "__main__":
    unittest.main()

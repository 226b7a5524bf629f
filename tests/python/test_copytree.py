"""treecopy.copytree() against shutil.copytree(): the same source trees are copied by both, for every
argument, and the results (return value, exception, error list, every entry's attributes, calls made to
ignore and copy_function) must be identical."""

import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import treecopy
from tree_support import (build_tree, diff_snapshots, make_writable, normalize_errors,
                          set_times_deepest_first, snapshot, write, xattrs_supported)

HERE = os.path.dirname(os.path.abspath(__file__))


class Recorder:
    """An ignore or copy_function that records its calls (made comparable) and delegates."""

    def __init__(self, func):
        self.func = func
        self.calls = []

    def __call__(self, *args):
        self.calls.append(tuple(os.fspath(a) if isinstance(a, os.PathLike) else
                                repr(a) if isinstance(a, list) else a for a in args))
        return self.func(*args)


def run_copy(func, src, dst, args, kwargs, path_type):
    """Calls func(src, dst, ...) and describes what happened, with dst and src replaced by markers."""
    conv = {str: os.fsdecode, bytes: os.fsencode, pathlib.Path: lambda p: pathlib.Path(os.fsdecode(p))}
    src_arg, dst_arg = conv[path_type](src), conv[path_type](dst)
    replacements = [(os.fsencode(dst), b"<DST>"), (os.fsencode(src), b"<SRC>")]
    try:
        returned = func(src_arg, dst_arg, *args, **kwargs)
        outcome = ("returned", returned is dst_arg)
    except shutil.Error as e:
        outcome = ("shutil.Error", normalize_errors(e.args[0], replacements))
    except OSError as e:
        outcome = (type(e).__name__, e.errno, normalize_errors([(str(e),)], replacements))
    tree = snapshot(dst) if os.path.lexists(dst) else None
    return outcome, tree


class CopytreeMatchesShutil(unittest.TestCase):
    def setUp(self):
        self.tmp = os.fsencode(tempfile.mkdtemp(prefix="treecopy-py-"))
        self.xattrs = xattrs_supported(self.tmp)
        self.old_cwd = os.getcwd()
        os.chdir(self.tmp)

    def tearDown(self):
        os.chdir(self.old_cwd)
        make_writable(self.tmp)
        shutil.rmtree(self.tmp)

    def source(self, name=b"src", **kwargs):
        return build_tree(os.path.join(self.tmp, name), xattrs=self.xattrs, **kwargs)

    def compare(self, src, *args, prepare=None, path_type=str, jobs=(None,), file_times=True, **kwargs):
        """Copies src with shutil and with treecopy (once per jobs value) and asserts equal results.
        prepare(dst) sets up each destination first (its entries get the source's fixed times).
        file_times=False: times of non-directories are not compared (copy_function=shutil.copy does
        not copy them). Returns shutil's outcome."""
        def differences(expected, actual):
            return [d for d in diff_snapshots(expected, actual)
                    if file_times or d[1] not in ("atime_ns", "mtime_ns") or d[0] == b"."
                    or stat.S_ISDIR(expected[d[0]]["type"])]
        if prepare:
            prepare_given = prepare

            def prepare(dst):
                prepare_given(dst)
                set_times_deepest_first(dst)

        dst = os.path.join(self.tmp, b"out-shutil", b"copy")
        if prepare:
            prepare(dst)
        expected = run_copy(shutil.copytree, src, dst, args, kwargs, path_type)
        for n in jobs:
            with self.subTest(jobs=n):
                dst = os.path.join(self.tmp, b"out-treecopy-%d" % (n or 0), b"copy")
                if prepare:
                    prepare(dst)
                actual = run_copy(treecopy.copytree, src, dst, args, dict(kwargs, jobs=n), path_type)
                self.assertEqual(expected[0], actual[0])
                self.assertEqual(differences(expected[1], actual[1]), [])
        return expected[0]

    # -- arguments --------------------------------------------------------------------------------

    def test_defaults_follow_symlinks_and_report_dangling(self):
        outcome = self.compare(self.source(), jobs=(None, 1, 2, 8))
        self.assertEqual(outcome[0], "shutil.Error")  # the dangling link

    def test_symlinks_true_copies_links(self):
        outcome = self.compare(self.source(), symlinks=True, jobs=(None, 1, 3))
        self.assertEqual(outcome, ("returned", True))

    def test_ignore_dangling_symlinks(self):
        outcome = self.compare(self.source(), ignore_dangling_symlinks=True)
        self.assertEqual(outcome, ("returned", True))

    def test_ignore_patterns(self):
        ignore = shutil.ignore_patterns("*.txt", "b", "dangling")
        self.assertEqual(self.compare(self.source(), ignore=ignore), ("returned", True))

    def test_ignore_callable_sees_the_same_calls(self):
        src = self.source(dangling=False)
        records = []

        def make():
            rec = Recorder(lambda d, names: {n for n in names if n.startswith("e")})
            records.append(rec)
            return rec

        dst = os.path.join(self.tmp, b"out-shutil", b"copy")
        expected = run_copy(shutil.copytree, src, dst, (), {"ignore": make()}, str)
        dst2 = os.path.join(self.tmp, b"out-treecopy", b"copy")
        actual = run_copy(treecopy.copytree, src, dst2, (), {"ignore": make()}, str)
        self.assertEqual(expected, actual)
        calls = [normalize_errors(r.calls, [(dst, b"<DST>"), (dst2, b"<DST>")]) for r in records]
        self.assertEqual(calls[0], calls[1])
        self.assertGreater(len(calls[0]), 5)

    def test_copy_function_copy(self):
        self.assertEqual(self.compare(self.source(dangling=False), copy_function=shutil.copy,
                                      file_times=False),
                         ("returned", True))

    def test_custom_copy_function_sees_the_same_calls(self):
        src = self.source(dangling=False)
        recs = [Recorder(shutil.copy2), Recorder(shutil.copy2)]
        dsts = [os.path.join(self.tmp, b"out-%d" % i, b"copy") for i in range(2)]
        expected = run_copy(shutil.copytree, src, dsts[0], (), {"copy_function": recs[0]}, str)
        actual = run_copy(treecopy.copytree, src, dsts[1], (), {"copy_function": recs[1]}, str)
        self.assertEqual(expected, actual)
        reps = [(dsts[0], b"<DST>"), (dsts[1], b"<DST>")]
        self.assertEqual(normalize_errors(recs[0].calls, reps), normalize_errors(recs[1].calls, reps))

    def test_copy_function_none_is_copy2(self):
        src = self.source(dangling=False)
        expected = run_copy(shutil.copytree, src, os.path.join(self.tmp, b"a"), (), {}, str)
        actual = run_copy(treecopy.copytree, src, os.path.join(self.tmp, b"b"), (),
                          {"copy_function": None}, str)
        self.assertEqual(expected[0], actual[0])
        self.assertEqual(diff_snapshots(expected[1], actual[1]), [])

    def test_dirs_exist_ok_merges(self):
        def prepare(dst):
            os.makedirs(os.path.join(dst, b"a", b"b"))
            write(os.path.join(dst, b"small.txt"), b"old and longer content", 0o600)
            write(os.path.join(dst, b"a", b"only-in-dst"), b"kept")

        self.assertEqual(self.compare(self.source(dangling=False), dirs_exist_ok=True, prepare=prepare,
                                      jobs=(None, 1)), ("returned", True))

    def test_ownership_is_not_copied(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the source another owner")
        self.compare(self.source(owner=(1234, 4321)), symlinks=True)
        st = os.lstat(os.path.join(self.tmp, b"out-treecopy-0", b"copy", b"small.txt"))
        self.assertEqual((st.st_uid, st.st_gid), (os.geteuid(), os.getegid()))

    def test_path_types(self):
        for path_type in (bytes, pathlib.Path):
            with self.subTest(path_type=path_type.__name__):
                src = self.source(b"src-" + path_type.__name__.encode(), dangling=False)
                self.assertEqual(self.compare(src, path_type=path_type), ("returned", True))
                shutil.rmtree(os.path.join(self.tmp, b"out-shutil"))
                shutil.rmtree(os.path.join(self.tmp, b"out-treecopy-0"))

    def test_returns_dst_as_given(self):
        src = pathlib.Path(os.fsdecode(self.source(dangling=False)))
        dst = pathlib.Path(os.fsdecode(self.tmp)) / "returned"
        self.assertIs(treecopy.copytree(src, dst), dst)

    # -- errors -----------------------------------------------------------------------------------

    def test_existing_destination(self):
        src = self.source()
        outcome = self.compare(src, prepare=os.makedirs)
        self.assertEqual(outcome[0], "FileExistsError")

    def test_missing_source(self):
        outcome = self.compare(os.path.join(self.tmp, b"missing"))
        self.assertEqual(outcome[0], "FileNotFoundError")

    def test_source_is_a_file(self):
        path = os.path.join(self.tmp, b"file")
        write(path, b"x")
        self.assertEqual(self.compare(path)[0], "NotADirectoryError")

    def test_fifo_is_an_error(self):
        outcome = self.compare(self.source(special="fifo", dangling=False), symlinks=True)
        self.assertEqual(outcome[0], "shutil.Error")
        self.assertIn("named pipe", outcome[1][0][2])

    def test_socket_is_an_error(self):
        outcome = self.compare(self.source(special="socket", dangling=False), symlinks=True)
        self.assertEqual(outcome[0], "shutil.Error")

    def test_merge_conflicts(self):
        def prepare(dst):
            os.makedirs(dst)
            write(os.path.join(dst, b"a"), b"a file where the source has a directory")
            os.symlink(b"elsewhere", os.path.join(dst, b"link-to-file"))

        outcome = self.compare(self.source(dangling=False), symlinks=True, dirs_exist_ok=True,
                               prepare=prepare)
        self.assertEqual(outcome[0], "shutil.Error")
        self.assertEqual(len(outcome[1]), 2)

    def test_unreadable_entries(self):
        """Permission errors, as an unprivileged user (through setpriv when running as root)."""
        script = os.path.join(HERE, "unprivileged_case.py")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + sys.path))
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                self.skipTest("running as root and setpriv is missing")
            os.chmod(self.tmp, 0o777)
            command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                       script, self.tmp]
        else:
            command = [sys.executable, script, self.tmp]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        if result.returncode == 77:
            self.skipTest(result.stdout.strip())
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    # -- what shutil does not have ------------------------------------------------------------------

    def test_progress_snapshots(self):
        src = self.source(dangling=False)
        seen = []
        treecopy.copytree(src, os.path.join(self.tmp, b"dst"), progress=seen.append)
        self.assertTrue(seen)
        self.assertIsInstance(seen[-1], treecopy.Progress)
        final = seen[-1]
        self.assertTrue(final.scan_complete)
        self.assertEqual(final.entries_done, final.entries_found)
        self.assertEqual(final.bytes_done, final.bytes_found)
        self.assertGreater(final.bytes_done, 3 * 1024 * 1024)
        self.assertEqual(final.errors, 0)

    def test_progress_exception_stops_the_copy(self):
        src = self.wide_tree(500)

        def boom(snapshot):
            raise RuntimeError("stop here")

        with self.assertRaisesRegex(RuntimeError, "stop here"):
            treecopy.copytree(src, os.path.join(self.tmp, b"dst"), progress=boom, jobs=2)

    def test_keyboard_interrupt_cancels(self):
        src = self.wide_tree(2000)
        dst = os.path.join(self.tmp, b"dst")
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
        started = time.monotonic()
        timer.start()
        try:
            with self.assertRaises(KeyboardInterrupt):
                treecopy.copytree(src, dst, jobs=2)
                time.sleep(5)  # finished before the signal: let it arrive here instead
        finally:
            timer.cancel()
        self.assertLess(time.monotonic() - started, 4)
        # The pool is gone and nothing is left running: a new copy works.
        shutil.rmtree(dst)
        treecopy.copytree(src, dst, jobs=2)
        self.assertEqual(len(os.listdir(dst)), 2000)

    def test_gil_is_released(self):
        src = self.wide_tree(300, size=64 * 1024)
        ticks = []
        done = threading.Event()

        def count():
            while not done.is_set():
                ticks.append(None)
                time.sleep(0.001)

        counter = threading.Thread(target=count)
        counter.start()
        try:
            treecopy.copytree(src, os.path.join(self.tmp, b"dst"), jobs=2)
        finally:
            done.set()
            counter.join()
        self.assertGreater(len(ticks), 3)

    def wide_tree(self, files, size=100):
        root = os.path.join(self.tmp, b"wide")
        os.mkdir(root)
        data = b"x" * size
        for i in range(files):
            write(os.path.join(root, b"f%05d" % i), data)
        return root


if __name__ == "__main__":
    unittest.main()

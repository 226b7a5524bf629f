"""treecopy.copytree()'s engine path where shutil's walk shows through: an exception raised by ignore
midway, deferred entries in a read-only directory, the audit events, a cycle through symlinks. Each
against shutil.copytree() on the same tree: outcome, error list, entries, modes and times."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import treecopy
import tree_support
from test_copytree import Recorder
from test_engine_path import deep_tree
from tree_support import diff_snapshots, make_writable, normalize_errors, set_times_deepest_first, snapshot, write

HERE = os.path.dirname(os.path.abspath(__file__))


def outcome_and_tree(func, src, dst, **kwargs):
    """What func(src, dst, **kwargs) did, any exception included, with dst and src made markers; and
    the snapshot of dst, times made in the run ('fresh': no copystat reached them) told apart."""
    replacements = [(os.fsencode(dst), b"<DST>"), (os.fsencode(src), b"<SRC>")]
    try:
        func(os.fsdecode(src), os.fsdecode(dst), **kwargs)
        outcome = ("returned",)
    except shutil.Error as e:
        outcome = ("shutil.Error", normalize_errors(e.args[0], replacements))
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        outcome = (type(e).__name__, normalize_errors([(str(e),)], replacements))
    tree = snapshot(dst) if os.path.lexists(dst) else None
    for entry in (tree or {}).values():
        for field in ("mtime_ns", "atime_ns"):
            if entry[field] not in (tree_support.MTIME_NS, tree_support.ATIME_NS):
                entry[field] = "fresh"
    return outcome, tree


class EnginePathEdges(unittest.TestCase):
    def setUp(self):
        self.tmp = os.fsencode(tempfile.mkdtemp(prefix="treecopy-edges-"))
        self.old_cwd = os.getcwd()
        os.chdir(self.tmp)
        self.runs = 0

    def tearDown(self):
        os.chdir(self.old_cwd)
        make_writable(self.tmp)
        shutil.rmtree(self.tmp)

    def compare(self, src, **kwargs):
        """shutil.copytree and treecopy.copytree on src, with the same arguments: same everything."""
        self.runs += 1
        results = []
        for func in (shutil.copytree, treecopy.copytree):
            dst = os.path.join(self.tmp, b"out-%d-%s" % (self.runs, func.__module__.encode()), b"copy")
            results.append(outcome_and_tree(func, src, dst, **kwargs))
        self.assertEqual(results[0][0], results[1][0])
        self.assertEqual(diff_snapshots(results[0][1], results[1][1]), [])
        return results[0]

    def test_ignore_raising_midway_leaves_shutils_partial_copy(self):
        """An exception from ignore() below the top: what comes before it in shutil's walk is copied
        (completed directories with their metadata, their ancestors without), ignore() is called once
        per directory, and the exception propagates; an OSError becomes an entry of shutil.Error."""
        src = deep_tree(os.path.join(self.tmp, b"src"))
        for exc_type, where in ((ValueError, "d1/d0"), (OSError, "d1/d0"), (KeyError, "d2")):
            def ignore(path, names, exc_type=exc_type, where=where):
                if path.endswith(os.sep + where.replace("/", os.sep)):
                    raise exc_type("from ignore at " + where)
                return shutil.ignore_patterns("*.pyc")(path, names)

            for jobs in (1, 4):
                with self.subTest(exc=exc_type.__name__, jobs=jobs):
                    recs = [Recorder(ignore), Recorder(ignore)]
                    self.runs += 1
                    results = []
                    for func, rec in zip((shutil.copytree, treecopy.copytree), recs):
                        dst = os.path.join(self.tmp, b"out-%d-%s" % (self.runs, func.__module__.encode()),
                                           b"copy")
                        kwargs = {"ignore": rec} if func is shutil.copytree else {"ignore": rec, "jobs": jobs}
                        results.append(outcome_and_tree(func, src, dst, **kwargs))
                    expected, actual = results
                    self.assertEqual(expected[0], actual[0])
                    self.assertEqual(diff_snapshots(expected[1], actual[1]), [])
                    calls = [normalize_errors(r.calls, [(src, b"<SRC>")]) for r in recs]
                    self.assertEqual(calls[0], calls[1])
                    if exc_type is OSError:
                        self.assertEqual(expected[0][0], "shutil.Error")
                    else:
                        self.assertEqual(expected[0][0], exc_type.__name__)
                        self.assertGreater(len(expected[1]), 1)  # entries copied before the failure

    def test_ignore_raising_midway_when_merging(self):
        """The same into an existing destination (dirs_exist_ok=True, the Python walk): the files
        queued before the exception are copied and completed directories get their metadata."""
        src = deep_tree(os.path.join(self.tmp, b"src"))

        def ignore(path, names):
            if path.endswith(os.sep + os.path.join("d1", "d2")):
                raise ValueError("from ignore")
            return ()

        self.runs += 1
        results = []
        for func in (shutil.copytree, treecopy.copytree):
            dst = os.path.join(self.tmp, b"merge-%s" % func.__module__.encode())
            os.mkdir(dst)
            os.utime(dst, ns=(tree_support.ATIME_NS, tree_support.MTIME_NS))
            results.append(outcome_and_tree(func, src, dst, ignore=ignore, dirs_exist_ok=True))
        self.assertEqual(results[0][0], results[1][0])
        self.assertEqual(results[0][0][0], "ValueError")
        self.assertEqual(diff_snapshots(results[0][1], results[1][1]), [])

    def test_read_only_directory_with_deferred_entries(self):
        """A 0555 source directory holding entries left to shutil.copy2 (a FIFO, a dangling link, a
        link to a device), copied unprivileged: shutil sets the directory's mode after its entries,
        so the link's copy succeeds; same entries, modes, times and errors."""
        if os.geteuid() == 0:
            self.with_device_as_root()
            return self.run_unprivileged("test_read_only_directory_with_deferred_entries")
        src = self.read_only_tree(device=False)
        outcome = self.compare(src)
        self.assertEqual(outcome[0][0], "shutil.Error")
        self.assertIn(b"ro/null-link", outcome[1])

    def with_device_as_root(self):
        src = self.read_only_tree(device=True)
        self.compare(src)
        make_writable(self.tmp)

    def read_only_tree(self, device):
        src = os.path.join(self.tmp, b"src-ro")
        os.makedirs(os.path.join(src, b"ro", b"sub"))
        write(os.path.join(src, b"ro", b"a-file"), b"data")
        write(os.path.join(src, b"ro", b"sub", b"inner"), b"inner")
        os.mkfifo(os.path.join(src, b"ro", b"fifo"))
        os.symlink(b"nowhere", os.path.join(src, b"ro", b"dangling"))
        os.symlink(b"/dev/null", os.path.join(src, b"ro", b"null-link"))
        if device:
            try:
                os.mknod(os.path.join(src, b"ro", b"null-device"), 0o20666, os.makedev(1, 3))
            except OSError:
                pass
        set_times_deepest_first(src)
        os.chmod(os.path.join(src, b"ro", b"sub"), 0o555)
        os.chmod(os.path.join(src, b"ro"), 0o555)
        return src

    def run_unprivileged(self, name):
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            self.skipTest("running as root and setpriv is missing")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + sys.path))
        os.chmod(self.tmp, 0o777)
        result = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                 sys.executable, "-m", "unittest", "-v",
                                 "test_engine_path_edges.EnginePathEdges." + name],
                                cwd=HERE, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("ok", result.stderr)

    def test_audit_events_per_directory(self):
        """sys.audit('shutil.copytree', src, dst) once per directory, in shutil's order, with shutil's
        arguments (the DirEntry of a subdirectory), with and without ignore, following links or not."""
        src = deep_tree(os.path.join(self.tmp, b"src"), depth=2)
        script = textwrap.dedent("""
            import os, shutil, sys
            import treecopy
            events = []
            def hook(event, args):
                if event == "shutil.copytree":
                    events.append((type(args[0]).__name__, os.fspath(args[0]), os.fspath(args[1])))
            sys.addaudithook(hook)
            src, out, which, symlinks, with_ignore = sys.argv[1:]
            func = shutil.copytree if which == "shutil" else treecopy.copytree
            ignore = shutil.ignore_patterns("*.pyc", "tmp*") if with_ignore == "1" else None
            func(src, os.path.join(out, "copy"), symlinks=symlinks == "1", ignore=ignore)
            for kind, s, d in events:
                print(kind, s.replace(src, "<SRC>"), d.replace(out, "<OUT>"))
            """)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + sys.path))
        for symlinks in ("0", "1"):
            for with_ignore in ("0", "1"):
                with self.subTest(symlinks=symlinks, ignore=with_ignore):
                    printed = []
                    for which in ("shutil", "treecopy"):
                        out = os.path.join(self.tmp, ("audit-%s-%s-%s" % (which, symlinks, with_ignore)).encode())
                        run = subprocess.run([sys.executable, "-c", script, os.fsdecode(src), os.fsdecode(out),
                                              which, symlinks, with_ignore],
                                             env=env, capture_output=True, text=True, timeout=120)
                        self.assertEqual(run.returncode, 0, run.stderr)
                        printed.append(run.stdout.splitlines())
                    self.assertEqual(printed[0], printed[1])
                    self.assertGreaterEqual(len(printed[0]), 4)

    def test_audit_hook_raising_midway(self):
        """An audit hook that refuses one subdirectory: shutil's partial copy and exception."""
        src = deep_tree(os.path.join(self.tmp, b"src"), depth=2)
        script = textwrap.dedent("""
            import os, shutil, sys
            import treecopy
            from test_engine_path_edges import outcome_and_tree
            from tree_support import diff_snapshots
            def hook(event, args):
                if event == "shutil.copytree" and os.fspath(args[0]).endswith(os.sep + "d2"):
                    raise exc_type("refused")
            sys.addaudithook(hook)
            src, out = sys.argv[1:]
            for exc_type in (RuntimeError, PermissionError):
                results = [outcome_and_tree(func, src, os.path.join(out, exc_type.__name__, name))
                           for name, func in (("shutil", shutil.copytree), ("treecopy", treecopy.copytree))]
                assert results[0][0] == results[1][0], results
                assert diff_snapshots(results[0][1], results[1][1]) == [], diff_snapshots(results[0][1], results[1][1])
                assert len(results[0][1]) > 1, results[0]
            """)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + sys.path))
        run = subprocess.run([sys.executable, "-c", script, os.fsdecode(src), os.fsdecode(os.path.join(self.tmp, b"hook"))],
                             env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_str_and_bytes_mixed(self):
        """src str and dst bytes (or the reverse): shutil calls ignore() for the top, makes dst and
        raises TypeError at its first entry not ignored (dst left empty, without src's times); with
        nothing left to copy there is no TypeError."""
        src = deep_tree(os.path.join(self.tmp, b"src"), depth=1)
        empty = os.path.join(self.tmp, b"empty")
        os.mkdir(empty)
        set_times_deepest_first(empty)
        for tree, everything in ((src, False), (src, True), (empty, False)):
            for src_type in (os.fsdecode, os.fsencode):
                dst_type = os.fsencode if src_type is os.fsdecode else os.fsdecode
                with self.subTest(tree=tree, src=src_type.__name__, everything=everything):
                    results = []
                    for func in (shutil.copytree, treecopy.copytree):
                        rec = Recorder((lambda path, names: names) if everything else (lambda path, names: ()))
                        dst = os.path.join(self.tmp, b"mix-%d-%s" % (self.runs, func.__module__.encode()), b"copy")
                        self.runs += 1
                        try:
                            func(src_type(tree), dst_type(dst), ignore=rec)
                            outcome = ("returned",)
                        except Exception as e:  # noqa: BLE001 - the exception is what is compared
                            outcome = (type(e).__name__, str(e))
                        made = snapshot(dst) if os.path.lexists(dst) else None
                        for entry in (made or {}).values():
                            entry.pop("atime_ns")
                            entry["mtime_ns"] = entry["mtime_ns"] == tree_support.MTIME_NS
                        results.append((outcome, normalize_errors(rec.calls, [(tree, b"<SRC>")]), made))
                    self.assertEqual(results[0], results[1])

    def test_per_file_audit_events(self):
        """With an audit hook installed, every event shutil.copytree raises (shutil.copyfile,
        shutil.copystat, open, os.scandir, os.mkdir, os.utime, os.chmod, os.listxattr...), in the
        same order and with the same paths."""
        src = deep_tree(os.path.join(self.tmp, b"src"), depth=1)
        script = textwrap.dedent("""
            import os, shutil, sys
            import treecopy
            events = []
            def hook(event, args):
                if event.startswith(("shutil.", "os.", "open")):
                    events.append((event,) + tuple(os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike))
                                                   else type(a).__name__ for a in args))
            src, out, which = sys.argv[1:]
            os.mkdir(out)
            os.chdir(out)
            func = shutil.copytree if which == "shutil" else treecopy.copytree
            sys.addaudithook(hook)
            try:
                func(src, "copy", ignore=shutil.ignore_patterns("*.pyc"))
            except shutil.Error as e:  # deep_tree's dangling link
                events.append(("raised",) + tuple(map(repr, e.args[0])))
            for event in events:
                print(repr(event).replace(src, "<SRC>"))
            """)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + sys.path))
        printed = []
        for which in ("shutil", "treecopy"):
            out = os.path.join(self.tmp, b"events-" + which.encode())
            run = subprocess.run([sys.executable, "-c", script, os.fsdecode(src), os.fsdecode(out), which],
                                 env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(run.returncode, 0, run.stderr)
            printed.append(run.stdout.splitlines())
        self.assertEqual(printed[0], printed[1])
        self.assertTrue(any("shutil.copyfile" in line for line in printed[0]))

    def test_symlink_cycle_is_followed_as_shutil_follows_it(self):
        """symlinks=False and a link to an ancestor (the top, or a directory below it): shutil follows
        it until the system refuses (ELOOP), leaving the nested copies; so does treecopy.copytree."""
        for target in (b"..", b"../.."):
            with self.subTest(target=target):
                src = os.path.join(self.tmp, b"src-cycle-%d" % len(target))
                os.makedirs(os.path.join(src, b"a", b"b"))
                write(os.path.join(src, b"top-file"), b"top")
                write(os.path.join(src, b"a", b"b", b"file"), b"inner")
                os.symlink(target, os.path.join(src, b"a", b"b", b"up"))
                set_times_deepest_first(src)
                for kwargs in ({}, {"ignore": shutil.ignore_patterns("*.pyc")}):
                    outcome = self.compare(src, **kwargs)
                    self.assertEqual(outcome[0][0], "shutil.Error")
                    self.assertIn("Too many levels of symbolic links", outcome[0][1][0][2])


if __name__ == "__main__":
    unittest.main()

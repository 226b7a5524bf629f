"""python -m treecopy against the treecopy program: the same copy, output and exit codes, run in
process through treecopy._cli, or by exec of the program on PATH when the package has no _cli.

Run by ctest (python_main) with PYTHONPATH at the build tree's package and TREECOPY_CLI naming the
program; not named test_*.py, so the python_module test (which has no TREECOPY_CLI) leaves it out.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tree_support import set_times_deepest_first, snapshot  # noqa: E402

PROGRAM = os.environ.get("TREECOPY_CLI", "")


def run(argv, cwd, env=None, stdout=subprocess.PIPE):
    return subprocess.run(argv, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE)


@unittest.skipUnless(PROGRAM and os.path.exists(PROGRAM), "TREECOPY_CLI names no treecopy program")
class MainModuleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="treecopy-main-")
        self.addCleanup(shutil.rmtree, self.dir)
        src = os.path.join(self.dir, "src")
        os.makedirs(os.path.join(src, "sub", "deeper"))
        with open(os.path.join(src, "a.txt"), "wb") as f:
            f.write(b"one\n")
        with open(os.path.join(src, "sub", "blob"), "wb") as f:
            f.write(os.urandom(200000))
        os.chmod(os.path.join(src, "sub", "blob"), 0o640)
        os.symlink("../a.txt", os.path.join(src, "sub", "link"))
        os.link(os.path.join(src, "a.txt"), os.path.join(src, "sub", "deeper", "hard"))
        set_times_deepest_first(src)  # atimes that reading the source does not move

    def both(self, args, **kwargs):
        """Runs the program and the module with args; returns (program's, module's) results."""
        program = run([PROGRAM] + args, self.dir, **kwargs)
        module = run([sys.executable, "-m", "treecopy"] + args, self.dir, **kwargs)
        return program, module

    def test_copies_the_tree_as_the_program_does(self):
        program = run([PROGRAM, "-q", "src", "by-program"], self.dir)
        module = run([sys.executable, "-m", "treecopy", "-q", "src", "by-module"], self.dir)
        self.assertEqual(program.returncode, 0, program.stderr)
        self.assertEqual(module.returncode, 0, module.stderr)
        self.assertEqual(module.stderr, b"")
        self.assertEqual(snapshot(os.path.join(self.dir, "by-module")),
                         snapshot(os.path.join(self.dir, "by-program")))
        link = os.path.join(self.dir, "by-module", "sub", "link")
        self.assertEqual(os.readlink(link), "../a.txt")

    def test_help_version_and_bad_usage_say_the_same(self):
        for args, code in ((["--help"], 0), (["--version"], 0), (["--bogus", "src", "x"], 2),
                           (["missing", "x"], 2), (["--reflink=sometimes", "src", "x"], 2),
                           (["src"], 2)):
            program, module = self.both(args)
            self.assertEqual(module.returncode, code, args)
            self.assertEqual(module.returncode, program.returncode, args)
            self.assertEqual(module.stdout, program.stdout, args)
            self.assertEqual(module.stderr, program.stderr, args)
        self.assertTrue(module.stderr.startswith(b"treecopy: "))

    def test_json_summary_and_entry_errors_exit_code(self):
        module = run([sys.executable, "-m", "treecopy", "--json", "src", "dst"], self.dir)
        self.assertEqual(module.returncode, 0, module.stderr)
        summary = json.loads(module.stdout)
        self.assertEqual(summary["status"], "ok")
        self.assertEqual(summary["exit_code"], 0)
        if os.geteuid() == 0:
            return  # root reads everything: no entry error to make
        os.chmod(os.path.join(self.dir, "src", "sub", "blob"), 0)
        module = run([sys.executable, "-m", "treecopy", "-q", "src", "dst2"], self.dir)
        self.assertEqual(module.returncode, 1, module.stderr)

    def test_a_closed_pipe_ends_it_as_it_ends_the_program(self):
        # Python ignores SIGPIPE; the program does not: "treecopy -v ... | head -0".
        for name, argv in (("program", [PROGRAM]), ("module", [sys.executable, "-m", "treecopy"])):
            read_end, write_end = os.pipe()
            os.close(read_end)
            try:
                r = run(argv + ["-v", "src", "dst-" + name], self.dir, stdout=write_end)
            finally:
                os.close(write_end)
            self.assertEqual(r.returncode, -signal.SIGPIPE, (name, r.stderr))

    def test_without_the_extension_it_runs_the_program_on_path(self):
        # A copy of the package without treecopy._cli, the program's directory first on PATH.
        package = os.path.dirname(subprocess.run(
            [sys.executable, "-c", "import treecopy; print(treecopy.__file__)"],
            stdout=subprocess.PIPE, check=True, text=True).stdout.strip())
        root = os.path.join(self.dir, "pkg")
        shutil.copytree(package, os.path.join(root, "treecopy"),
                        ignore=shutil.ignore_patterns("_cli.*", "__pycache__"))
        self.assertFalse(glob.glob(os.path.join(root, "treecopy", "_cli*")))
        env = dict(os.environ, PYTHONPATH=root,
                   PATH=os.path.dirname(PROGRAM) + os.pathsep + os.environ.get("PATH", ""))
        module = run([sys.executable, "-m", "treecopy", "--version"], self.dir, env=env)
        program = run([PROGRAM, "--version"], self.dir)
        self.assertEqual(module.returncode, 0, module.stderr)
        self.assertEqual(module.stdout, program.stdout)
        module = run([sys.executable, "-m", "treecopy", "-q", "src", "by-exec"], self.dir, env=env)
        self.assertEqual(module.returncode, 0, module.stderr)
        self.assertEqual(snapshot(os.path.join(self.dir, "by-exec")),
                         snapshot(os.path.join(self.dir, "src")))
        # Nothing on PATH either: a message and the bad-usage code.
        env["PATH"] = os.path.join(self.dir, "empty")
        module = run([sys.executable, "-m", "treecopy", "src", "x"], self.dir, env=env)
        self.assertEqual(module.returncode, 2)
        self.assertIn(b"no treecopy program is on PATH", module.stderr)


if __name__ == "__main__":
    unittest.main()

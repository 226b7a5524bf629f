#!/usr/bin/env python3
"""Tests of the treecopy CLI's progress views, summaries, signals and dry run, on real copies.

Each test class is one ctest test (see CMakeLists.txt): bar under a pseudo-terminal, lines, json
(NDJSON events and the --json summary), stopping on SIGINT/SIGTERM, dry run, and usage errors.
The CLI is named by $TREECOPY_CLI. Scratch trees go to /dev/shm when it has room, else $TMPDIR.
No test asserts how long anything takes.
"""

import base64
import fcntl
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import unittest

CLI = os.environ.get("TREECOPY_CLI", "treecopy")
BIG_SIZE = 1 << 30  # large enough that copying it takes many progress intervals
NOBODY = 65534
MIB = 1 << 20


def scratch_root():
    """A directory for scratch trees: /dev/shm (real copies, no disk wear) when it has room."""
    for candidate in ("/dev/shm", tempfile.gettempdir()):
        try:
            st = os.statvfs(candidate)
        except OSError:
            continue
        if st.f_bavail * st.f_frsize > 12 * BIG_SIZE:  # the bar test may need 4 GiB twice
            return candidate
    return tempfile.gettempdir()


def write_big_file(path, size=BIG_SIZE):
    """A file of real (non-zero, non-sparse) data, so every byte has to be copied."""
    block = bytes(range(256)) * (MIB // 256)
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(block)


def make_small_files(root, dirs=20, per_dir=100):
    for d in range(dirs):
        sub = os.path.join(root, "small", "d%02d" % d)
        os.makedirs(sub)
        for i in range(per_dir):
            with open(os.path.join(sub, "f%03d" % i), "wb") as f:
                f.write(b"x" * (i * 37 % 4000))


def listing(root):
    """Every entry under root (root included): type, mode, size, mtime, ctime; by bytes path."""
    out = {}
    root = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [b""] + dirnames + filenames if dirpath == root else dirnames + filenames:
            p = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), st.st_mode, st.st_size,
                                             st.st_mtime_ns, st.st_ctime_ns)
    return out


def parse_ndjson(testcase, text):
    """Parses every line of text as JSON (the test fails on the first that does not parse)."""
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            events.append(json.loads(line))
        except ValueError as e:
            testcase.fail("line %d is not JSON (%s): %r" % (number, e, line))
    return events


def unprivileged(argv):
    """argv run as an unprivileged user when we are root (so that mode 000 really denies)."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + argv


class ScratchTest(unittest.TestCase):
    """A scratch directory per test, readable by everyone (see unprivileged())."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="treecopy-progress-", dir=scratch_root())
        os.chmod(self.dir, 0o755)

    def tearDown(self):
        for dirpath, dirnames, _ in os.walk(self.dir):
            for d in dirnames:
                p = os.path.join(dirpath, d)
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
        shutil.rmtree(self.dir)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def make_source(self, big=True, unreadable=False):
        """src/ with many small files, a large file, and optionally a file nobody may read."""
        src = self.path("src")
        os.mkdir(src)
        make_small_files(src)
        if big:
            write_big_file(os.path.join(src, "big"))
        if unreadable:
            secret = os.path.join(src, "secret")
            with open(secret, "w") as f:
                f.write("no")
            os.chmod(secret, 0)
        return src

    def out_dir(self):
        """A directory the (possibly unprivileged) CLI may create DST in."""
        out = self.path("out")
        os.mkdir(out)
        if os.geteuid() == 0:
            os.chown(out, NOBODY, NOBODY)
        return out

    def run_cli(self, *args, **kwargs):
        return subprocess.run([CLI, *args], capture_output=True, **kwargs)


# ---- bar -----------------------------------------------------------------------------------------

BAR_RE = re.compile(rb"^(\d+)/(\d+) entries  ([\d.]+) (B|KiB|MiB|GiB)/")
UNITS = {b"B": 1, b"KiB": 1 << 10, b"MiB": 1 << 20, b"GiB": 1 << 30}


def run_in_pty(argv, columns=100):
    """Runs argv with stdin/stdout/stderr on a new pseudo-terminal of the given width; returns
    (exit status, everything the terminal received)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    data = b""
    while True:
        ready, _, _ = select.select([master], [], [], 600)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return proc.wait(), data


class BarTest(ScratchTest):
    def test_bar_advances_during_large_file_fits_width_and_is_cleared(self):
        src = self.make_source(unreadable=True)
        out = self.out_dir()
        columns = 100
        # The bar redraws every 0.1 s: the copy must last a few redraws. One worker copies the large
        # file as one stream; on a machine fast enough to copy it in under 0.3 s, the file grows
        # fourfold and the copy runs again.
        big_size = BIG_SIZE
        for attempt in range(2):
            dst = os.path.join(out, "dst%d" % attempt)
            code, data = run_in_pty(unprivileged([CLI, "--progress=bar", "-j", "1", src, dst]), columns)
            self.assertEqual(code, 1, data)  # the unreadable file
            frames = [f for f in data.split(b"\r") if BAR_RE.match(f)]
            if len(frames) >= 3 or attempt == 1:
                break
            shutil.rmtree(dst)
            big_size *= 4
            write_big_file(os.path.join(src, "big"), big_size)
        self.assertGreaterEqual(len(frames), 3, data[:2000])
        done = []
        for f in frames:
            self.assertTrue(f.endswith(b"\x1b[K"), f)  # each redraw erases the previous tail
            self.assertLess(len(f) - len(b"\x1b[K"), columns, f)
            m = BAR_RE.match(f)
            done.append(float(m.group(3)) * UNITS[m.group(4)])
        self.assertEqual(done, sorted(done), "bytes done never goes back")
        during_big = {d for d in done if 0 < d < big_size}
        self.assertGreaterEqual(len(during_big), 2, "the bar moves while the large file is copied")

        # The error is a line of its own: the bar was cleared first, the line ends with a newline.
        m = re.search(rb"(?:^|\r\x1b\[K)(treecopy: cannot [^\r\n]*secret[^\r\n]*)\r\n", data)
        self.assertIsNotNone(m, data[-3000:])
        self.assertIn(b"Permission denied", m.group(1))
        self.assertNotIn(b"entries", m.group(1))

        # At the end the bar is erased and only the summary follows.
        tail = data[data.rindex(b"\r\x1b[K") + len(b"\r\x1b[K"):]
        self.assertTrue(tail.startswith(b"treecopy: copied "), tail)
        self.assertNotIn(b"\x1b", tail)
        self.assertNotIn(b"entries  ", tail)
        self.assertEqual(os.path.getsize(os.path.join(dst, "big")), big_size)

    def test_narrow_terminal_keeps_lines_inside_the_width(self):
        src = self.make_source(big=False)
        columns = 30
        code, data = run_in_pty([CLI, "--progress=bar", src, self.path("dst")], columns)
        self.assertEqual(code, 0, data)
        for frame in data.split(b"\r"):
            if frame.endswith(b"\x1b[K") and frame != b"\x1b[K":
                self.assertLess(len(frame) - 3, columns, frame)


# ---- lines ---------------------------------------------------------------------------------------

LINE_RE = re.compile(r"^treecopy: \d+:\d\d  \d+/\d+ entries  \S+ \S+/\S+ \S+  \S+( \S+)?  "
                     r"(ETA \S+|scanning|stopping)")


class LinesTest(ScratchTest):
    def check_plain(self, err):
        self.assertNotIn("\r", err)
        self.assertNotIn("\x1b", err)
        progress = [l for l in err.splitlines() if LINE_RE.match(l)]
        self.assertGreaterEqual(len(progress), 2, err)
        self.assertRegex(err.splitlines()[-1],
                         r"^treecopy: copied \d+ entries \(.*\), .* 0 errors$")

    def test_lines_have_no_carriage_return_nor_escape(self):
        src = self.make_source()
        r = self.run_cli("--progress=lines", "--progress-interval", "0.1", src, self.path("dst"),
                         text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_plain(r.stderr)

    def test_auto_is_lines_when_stderr_is_not_a_terminal(self):
        src = self.make_source()
        r = self.run_cli("--progress-interval", "0.1", src, self.path("dst"), text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_plain(r.stderr)

    def test_quiet_prints_nothing_on_success(self):
        src = self.make_source(big=False)
        r = self.run_cli("-q", src, self.path("dst"))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))


# ---- json ----------------------------------------------------------------------------------------

# Names that JSON must escape: quotes, backslash, newline, control and non-UTF-8 bytes.
ODD_NAMES = [b'quote"d', b"back\\slash", b"new\nline", b"tab\tctl\x01\x7f", b"latin1-\xe9\xff",
             b"caf\xc3\xa9", b"ls\xe2\x80\xa8ps", b"nel\xc2\x85", b"cut-\xe2\x82"]


class JsonTest(ScratchTest):
    def test_every_line_parses_and_finish_equals_summary(self):
        src = self.make_source(unreadable=True)
        dst = os.path.join(self.out_dir(), "dst")
        argv = unprivileged([CLI, "--progress=json", "--progress-interval", "0.1", "--json",
                             src, dst])
        r = subprocess.run(argv, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        events = parse_ndjson(self, r.stderr)
        summary = json.loads(r.stdout)

        kinds = [e["event"] for e in events]
        self.assertEqual(kinds[0], "start")
        self.assertEqual(kinds[-1], "finish")
        self.assertGreaterEqual(kinds.count("progress"), 2)
        self.assertEqual(set(kinds), {"start", "progress", "error", "finish"})

        finish = dict(events[-1])
        del finish["event"]
        self.assertEqual(finish, summary)
        self.assertEqual(summary["status"], "errors")
        self.assertEqual(summary["exit_code"], 1)
        files = 20 * 100 + 1  # the small files and big (secret failed)
        self.assertEqual(summary["entries"]["file"], files)
        self.assertEqual(summary["entries"]["directory"], 1 + 1 + 20)
        self.assertEqual(summary["entries"]["total"], sum(
            v for k, v in summary["entries"].items() if k != "total"))
        self.assertEqual(summary["bytes"], sum(
            os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(dst) for f in fs))

        errors = [e for e in events if e["event"] == "error"]
        self.assertEqual(len(errors), 1)
        self.assertEqual(summary["error_count"], 1)
        e = dict(errors[0])
        self.assertEqual(e["path"], os.path.join(src, "secret"))
        self.assertEqual((e["errno"], e["errno_name"]), (13, "EACCES"))
        self.assertEqual(e["message"], "Permission denied")
        self.assertIn(e["operation"], ("open_source", "read"))
        del e["event"]
        self.assertEqual(summary["errors"], [e])

        progress = [e for e in events if e["event"] == "progress"]
        for key in ("entries_done", "bytes_done", "elapsed"):
            values = [p[key] for p in progress]
            self.assertEqual(values, sorted(values), key)
        self.assertEqual(progress[-1]["bytes_done"], summary["bytes"])
        self.assertTrue(progress[-1]["scan_complete"])

    def test_odd_names_round_trip_through_entry_events(self):
        src = self.path("src")
        os.mkdir(src)
        for name in ODD_NAMES:
            os.mkdir(os.path.join(os.fsencode(src), name))
            with open(os.path.join(os.fsencode(src), name, name), "wb") as f:
                f.write(name)
        events_file = self.path("events.ndjson")
        dst = self.path("dst")
        r = self.run_cli("-v", "--progress-file", events_file, "--json", src, dst)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(events_file, "rb") as f:
            raw = f.read()
        events = parse_ndjson(self, raw.decode("utf-8"))  # names of any bytes, valid UTF-8 JSON
        paths = set()
        for e in events:
            if e["event"] != "entry":
                continue
            exact = (base64.b64decode(e["path_base64"]) if "path_base64" in e
                     else e["path"].encode("utf-8"))
            paths.add(exact)
        expected = {os.fsencode(dst)} | {os.path.join(os.fsencode(dst), p) for p in listing(dst)
                                          if p != b"."}
        self.assertEqual(paths, expected)
        # --json keeps stdout for the summary; the entry lines went to stderr, one line each: a
        # name that needs it is quoted as in error messages.
        self.assertEqual(json.loads(r.stdout)["entries"]["total"], len(expected))
        self.assertIn(b"/new'$'\\n''line'\n", r.stderr)
        self.assertNotIn(b"new\nline", r.stderr)


# ---- signals -------------------------------------------------------------------------------------

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


class SignalTest(ScratchTest):
    def stop_in_the_middle(self, sig, expected_code):
        src = self.make_source()
        dst = self.path("dst")
        lines = []
        sent = False
        with subprocess.Popen([CLI, "--progress=json", "--progress-interval", "0.1", src, dst],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) as proc:
            for line in proc.stderr:
                lines.append(line)
                event = json.loads(line)
                # Once the large file is being written (and far from done), stop the copy.
                if not sent and event["event"] == "progress" and event["bytes_found"] >= BIG_SIZE \
                        and 0 < event["bytes_done"] < BIG_SIZE // 2:
                    proc.send_signal(sig)
                    sent = True
            code = proc.wait()
        self.assertTrue(sent, b"".join(lines))
        self.assertEqual(code, expected_code, b"".join(lines))

        events = [json.loads(l) for l in lines]
        self.assertIn("stop_requested", [e["event"] for e in events])
        finish = events[-1]
        self.assertEqual(finish["event"], "finish")
        self.assertTrue(finish["cancelled"])
        self.assertEqual(finish["status"], "cancelled")
        self.assertEqual(finish["exit_code"], expected_code)
        self.assertEqual(finish["signal"], signal.Signals(sig).name)

        # Whatever exists under a final name is complete; nothing else (no temporary file) exists.
        src_entries = listing(src)
        for rel, (fmt, _, size, _, _) in listing(dst).items():
            self.assertIn(rel, src_entries, "left behind: %r" % rel)
            if fmt == stat.S_IFREG:
                self.assertEqual(size, src_entries[rel][2], rel)
                if size == BIG_SIZE:
                    self.assertEqual(sha256(os.path.join(dst, os.fsdecode(rel))),
                                     sha256(os.path.join(src, os.fsdecode(rel))))
        self.assertFalse(os.path.exists(os.path.join(dst, "big")) and
                         os.path.getsize(os.path.join(dst, "big")) != BIG_SIZE)

    def test_sigint_stops_cleanly_with_130(self):
        self.stop_in_the_middle(signal.SIGINT, 130)

    def test_sigterm_stops_cleanly_with_143(self):
        self.stop_in_the_middle(signal.SIGTERM, 143)

    def test_human_summary_after_sigint(self):
        src = self.make_source()
        out = []
        with subprocess.Popen([CLI, "--progress=lines", "--progress-interval", "0.1", src,
                               self.path("dst")], stderr=subprocess.PIPE, text=True) as proc:
            for line in proc.stderr:
                out.append(line)
                m = re.search(r"entries  (\S+) (\S+)/", line)
                if m and float(m.group(1)) > 0 and m.group(2) in ("MiB", "KiB"):
                    proc.send_signal(signal.SIGINT)
                    break
            out.extend(proc.stderr)
            code = proc.wait()
        text = "".join(out)
        self.assertEqual(code, 130, text)
        self.assertIn("treecopy: SIGINT received: stopping", text)
        self.assertRegex(text, r"treecopy: copied \d+ entries .*\ntreecopy: stopped by SIGINT")

    def test_second_signal_exits_at_once(self):
        src = self.make_source()
        with subprocess.Popen([CLI, "--progress=json", "--progress-interval", "0.1", src,
                               self.path("dst")], stderr=subprocess.PIPE) as proc:
            for line in proc.stderr:
                event = json.loads(line)
                if event["event"] == "progress" and event["bytes_done"] > 0:
                    # Two different signals: two of the same kind may merge into one delivery.
                    proc.send_signal(signal.SIGTERM)
                    proc.send_signal(signal.SIGINT)
                    break
            proc.stderr.read()
            code = proc.wait()
        self.assertIn(code, (130, 143))


# ---- dry run -------------------------------------------------------------------------------------

class DryRunTest(ScratchTest):
    def test_dry_run_changes_nothing_and_lists_everything(self):
        src = self.make_source(big=False)
        os.symlink("small", os.path.join(src, "link"))
        before = listing(self.dir)
        dst = self.path("dst")
        r = self.run_cli("--dry-run", "-v", "--progress=none", src, dst)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(listing(self.dir), before)
        self.assertFalse(os.path.lexists(dst))

        listed = set(r.stdout.split(b"\n")[:-1])
        expected = {os.fsencode(dst)} | {os.path.join(os.fsencode(dst), p) for p in listing(src)
                                          if p != b"."}
        self.assertEqual(listed, expected)
        self.assertIn(b"dry run: would copy %d entries" % len(expected), r.stderr)

    def test_dry_run_merge_into_existing_changes_nothing(self):
        src = self.make_source(big=False)
        dst = self.path("dst")
        self.assertEqual(self.run_cli("-q", src, dst).returncode, 0)
        with open(os.path.join(src, "small", "d00", "f001"), "wb") as f:
            f.write(b"changed")
        before = listing(self.dir)
        r = self.run_cli("--dry-run", "--merge", "--json", src, dst)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(listing(self.dir), before)
        summary = json.loads(r.stdout)
        self.assertTrue(summary["dry_run"])
        self.assertEqual(summary["entries"]["file"], 20 * 100)


# ---- usage ---------------------------------------------------------------------------------------

class UsageTest(ScratchTest):
    def test_bad_progress_values_are_usage_errors(self):
        src = self.make_source(big=False)
        for args in (["--progress=fancy"], ["--progress-interval", "0"],
                     ["--progress=bar", "--progress-file", self.path("p")],
                     ["--progress-file", self.path("no", "such", "dir")]):
            r = self.run_cli(*args, src, self.path("dst"))
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertFalse(os.path.lexists(self.path("dst")))

    def test_setup_error_in_json_outputs(self):
        r = self.run_cli("--progress=json", "--json", self.path("missing"), self.path("dst"),
                         text=True)
        self.assertEqual(r.returncode, 2)
        events = parse_ndjson(self, r.stderr)
        self.assertEqual([e["event"] for e in events], ["start", "finish"])
        summary = json.loads(r.stdout)
        self.assertEqual((summary["status"], summary["exit_code"]), ("setup_error", 2))
        self.assertIn("missing", summary["message"])


if __name__ == "__main__":
    unittest.main()

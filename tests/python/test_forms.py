"""treecopy.copy_tree() with several (src, dst) pairs, files_from, link and link_dest, each checked
against the source tree with tree_support's snapshots."""

import os
import shutil
import tempfile
import unittest

import treecopy
from tree_support import build_tree, diff_snapshots, make_writable, snapshot, write


class Forms(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="treecopy-py-forms-")
        self.src = os.fsdecode(build_tree(os.path.join(self.tmp, "src")))
        self.other = os.path.join(self.tmp, "other")
        os.mkdir(self.other)
        write(os.path.join(self.other, "f"), b"other file")

    def tearDown(self):
        make_writable(self.tmp)
        shutil.rmtree(self.tmp)

    def path(self, *names):
        return os.path.join(self.tmp, *names)

    def test_pairs_in_one_call(self):
        os.mkdir(self.path("out"))
        report = treecopy.copy_tree([(self.src, self.path("out", "a")),
                                     (self.other, self.path("out", "b")),
                                     (self.path("missing"), self.path("out", "c"))], jobs=4)
        self.assertEqual(report.error_count, 1)
        self.assertEqual(report.errors[0].path, self.path("missing"))
        self.assertEqual(diff_snapshots(snapshot(self.src), snapshot(self.path("out", "a"))), [])
        with open(self.path("out", "b", "f"), "rb") as f:  # (reading other/f moved its atime)
            self.assertEqual(f.read(), b"other file")

    def test_files_from_link_and_link_dest(self):
        report = treecopy.copy_tree(self.other, self.path("sel"), files_from=["f"])
        self.assertTrue(report.ok, report.errors)
        self.assertEqual(os.listdir(self.path("sel")), ["f"])
        self.assertTrue(treecopy.copy_tree(self.other, self.path("linked"), link=True).ok)
        self.assertTrue(os.path.samefile(self.path("linked", "f"), os.path.join(self.other, "f")))
        self.assertTrue(treecopy.copy_tree(self.other, self.path("prev")).ok)
        self.assertTrue(treecopy.copy_tree(self.other, self.path("next"),
                                           link_dest=[self.path("prev")]).ok)
        self.assertTrue(os.path.samefile(self.path("next", "f"), self.path("prev", "f")))


if __name__ == "__main__":
    unittest.main()

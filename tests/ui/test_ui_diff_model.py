"""Splitting unified diffs for display: files, counts, and hunk bodies that look like headers."""

from __future__ import annotations

from app.ui.diff_model import parse_unified

TWO_FILES = """diff --git a/src/app.py b/src/app.py
--- a/src/app.py
+++ b/src/app.py
@@ -1,3 +1,3 @@
 import os
--- not a header, a removed line
+++ not a header, an added line
 x = 1
--- /dev/null
+++ b/new.md
@@ -0,0 +1,2 @@
+# Title
+text
\\ No newline at end of file
"""


def test_two_files_with_tricky_lines() -> None:
    doc = parse_unified(TWO_FILES)
    assert [f.path for f in doc.files] == ["src/app.py", "new.md"]
    app, new = doc.files
    assert (app.added, app.removed) == (1, 1)
    assert app.language == "python"
    assert [r.kind for r in app.rows if r.kind in ("add", "del", "ctx")] == [
        "ctx",
        "del",
        "add",
        "ctx",
    ]
    assert new.status == "added"
    assert (new.added, new.removed) == (2, 0)
    assert new.rows[-1].kind == "note"


def test_engine_counts_win() -> None:
    doc = parse_unified(TWO_FILES, {"src/app.py": (7, 9)})
    assert (doc.files[0].added, doc.files[0].removed) == (7, 9)


def test_deleted_and_line_numbers() -> None:
    text = "--- a/gone.txt\n+++ /dev/null\n@@ -3,2 +0,0 @@\n-a\n-b\n"
    f = parse_unified(text).files[0]
    assert f.path == "gone.txt" and f.status == "deleted"
    assert [r.old_no for r in f.rows if r.kind == "del"] == [3, 4]


def test_empty_diff() -> None:
    assert parse_unified("").files == ()


def test_big_diff_parses() -> None:
    body = "".join(f"+line {i}\n" for i in range(10_000))
    doc = parse_unified(f"--- /dev/null\n+++ b/big.txt\n@@ -0,0 +1,10000 @@\n{body}")
    assert doc.files[0].added == 10_000

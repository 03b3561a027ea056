"""Unified diffs: new, deleted, renamed files, mode changes, binary refusal, no-newline markers."""

from __future__ import annotations

import pytest

from app.patch import PatchError, parse_patch

GIT = """diff --git a/src/x.py b/src/x.py
index 1111111..2222222 100644
--- a/src/x.py
+++ b/src/x.py
@@ -1,3 +1,3 @@
 a
-b
+B
 c
diff --git a/new.txt b/new.txt
new file mode 100755
index 0000000..3333333
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+one
+two
\\ No newline at end of file
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 4444444..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/old name.txt b/new name.txt
similarity index 100%
rename from old name.txt
rename to new name.txt
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
"""


def test_git_diff_constructs() -> None:
    p = parse_patch(GIT)
    assert p.format == "unified"
    upd, new, gone, ren, mode = p.files
    assert (upd.op, upd.path, upd.hunks[0].old_start) == ("update", "src/x.py", 1)
    assert upd.removed_lines == ("b",) and upd.added_lines == ("B",)
    assert (new.op, new.path, new.content, new.new_mode) == ("add", "new.txt", "one\ntwo", 0o100755)
    assert (gone.op, gone.path, gone.removed_lines) == ("delete", "gone.txt", ("bye",))
    assert (ren.op, ren.path, ren.move_to, ren.hunks) == (
        "update",
        "old name.txt",
        "new name.txt",
        (),
    )
    assert (mode.op, mode.old_mode, mode.new_mode) == ("update", 0o100644, 0o100755)


def test_plain_unified_without_git_header_keeps_paths() -> None:
    p = parse_patch("--- hello.c\t2024-01-01\n+++ hello.c\t2024-01-02\n@@ -1 +1 @@\n-x\n+y\n")
    assert p.files[0].path == "hello.c"


def test_quoted_paths_are_unescaped() -> None:
    text = (
        'diff --git "a/t\\303\\251st.txt" "b/t\\303\\251st.txt"\n'
        '--- "a/t\\303\\251st.txt"\n+++ "b/t\\303\\251st.txt"\n@@ -1 +1 @@\n-a\n+b\n'
    )
    assert parse_patch(text).files[0].path == "tést.txt"


def test_binary_is_kept_as_binary_not_dropped() -> None:
    text = (
        "diff --git a/img.png b/img.png\nnew file mode 100644\nindex 0000000..3333333\n"
        "Binary files /dev/null and b/img.png differ\n"
    )
    (fc,) = parse_patch(text).files
    assert fc.binary and fc.op == "add"


def test_git_binary_patch_is_binary() -> None:
    text = (
        "diff --git a/bin b/bin\nindex 1..2 100644\nGIT binary patch\nliteral 5\nMcmZQzU|?hb00\n\n"
        "literal 0\nHcmV?d00001\n\n"
    )
    (fc,) = parse_patch(text).files
    assert fc.binary


def test_no_newline_markers() -> None:
    text = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n"
    (h,) = parse_patch(text).files[0].hunks
    assert h.old_eof_no_newline and not h.new_eof_no_newline


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc\n",
            "symlink",
        ),
        (
            "diff --git a/s b/s\nnew file mode 160000\n--- /dev/null\n+++ b/s\n@@ -0,0 +1 @@\n+Subproject commit 1\n",
            "submodule",
        ),
        ("diff --git a/a b/b\nsimilarity index 100%\ncopy from a\ncopy to b\n", "copies"),
        ("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n-a\n", "invalid unified diff"),
        ("diff --git a/f b/f\n", "changes nothing"),
    ],
)
def test_refusals(text: str, needle: str) -> None:
    with pytest.raises(PatchError, match=needle):
        parse_patch(text)


def test_unified_diff_of_a_doc_about_v4a_is_unified() -> None:
    text = "--- a/doc.md\n+++ b/doc.md\n@@ -1,2 +1,2 @@\n *** Begin Patch\n-*** Add File: x\n+*** Add File: y\n"
    p = parse_patch(text)
    assert p.format == "unified"
    assert p.files[0].hunks[0].lines[0] == (" ", "*** Begin Patch")


def test_differing_names_without_rename_lines_are_not_a_move() -> None:
    (fc,) = parse_patch("--- f.orig\n+++ f\n@@ -1 +1 @@\n-a\n+b\n").files
    assert (fc.path, fc.move_to) == ("f", None)
    with pytest.raises(PatchError, match="changes nothing"):
        parse_patch("--- a\n+++ b\n")

"""Matching: the four passes, anchors, End of File, ambiguity, line endings, error messages."""

from __future__ import annotations

import pytest
from patchkit import v4a

from app.patch import PatchError, parse_patch
from app.patch.match import apply_hunks


def run(text: str, patch_body: str) -> str:
    (fc,) = parse_patch(v4a("*** Update File: f\n" + patch_body)).files
    return apply_hunks("f", text, fc.hunks, "v4a")


def test_exact() -> None:
    assert run("a\nb\nc\n", "@@\n a\n-b\n+B") == "a\nB\nc\n"


def test_trailing_whitespace_pass_keeps_the_files_context_bytes() -> None:
    assert run("a  \nb\t\nc\n", "@@\n a\n-b\n+B") == "a  \nB\nc\n"


def test_surrounding_whitespace_pass() -> None:
    assert run("    a\n    b\n", "@@\n a\n-b\n+    B") == "    a\n    B\n"


def test_typographic_punctuation_pass() -> None:
    src = "say \u201chi\u201d \u2014 it\u2019s\u00a0fine\nnext\n"
    assert run(src, '@@\n-say "hi" - it\'s fine\n+plain') == "plain\nnext\n"


def test_stricter_pass_wins_over_looser_one() -> None:
    # "x" matches exactly at line 3 and whitespace-insensitively at line 1: exact decides.
    assert run(" x\ny\nx\n", "@@\n-x\n+z") == " x\ny\nz\n"


def test_anchor_narrows_the_search() -> None:
    src = "def a():\n    return 1\n\ndef b():\n    return 1\n"
    out = run(src, "@@ def b():\n-    return 1\n+    return 2")
    assert out == "def a():\n    return 1\n\ndef b():\n    return 2\n"


def test_stacked_anchors() -> None:
    src = "class A:\n  def f():\n    pass\nclass B:\n  def f():\n    pass\n"
    out = run(src, "@@ class B:\n@@   def f():\n-    pass\n+    return")
    assert out.endswith("class B:\n  def f():\n    return\n")


def test_anchor_with_pure_insertion_inserts_after_anchor() -> None:
    assert run("a\nb\nc\n", "@@ a\n+inserted") == "a\ninserted\nb\nc\n"


def test_pure_insertion_without_anchor_appends() -> None:
    assert run("a\nb\n", "@@\n+c\n+d") == "a\nb\nc\nd\n"


def test_ambiguous_without_anchor_is_an_error_naming_file_and_lines() -> None:
    with pytest.raises(PatchError) as info:
        run("x = 1\ny\nx = 1\n", "@@\n-x = 1\n+x = 2")
    msg = str(info.value)
    assert msg.startswith("f: hunk 1 is ambiguous")
    assert "lines 1, 3" in msg and "'x = 1'" in msg


def test_ambiguous_anchor() -> None:
    src = "def f():\n    a\ndef f():\n    b\n"
    with pytest.raises(PatchError, match="ambiguous"):
        run(src, "@@ def f():\n-    b\n+    c")
    # the nearest match after the first anchor is fine
    assert run(src, "@@ def f():\n-    a\n+    c") == "def f():\n    c\ndef f():\n    b\n"


def test_later_hunks_search_after_earlier_ones() -> None:
    src = "x\nsep\nx\n"
    out = run(src, "@@\n-x\n+1\n sep\n@@\n-x\n+2")
    assert out == "1\nsep\n2\n"


def test_end_of_file_anchors_at_the_end() -> None:
    src = "tail\nmiddle\ntail\n"
    assert run(src, "@@\n-tail\n+end\n*** End of File") == "tail\nmiddle\nend\n"
    with pytest.raises(PatchError, match="end of the file"):
        run(src, "@@\n-middle\n+m\n*** End of File")


def test_missing_context_names_the_line() -> None:
    with pytest.raises(
        PatchError, match=r"^f: hunk 1 does not match: line 'nope' is not in the file$"
    ):
        run("a\nb\n", "@@\n a\n-nope\n+x")
    with pytest.raises(PatchError, match="not together"):
        run("a\nb\nc\n", "@@\n a\n-c\n+x")
    with pytest.raises(PatchError, match="context line 'missing' not found"):
        run("a\n", "@@ missing\n-a\n+b")


def test_crlf_file_stays_crlf() -> None:
    assert run("a\r\nb\r\n", "@@\n a\n-b\n+B") == "a\r\nB\r\n"


def test_missing_final_newline_is_added_like_apply_patch() -> None:
    assert run("a\nb", "@@\n-b\n+c") == "a\nc\n"


def test_trailing_blank_context_is_dropped_when_it_does_not_match() -> None:
    assert run("a\nb\n", "@@\n-b\n+c\n") == "a\nc\n"
    (fc,) = parse_patch(v4a("*** Update File: f\n@@\n-b\n+c\n\n")).files
    assert apply_hunks("f", "a\nb\n", fc.hunks, "v4a") == "a\nc\n"


def test_deleting_everything_leaves_an_empty_file() -> None:
    assert run("only\n", "@@\n-only") == ""


def test_unified_line_numbers_pick_the_nearest_match() -> None:
    src = "x\nfill\nfill\nx\n"
    (fc,) = parse_patch("--- a/f\n+++ b/f\n@@ -4 +4 @@\n-x\n+y\n").files
    assert apply_hunks("f", src, fc.hunks, "unified") == "x\nfill\nfill\ny\n"


def test_unified_no_newline_markers() -> None:
    (fc,) = parse_patch(
        "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n"
    ).files
    assert apply_hunks("f", "a", fc.hunks, "unified") == "b\n"
    (fc,) = parse_patch(
        "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n\\ No newline at end of file\n"
    ).files
    assert apply_hunks("f", "a\n", fc.hunks, "unified") == "b"


def test_anchor_repeated_as_first_context_line() -> None:
    src = "x\ndef f():\n    pass\n"
    assert run(src, "@@ def f():\n def f():\n-    pass\n+    return") == "x\ndef f():\n    return\n"


def test_identical_hunks_over_identical_places_are_not_ambiguous() -> None:
    src = "def a():\n    foo()\n\ndef b():\n    foo()\n"
    out = run(src, "@@\n-    foo()\n+    bar()\n@@\n-    foo()\n+    bar()")
    assert out == "def a():\n    bar()\n\ndef b():\n    bar()\n"
    # one hunk for two places still is
    with pytest.raises(PatchError, match="ambiguous"):
        run(src, "@@\n-    foo()\n+    bar()")
    # and so are two hunks for three places
    with pytest.raises(PatchError, match="ambiguous"):
        run(src + "    foo()\n", "@@\n-    foo()\n+    bar()\n@@\n-    foo()\n+    bar()")

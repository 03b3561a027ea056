"""Round trips: every construct of both formats applied to real files; the rendered diff, read
back as a unified diff and applied to the old tree, gives exactly the new tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchkit import contents, v4a, write_tree

from app.patch import parse_patch
from app.patch.apply import apply_plan
from app.patch.match import apply_hunks
from app.patch.plan import Plan, build_plan
from app.patch.render import render_file

BEFORE = {
    "src/app.py": "import os\n\n\ndef main():\n    print('hi')\n    return 0\n",
    "docs/readme.md": "# Title\n\nSome text.\n",
    "old.txt": "to be deleted\n",
    "keep.txt": "unchanged\n",
    "rename/me.txt": "move me\nplease\n",
    "script.sh": "#!/bin/sh\necho hi\n",
    "crlf.txt": "one\r\ntwo\r\n",
    "nonl.txt": "no newline",
}

V4A_PATCH = v4a(
    """
*** Add File: new/deep/file.txt
+fresh
+content
*** Update File: src/app.py
@@ def main():
-    print('hi')
+    print('hello')
     return 0
*** Delete File: old.txt
*** Update File: rename/me.txt
*** Move to: moved/you.txt
@@
 move me
-please
+thanks
*** Update File: docs/readme.md
@@
 Some text.
+More text.
*** End of File
*** Update File: crlf.txt
@@
-two
+TWO
*** Update File: nonl.txt
@@
-no newline
+now with one
*** Add File: keep.txt
+replaced entirely
"""
)

UNIFIED_PATCH = """diff --git a/src/app.py b/src/app.py
--- a/src/app.py
+++ b/src/app.py
@@ -4,3 +4,3 @@
 def main():
-    print('hi')
+    print('hello')
     return 0
diff --git a/new.txt b/new.txt
new file mode 100644
--- /dev/null
+++ b/new.txt
@@ -0,0 +1 @@
+n
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-to be deleted
diff --git a/rename/me.txt b/moved/you.txt
similarity index 60%
rename from rename/me.txt
rename to moved/you.txt
--- a/rename/me.txt
+++ b/moved/you.txt
@@ -1,2 +1,2 @@
 move me
-please
+thanks
diff --git a/script.sh b/script.sh
old mode 100644
new mode 100755
diff --git a/nonl.txt b/nonl.txt
--- a/nonl.txt
+++ b/nonl.txt
@@ -1 +1 @@
-no newline
\\ No newline at end of file
+still none
\\ No newline at end of file
"""


def _tree(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    root.mkdir()
    write_tree(root, BEFORE)
    (root / "script.sh").chmod(0o644)
    return root


def _apply(root: Path, text: str) -> Plan:
    plan = build_plan(parse_patch(text), root)
    apply_plan(plan)
    return plan


def test_v4a_every_construct(tmp_path: Path) -> None:
    root = _tree(tmp_path, "ws")
    plan = _apply(root, V4A_PATCH)
    got = contents(root)
    assert got["new/deep/file.txt"] == b"fresh\ncontent\n"
    assert (root / "src/app.py").read_bytes().endswith(b"    print('hello')\n    return 0\n")
    assert "old.txt" not in got and "rename/me.txt" not in got
    assert got["moved/you.txt"] == b"move me\nthanks\n"
    assert got["docs/readme.md"] == b"# Title\n\nSome text.\nMore text.\n"
    assert got["crlf.txt"] == b"one\r\nTWO\r\n"
    assert got["nonl.txt"] == b"now with one\n"
    assert got["keep.txt"] == b"replaced entirely\n"
    diff = plan.unified_diff
    assert "rename from rename/me.txt\nrename to moved/you.txt" in diff
    # an Add over an existing file is shown as a full replacement
    assert "-unchanged\n+replaced entirely\n" in diff
    counts = dict((p, (a, r)) for p, a, r in plan.counts)
    assert counts["new/deep/file.txt"] == (2, 0)
    assert counts["old.txt"] == (0, 1)
    assert counts["keep.txt"] == (1, 1)


def test_unified_every_construct(tmp_path: Path) -> None:
    root = _tree(tmp_path, "ws")
    _apply(root, UNIFIED_PATCH)
    got = contents(root)
    assert got["new.txt"] == b"n\n"
    assert "old.txt" not in got
    assert got["moved/you.txt"] == b"move me\nthanks\n"
    assert got["nonl.txt"] == b"still none"
    assert (root / "script.sh").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize("patch", [V4A_PATCH, UNIFIED_PATCH], ids=["v4a", "unified"])
def test_rendered_diff_reapplies_to_the_same_tree(tmp_path: Path, patch: str) -> None:
    first = _tree(tmp_path, "first")
    plan = _apply(first, patch)
    second = _tree(tmp_path, "second")
    reparsed = parse_patch(plan.unified_diff)
    assert reparsed.format == "unified"
    apply_plan(build_plan(reparsed, second))
    assert contents(second) == contents(first)


def test_sections_on_one_file_compose_in_order(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    patch = v4a(
        "*** Add File: f.txt\n+a\n+b\n*** Update File: f.txt\n@@\n-b\n+c\n"
        "*** Update File: f.txt\n*** Move to: g.txt\n@@\n a\n+z"
    )
    _apply(root, patch)
    assert contents(root) == {"g.txt": b"a\nz\nc\n"}


def test_move_overwrites_existing_destination(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    write_tree(root, {"a.txt": "x\n", "b.txt": "old\n"})
    plan = _apply(root, v4a("*** Update File: a.txt\n*** Move to: b.txt\n@@\n-x\n+y"))
    assert contents(root) == {"b.txt": b"y\n"}
    assert "-old\n+y\n" in plan.unified_diff


def test_responses_operations_apply(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    write_tree(root, {"a.txt": "1\n2\n", "gone.txt": "x\n"})
    _apply(root, '{"type": "create_file", "path": "n.txt", "diff": "+hello\\n"}')
    _apply(
        root,
        '{"operation": {"type": "update_file", "path": "a.txt", "diff": "@@\\n 1\\n-2\\n+3\\n"}}',
    )
    _apply(root, '[{"type": "delete_file", "path": "gone.txt"}]')
    assert contents(root) == {"a.txt": b"1\n3\n", "n.txt": b"hello\n"}


def test_utf8_bom_and_unicode_survive(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "u.txt").write_bytes("\ufeffnaïve café\nline\n".encode())
    _apply(root, v4a("*** Update File: u.txt\n@@\n-naïve café\n+naïve café ✅"))
    assert (root / "u.txt").read_bytes() == "\ufeffnaïve café ✅\nline\n".encode()


def test_mode_is_preserved_on_update(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    write_tree(root, {"x.sh": "a\n"})
    (root / "x.sh").chmod(0o750)
    _apply(root, v4a("*** Update File: x.sh\n@@\n-a\n+b"))
    assert (root / "x.sh").stat().st_mode & 0o777 == 0o750


_line = st.sampled_from(["a\n", "b\n", "c\n", "  a\n", "x\n", "\n"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_line, max_size=30),
    st.lists(_line, max_size=30),
    st.booleans(),
    st.booleans(),
)
def test_rendering_is_exactly_what_applies(
    a: list[str], b: list[str], cut_a: bool, cut_b: bool
) -> None:
    """Property: the rendered diff of (old, new), parsed back and applied to old, gives new."""
    if a and cut_a:
        a[-1] = a[-1].rstrip("\n") or "z"
    if b and cut_b:
        b[-1] = b[-1].rstrip("\n") or "z"
    old, new = "".join(a), "".join(b)
    rendered = render_file("f", old.encode(), new.encode())
    if old == new:
        assert rendered.text == ""
        return
    (fc,) = parse_patch(rendered.text).files
    assert apply_hunks("f", old, fc.hunks, "unified") == new
    assert rendered.added == len(fc.added_lines) and rendered.removed == len(fc.removed_lines)


def test_binary_file_replaced_by_text_shows_the_new_text(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "blob").write_bytes(b"\x00\xff\x00")
    (root / "gone.bin").write_bytes(b"\x00\x01")
    plan = build_plan(
        parse_patch(v4a("*** Add File: blob\n+now text\n*** Delete File: gone.bin")), root
    )
    diff = plan.unified_diff
    assert "Binary file blob (3 bytes) is replaced" in diff and "+now text" in diff
    assert "Binary file gone.bin (2 bytes) is deleted" in diff
    apply_plan(plan)
    assert (root / "blob").read_bytes() == b"now text\n" and not (root / "gone.bin").exists()

"""V4A parsing: every construct, the leniencies models need, and the strictness that matters."""

from __future__ import annotations

import pytest
from patchkit import v4a

from app.patch import PatchError, parse_patch
from app.patch.model import Hunk


def test_every_construct_parses() -> None:
    p = parse_patch(
        v4a(
            """
*** Add File: pkg/new.py
+import os
+
+print(os.sep)
*** Delete File: old.txt
*** Update File: src/app.py
*** Move to: src/main.py
@@ class App:
@@     def run(self):
         x = 1
-        return x
+        return x + 1
@@
 tail
+more
*** End of File
"""
        )
    )
    assert p.format == "v4a"
    add, delete, update = p.files
    assert (add.op, add.path, add.content) == ("add", "pkg/new.py", "import os\n\nprint(os.sep)\n")
    assert add.added_lines == ("import os", "", "print(os.sep)")
    assert (delete.op, delete.path) == ("delete", "old.txt")
    assert (update.op, update.path, update.move_to) == ("update", "src/app.py", "src/main.py")
    h1, h2 = update.hunks
    assert h1.anchors == ("class App:", "    def run(self):")
    assert h1.old_lines == ("        x = 1", "        return x")
    assert h1.new_lines == ("        x = 1", "        return x + 1")
    assert not h1.end_of_file
    assert h2 == Hunk(lines=((" ", "tail"), ("+", "more")), end_of_file=True)
    assert update.removed_lines == ("        return x",)
    assert update.added_lines == ("        return x + 1", "more")


def test_first_hunk_without_header_and_blank_context_line() -> None:
    p = parse_patch(v4a("*** Update File: f.py\n import foo\n\n+bar"))
    (h,) = p.files[0].hunks
    assert h.lines == ((" ", "import foo"), (" ", ""), ("+", "bar"))


@pytest.mark.parametrize(
    "wrapped",
    [
        "apply_patch <<'EOF'\n{p}EOF\n",
        "<<EOF\n{p}EOF",
        '<<"PATCH"\n{p}PATCH\n',
        "\n\n  {p}\n\n",
        "```diff\n{p}```\n",
        "```\n{p}```",
    ],
)
def test_wrappers_and_surrounding_whitespace(wrapped: str) -> None:
    inner = v4a("*** Add File: a.txt\n+x")
    p = parse_patch(wrapped.replace("{p}", inner))
    assert p.files[0].content == "x\n"


def test_padded_markers_and_crlf() -> None:
    text = (
        " *** Begin Patch \r\n  *** Update File: a.txt\r\n@@\r\n-one\r\n+two\r\n *** End Patch \r\n"
    )
    (fc,) = parse_patch(text).files
    assert fc.hunks[0].lines == (("-", "one"), ("+", "two"))


def test_unified_style_header_is_a_bare_anchor() -> None:
    (fc,) = parse_patch(v4a("*** Update File: a\n@@ -1,2 +1,2 @@\n-a\n+b")).files
    assert fc.hunks[0].anchors == ()


def test_blank_lines_between_sections_and_inside_added_file() -> None:
    p = parse_patch(v4a("*** Add File: a\n+1\n\n+3\n\n*** Delete File: b\n\n"))
    assert p.files[0].content == "1\n\n3\n"
    assert p.files[1].op == "delete"


def test_pure_rename() -> None:
    (fc,) = parse_patch(v4a("*** Update File: a\n*** Move to: b")).files
    assert (fc.path, fc.move_to, fc.hunks) == ("a", "b", ())


def test_empty_add_is_an_empty_file() -> None:
    (fc,) = parse_patch(v4a("*** Add File: empty")).files
    assert fc.content == ""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("bad", "not a patch"),
        ("*** Begin Patch\n*** Add File: a\n+x\n", "last line"),
        ("*** Add File: a\n+x\n*** End Patch", "first line"),
        (v4a("*** Frobnicate File: a"), "not a section header"),
        (v4a("*** Update File: a"), "has no hunks"),
        (v4a("*** Update File: a\n@@\n"), "has no lines"),
        (v4a("*** Update File: a\n@@\n*** End of File"), "has no lines"),
        (v4a("*** Update File: a\n*** End of File"), "End of File"),
        (v4a("*** Update File: a\n@@\nnot prefixed"), "unexpected line"),
        (v4a("*** Update File: a\n@@\n-x\n*** End of File\n+y"), "expected '@@'"),
        (v4a("*** Add File: a\nno plus"), "must start with '+'"),
        (v4a("*** Add File: "), "without a path"),
        (v4a("*** Update File: a\n*** Move to: "), "without a path"),
        (v4a("*** Delete File: a\n+junk"), "not a section header"),
        (v4a("*** Update File: a\n@@\n-x\n*** Bogus"), "unexpected marker"),
        ("<<'EOF'\n*** Begin Patch\n*** Update File: a\nEOF\n", "last line"),
        ("<<\"EOF'\n" + v4a("*** Add File: a\n+x") + "EOF\n", "first line"),
    ],
)
def test_errors_are_one_line_patch_errors(text: str, needle: str) -> None:
    with pytest.raises(PatchError) as info:
        parse_patch(text)
    msg = str(info.value)
    assert needle in msg
    assert "\n" not in msg


def test_error_names_the_line_number() -> None:
    with pytest.raises(PatchError, match=r"^line 4: "):
        parse_patch(v4a("*** Update File: a\n@@\nwhat"))


def test_nul_byte_refused() -> None:
    with pytest.raises(PatchError, match="NUL"):
        parse_patch(v4a("*** Add File: a\n+x\x00y"))


def test_format_forced_unified_does_not_read_v4a() -> None:
    with pytest.raises(PatchError, match="no file changes"):
        parse_patch(v4a("*** Add File: a\n+x"), "unified")


def test_marker_text_inside_a_hunk_is_context() -> None:
    text = v4a(
        "*** Update File: doc.md\n *** Add File: example.txt\n-old\n+new\n"
        " *** End of File\n *** End Patch\n*** Delete File: x"
    )
    doc, x = parse_patch(text).files
    assert doc.hunks[0].lines == (
        (" ", "*** Add File: example.txt"),
        ("-", "old"),
        ("+", "new"),
        (" ", "*** End of File"),
        (" ", "*** End Patch"),
    )
    assert not doc.hunks[0].end_of_file
    assert (x.op, x.path) == ("delete", "x")

"""V4A conformance through `lockgate patch apply`, scenario by scenario (our own cases, modelled
on apply_patch's documented behaviour): input tree + patch → expected tree and report, or exit 1
with the tree untouched."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from patchkit import run_patch, snapshot, write_tree


@dataclass(frozen=True)
class Case:
    name: str
    before: dict[str, str | bytes]
    patch: str
    after: dict[str, str | bytes] | None  # None: refused, tree unchanged
    report: str = ""
    error: str = ""
    dirs: tuple[str, ...] = field(default=())


CASES = [
    Case(
        "add_file",
        {},
        "*** Begin Patch\n*** Add File: bar.md\n+This is a new file\n*** End Patch\n",
        {"bar.md": "This is a new file\n"},
        "A bar.md",
    ),
    Case(
        "multiple_operations",
        {"modify.txt": "line1\nline2\n", "delete.txt": "obsolete\n"},
        "*** Begin Patch\n*** Add File: nested/new.txt\n+created\n*** Delete File: delete.txt\n"
        "*** Update File: modify.txt\n@@\n-line2\n+changed\n*** End Patch",
        {"modify.txt": "line1\nchanged\n", "nested/new.txt": "created\n"},
        "A nested/new.txt\nM modify.txt\nD delete.txt",
    ),
    Case(
        "multiple_chunks",
        {"multi.txt": "line1\nline2\nline3\nline4\n"},
        "*** Begin Patch\n*** Update File: multi.txt\n@@\n-line2\n+changed2\n@@\n-line4\n+changed4\n*** End Patch",
        {"multi.txt": "line1\nchanged2\nline3\nchanged4\n"},
        "M multi.txt",
    ),
    Case(
        "move_to_new_directory",
        {"old/name.txt": "old content\n", "old/other.txt": "other\n"},
        "*** Begin Patch\n*** Update File: old/name.txt\n*** Move to: renamed/dir/name.txt\n@@\n"
        "-old content\n+new content\n*** End Patch",
        {"old/other.txt": "other\n", "renamed/dir/name.txt": "new content\n"},
        "M renamed/dir/name.txt",
    ),
    Case(
        "move_overwrites_destination",
        {"old/name.txt": "from\n", "renamed/dir/name.txt": "existing\n"},
        "*** Begin Patch\n*** Update File: old/name.txt\n*** Move to: renamed/dir/name.txt\n@@\n-from\n+new\n*** End Patch",
        {"renamed/dir/name.txt": "new\n"},
        "M renamed/dir/name.txt",
        dirs=("old",),
    ),
    Case(
        "add_overwrites_existing",
        {"duplicate.txt": "old content\n"},
        "*** Begin Patch\n*** Add File: duplicate.txt\n+new content\n*** End Patch",
        {"duplicate.txt": "new content\n"},
        "A duplicate.txt",
    ),
    Case(
        "appends_trailing_newline",
        {"no_newline.txt": "no newline at end"},
        "*** Begin Patch\n*** Update File: no_newline.txt\n@@\n-no newline at end\n+first line\n+second line\n*** End Patch",
        {"no_newline.txt": "first line\nsecond line\n"},
    ),
    Case(
        "pure_addition_chunk_appends",
        {"input.txt": "line1\nline2\n"},
        "*** Begin Patch\n*** Update File: input.txt\n@@\n+added line 1\n+added line 2\n*** End Patch",
        {"input.txt": "line1\nline2\nadded line 1\nadded line 2\n"},
    ),
    Case(
        "whitespace_padded_header",
        {"foo.txt": "old\n"},
        "*** Begin Patch\n  *** Update File: foo.txt\n@@\n-old\n+new\n*** End Patch\n",
        {"foo.txt": "new\n"},
    ),
    Case(
        "whitespace_padded_markers",
        {"file.txt": "one\n"},
        " *** Begin Patch \n*** Update File: file.txt\n@@\n-one\n+two\n *** End Patch \n",
        {"file.txt": "two\n"},
    ),
    Case(
        "unicode",
        {"foo.txt": "line1\nnaïve café\nline3\n"},
        "*** Begin Patch\n*** Update File: foo.txt\n@@\n line1\n-naïve café\n+naïve café ✅\n*** End Patch",
        {"foo.txt": "line1\nnaïve café ✅\nline3\n"},
    ),
    Case(
        "delete_file",
        {"keep.txt": "keep\n", "obsolete.txt": "x\n"},
        "*** Begin Patch\n*** Delete File: obsolete.txt\n*** End Patch",
        {"keep.txt": "keep\n"},
        "D obsolete.txt",
    ),
    Case(
        "deletion_only_hunk",
        {"lines.txt": "line1\nline2\nline3\n"},
        "*** Begin Patch\n*** Update File: lines.txt\n@@\n line1\n-line2\n line3\n*** End Patch",
        {"lines.txt": "line1\nline3\n"},
    ),
    Case(
        "end_of_file_marker",
        {"tail.txt": "first\nsecond\n"},
        "*** Begin Patch\n*** Update File: tail.txt\n@@\n first\n-second\n+second updated\n*** End of File\n*** End Patch",
        {"tail.txt": "first\nsecond updated\n"},
    ),
    Case(
        "crlf_preserved",
        {"crlf.txt": b"one\r\ntwo\r\nthree\r\n"},
        "*** Begin Patch\n*** Update File: crlf.txt\n@@\n-one\n+uno\n@@\n two\n+\n+between\n three\n*** End Patch",
        {"crlf.txt": b"uno\r\ntwo\r\n\r\nbetween\r\nthree\r\n"},
    ),
    Case(
        "mixed_endings_untouched_lines_keep_theirs",
        {"mixed.txt": b"one\r\ntwo\nthree\r\nfour\n"},
        "*** Begin Patch\n*** Update File: mixed.txt\n@@\n one\n two\n-three\n+THREE\n four\n*** End Patch",
        {"mixed.txt": b"one\r\ntwo\nTHREE\r\nfour\n"},
    ),
    Case(
        "repeated_context_line_ending",
        {"r.txt": b"same\r\nsame\n"},
        "*** Begin Patch\n*** Update File: r.txt\n@@\n-same\n same\n*** End Patch",
        {"r.txt": b"same\n"},
    ),
    Case(
        "crlf_for_new_trailing_newline",
        {"n.txt": b"one\r\ntwo"},
        "*** Begin Patch\n*** Update File: n.txt\n@@\n-one\n+ONE\n*** End Patch",
        {"n.txt": b"ONE\r\ntwo\r\n"},
    ),
    Case(
        "change_order_with_repeated_lines",
        {"repeated.txt": "a\nb\n"},
        "*** Begin Patch\n*** Update File: repeated.txt\n@@\n-a\n-b\n+b\n+b\n+a\n*** End Patch",
        {"repeated.txt": "b\nb\na\n"},
    ),
    Case(
        "heredoc_wrapper",
        {"a.txt": "x\n"},
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: a.txt\n@@\n-x\n+y\n*** End Patch\nEOF\n",
        {"a.txt": "y\n"},
    ),
    Case(
        "first_hunk_without_header",
        {"f.py": "import foo\nrest\n"},
        "*** Begin Patch\n*** Update File: f.py\n import foo\n+import bar\n*** End Patch",
        {"f.py": "import foo\nimport bar\nrest\n"},
    ),
    Case(
        "context_anchor",
        {
            "c.py": "class A:\n    def f(self):\n        return 1\nclass B:\n    def f(self):\n        return 1\n"
        },
        "*** Begin Patch\n*** Update File: c.py\n@@ class B:\n     def f(self):\n-        return 1\n+        return 2\n*** End Patch",
        {
            "c.py": "class A:\n    def f(self):\n        return 1\nclass B:\n    def f(self):\n        return 2\n"
        },
    ),
    Case(
        "fuzzy_whitespace_and_punctuation",
        {"w.txt": "  say \u201chello\u201d  \nend\n"},
        '*** Begin Patch\n*** Update File: w.txt\n@@\n-say "hello"\n+say hi\n*** End Patch',
        {"w.txt": "say hi\nend\n"},
    ),
    Case(
        "identical_hunks_identical_places",
        {"r.py": "def a():\n    foo()\n\ndef b():\n    foo()\n"},
        "*** Begin Patch\n*** Update File: r.py\n@@\n-    foo()\n+    bar()\n@@\n-    foo()\n+    bar()\n*** End Patch",
        {"r.py": "def a():\n    bar()\n\ndef b():\n    bar()\n"},
    ),
    # refusals: exit 1, tree untouched
    Case(
        "rejects_empty_patch",
        {"foo.txt": "x\n"},
        "*** Begin Patch\n*** End Patch",
        None,
        error="no file changes",
    ),
    Case(
        "rejects_missing_context",
        {"modify.txt": "line1\nline2\n"},
        "*** Begin Patch\n*** Update File: modify.txt\n@@\n-missing\n+changed\n*** End Patch",
        None,
        error="'missing' is not in the file",
    ),
    Case(
        "rejects_missing_file_delete",
        {"foo.txt": "x\n"},
        "*** Begin Patch\n*** Delete File: missing.txt\n*** End Patch",
        None,
        error="no such file",
    ),
    Case(
        "rejects_empty_update_hunk",
        {"foo.txt": "x\n"},
        "*** Begin Patch\n*** Update File: foo.txt\n*** End Patch",
        None,
        error="no hunks",
    ),
    Case(
        "requires_existing_file_for_update",
        {"foo.txt": "x\n"},
        "*** Begin Patch\n*** Update File: missing.txt\n@@\n-old\n+new\n*** End Patch",
        None,
        error="no such file",
    ),
    Case(
        "delete_directory_fails",
        {"dir/foo.txt": "x\n"},
        "*** Begin Patch\n*** Delete File: dir\n*** End Patch",
        None,
        error="is a directory",
    ),
    Case(
        "rejects_invalid_hunk_header",
        {"foo.txt": "x\n"},
        "*** Begin Patch\n*** Frobnicate File: foo\n*** End Patch",
        None,
        error="not a section header",
    ),
    Case(
        "failure_after_partial_success_changes_nothing",
        {},
        "*** Begin Patch\n*** Add File: created.txt\n+hello\n*** Update File: missing.txt\n@@\n-old\n+new\n*** End Patch",
        None,
        error="no such file",
    ),
    Case(
        "ambiguous_context_refused",
        {"dup.txt": "x = 1\nmid\nx = 1\n"},
        "*** Begin Patch\n*** Update File: dup.txt\n@@\n-x = 1\n+x = 2\n*** End Patch",
        None,
        error="ambiguous",
    ),
    Case(
        "end_of_file_must_be_at_end",
        {"t.txt": "a\nb\nc\n"},
        "*** Begin Patch\n*** Update File: t.txt\n@@\n-a\n+A\n*** End of File\n*** End Patch",
        None,
        error="end of the file",
    ),
    Case(
        "missing_end_marker",
        {"a.txt": "x\n"},
        "*** Begin Patch\n*** Add File: b.txt\n+x\n",
        None,
        error="last line",
    ),
    Case(
        "path_escape",
        {"a.txt": "x\n"},
        "*** Begin Patch\n*** Add File: ../evil.txt\n+x\n*** End Patch",
        None,
        error="'..'",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conformance(tmp_path: Path, case: Case) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    write_tree(ws, case.before)
    before = snapshot(ws)
    r = run_patch("apply", "--workspace", str(ws), "-", input=case.patch)
    if case.after is None:
        assert r.exit_code == 1, r.output
        assert r.stderr.startswith("lockgate: ") and r.stderr.count("\n") == 1
        assert case.error in r.stderr, r.stderr
        assert snapshot(ws) == before
        return
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Success. Updated the following files:\n")
    if case.report:
        assert r.stdout == "Success. Updated the following files:\n" + case.report + "\n"
    got = {rel: data for rel, (kind, data, _m, _i) in snapshot(ws).items() if kind == "file"}
    want = {k: v.encode() if isinstance(v, str) else v for k, v in case.after.items()}
    assert got == want
    for d in case.dirs:
        assert (ws / d).is_dir()

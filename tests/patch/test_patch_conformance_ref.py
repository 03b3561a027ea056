"""More V4A conformance through `lockgate patch apply`, derived from what the reference
implementations check (codex's apply_patch, the Agents SDK's apply_diff) — our own patch texts.

Each case compares the WHOLE workspace afterwards, directories included and nothing skipped:
applying must leave nothing in the tree but the patch's own changes (the journal lives in the
data directory), and a refusal must leave the tree byte-for-byte as it was.
"""

from __future__ import annotations

import json
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
    report: str | None = None  # the lines after "Success. …", "{ws}" for the workspace path
    error: str = ""
    dirs_before: tuple[str, ...] = ()
    dirs_after: tuple[str, ...] = field(default=())


def v4a(body: str) -> str:
    return "*** Begin Patch\n" + body + "\n*** End Patch\n"


CLASSES = (
    "class Base:\n    def search(self):\n        pass\n\n"
    "class Sub(Base):\n    def search(self):\n        pass\n"
)

CASES = [
    Case(
        "unanchored_addition_then_replacement_above_it",
        {"p.txt": "line1\nline2\nline3\n"},
        v4a("*** Update File: p.txt\n@@\n+tail-1\n+tail-2\n@@\n line1\n-line2\n-line3\n+replaced"),
        {"p.txt": "line1\nreplaced\ntail-1\ntail-2\n"},
        "M p.txt",
    ),
    Case(
        "three_hunks_last_appends_at_end_of_file",
        {"i.txt": "a\nb\nc\nd\ne\nf\n"},
        v4a("*** Update File: i.txt\n@@\n a\n-b\n+B\n@@\n d\n-e\n+E\n@@\n f\n+g\n*** End of File"),
        {"i.txt": "a\nB\nc\nd\nE\nf\ng\n"},
    ),
    Case(
        "stacked_anchors_reach_the_nested_method",
        {"c.py": CLASSES},
        v4a(
            "*** Update File: c.py\n@@ class Sub(Base):\n@@     def search(self):\n"
            "-        pass\n+        return 1"
        ),
        {
            "c.py": CLASSES.replace("        pass\n", "        return 1\n").replace(
                "        return 1\n", "        pass\n", 1
            )
        },
    ),
    Case(
        "stacked_anchors_for_each_hunk",
        {"c.py": CLASSES},
        v4a(
            "*** Update File: c.py\n@@ class Base:\n@@     def search(self):\n-        pass\n"
            "+        raise NotImplementedError\n\n@@ class Sub(Base):\n@@     def search(self):\n"
            "-        pass\n+        return []"
        ),
        {
            "c.py": CLASSES.replace(
                "        pass\n", "        raise NotImplementedError\n", 1
            ).replace("        pass\n", "        return []\n")
        },
    ),
    Case(
        "anchored_addition_goes_right_after_the_anchor",
        {"a.py": "def f():\n    x = 1\n\ndef g():\n    y = 2\n"},
        v4a("*** Update File: a.py\n@@ def g():\n+    # g starts here"),
        {"a.py": "def f():\n    x = 1\n\ndef g():\n    # g starts here\n    y = 2\n"},
    ),
    Case(
        "anchor_matched_ignoring_indentation",
        {"a.py": "class A:\n    def f(self):\n        pass\n"},
        v4a("*** Update File: a.py\n@@ def f(self):\n-        pass\n+        return 1"),
        {"a.py": "class A:\n    def f(self):\n        return 1\n"},
    ),
    Case(
        "context_at_start_of_file",
        {"s.txt": "first\nsecond\nthird\n"},
        v4a("*** Update File: s.txt\n@@\n-first\n+FIRST\n second"),
        {"s.txt": "FIRST\nsecond\nthird\n"},
    ),
    Case(
        "end_of_file_append_to_file_without_final_newline",
        {"n.txt": "a\nb"},
        v4a("*** Update File: n.txt\n@@\n b\n+c\n*** End of File"),
        {"n.txt": "a\nb\nc\n"},
    ),
    Case(
        "trailing_whitespace_in_file_is_matched_and_kept_on_context",
        {"t.txt": "keep   \nold\t\n"},
        v4a("*** Update File: t.txt\n@@\n keep\n-old\n+new"),
        {"t.txt": "keep   \nnew\n"},
    ),
    Case(
        "surrounding_whitespace_ignored_last",
        {"t.py": "\tif x:\n\t\treturn 1\n"},
        v4a("*** Update File: t.py\n@@\n if x:\n-    return 1\n+\t\treturn 2"),
        {"t.py": "\tif x:\n\t\treturn 2\n"},
    ),
    Case(
        "typographic_punctuation_normalised",
        {"u.py": "msg = \u201cit\u2019s \u2013 fine\u201d\u00a0# note\n"},
        v4a("*** Update File: u.py\n@@\n-msg = \"it's - fine\" # note\n+msg = 'ok'"),
        {"u.py": "msg = 'ok'\n"},
    ),
    Case(
        "first_line_ending_is_preferred_for_new_lines",
        {"e.txt": b"a\r\nb\nc\n"},
        v4a("*** Update File: e.txt\n@@\n+d"),
        {"e.txt": b"a\r\nb\nc\nd\r\n"},
    ),
    Case(
        "report_one_line_per_section_as_written",
        {"f.txt": "l1\nl2\nl3\nl4\n", "g.txt": "g\n"},
        v4a(
            "*** Update File: ./f.txt\n@@\n-l2\n+two\n*** Update File: f.txt\n@@\n-l4\n+four\n"
            "*** Delete File: ./g.txt"
        ),
        {"f.txt": "l1\ntwo\nl3\nfour\n"},
        "M ./f.txt\nM f.txt\nD ./g.txt",
    ),
    Case(
        "absolute_paths_inside_the_workspace",
        {"a.txt": "x\n"},
        v4a("*** Update File: {ws}/a.txt\n@@\n-x\n+y\n*** Add File: {ws}/n/b.txt\n+b"),
        {"a.txt": "y\n", "n/b.txt": "b\n"},
        "A {ws}/n/b.txt\nM {ws}/a.txt",
        dirs_after=("n",),
    ),
    Case(
        "delete_keeps_the_emptied_directory",
        {"d/a.txt": "x\n"},
        v4a("*** Delete File: d/a.txt"),
        {},
        "D d/a.txt",
        dirs_after=("d",),
    ),
    Case(
        "move_keeps_the_source_directory_and_creates_the_target_one",
        {"old/a.txt": "x\n"},
        v4a("*** Update File: old/a.txt\n*** Move to: new/deep/a.txt\n@@\n-x\n+y"),
        {"new/deep/a.txt": "y\n"},
        "M new/deep/a.txt",
        dirs_after=("old", "new", "new/deep"),
    ),
    Case(
        "update_then_delete_in_one_patch",
        {"a.txt": "x\n", "b.txt": "b\n"},
        v4a("*** Update File: a.txt\n@@\n-x\n+y\n*** Delete File: a.txt"),
        {"b.txt": "b\n"},
        "M a.txt\nD a.txt",
    ),
    Case(
        "bare_heredoc_wrapper",
        {"a.txt": "x\n"},
        "<<EOF\n" + v4a("*** Update File: a.txt\n@@\n-x\n+y") + "EOF\n",
        {"a.txt": "y\n"},
    ),
    Case(
        "double_quoted_heredoc_wrapper",
        {"a.txt": "x\n"},
        'apply_patch <<"PATCH"\n' + v4a("*** Update File: a.txt\n@@\n-x\n+y") + "PATCH\n",
        {"a.txt": "y\n"},
    ),
    Case(
        "heredoc_after_cd_resolves_paths_in_that_directory",
        {"sub dir/a.txt": "x\n", "a.txt": "top\n"},
        "cd 'sub dir' && apply_patch <<'EOF'\n"
        + v4a("*** Update File: a.txt\n@@\n-x\n+y\n*** Add File: n.txt\n+n")
        + "EOF\n",
        {"a.txt": "top\n", "sub dir/a.txt": "y\n", "sub dir/n.txt": "n\n"},
        "A sub dir/n.txt\nM sub dir/a.txt",
    ),
    Case(
        "json_create_file_final_lone_plus_is_the_final_newline",
        {},
        json.dumps({"type": "create_file", "path": "n.txt", "diff": "+hello\n+world\n+"}),
        {"n.txt": "hello\nworld\n"},
        "A n.txt",
    ),
    Case(
        "json_create_file_with_crlf_diff_writes_crlf",
        {},
        json.dumps({"type": "create_file", "path": "w.txt", "diff": "+hello\r\n+world\r\n+"}),
        {"w.txt": b"hello\r\nworld\r\n"},
        "A w.txt",
    ),
    Case(
        "json_update_file_keeps_a_missing_final_newline",
        {"a.txt": "a\nb"},
        json.dumps({"type": "update_file", "path": "a.txt", "diff": "@@ a\n-b\n+c"}),
        {"a.txt": "a\nc"},
        "M a.txt",
    ),
    Case(
        "json_apply_patch_call_item",
        {"a.txt": "x\n", "k.txt": "k\n"},
        json.dumps(
            {
                "type": "apply_patch_call",
                "call_id": "call_1",
                "status": "completed",
                "operation": {"type": "delete_file", "path": "a.txt"},
            }
        ),
        {"k.txt": "k\n"},
        "D a.txt",
    ),
    # refusals: exit 1, one line, tree untouched
    Case(
        "mismatched_heredoc_quotes",
        {"a.txt": "x\n"},
        "<<\"EOF'\n" + v4a("*** Update File: a.txt\n@@\n-x\n+y") + "EOF\n",
        None,
        error="first line must be '*** Begin Patch'",
    ),
    Case(
        "heredoc_without_end_patch",
        {"a.txt": "x\n"},
        "<<EOF\n*** Begin Patch\n*** Update File: a.txt\nEOF\n",
        None,
        error="last line must be '*** End Patch'",
    ),
    Case(
        "heredoc_cd_out_of_the_workspace",
        {"a.txt": "x\n"},
        "cd .. && apply_patch <<'EOF'\n" + v4a("*** Add File: evil.txt\n+x") + "EOF\n",
        None,
        error="'..'",
    ),
    Case(
        "heredoc_after_another_command",
        {"a.txt": "x\n"},
        "echo hi; apply_patch <<'EOF'\n" + v4a("*** Add File: b.txt\n+x") + "EOF\n",
        None,
        error="first line must be '*** Begin Patch'",
    ),
    Case(
        "text_after_end_patch",
        {"a.txt": "x\n"},
        v4a("*** Update File: a.txt\n@@\n-x\n+y") + "and more\n",
        None,
        error="last line must be '*** End Patch'",
    ),
    Case(
        "garbage_line_in_a_hunk",
        {"a.txt": "x\n"},
        v4a("*** Update File: a.txt\n@@\n-x\nnot a diff line\n+y"),
        None,
        error="unexpected line 'not a diff line'",
    ),
    Case(
        "second_hunk_above_the_first",
        {"o.txt": "a\nb\nc\n"},
        v4a("*** Update File: o.txt\n@@\n-c\n+C\n@@\n-a\n+A"),
        None,
        error="hunk 2 does not match",
    ),
    Case(
        "two_sections_change_the_same_line",
        {"f.txt": "A\nB\nC\n"},
        v4a("*** Update File: f.txt\n@@\n-B\n+X\n*** Update File: f.txt\n@@\n-B\n+Y"),
        None,
        error="'B' is not in the file",
    ),
    Case(
        "anchor_not_in_file",
        {"a.py": "def f():\n    pass\n"},
        v4a("*** Update File: a.py\n@@ def g():\n-    pass\n+    return 1"),
        None,
        error="'def g():' not found",
    ),
    Case(
        "add_over_a_directory",
        {"d/x.txt": "x\n"},
        v4a("*** Add File: d\n+y"),
        None,
        error="d is a directory",
    ),
    Case(
        "move_onto_a_directory",
        {"a.txt": "x\n", "d/x.txt": "x\n"},
        v4a("*** Update File: a.txt\n*** Move to: d\n@@\n-x\n+y"),
        None,
        error="d is a directory",
    ),
    Case(
        "update_of_a_non_utf8_file",
        {"n.txt": b"\xff\xfe\n"},
        v4a("*** Update File: n.txt\n@@\n-x\n+y"),
        None,
        error="not UTF-8",
    ),
    Case(
        "add_then_failing_update_changes_nothing",
        {"k.txt": "k\n"},
        v4a("*** Add File: new/created.txt\n+hi\n*** Update File: k.txt\n@@\n-nope\n+x"),
        None,
        error="'nope' is not in the file",
    ),
]


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every entry (files with their bytes, directories as "dir"), nothing skipped."""
    return {
        rel: (data if kind == "file" else kind)
        for rel, (kind, data, _mode, _ino) in snapshot(root).items()
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reference_conformance(tmp_path: Path, case: Case) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    write_tree(ws, case.before)
    for d in case.dirs_before:
        (ws / d).mkdir(parents=True, exist_ok=True)
    before = snapshot(ws)
    patch = case.patch.replace("{ws}", str(ws))
    r = run_patch("apply", "--workspace", str(ws), "-", input=patch)
    if case.after is None:
        assert r.exit_code == 1, r.output
        assert r.stdout == ""
        assert r.stderr.startswith("lockgate: ") and r.stderr.count("\n") == 1, r.stderr
        assert case.error in r.stderr, r.stderr
        assert snapshot(ws) == before
        return
    assert r.exit_code == 0, r.output
    head = "Success. Updated the following files:\n"
    assert r.stdout.startswith(head), r.stdout
    if case.report is not None:
        assert r.stdout == head + case.report.replace("{ws}", str(ws)) + "\n"
    want: dict[str, bytes | str] = {
        k: (v.encode() if isinstance(v, str) else v) for k, v in case.after.items()
    }
    parents = {str(Path(k).parent) for k in case.after} - {"."}
    want |= {d: "dir" for d in {*case.dirs_after, *parents}}
    assert _tree(ws) == want


def test_apply_then_undo_restores_the_whole_tree(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    write_tree(ws, {"a.txt": "one\ntwo\n", "old/b.txt": "bee\n", "gone.txt": "bye\n"})
    before = _tree(ws)
    patch = v4a(
        "*** Update File: a.txt\n@@\n one\n-two\n+TWO\n*** Delete File: gone.txt\n"
        "*** Add File: n/e/w.txt\n+new\n*** Update File: old/b.txt\n*** Move to: c.txt\n@@\n-bee\n+sea"
    )
    r = run_patch("apply", "--workspace", str(ws), "-", input=patch)
    assert r.exit_code == 0, r.output
    assert _tree(ws) == {
        "a.txt": b"one\nTWO\n",
        "old": "dir",
        "n": "dir",
        "n/e": "dir",
        "n/e/w.txt": b"new\n",
        "c.txt": b"sea\n",
    }
    u = run_patch("undo", "--workspace", str(ws))
    assert u.exit_code == 0, u.output
    assert _tree(ws) == before
    again = run_patch("undo", "--workspace", str(ws))
    assert again.exit_code == 1 and "nothing to undo" in again.stderr

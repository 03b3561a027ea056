"""Fuzzing: whatever the text, the parsers (and planning against a real tree) either succeed or
raise a one-line PatchError — never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchkit import write_tree

from app.patch import PatchError, parse_patch
from app.patch.plan import build_plan

V4A_LINES = [
    "*** Begin Patch",
    "*** End Patch",
    "*** Add File: a.txt",
    "*** Add File: d/new.txt",
    "*** Update File: a.txt",
    "*** Update File: b.txt",
    "*** Delete File: b.txt",
    "*** Move to: c.txt",
    "*** End of File",
    "@@",
    "@@ def f():",
    "@@ -1,2 +1,2 @@",
    "+added",
    "-one",
    "-two",
    " one",
    " two",
    "",
    "  ",
    "<<'EOF'",
    "EOF",
    "```",
]
UNIFIED_LINES = [
    "diff --git a/a.txt b/a.txt",
    "diff --git a/x b/y",
    "--- a/a.txt",
    "+++ b/a.txt",
    "--- /dev/null",
    "+++ /dev/null",
    "@@ -1,2 +1,2 @@",
    "@@ -1 +1 @@",
    "@@ -0,0 +1 @@",
    "@@ -5,3 +5,0 @@",
    " one",
    "-two",
    "+three",
    "\\ No newline at end of file",
    "new file mode 100644",
    "deleted file mode 100755",
    "old mode 100644",
    "new mode 100755",
    "new mode 120000",
    "rename from a.txt",
    "rename to z.txt",
    "Binary files a/a.txt and b/a.txt differ",
    "GIT binary patch",
    "literal 3",
    "index 123..456 100644",
    "",
]


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _lines(pool: list[str]) -> st.SearchStrategy[str]:
    line = st.one_of(st.sampled_from(pool), st.text(max_size=12))
    return st.lists(line, max_size=25).map("\n".join)


def _check(text: str) -> None:
    try:
        parsed = parse_patch(text)
    except PatchError as exc:
        assert "\n" not in str(exc)
        return
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        write_tree(root, {"a.txt": "one\ntwo\n", "b.txt": "one\n"})
        try:
            build_plan(parsed, root)
        except PatchError as exc:
            assert "\n" not in str(exc)


@_SETTINGS
@given(_lines(V4A_LINES))
def test_v4a_like_text(text: str) -> None:
    _check(text)


@_SETTINGS
@given(_lines(V4A_LINES).map(lambda body: f"*** Begin Patch\n{body}\n*** End Patch"))
def test_enveloped_v4a(text: str) -> None:
    _check(text)


@_SETTINGS
@given(_lines(UNIFIED_LINES))
def test_unified_like_text(text: str) -> None:
    _check(text)


@_SETTINGS
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(["type", "path", "diff", "operation", "x"]), inner, max_size=4
            ),
        ),
        max_leaves=8,
    ).map(json.dumps)
)
def test_operation_json(text: str) -> None:
    _check(text)


@_SETTINGS
@given(
    st.sampled_from(["create_file", "update_file", "delete_file"]),
    st.sampled_from(["a.txt", "b.txt", "n/x.txt", "../x", "/abs"]),
    _lines(V4A_LINES),
)
def test_operation_objects(kind: str, path: str, diff: str) -> None:
    _check(json.dumps({"type": kind, "path": path, "diff": diff}))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    _check(text)

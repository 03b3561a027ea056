"""Whole-file changes as the unified diffs the patch engine applies and the reviewer reads.

An ACP `fs/write_text_file` and a file the jailed agent changed in its overlay are both "this
file now has these bytes": the diff against the real file is what a human can review, and the
patch engine (atomic, protected paths, undo) is what may write it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

ChangeKind = Literal["add", "modify", "delete"]


@dataclass(frozen=True)
class FileChange:
    rel: str  # relative to the workspace, '/'-separated
    kind: ChangeKind
    old: str | None  # text of the real file (None: it does not exist)
    new: str | None  # text the agent wants (None: delete)


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def unified(change: FileChange) -> str:
    """One file's git-style unified diff (with every line of context a hunk needs)."""
    a = f"a/{change.rel}" if change.old is not None else "/dev/null"
    b = f"b/{change.rel}" if change.new is not None else "/dev/null"
    old = _lines(change.old or "")
    new = _lines(change.new or "")
    head = f"diff --git a/{change.rel} b/{change.rel}\n"
    if change.old is None:
        head += "new file mode 100644\n"
    elif change.new is None:
        head += "deleted file mode 100644\n"
    body = "".join(difflib.unified_diff(old, new, fromfile=a, tofile=b, n=3))
    if not body:
        return ""
    return head + body


def unified_all(changes: list[FileChange]) -> str:
    return "".join(unified(c) for c in changes)


def decode_text(data: bytes) -> str | None:
    """The file's text, or None when it is not text a reviewer can read (NUL bytes, not UTF-8)."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None

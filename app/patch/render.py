"""The one rendering a reviewer sees: a git-style unified diff computed from the exact bytes the
plan will write, with per-file added/removed counts. Because it is derived from the planned
content (not from the patch text), what is shown is what is applied — an Add over an existing file
shows as a full replacement, a fuzzy match shows the file's real lines.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

CONTEXT = 3


@dataclass(frozen=True)
class RenderedFile:
    path: str
    added: int
    removed: int
    text: str


def _lines(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
        return [x + "\n" for x in out]
    return [x + "\n" for x in out[:-1]] + [out[-1]]


def is_text(data: bytes | None) -> bool:
    if data is None:
        return True
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _emit(prefix: str, line: str, out: list[str]) -> None:
    if line.endswith("\n"):
        out.append(prefix + line[:-1])
    else:
        out.append(prefix + line)
        out.append("\\ No newline at end of file")


def _range(start: int, length: int) -> str:
    if length == 1:
        return f"{start + 1}"
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def diff_hunks(
    a: Sequence[str], b: Sequence[str], *, replace_all: bool = False
) -> tuple[list[str], int, int]:
    """Unified hunks between line lists (lines keep their '\\n'); returns (lines, added, removed)."""
    out: list[str] = []
    added = removed = 0
    if replace_all:
        groups = [[("replace", 0, len(a), 0, len(b))]] if (a or b) else []
    else:
        groups = list(
            difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(CONTEXT)
        )
    for group in groups:
        i1, i2 = group[0][1], group[-1][2]
        j1, j2 = group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                for line in a[a1:a2]:
                    _emit(" ", line, out)
                continue
            for line in a[a1:a2]:
                _emit("-", line, out)
                removed += 1
            for line in b[b1:b2]:
                _emit("+", line, out)
                added += 1
    return out, added, removed


def render_file(
    path: str,
    old: bytes | None,
    new: bytes | None,
    *,
    old_mode: int | None = None,
    new_mode: int | None = None,
    moved_from: str | None = None,
    replace_all: bool = False,
) -> RenderedFile:
    src = moved_from or path
    head = [f"diff --git a/{src} b/{path}"]
    if old is None and new is not None:
        head.append(f"new file mode {0o100000 | (new_mode or 0o644):06o}")
    elif old is not None and new is None:
        head.append(f"deleted file mode {0o100000 | (old_mode or 0o644):06o}")
    elif old_mode is not None and new_mode is not None and old_mode != new_mode:
        head.append(f"old mode {0o100000 | old_mode:06o}")
        head.append(f"new mode {0o100000 | new_mode:06o}")
    if moved_from:
        head.append(f"rename from {moved_from}")
        head.append(f"rename to {path}")
    if not (is_text(old) and is_text(new)):
        size_old = len(old) if old is not None else 0
        size_new = len(new) if new is not None else 0
        head.append(f"Binary files differ ({size_old} bytes -> {size_new} bytes)")
        return RenderedFile(path, 0, 0, "\n".join(head) + "\n")
    a = _lines(old) if old is not None else []
    b = _lines(new) if new is not None else []
    if a == b and len(head) == 1:
        return RenderedFile(path, 0, 0, "")
    if a != b:
        head.append(f"--- {'a/' + src if old is not None else '/dev/null'}")
        head.append(f"+++ {'b/' + path if new is not None else '/dev/null'}")
    body, added, removed = diff_hunks(
        a, b, replace_all=replace_all and old is not None and new is not None
    )
    return RenderedFile(path, added, removed, "\n".join(head + body) + "\n")


def summary_line(files: Sequence[RenderedFile]) -> str:
    added = sum(f.added for f in files)
    removed = sum(f.removed for f in files)
    n = len(files)
    return f"{n} file{'s' if n != 1 else ''} changed, +{added} -{removed}"

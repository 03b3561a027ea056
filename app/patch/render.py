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


Opcode = tuple[str, int, int, int, int]


def _grouped_opcodes(a: Sequence[str], b: Sequence[str]) -> list[list[Opcode]]:
    """difflib's grouped opcodes, after trimming the common head and tail (SequenceMatcher is
    quadratic-ish; most patches change a few lines of a long file)."""
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    if head == len(a) == len(b):
        return []
    mid = difflib.SequenceMatcher(
        None, a[head : len(a) - tail], b[head : len(b) - tail], autojunk=False
    ).get_opcodes()
    ops: list[Opcode] = []
    if head:
        ops.append(("equal", 0, head, 0, head))
    ops += [(t, i1 + head, i2 + head, j1 + head, j2 + head) for t, i1, i2, j1, j2 in mid]
    if tail:
        ops.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    merged: list[Opcode] = []
    for op in ops:
        if merged and merged[-1][0] == op[0] == "equal":
            prev = merged.pop()
            op = ("equal", prev[1], op[2], prev[3], op[4])
        merged.append(op)
    return _group(merged, CONTEXT)


def _group(codes: list[Opcode], n: int) -> list[list[Opcode]]:
    """Split opcodes into hunks with n lines of context (difflib's algorithm, on our opcodes)."""
    if not codes:
        return []
    codes = list(codes)
    if codes[0][0] == "equal":
        t, i1, i2, j1, j2 = codes[0]
        codes[0] = t, max(i1, i2 - n), i2, max(j1, j2 - n), j2
    if codes[-1][0] == "equal":
        t, i1, i2, j1, j2 = codes[-1]
        codes[-1] = t, i1, min(i2, i1 + n), j1, min(j2, j1 + n)
    nn = n + n
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for t, i1, i2, j1, j2 in codes:
        if t == "equal" and i2 - i1 > nn:
            group.append((t, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((t, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def diff_hunks(
    a: Sequence[str], b: Sequence[str], *, replace_all: bool = False
) -> tuple[list[str], int, int]:
    """Unified hunks between line lists (lines keep their '\\n'); returns (lines, added, removed)."""
    out: list[str] = []
    added = removed = 0
    groups: list[list[Opcode]]
    if replace_all:
        groups = [[("replace", 0, len(a), 0, len(b))]] if (a or b) else []
    else:
        groups = _grouped_opcodes(a, b)
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
    if old == new:
        return RenderedFile(path, 0, 0, "\n".join(head) + "\n" if len(head) > 1 else "")
    if not is_text(new):
        # The engine only writes text it computed; binary bytes here can only be an unchanged
        # file moved or re-moded, handled above. Say so rather than show nothing.
        head.append(f"Binary files differ ({len(old or b'')} bytes -> {len(new or b'')} bytes)")
        return RenderedFile(path, 0, 0, "\n".join(head) + "\n")
    if not is_text(old):
        # A binary file replaced by text (or deleted): show every new line; the old bytes
        # cannot be shown, so say how many there were.
        verb = "deleted" if new is None else "replaced"
        head.append(f"Binary file {src} ({len(old or b'')} bytes) is {verb}")
        old = None if new is None else b""
        if new is None:
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

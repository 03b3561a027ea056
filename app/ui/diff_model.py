"""A unified diff split into files, hunks and lines, for display.

The text is the patch engine's rendering (or the session diff); it is untrusted (a path or a line
may hold anything), so this only splits it. Hunk line counts decide where a hunk ends, so a removed
line that happens to start with `-- ` is never taken for a file header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from app.ui.highlight import language_for_path

RowKind = Literal["file", "meta", "hunk", "add", "del", "ctx", "note"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class DiffRow:
    kind: RowKind
    text: str  # the line without its +/-/space sign (headers: the whole line)
    file: int  # index into DiffDocument.files
    old_no: int | None = None
    new_no: int | None = None


@dataclass(frozen=True)
class DiffFile:
    path: str
    added: int
    removed: int
    language: str
    status: str = "modified"  # "added", "deleted", "renamed", "modified", "binary"
    rows: tuple[DiffRow, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class DiffDocument:
    files: tuple[DiffFile, ...]

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    @property
    def line_count(self) -> int:
        return sum(len(f.rows) + 1 for f in self.files)


def _strip_prefix(path: str) -> str:
    path = path.split("\t", 1)[0]
    if path.startswith(("a/", "b/")):
        return path[2:]
    return path


class _FileBuilder:
    def __init__(self, index: int) -> None:
        self.index = index
        self.old_path = ""
        self.new_path = ""
        self.git_path = ""
        self.rows: list[DiffRow] = []
        self.added = 0
        self.removed = 0
        self.binary = False
        self.renamed = False

    @property
    def path(self) -> str:
        if self.new_path and self.new_path != "/dev/null":
            return self.new_path
        if self.old_path and self.old_path != "/dev/null":
            return self.old_path
        return self.git_path or "(unnamed)"

    @property
    def status(self) -> str:
        if self.binary:
            return "binary"
        if self.old_path == "/dev/null":
            return "added"
        if self.new_path == "/dev/null":
            return "deleted"
        if self.renamed or (self.old_path and self.new_path and self.old_path != self.new_path):
            return "renamed"
        return "modified"

    def build(self, counts: Mapping[str, tuple[int, int]]) -> DiffFile:
        added, removed = counts.get(self.path, (self.added, self.removed))
        return DiffFile(
            path=self.path,
            added=added,
            removed=removed,
            language=language_for_path(self.path),
            status=self.status,
            rows=tuple(self.rows),
        )


def parse_unified(text: str, counts: Mapping[str, tuple[int, int]] | None = None) -> DiffDocument:
    """Split a unified diff into files. `counts` (path → (added, removed)) from the patch engine
    wins over counting here, so the console and the engine never disagree on the numbers."""
    files: list[_FileBuilder] = []
    current: _FileBuilder | None = None
    old_left = new_left = 0
    old_no = new_no = 0
    in_header = False

    def start_file() -> _FileBuilder:
        nonlocal current
        current = _FileBuilder(len(files))
        files.append(current)
        return current

    for line in text.split("\n"):
        if old_left > 0 or new_left > 0:
            assert current is not None
            sign, body = line[:1], line[1:]
            if sign == "+":
                current.rows.append(DiffRow("add", body, current.index, None, new_no))
                current.added += 1
                new_no += 1
                new_left -= 1
                continue
            if sign == "-":
                current.rows.append(DiffRow("del", body, current.index, old_no, None))
                current.removed += 1
                old_no += 1
                old_left -= 1
                continue
            if sign == " " or line == "":
                current.rows.append(DiffRow("ctx", body, current.index, old_no, new_no))
                old_no += 1
                new_no += 1
                old_left -= 1
                new_left -= 1
                continue
            if sign == "\\":
                current.rows.append(DiffRow("note", line, current.index))
                continue
            # A malformed hunk (counts too large): fall through and read it as a header line.
            old_left = new_left = 0
        if line.startswith("diff --git "):
            f = start_file()
            parts = line[len("diff --git ") :].split(" b/", 1)
            f.git_path = parts[1] if len(parts) == 2 else _strip_prefix(parts[0])
            f.rows.append(DiffRow("meta", line, f.index))
            in_header = True
            continue
        if line.startswith("--- ") and not (in_header and current and current.old_path):
            f = current if (in_header and current is not None) else start_file()
            f.old_path = _strip_prefix(line[4:])
            in_header = True
            continue
        if line.startswith("+++ ") and current is not None and in_header:
            current.new_path = _strip_prefix(line[4:])
            continue
        if line.startswith("\\") and current is not None:
            # "\ No newline at end of file" after the last line of a hunk.
            current.rows.append(DiffRow("note", line, current.index))
            continue
        m = _HUNK.match(line)
        if m is not None:
            f = current if current is not None else start_file()
            old_no, new_no = int(m.group(1)), int(m.group(3))
            old_left = int(m.group(2)) if m.group(2) is not None else 1
            new_left = int(m.group(4)) if m.group(4) is not None else 1
            f.rows.append(DiffRow("hunk", line, f.index))
            in_header = False
            continue
        if not line and current is None:
            continue
        f = current if current is not None else start_file()
        if line.startswith(("Binary files ", "GIT binary patch")):
            f.binary = True
        elif line.startswith(("rename from ", "rename to ", "similarity index")):
            f.renamed = True
        f.rows.append(DiffRow("meta", line, f.index))
    # A trailing empty line from the final newline is not content.
    for f in files:
        while f.rows and f.rows[-1].kind == "meta" and not f.rows[-1].text:
            f.rows.pop()
    given = dict(counts or {})
    return DiffDocument(files=tuple(f.build(given) for f in files))

"""The one file-change model both patch formats parse into.

V4A and unified diffs differ in how they locate changes (V4A by context and `@@` anchors, unified
by line numbers plus context), but both describe the same thing: per file, an operation and a list
of hunks, each hunk an ordered run of context, removed and added lines. Rendering, risk scoring and
applying all work from this model, so what the reviewer sees is what gets applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LineKind = Literal[" ", "-", "+"]
Op = Literal["add", "delete", "update"]
Format = Literal["v4a", "unified"]


@dataclass(frozen=True)
class Hunk:
    """One contiguous change: the lines it expects (context + removed) and what replaces them.

    `anchors` are V4A `@@ context` lines: each must be found (in order) before the hunk's lines.
    `old_start` is the unified diff's 1-based line number, used only to pick between equal matches.
    `end_of_file` anchors the hunk at the end of the file (`*** End of File`).
    `old_eof_no_newline` / `new_eof_no_newline`: a unified diff's `\\ No newline at end of file`.
    """

    lines: tuple[tuple[LineKind, str], ...]
    anchors: tuple[str, ...] = ()
    end_of_file: bool = False
    old_start: int | None = None
    old_eof_no_newline: bool = False
    new_eof_no_newline: bool = False

    @property
    def old_lines(self) -> tuple[str, ...]:
        return tuple(text for kind, text in self.lines if kind != "+")

    @property
    def new_lines(self) -> tuple[str, ...]:
        return tuple(text for kind, text in self.lines if kind != "-")

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(text for kind, text in self.lines if kind == "+")

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(text for kind, text in self.lines if kind == "-")


@dataclass(frozen=True)
class FileChange:
    """What one patch section does to one file.

    add: `content` is the whole new file. delete: the file goes (unified deletes also carry the
    hunk that removes every line, which must match). update: `hunks` change the file in place,
    `move_to` renames it, `old_mode`/`new_mode` change its permission bits. `binary` marks a change
    the engine refuses to apply (its payload is not text it could show a reviewer).
    `keep_eof_newline`: an update leaves a missing final newline missing (the Responses
    `update_file` operation, as the Agents SDK's `apply_diff` does); V4A patches always end the
    file with a newline, as `apply_patch` does.
    """

    path: str
    op: Op
    move_to: str | None = None
    hunks: tuple[Hunk, ...] = ()
    content: str | None = None
    binary: bool = False
    old_mode: int | None = None
    new_mode: int | None = None
    keep_eof_newline: bool = False

    @property
    def added_lines(self) -> tuple[str, ...]:
        if self.op == "add" and self.content is not None and not self.hunks:
            return tuple(split_lines(self.content))
        return tuple(line for h in self.hunks for line in h.added)

    @property
    def removed_lines(self) -> tuple[str, ...]:
        return tuple(line for h in self.hunks for line in h.removed)

    @property
    def target(self) -> str:
        """The path the file has after the change."""
        return self.move_to or self.path


@dataclass(frozen=True)
class ParsedPatch:
    format: Format
    files: tuple[FileChange, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the patch names (sources and move targets), in order, without repeats."""
        seen: dict[str, None] = {}
        for fc in self.files:
            seen.setdefault(fc.path, None)
            if fc.move_to:
                seen.setdefault(fc.move_to, None)
        return tuple(seen)


def split_lines(text: str) -> list[str]:
    """Split on `\\n` only (never on \\r, \\f, \\v, U+2028 … as str.splitlines would), dropping
    the empty tail a final newline leaves."""
    if not text:
        return []
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return parts

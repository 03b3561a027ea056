"""Parser for the V4A format of OpenAI's `apply_patch` tool.

Grammar (as the model is taught it):

    *** Begin Patch
    *** Add File: PATH          then lines "+text"
    *** Delete File: PATH
    *** Update File: PATH
    *** Move to: PATH           (optional, right after Update File)
    @@ [anchor line]            (one or more; optional before the first hunk)
     context / -removed / +added lines
    *** End of File             (optional: the hunk ends at the end of the file)
    *** End Patch

Lenient where models are sloppy and nothing is at stake: whitespace around markers, CRLF line
ends, a heredoc (`apply_patch <<'EOF' … EOF`) or Markdown fence around the patch, blank lines
between sections, a first hunk without `@@`, a unified-style `@@ -1,3 +1,4 @@` header, stacked
`@@` anchors. Strict where it matters: the begin and end markers must be there, every line of a
hunk must say what it is, nothing may follow a section that it does not own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.patch.errors import PatchError, quote
from app.patch.model import FileChange, Hunk, LineKind, ParsedPatch

BEGIN = "*** Begin Patch"
END = "*** End Patch"
EOF_MARK = "*** End of File"
MOVE_RE = re.compile(r"^\*\*\* Move to:\s*(.*)$")
SECTION_RE = re.compile(r"^\*\*\* (Add|Delete|Update) File:\s*(.*)$")
UNIFIED_HEADER_RE = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
HEREDOC_START_RE = re.compile(
    r"^(?:(?:cd\s+(?P<cd>'[^']*'|\"[^\"]*\"|[^\s'\"&;|<>]+)\s*&&\s*)?"
    r"(?:apply_patch|applypatch)\s*)?"
    r"<<-?\s*(?P<q>['\"]?)(?P<tag>[A-Za-z_][A-Za-z0-9_]*)(?P=q)\s*$"
)
FENCE_RE = re.compile(r"^(```|~~~)[\w+-]*\s*$")


@dataclass(frozen=True)
class PatchLines:
    """Patch lines plus the 1-based number of the first, so errors point into the input."""

    items: list[str]
    first_no: int

    def no(self, i: int) -> int:
        return self.first_no + i


def split_patch_lines(text: str) -> list[str]:
    """Split on LF and drop a CR before it: CRLF patches parse like LF ones."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def trim_blank(lines: list[str], first_no: int) -> PatchLines:
    lo, hi = 0, len(lines)
    while lo < hi and not lines[lo].strip():
        lo += 1
    while hi > lo and not lines[hi - 1].strip():
        hi -= 1
    return PatchLines(lines[lo:hi], first_no + lo)


def _unwrap(lines: PatchLines) -> PatchLines:
    return _unwrap_with_dir(lines)[0]


def _unwrap_with_dir(lines: PatchLines) -> tuple[PatchLines, str | None]:
    """Peel a heredoc wrapper or a Markdown fence (at most a few layers) off the patch; also
    returns the directory of a `cd DIR && apply_patch <<'EOF'` wrapper (paths are relative
    to it, as when the shell runs that line)."""
    cd: str | None = None
    for _ in range(3):
        items = lines.items
        if len(items) < 2 or items[0].strip() == BEGIN:
            return lines, cd
        first, last = items[0].strip(), items[-1].strip()
        m = HEREDOC_START_RE.match(first)
        if m and last == m.group("tag"):
            if m.group("cd") is not None:
                if cd is not None:
                    raise PatchError("invalid patch: more than one 'cd DIR &&' wrapper")
                cd = m.group("cd").strip("'\"") if m.group("cd")[0] in "'\"" else m.group("cd")
                if not cd.strip():
                    raise PatchError("invalid patch: 'cd' to an empty directory name")
            lines = trim_blank(items[1:-1], lines.first_no + 1)
            continue
        if FENCE_RE.match(first) and last == first[:3]:
            lines = trim_blank(items[1:-1], lines.first_no + 1)
            continue
        return lines, cd
    return lines, cd


def _under(cd: str | None, path: str) -> str:
    """`path` as the shell would see it after `cd cd`: relative paths join the directory."""
    if cd is None or path.startswith("/"):
        return path
    return cd.rstrip("/") + "/" + path


def starts_like_v4a(text: str) -> bool:
    """The patch (wrappers peeled) begins with `*** Begin Patch`."""
    head = _unwrap(trim_blank(split_patch_lines(text), 1))
    return bool(head.items) and head.items[0].strip() == BEGIN


def mentions_v4a(text: str) -> bool:
    """Some early line is an unindented V4A marker: parse as V4A to report what is wrong."""
    lines = split_patch_lines(text)[:50]
    return any(
        line.startswith("***") and (line.strip() == BEGIN or SECTION_RE.match(line.strip()))
        for line in lines
    )


def parse_v4a(text: str) -> ParsedPatch:
    lines, cd = _unwrap_with_dir(trim_blank(split_patch_lines(text), 1))
    items = lines.items
    if not items or items[0].strip() != BEGIN:
        raise PatchError("invalid patch: the first line must be '*** Begin Patch'")
    if len(items) < 2 or items[-1].strip() != END:
        raise PatchError("invalid patch: the last line must be '*** End Patch'")
    body = PatchLines(items[1:-1], lines.first_no + 1)
    files: list[FileChange] = []
    i = 0
    n = len(body.items)
    while i < n:
        raw = body.items[i]
        if not raw.strip():
            i += 1
            continue
        m = SECTION_RE.match(raw.strip())
        if not m:
            raise PatchError(
                f"line {body.no(i)}: {quote(raw)} is not a section header; expected "
                "'*** Add File: PATH', '*** Delete File: PATH' or '*** Update File: PATH'"
            )
        kind, path = m.group(1), m.group(2).strip()
        if not path:
            raise PatchError(f"line {body.no(i)}: '*** {kind} File:' without a path")
        i += 1
        if kind == "Add":
            content_lines, i = parse_add_body(body, i)
            content = "".join(line + "\n" for line in content_lines)
            files.append(FileChange(path=_under(cd, path), op="add", content=content))
        elif kind == "Delete":
            files.append(FileChange(path=_under(cd, path), op="delete"))
        else:
            move_to: str | None = None
            if i < n:
                mm = MOVE_RE.match(body.items[i].strip())
                if mm:
                    move_to = mm.group(1).strip()
                    if not move_to:
                        raise PatchError(f"line {body.no(i)}: '*** Move to:' without a path")
                    i += 1
            hunks, i = parse_update_body(body, i, path)
            if not hunks and move_to is None:
                raise PatchError(f"line {body.no(i - 1)}: update of {path} has no hunks")
            files.append(
                FileChange(
                    path=_under(cd, path),
                    op="update",
                    move_to=_under(cd, move_to) if move_to is not None else None,
                    hunks=tuple(hunks),
                )
            )
    return ParsedPatch(format="v4a", files=tuple(files))


def _is_section_end(line: str) -> bool:
    s = line.strip()
    return s == END or SECTION_RE.match(s) is not None


def parse_add_body(body: PatchLines, i: int) -> tuple[list[str], int]:
    """'+' lines up to the next section. A blank line followed by more '+' lines is an empty
    line of the file (models drop the lone '+'); blank lines before the next section are not."""
    out: list[str] = []
    n = len(body.items)
    while i < n:
        raw = body.items[i]
        if raw.startswith("+"):
            out.append(raw[1:])
            i += 1
            continue
        if not raw.strip():
            j = i
            while j < n and not body.items[j].strip():
                j += 1
            if j < n and body.items[j].startswith("+"):
                out.extend("" for _ in range(j - i))
                i = j
                continue
            i = j
            continue
        if _is_section_end(raw):
            break
        raise PatchError(
            f"line {body.no(i)}: {quote(raw)} in an added file; every line must start with '+'"
        )
    return out, i


def parse_update_body(body: PatchLines, i: int, path: str) -> tuple[list[Hunk], int]:
    """Hunks of one Update section (or of a Responses `update_file` diff), up to the next section."""
    hunks: list[Hunk] = []
    n = len(body.items)
    while i < n:
        raw = body.items[i]
        if not raw.strip():
            i += 1  # blank lines between hunks
            continue
        stripped = raw.strip()
        if _is_section_end(raw) and not raw.startswith(" "):
            break
        if stripped == EOF_MARK:
            raise PatchError(f"line {body.no(i)}: '*** End of File' without hunk lines ({path})")
        if stripped.startswith("***") and not raw.startswith(" "):
            raise PatchError(f"line {body.no(i)}: unexpected marker {quote(raw)} in {path}")
        anchors: list[str] = []
        has_header = False
        while i < n and body.items[i].startswith("@@"):
            has_header = True
            header = body.items[i]
            if header.strip() != "@@" and not UNIFIED_HEADER_RE.match(header):
                anchor = header[3:] if header.startswith("@@ ") else header[2:]
                if anchor.strip():
                    anchors.append(anchor)
            i += 1
        if not has_header and hunks:
            raise PatchError(
                f"line {body.no(i)}: expected '@@' to start the next hunk of {path}, got {quote(raw)}"
            )
        start = i
        lines: list[tuple[LineKind, str]] = []
        end_of_file = False
        while i < n:
            raw = body.items[i]
            # Inside a hunk a leading ' ', '+' or '-' always wins: " *** Add File: x" is a
            # context line of a file that happens to contain that text, not a new section.
            if raw.startswith("@@"):
                break
            if raw == "":
                lines.append((" ", ""))
            elif raw[0] in " +-":
                kind: LineKind = " " if raw[0] == " " else ("+" if raw[0] == "+" else "-")
                lines.append((kind, raw[1:]))
            elif raw.rstrip() == EOF_MARK:
                end_of_file = True
                i += 1
                break
            elif _is_section_end(raw):
                break
            elif raw.lstrip().startswith("***"):
                raise PatchError(f"line {body.no(i)}: unexpected marker {quote(raw)} in {path}")
            else:
                raise PatchError(
                    f"line {body.no(i)}: unexpected line {quote(raw)} in a hunk of {path}; "
                    "every line must start with ' ' (context), '-' (removed) or '+' (added)"
                )
            i += 1
        if not lines:
            raise PatchError(f"line {body.no(start)}: a hunk of {path} has no lines")
        hunks.append(Hunk(lines=tuple(lines), anchors=tuple(anchors), end_of_file=end_of_file))
    return hunks, i

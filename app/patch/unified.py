"""Unified (git) diffs through unidiff, into the same model as V4A.

unidiff reads new, deleted and renamed files and keeps git's extended header lines, but it
silently drops binary payloads from `str(PatchSet)` and reads V4A text as zero files. So: binary
changes are kept as `binary=True` (and refused later with a reason), mode lines are read from the
header ourselves, and a diff that yields no file is an error, never an empty success.
"""

from __future__ import annotations

import re

from unidiff import PatchedFile, PatchSet
from unidiff.errors import UnidiffParseError

from app.patch.errors import PatchError, quote
from app.patch.model import FileChange, Hunk, LineKind, Op, ParsedPatch

_MODE_RE = re.compile(r"^(old mode|new mode|new file mode|deleted file mode) ([0-7]{6})\s*$")
_RENAME_RE = re.compile(r"^(rename|copy) (from|to) (.+)$")
_UNIFIED_START_RE = re.compile(r"^(diff --git |--- |\+\+\+ |@@ -\d)", re.MULTILINE)
_OCTAL_ESC_RE = re.compile(r"\\([0-7]{3}|.)")
_C_ESCAPES = {
    "n": "\n",
    "t": "\t",
    '"': '"',
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "r": "\r",
}


def looks_like_unified(text: str) -> bool:
    return _UNIFIED_START_RE.search(text) is not None


def _unquote(path: str) -> str:
    """Undo git's C-style quoting ("a/t\\303\\251st") so the name is the real one."""
    p = path.strip()
    if len(p) >= 2 and p[0] == '"' and p[-1] == '"':
        raw = p[1:-1]
        out = bytearray()
        pos = 0
        for m in _OCTAL_ESC_RE.finditer(raw):
            out += raw[pos : m.start()].encode("utf-8")
            esc = m.group(1)
            if len(esc) == 3:
                out.append(int(esc, 8) & 0xFF)
            elif esc in _C_ESCAPES:
                out += _C_ESCAPES[esc].encode()
            else:
                raise PatchError(f"unsupported escape in quoted path {quote(p)}")
            pos = m.end()
        out += raw[pos:].encode("utf-8")
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PatchError(f"quoted path {quote(p)} is not UTF-8") from exc
    return p


def _strip_prefix(path: str, prefix: str, git: bool) -> str:
    if git and path.startswith(prefix):
        return path[len(prefix) :]
    return path


def parse_unified(text: str) -> ParsedPatch:
    try:
        patchset = PatchSet(text)
    except UnidiffParseError as exc:
        raise PatchError(f"invalid unified diff: {exc}") from exc
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        raise PatchError(f"invalid unified diff: {exc.__class__.__name__}: {exc}") from exc
    if len(patchset) == 0:
        raise PatchError("no file changes found in the diff")
    files: list[FileChange] = []
    for pf in patchset:
        files.append(_file_change(pf))
    return ParsedPatch(format="unified", files=tuple(files))


def _file_change(pf: PatchedFile) -> FileChange:
    info = [str(line).rstrip("\n").rstrip("\r") for line in (pf.patch_info or ())]
    git = any(line.startswith("diff --git ") for line in info)
    modes: dict[str, int] = {}
    renames: dict[str, str] = {}
    for line in info:
        mm = _MODE_RE.match(line)
        if mm:
            modes[mm.group(1)] = int(mm.group(2), 8)
        rm = _RENAME_RE.match(line)
        if rm:
            if rm.group(1) == "copy":
                raise PatchError(f"copies are not supported ({quote(line)})")
            renames[rm.group(2)] = _unquote(rm.group(3))
    source = _unquote(pf.source_file or "")
    target = _unquote(pf.target_file or "")
    git = git or (source.startswith("a/") and target.startswith("b/"))
    src = _strip_prefix(source, "a/", git)
    dst = _strip_prefix(target, "b/", git)
    op: Op
    if pf.is_added_file or src == "/dev/null":
        op = "add"
    elif pf.is_removed_file or dst == "/dev/null":
        op = "delete"
    else:
        op = "update"
    if "from" in renames:
        src = renames["from"]
    if "to" in renames:
        dst = renames["to"]
    if op == "add":
        path = dst
    elif op == "update" and not renames and dst != src:
        # A plain `diff -u f.orig f` (no git rename lines) patches the new name; only git's
        # explicit `rename from/to` moves a file.
        path = dst
    else:
        path = src
    if not path or path == "/dev/null":
        raise PatchError("a file section of the diff names no path")
    move_to = dst if op == "update" and renames and dst and dst != src else None
    old_mode = modes.get("old mode") or modes.get("deleted file mode")
    new_mode = modes.get("new mode") or modes.get("new file mode")
    for mode in (old_mode, new_mode):
        if mode is not None and (mode & 0o170000) not in (0o100000,):
            what = {0o120000: "symlink", 0o160000: "submodule"}.get(mode & 0o170000, "special")
            raise PatchError(f"{path}: {what} entries (mode {mode:06o}) are not supported")
    if pf.is_binary_file:
        return FileChange(
            path=path, op=op, move_to=move_to, binary=True, old_mode=old_mode, new_mode=new_mode
        )
    hunks: list[Hunk] = []
    for h in pf:
        lines: list[tuple[LineKind, str]] = []
        old_nn = new_nn = False
        last: str | None = None
        for ln in h:
            t = ln.line_type
            value = ln.value
            if t == "\\":
                if last == "-":
                    old_nn = True
                elif last == "+":
                    new_nn = True
                elif last == " ":
                    old_nn = new_nn = True
                continue
            if value.endswith("\n"):
                value = value[:-1]
            if value.endswith("\r"):
                value = value[:-1]
            if t not in (" ", "-", "+"):
                raise PatchError(f"{path}: unexpected line type {quote(t)} in a hunk")
            lk: LineKind = " " if t == " " else ("+" if t == "+" else "-")
            lines.append((lk, value))
            last = t
        hunks.append(
            Hunk(
                lines=tuple(lines),
                old_start=h.source_start,
                old_eof_no_newline=old_nn,
                new_eof_no_newline=new_nn,
            )
        )
    if op == "add":
        if any(k != "+" for h in hunks for k, _ in h.lines):
            raise PatchError(f"{path}: a new file's hunk may only add lines")
        added = [t for h in hunks for _, t in h.lines]
        no_nl = bool(hunks) and hunks[-1].new_eof_no_newline
        content = "\n".join(added) + ("" if no_nl or not added else "\n")
        return FileChange(
            path=path, op="add", content=content, hunks=tuple(hunks), new_mode=new_mode
        )
    if op == "delete":
        if any(k != "-" for h in hunks for k, _ in h.lines):
            raise PatchError(f"{path}: a deleted file's hunk may only remove lines")
        return FileChange(path=path, op="delete", hunks=tuple(hunks), old_mode=old_mode)
    if not hunks and move_to is None and old_mode == new_mode:
        raise PatchError(f"{path}: the diff changes nothing in this file")
    return FileChange(
        path=path,
        op="update",
        move_to=move_to,
        hunks=tuple(hunks),
        old_mode=old_mode,
        new_mode=new_mode,
    )

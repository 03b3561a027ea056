"""Turn a parsed patch into a plan: for every touched file, the bytes it has now (with their hash)
and the exact bytes it will have. Everything is computed in memory against a virtual overlay, so
several sections touching one file compose in order, and nothing on disk changes until apply.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from app.patch.errors import PatchError
from app.patch.fsops import (
    FileState,
    Workspace,
    check_protected,
    default_file_mode,
    open_root,
    read_state,
    sha256,
)
from app.patch.match import apply_hunks
from app.patch.model import FileChange, ParsedPatch
from app.patch.render import RenderedFile, render_file


@dataclass(frozen=True)
class PlannedFile:
    rel: str
    old: bytes | None
    old_mode: int | None
    new: bytes | None
    new_mode: int | None
    old_hash: str | None = None
    new_hash: str | None = None

    @property
    def status(self) -> str:
        if self.old is None:
            return "A"
        if self.new is None:
            return "D"
        return "M"


@dataclass(frozen=True)
class Plan:
    """What apply will do, byte for byte, and what the reviewer was shown."""

    workspace: Path
    files: tuple[PlannedFile, ...]
    rendered: tuple[RenderedFile, ...]
    moves: tuple[tuple[str, str], ...] = ()
    summary: tuple[tuple[str, str], ...] = ()  # ("A"|"M"|"D", path), apply_patch's report order
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def unified_diff(self) -> str:
        return "".join(r.text for r in self.rendered)

    @property
    def counts(self) -> tuple[tuple[str, int, int], ...]:
        return tuple((r.path, r.added, r.removed) for r in self.rendered)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.rel for f in self.files)


def _decode(rel: str, data: bytes) -> tuple[str, bool]:
    if b"\x00" in data:
        raise PatchError(f"{rel} is a binary file; only text files can be patched")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PatchError(
            f"{rel} is not UTF-8 text (byte {exc.start}); refusing to patch it"
        ) from exc
    bom = text.startswith("\ufeff")
    return (text[1:] if bom else text), bom


class _Overlay:
    def __init__(self, ws: Workspace, root_fd: int) -> None:
        self.ws = ws
        self.root_fd = root_fd
        self.original: dict[str, FileState] = {}
        self.current: dict[str, FileState] = {}

    def get(self, rel: str) -> FileState:
        if rel not in self.current:
            state = read_state(self.root_fd, rel)
            self.original[rel] = state
            self.current[rel] = state
        return self.current[rel]

    def set(self, rel: str, state: FileState) -> None:
        self.get(rel)
        self.current[rel] = state


def build_plan(
    parsed: ParsedPatch,
    workspace: Path | Workspace,
    *,
    approved: frozenset[str] = frozenset(),
    given_root: Path | None = None,
) -> Plan:
    ws = workspace if isinstance(workspace, Workspace) else Workspace.at(workspace)
    if not parsed.files:
        raise PatchError("the patch contains no file changes")
    root_fd = open_root(ws.root)
    try:
        overlay = _Overlay(ws, root_fd)
        moves: list[tuple[str, str]] = []
        replaced: set[str] = set()
        report: dict[str, list[str]] = {"A": [], "M": [], "D": []}
        for fc in parsed.files:
            _rel, dst = _apply_change(
                fc, parsed.format, ws, overlay, approved, given_root, moves, replaced
            )
            letter = {"add": "A", "delete": "D", "update": "M"}[fc.op]
            # apply_patch's report: one line per section, the path as the patch wrote it.
            report[letter].append((fc.move_to or fc.path).strip() if dst else fc.path.strip())
        plan = _finish(ws, overlay, moves, replaced)
        summary = tuple((letter, p) for letter in "AMD" for p in report[letter])
        return dataclasses.replace(plan, summary=summary)
    finally:
        os.close(root_fd)


def _apply_change(
    fc: FileChange,
    fmt: str,
    ws: Workspace,
    overlay: _Overlay,
    approved: frozenset[str],
    given_root: Path | None,
    moves: list[tuple[str, str]],
    replaced: set[str],
) -> tuple[str, str | None]:
    """Apply one section to the overlay; returns its (path, move target) as normalised."""
    rel = ws.normalize(fc.path, given_root=given_root)
    dst = ws.normalize(fc.move_to, given_root=given_root) if fc.move_to else None
    check_protected([rel] + ([dst] if dst else []), approved)
    if fc.binary:
        raise PatchError(
            f"{rel}: binary patches are refused (the diff carries no text a reviewer can read)"
        )
    state = overlay.get(rel)
    if fc.op == "add":
        content = (fc.content or "").encode("utf-8")
        if state.content is not None:
            replaced.add(rel)
        mode = fc.new_mode if fc.new_mode is not None else (state.mode or default_file_mode())
        overlay.set(rel, FileState(content, mode & 0o777))
        return rel, None
    if state.content is None:
        what = "delete" if fc.op == "delete" else "update"
        raise PatchError(f"cannot {what} {rel}: no such file")
    if fc.op == "delete":
        if fc.hunks:
            text, _ = _decode(rel, state.content)
            rest = apply_hunks(rel, text, fc.hunks, fmt)
            if rest.strip():
                raise PatchError(f"cannot delete {rel}: its content differs from the diff")
        overlay.set(rel, FileState(None, None))
        return rel, None
    new_bytes = state.content
    if fc.hunks:
        text, bom = _decode(rel, state.content)
        new_text = apply_hunks(rel, text, fc.hunks, "operation" if fc.keep_eof_newline else fmt)
        new_bytes = (("\ufeff" if bom else "") + new_text).encode("utf-8")
    mode = state.mode if state.mode is not None else default_file_mode()
    if fc.old_mode is not None and fc.new_mode is not None and fc.new_mode != fc.old_mode:
        mode = fc.new_mode & 0o777
    if dst and dst != rel:
        target = overlay.get(dst)
        if target.content is not None:
            replaced.add(dst)
        overlay.set(rel, FileState(None, None))
        overlay.set(dst, FileState(new_bytes, mode))
        moves.append((rel, dst))
        return rel, dst
    overlay.set(rel, FileState(new_bytes, mode))
    return rel, None


def _finish(
    ws: Workspace, overlay: _Overlay, moves: list[tuple[str, str]], replaced: set[str]
) -> Plan:
    files: list[PlannedFile] = []
    for rel, orig in overlay.original.items():
        cur = overlay.current[rel]
        if orig.content == cur.content and (cur.content is None or orig.mode == cur.mode):
            continue
        files.append(
            PlannedFile(
                rel=rel,
                old=orig.content,
                old_mode=orig.mode,
                new=cur.content,
                new_mode=cur.mode if cur.content is not None else None,
                old_hash=sha256(orig.content),
                new_hash=sha256(cur.content),
            )
        )
    finals = {f.rel for f in files if f.new is not None}
    all_files = {r for r, st in overlay.current.items() if st.content is not None}
    for rel in finals:
        parts = rel.split("/")
        for k in range(1, len(parts)):
            prefix = "/".join(parts[:k])
            if prefix in all_files:
                raise PatchError(f"cannot create {rel}: {prefix} is a file")
    by_rel = {f.rel: f for f in files}
    rendered: list[RenderedFile] = []
    shown: set[str] = set()
    effective_moves: list[tuple[str, str]] = []
    for src, dst in moves:
        fs, fd = by_rel.get(src), by_rel.get(dst)
        if (
            fs is None
            or fd is None
            or fs.new is not None
            or fd.old is not None
            or src in shown
            or dst in shown
        ):
            continue
        rendered.append(
            render_file(
                dst, fs.old, fd.new, old_mode=fs.old_mode, new_mode=fd.new_mode, moved_from=src
            )
        )
        shown.update((src, dst))
        effective_moves.append((src, dst))
    for f in files:
        if f.rel in shown:
            continue
        r = render_file(
            f.rel,
            f.old,
            f.new,
            old_mode=f.old_mode,
            new_mode=f.new_mode,
            replace_all=f.rel in replaced,
        )
        rendered.append(r)
    order = {f.rel: i for i, f in enumerate(files)}
    rendered.sort(key=lambda r: order.get(r.path, 0))
    return Plan(
        workspace=ws.root,
        files=tuple(files),
        rendered=tuple(r for r in rendered if r.text),
        moves=tuple(effective_moves),
    )

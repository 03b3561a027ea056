"""Everything the session changed: a snapshot of the workspace at start, diffed on demand.

The review a pull request would get, before anyone commits: added, deleted and modified files
as one unified diff. Files too big to keep (or binary) are compared by hash and named without
their content. `.git` and the usual caches are skipped, symlinks are compared by their target.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
     "node_modules", ".venv", ".tox", ".lockgate"}
)  # fmt: skip
MAX_FILE = 1 << 20  # bytes of one file kept for the diff
MAX_TOTAL = 64 << 20  # bytes kept in all; beyond it files are compared by hash only
MAX_FILES = 50_000


@dataclass(frozen=True)
class FileState:
    digest: str
    size: int
    data: bytes | None  # None: too big (or over the total), compared by digest only
    link: str | None = None  # a symlink's target
    mode: int = 0


@dataclass(frozen=True)
class SessionDiff:
    unified: str
    files: tuple[tuple[str, int, int], ...]  # (path, added lines, removed lines)
    notes: tuple[str, ...]  # files changed that cannot be shown line by line

    @property
    def empty(self) -> bool:
        return not self.files and not self.notes


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            count += 1
            if count > MAX_FILES:
                return
            yield path.relative_to(root).as_posix(), path
        # Symlinked directories are not descended into; report them as links.
        for d in list(dirnames):
            p = Path(dirpath) / d
            if p.is_symlink():
                dirnames.remove(d)
                yield p.relative_to(root).as_posix(), p


def _read(path: Path, budget: list[int]) -> FileState | None:
    try:
        st = path.lstat()
        if path.is_symlink():
            target = os.readlink(path)
            return FileState(hashlib.sha256(target.encode()).hexdigest(), 0, None, link=target)
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            data = fh.read()
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    keep = len(data) <= MAX_FILE and budget[0] >= len(data)
    if keep:
        budget[0] -= len(data)
    return FileState(digest, len(data), data if keep else None, mode=st.st_mode & 0o777)


def snapshot(root: Path) -> dict[str, FileState]:
    """What every file under `root` holds now. Blocking: run it in a thread."""
    budget = [MAX_TOTAL]
    states: dict[str, FileState] = {}
    for rel, path in _walk(root):
        state = _read(path, budget)
        if state is not None:
            states[rel] = state
    return states


def _text(state: FileState | None) -> list[str] | None:
    """Lines of a text file, or None for binary / unknown content."""
    if state is None:
        return []
    if state.link is not None:
        return [f"symlink -> {state.link}\n"]
    if state.data is None or b"\0" in state.data[:8192]:
        return None
    try:
        return state.data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def diff_since(before: dict[str, FileState], root: Path) -> SessionDiff:
    """The cumulative diff from `before` to what `root` holds now. Blocking: run it in a thread."""
    after = snapshot(root)
    chunks: list[str] = []
    files: list[tuple[str, int, int]] = []
    notes: list[str] = []
    for rel in sorted(set(before) | set(after)):
        old, new = before.get(rel), after.get(rel)
        if old is not None and new is not None and old.digest == new.digest:
            if old.mode != new.mode:
                notes.append(f"{rel}: mode {old.mode:o} → {new.mode:o}")
            continue
        old_lines, new_lines = _text(old), _text(new)
        if old_lines is None or new_lines is None:
            what = "added" if old is None else "deleted" if new is None else "changed"
            notes.append(f"{rel}: binary or large file {what}")
            continue
        for lines in (old_lines, new_lines):
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n\\ No newline at end of file\n"
        a = "/dev/null" if old is None else f"a/{rel}"
        b = "/dev/null" if new is None else f"b/{rel}"
        body = list(difflib.unified_diff(old_lines, new_lines, a, b, n=3))
        if not body:
            continue
        added = sum(1 for ln in body[2:] if ln.startswith("+"))
        removed = sum(1 for ln in body[2:] if ln.startswith("-"))
        chunks.append(f"diff --git a/{rel} b/{rel}\n")
        chunks.extend(ln if ln.endswith("\n") else ln + "\n" for ln in body)
        files.append((rel, added, removed))
    return SessionDiff("".join(chunks), tuple(files), tuple(notes))

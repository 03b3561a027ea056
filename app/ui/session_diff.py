"""Everything the session changed: a snapshot at start, diffed on demand — the final review.

The review a pull request would get, before anyone commits, and more: a pull request never shows
`.git/hooks/pre-commit`, and that is exactly the change a reviewer must not miss. So the snapshot
covers, besides the ordinary files of the workspace:

- git's protected names in every `.git` directory (`hooks/`, `config`, `commondir`,
  `config.worktree`, `info/`): they run code on the reviewer's next `git` call;
- protected and ignored places (agent and editor settings, `node_modules`, `.venv`, caches):
  ignored trees are compared by size, time and mode only (reading all of `node_modules` would
  stall the start), and summed up per tree;
- directories outside the workspace that commands may write (the sandbox's writable roots),
  compared the same cheap way, and files outside the workspace an approved action reported.

A change is *dangerous* when it touches a protected path (`app.patch.fsops.protected_reason`),
lies outside the workspace, or makes a file executable; dangerous changes come first, marked.
Files too big to keep (or binary) are compared by hash and named without their content; symlinks
are compared by their target. Only lockgate's own `.lockgate/` directory is left out.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.patch.fsops import protected_reason

# Trees that are rebuilt, not written by hand: compared by metadata only (see the module doc).
IGNORED_DIRS = frozenset(
    {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "node_modules", ".venv",
     ".tox", ".hg", ".svn"}
)  # fmt: skip
OWN_DIRS = frozenset({".lockgate"})  # lockgate's own bookkeeping (the sandbox protects it)
# Inside a `.git` directory only these are read: what runs code, not git's object store.
GIT_KEPT = frozenset({"hooks", "config", "commondir", "config.worktree", "info"})
MAX_FILE = 1 << 20  # bytes of one file kept for the diff
MAX_TOTAL = 64 << 20  # bytes kept in all; beyond it files are compared by hash only
MAX_FILES = 50_000  # per root; a walk that stops there says so in the diff
OUTSIDE = "outside the workspace"


@dataclass(frozen=True)
class FileState:
    digest: str
    size: int
    data: bytes | None  # None: too big (or over the total, or metadata only): compared by digest
    link: str | None = None  # a symlink's target
    mode: int = 0
    ignored: str = ""  # the ignored tree it lies in ("node_modules"), compared by metadata only


@dataclass(frozen=True)
class Flagged:
    """One dangerous change, named first in the review."""

    path: str
    what: str  # "added", "deleted", "changed", "mode 644 → 755", ...
    why: str


@dataclass(frozen=True)
class SessionDiff:
    unified: str  # dangerous files first
    files: tuple[tuple[str, int, int], ...]  # (path, added lines, removed lines), same order
    notes: tuple[str, ...]  # changes that cannot be shown line by line
    dangerous: tuple[Flagged, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.files and not self.notes and not self.dangerous

    @property
    def flags(self) -> dict[str, str]:
        """path → why it is dangerous, for the diff view's file headers."""
        return {f.path: f.why for f in self.dangerous}


Snapshot = dict[str, FileState]  # workspace-relative paths; absolute ones lie outside it


def _walk(root: Path) -> Iterator[tuple[str, Path, str]]:
    """(relative path, path, ignored tree) of every file under `root`, lockgate's own left out,
    `.git` directories reduced to `GIT_KEPT`. Raises `_TooMany` past `MAX_FILES`."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(root)
        parts = rel_dir.parts
        in_git = ".git" in parts
        if in_git and parts[-1] == ".git":
            dirnames[:] = [d for d in dirnames if d in GIT_KEPT]
            filenames = [f for f in filenames if f in GIT_KEPT]
        if not parts:
            dirnames[:] = [d for d in dirnames if d not in OWN_DIRS]
        dirnames.sort()
        ignored = next((p for p in parts if p in IGNORED_DIRS), "")
        # Symlinked directories are not descended into; report them as links.
        for d in list(dirnames):
            p = here / d
            if p.is_symlink():
                dirnames.remove(d)
                filenames.append(d)
        for name in sorted(filenames):
            count += 1
            if count > MAX_FILES:
                raise _TooMany(count)
            path = here / name
            yield path.relative_to(root).as_posix(), path, ignored


class _TooMany(Exception):
    pass


def _meta_state(st: os.stat_result, ignored: str) -> FileState:
    key = f"{st.st_size}:{st.st_mtime_ns}:{st.st_mode}".encode()
    digest = hashlib.sha256(key).hexdigest()
    return FileState(digest, st.st_size, None, mode=st.st_mode & 0o7777, ignored=ignored)


def _read(path: Path, budget: list[int], ignored: str) -> FileState | None:
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(path)
            digest = hashlib.sha256(target.encode()).hexdigest()
            return FileState(digest, 0, None, link=target, ignored=ignored)
        if not stat.S_ISREG(st.st_mode):
            return None
        if ignored:
            return _meta_state(st, ignored)
        with path.open("rb") as fh:
            data = fh.read()
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    keep = len(data) <= MAX_FILE and budget[0] >= len(data)
    if keep:
        budget[0] -= len(data)
    return FileState(digest, len(data), data if keep else None, mode=st.st_mode & 0o7777)


def _snapshot_root(
    root: Path, budget: list[int], *, prefix: str = "", meta_only: str = ""
) -> tuple[Snapshot, bool]:
    """One root's files (keys prefixed by `prefix`); True if the walk stopped at `MAX_FILES`."""
    states: Snapshot = {}
    try:
        for rel, path, ignored in _walk(root):
            state = _read(path, budget, ignored or meta_only)
            if state is not None:
                states[prefix + rel] = state
    except _TooMany:
        return states, True
    return states, False


def snapshot(root: Path, outside: Sequence[Path] = ()) -> Snapshot:
    """What every file under `root` (and, by metadata, under each `outside` directory) holds
    now. Blocking: run it in a thread."""
    states, _ = _snapshot_all(root, outside)
    return states


def _snapshot_all(root: Path, outside: Sequence[Path]) -> tuple[Snapshot, bool]:
    budget = [MAX_TOTAL]
    states, cut = _snapshot_root(root, budget)
    for extra in outside:
        base = extra.resolve()
        if base.is_dir():
            found, _ = _snapshot_root(base, budget, prefix=f"{base}/", meta_only=OUTSIDE)
            states.update(found)
    return states, cut


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


def _danger(rel: str, old: FileState | None, new: FileState | None) -> str | None:
    if rel.startswith("/"):
        return "outside the workspace"
    why = protected_reason(rel)
    if why is not None:
        return why
    old_mode = old.mode if old is not None else 0
    if new is not None and new.mode & 0o111 and not old_mode & 0o111 and new.link is None:
        return "made executable"
    return None


def _what(old: FileState | None, new: FileState | None) -> str:
    if old is None:
        return "added"
    if new is None:
        return "deleted"
    if old.digest == new.digest:
        return f"mode {old.mode:o} → {new.mode:o}"
    return "changed"


def diff_since(
    before: Snapshot,
    root: Path,
    outside: Sequence[Path] = (),
    touched: Iterable[tuple[str, str]] = (),
) -> SessionDiff:
    """The cumulative diff from `before` to what `root` (and `outside`) holds now. `touched`:
    (absolute path, action id) of files outside the workspace approved actions reported; they
    are named even when no snapshot covered them. Blocking: run it in a thread."""
    after, cut = _snapshot_all(root, outside)
    flagged: list[Flagged] = []
    chunks: dict[str, list[str]] = {}
    files: dict[str, tuple[int, int]] = {}
    notes: list[str] = []
    ignored_counts: dict[str, dict[str, int]] = {}
    if cut:
        notes.append(f"the workspace has more than {MAX_FILES} files: later ones are not compared")
    for rel in sorted(set(before) | set(after)):
        old, new = before.get(rel), after.get(rel)
        if old is not None and new is not None and (old.digest, old.mode) == (new.digest, new.mode):
            continue
        what = _what(old, new)
        why = _danger(rel, old, new)
        if why is not None:
            flagged.append(Flagged(rel, what, why))
        state = new if new is not None else old
        tree = state.ignored if state is not None else ""
        if tree and tree != OUTSIDE and why is None:
            counts = ignored_counts.setdefault(tree, {})
            counts[what.split(" ")[0]] = counts.get(what.split(" ")[0], 0) + 1
            continue
        if what.startswith("mode"):
            if why is None:
                notes.append(f"{rel}: {what}")
            continue
        old_lines, new_lines = _text(old), _text(new)
        if old_lines is None or new_lines is None:
            if why is None:
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
        files[rel] = (
            sum(1 for ln in body[2:] if ln.startswith("+")),
            sum(1 for ln in body[2:] if ln.startswith("-")),
        )
        chunks[rel] = [f"diff --git a/{rel} b/{rel}\n"] + [
            ln if ln.endswith("\n") else ln + "\n" for ln in body
        ]
    for tree, counts in sorted(ignored_counts.items()):
        said = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
        notes.append(f"{tree} (ignored, compared by size and time): {said}")
    known = {f.path for f in flagged}
    for path, action_id in touched:
        if path not in known and path not in after and path not in before:
            known.add(path)
            flagged.append(Flagged(path, f"touched by {action_id}", "outside the workspace"))
    # Dangerous first, in the diff as in the summary.
    order = [f.path for f in flagged if f.path in files] + [p for p in files if p not in known]
    unified = "".join("".join(chunks[p]) for p in order)
    return SessionDiff(unified, tuple((p, *files[p]) for p in order), tuple(notes), tuple(flagged))

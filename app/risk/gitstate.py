"""What the workspace's git knows about files an action would delete: tracked and unmodified
(git can restore them), modified (changes since the last commit are lost), untracked (gone for
good), ignored (generated output and caches: nothing worth a question).

Reading it costs two `git` runs, so git's snapshot is cached per workspace (refreshed when
the index changes, or after a few seconds) and checked against the file system on every
question: the path is walked, a tracked file changed after the snapshot counts as modified and
a file git has not seen counts as untracked. Anything that goes wrong (no git, a broken
repository, a tree too large to walk) gives None: the engine then judges as it would without
git, never more leniently.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

_TTL = 3.0  # seconds an answer is trusted when the index has not changed
_TIMEOUT = 2.0
_MAX_ENTRIES = 200_000  # a repository larger than this is judged without git


@dataclass(frozen=True)
class GitState:
    """One snapshot of a worktree: paths relative to `root`."""

    root: str
    tracked: frozenset[str]
    dirty: frozenset[str]  # tracked, changed in the worktree or the index
    untracked: frozenset[str]
    ignored: tuple[str, ...]  # ignored files, and ignored directories ending in "/"
    taken_ns: int = 0  # wall clock when the snapshot was read
    unstaged: frozenset[str] = frozenset()  # tracked, changed in the worktree (not the index)

    def is_ignored(self, rel: str) -> bool:
        for ig in self.ignored:
            if ig.endswith("/"):
                if rel + "/" == ig or rel.startswith(ig):
                    return True
            elif rel == ig:
                return True
        return False


@dataclass(frozen=True)
class Loss:
    """What deleting one path loses, by git's account."""

    tracked_clean: int
    dirty: int
    untracked: int
    ignored: bool  # the path itself is ignored (or everything under it is)


def _run(args: list[str], cwd: str) -> bytes | None:
    import subprocess  # only when a deletion is judged (~3 ms to load, most calls never need it)

    try:
        p = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout if p.returncode == 0 else None


def _find_root(path: str) -> str | None:
    cur = path
    while True:
        if os.path.exists(os.path.join(cur, ".git")):
            return cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return None
        cur = parent


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.roots: dict[str, tuple[str | None, float]] = {}
        self.states: dict[str, tuple[tuple[int, float], GitState | None]] = {}

    def root(self, workspace: str) -> str | None:
        now = time.monotonic()
        hit = self.roots.get(workspace)
        if hit is not None and now - hit[1] < _TTL:
            return hit[0]
        root = _find_root(workspace)
        with self.lock:
            self.roots[workspace] = (root, now)
        return root

    def version(self, workspace: str) -> int:
        """Changes when git's index does: part of the engine's cache key."""
        root = self.root(workspace)
        if root is None:
            return 0
        try:
            return os.stat(os.path.join(root, ".git", "index")).st_mtime_ns
        except OSError:
            return 0

    def state(self, workspace: str) -> GitState | None:
        root = self.root(workspace)
        if root is None:
            return None
        ver = self.version(workspace)
        now = time.monotonic()
        hit = self.states.get(root)
        if hit is not None and hit[0][0] == ver and now - hit[0][1] < _TTL:
            return hit[1]
        st = _read(root)
        with self.lock:
            self.states[root] = ((ver, now), st)
        return st


def _read(root: str) -> GitState | None:
    taken = time.time_ns()  # before git looks: a file changed later has a later mtime
    listed = _run(["ls-files", "-z"], root)
    status = _run(
        ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=traditional"], root
    )
    if listed is None or status is None:
        return None
    tracked = [p for p in listed.decode("utf-8", "surrogateescape").split("\0") if p]
    if len(tracked) > _MAX_ENTRIES:
        return None
    dirty: set[str] = set()
    unstaged: set[str] = set()
    untracked: set[str] = set()
    ignored: list[str] = []
    entries = status.decode("utf-8", "surrogateescape").split("\0")
    i = 0
    while i < len(entries):
        e = entries[i]
        i += 1
        if len(e) < 4:
            continue
        code, path = e[:2], e[3:]
        if code == "??":
            untracked.add(path)
        elif code == "!!":
            ignored.append(path)
        else:
            dirty.add(path)
            if code[1] != " ":
                unstaged.add(path)
            if code[0] in "RC":
                i += 1  # the rename's source follows
    return GitState(
        root,
        frozenset(tracked),
        frozenset(dirty),
        frozenset(untracked),
        tuple(ignored),
        taken,
        frozenset(unstaged),
    )


_CACHE = _Cache()


def fresh(workspace: str) -> GitState | None:
    """git's account read now (not the cached snapshot): for commands that wipe the worktree
    (`git clean`, `git reset --hard`), whose verdict counts every file they would take."""
    root = _CACHE.root(workspace)
    if root is None:
        return None
    ver = _CACHE.version(workspace)
    st = _read(root)
    with _CACHE.lock:
        _CACHE.states[root] = ((ver, time.monotonic()), st)
    return st


def stashes(workspace: str) -> list[str] | None:
    """The stash entries (`stash@{0}: WIP on …`), newest first; None when git cannot say."""
    root = _CACHE.root(workspace)
    if root is None:
        return None
    out = _run(["stash", "list"], root)
    if out is None:
        return None
    return [line for line in out.decode("utf-8", "replace").splitlines() if line.strip()]


def stash_files(workspace: str, ref: str) -> int | None:
    """How many files the stash entry `ref` changes."""
    root = _CACHE.root(workspace)
    if root is None:
        return None
    out = _run(["stash", "show", "--name-only", ref], root)
    if out is None:
        return None
    return len([line for line in out.decode("utf-8", "replace").splitlines() if line.strip()])


def in_scope(rel: str, scopes: tuple[str, ...]) -> bool:
    """Whether the root-relative `rel` lies under one of `scopes` ("" is the whole tree)."""
    rel = rel.rstrip("/")
    return any(not sc or rel == sc or rel.startswith(sc + "/") for sc in scopes)


def version(workspace: str) -> int:
    return _CACHE.version(workspace)


def has_git(workspace: str) -> bool:
    return _CACHE.state(workspace) is not None


_MAX_WALK = 20_000


def loss(workspace: str, abs_path: str) -> Loss | None:
    """What deleting `abs_path` (a file or a directory) loses; None when git cannot say."""
    st = _CACHE.state(workspace)
    if st is None:
        return None
    root = st.root.rstrip("/")
    if not (abs_path == root or abs_path.startswith(root + "/")):
        return None
    rel = abs_path[len(root) + 1 :] if abs_path != root else ""
    if not rel or rel == ".git" or rel.startswith(".git/"):
        return None
    if st.is_ignored(rel):
        return Loss(0, 0, 0, True)
    if not os.path.lexists(abs_path):
        return None
    clean = dirty = untracked = 0
    seen = 0
    files: list[tuple[str, str]] = []
    if os.path.isdir(abs_path) and not os.path.islink(abs_path):
        for dirpath, dirnames, filenames in os.walk(abs_path):
            drel = dirpath[len(root) + 1 :]
            keep = []
            for d in dirnames:
                sub = f"{drel}/{d}"
                if d != ".git" and not st.is_ignored(sub):
                    keep.append(d)
            dirnames[:] = keep
            for f in filenames:
                files.append((os.path.join(dirpath, f), f"{drel}/{f}"))
                seen += 1
            if seen > _MAX_WALK:
                return None
    else:
        files.append((abs_path, rel))
    for path, frel in files:
        if st.is_ignored(frel):
            continue
        if frel in st.tracked:
            try:
                changed = os.lstat(path).st_mtime_ns > st.taken_ns
            except OSError:
                continue
            if frel in st.dirty or changed:
                dirty += 1
            else:
                clean += 1
        else:
            untracked += 1
    if clean == dirty == untracked == 0:
        # Only ignored files (or nothing): generated output git ignores file by file.
        return Loss(0, 0, 0, True) if files else None
    return Loss(clean, dirty, untracked, False)

"""Protected names inside the workspace, before and after a command.

A mount can only cover a name that exists, and Linux has no way to forbid creating one name in a
writable directory. So: a protected path that exists is bound read-only over itself (the mount
namespace does that); `.git` itself becomes a mount point, so it cannot be renamed or replaced;
a missing `.git/hooks` in an existing repository gets an empty directory (inside `.git`, where
git itself keeps one) so it can be covered too. Any other protected name that was missing and
that the command created is removed by the guard after the command — by then every process of
the command is dead (its pid namespace is gone) — and the guard says what it removed.
A repository the command created from nothing (`git init`) keeps its objects and refs, loses
any hook that is not a `*.sample`, and loses config lines that would run a program.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

GLOB_CHARS = set("*?[")

# git config keys whose value is a program to run (or pulls in another file that could be).
_DANGEROUS_GIT_KEY = re.compile(
    r"^\s*(hookspath|fsmonitor|sshcommand|pager|editor|askpass|gitproxy|textconv|driver|"
    r"helper|program|uploadpack|receivepack|clean|smudge|process|command|path|cmd|tool)\s*=",
    re.IGNORECASE,
)
_BANG_VALUE = re.compile(r"=\s*!")
_SECTION = re.compile(r"^\s*\[([^\]\s\"]+)")
_DANGEROUS_SECTIONS = {"include", "includeif", "filter", "credential", "alias"}


@dataclass(frozen=True)
class Prepared:
    read_only: tuple[str, ...]  # existing protected paths: bound read-only
    git_dir: str | None  # <ws>/.git when it is a directory: becomes a mount point
    absent: tuple[str, ...]  # exact protected paths missing at start
    globs: tuple[tuple[str, tuple[str, ...]], ...]  # (pattern, names present at start)
    git_existed: bool


def prepare(workspace: Path, patterns: tuple[str, ...]) -> Prepared:
    ws = str(workspace)
    git = os.path.join(ws, ".git")
    git_is_dir = os.path.isdir(git) and not os.path.islink(git)
    git_existed = os.path.lexists(git)
    read_only: list[str] = []
    absent: list[str] = []
    globs: list[tuple[str, tuple[str, ...]]] = []
    if git_existed and not git_is_dir and not os.path.islink(git):
        read_only.append(git)  # a worktree's `.git` file: it names the real repository
    for pattern in patterns:
        parent_rel, _, name = pattern.rpartition("/")
        parent = os.path.join(ws, parent_rel) if parent_rel else ws
        if GLOB_CHARS & set(pattern):
            present = _matching(parent, name)
            globs.append((pattern, tuple(present)))
            read_only += [os.path.join(parent, n) for n in present]
            continue
        path = os.path.join(ws, pattern)
        if pattern == ".git/hooks" and git_is_dir and not os.path.lexists(path):
            with contextlib.suppress(OSError):
                os.mkdir(path, 0o755)
        if os.path.lexists(path):
            if not os.path.islink(path):
                read_only.append(path)
        else:
            absent.append(path)
    return Prepared(
        read_only=tuple(dict.fromkeys(read_only)),
        git_dir=git if git_is_dir else None,
        absent=tuple(absent),
        globs=tuple(globs),
        git_existed=git_existed,
    )


def _matching(parent: str, name_pattern: str) -> list[str]:
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    return sorted(n for n in names if fnmatch.fnmatchcase(n, name_pattern))


def guard(workspace: Path, prep: Prepared) -> tuple[str, ...]:
    """Undo protected names the command created. Returns one line per thing removed."""
    ws = str(workspace)
    notes: list[str] = []
    git = os.path.join(ws, ".git")
    new_repo = not prep.git_existed and os.path.isdir(git) and not os.path.islink(git)
    for path in prep.absent:
        if new_repo and path.startswith(git + os.sep):
            continue  # handled below: a fresh repository keeps its config
        if os.path.lexists(path):
            _remove(path)
            notes.append(f"removed {os.path.relpath(path, ws)} (protected; created by the command)")
    for pattern, present in prep.globs:
        parent_rel, _, name = pattern.rpartition("/")
        parent = os.path.join(ws, parent_rel) if parent_rel else ws
        for n in _matching(parent, name):
            if n not in present:
                _remove(os.path.join(parent, n))
                rel = os.path.relpath(os.path.join(parent, n), ws)
                notes.append(f"removed {rel} (protected; created by the command)")
    if new_repo:
        notes += _tame_new_repository(git, ws)
    return tuple(notes)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _tame_new_repository(git: str, ws: str) -> list[str]:
    notes: list[str] = []
    hooks = os.path.join(git, "hooks")
    if os.path.islink(hooks) or (os.path.lexists(hooks) and not os.path.isdir(hooks)):
        _remove(hooks)
        notes.append("removed .git/hooks (not a directory)")
    elif os.path.isdir(hooks):
        for entry in os.listdir(hooks):
            if not entry.endswith(".sample"):
                _remove(os.path.join(hooks, entry))
                notes.append(f"removed .git/hooks/{entry} (hooks in a new repository)")
    config = os.path.join(git, "config")
    if os.path.islink(config):
        _remove(config)
        notes.append("removed .git/config (a symlink)")
    elif os.path.isfile(config):
        with open(config, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines(keepends=True)
        kept: list[str] = []
        dropped = 0
        section = ""
        for line in lines:
            m = _SECTION.match(line)
            if m:
                section = m.group(1).lower()
                if section in _DANGEROUS_SECTIONS:
                    dropped += 1
                    continue
                kept.append(line)
                continue
            if (
                section in _DANGEROUS_SECTIONS
                or _DANGEROUS_GIT_KEY.match(line)
                or _BANG_VALUE.search(line)
            ):
                dropped += 1
                continue
            kept.append(line)
        if dropped:
            tmp = config + ".lockgate-tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("".join(kept))
            os.replace(tmp, config)
            notes.append(f"dropped {dropped} line(s) from .git/config that would run programs")
    return notes

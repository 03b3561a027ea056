"""Protected names inside the workspace (and every writable root), before and after a command.

A mount can only cover a name that exists, and Linux has no way to forbid creating one name in a
writable directory. So: a protected path that exists is bound read-only over itself (the mount
namespace does that); `.git` itself becomes a mount point, so it cannot be renamed or replaced;
a missing `.git/hooks` in an existing repository gets an empty directory (inside `.git`, where
git itself keeps one) so it can be covered too. Any other protected name that was missing and
that the command created is removed by the guard after the command — by then every process of
the command is dead (its pid namespace is gone) — and the guard says what it removed.
A `.git` that was a symlink (which no mount can cover) is put back if the command changed it.
A repository the command created from nothing (`git init`) keeps its objects and refs, loses
any hook that is not a `*.sample`, and loses config lines that would run a program.

The guard runs as the console's user on files a hostile command prepared: it never follows a
symlink it did not check (O_NOFOLLOW, descriptors relative to the checked directory) and writes
only through a fresh O_EXCL file.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

GLOB_CHARS = set("*?[")
# Names inside any git directory that decide which programs git runs: hooks, config, and the
# files that redirect config and hooks elsewhere (`commondir`) or add to them.
GIT_PROTECTED = ("hooks", "config", "commondir", "config.worktree")

# What a repository the command created from nothing may keep in its config: an allow-list by
# section and key (git has too many keys that run programs — pager.<cmd>, interactive.diffFilter,
# core.alternateRefsCommand, remote.<name>.uploadpack … — for a deny-list to stay complete).
_SAFE_GIT_KEYS: dict[str, frozenset[str]] = {
    "core": frozenset({"repositoryformatversion", "filemode", "bare", "logallrefupdates",
                       "ignorecase", "precomposeunicode", "symlinks", "autocrlf", "eol",
                       "safecrlf", "quotepath", "compression", "bigfilethreshold"}),
    "remote": frozenset({"url", "pushurl", "fetch", "push", "mirror", "tagopt", "prune"}),
    "branch": frozenset({"remote", "merge", "rebase", "pushremote", "description"}),
    "user": frozenset({"name", "email"}),
    "init": frozenset({"defaultbranch"}),
    "extensions": frozenset({"objectformat", "refstorage"}),
}  # fmt: skip
_KEY = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*)\s*(=|$)")


@dataclass(frozen=True)
class GitMark:
    """What `<root>/.git` was before the command: kind and identity."""

    root: str
    kind: str  # "absent" | "dir" | "file" | "symlink" | "other"
    ident: tuple[int, int] = (0, 0)
    target: str = ""


@dataclass(frozen=True)
class Prepared:
    read_only: tuple[str, ...]  # existing protected paths: bound read-only
    # become mount points: <root>/.git directories, and the directories a protected symlink or
    # `.git` file leads through inside a writable tree
    git_dirs: tuple[str, ...]
    absent: tuple[str, ...]  # exact protected paths missing at start
    globs: tuple[tuple[str, str, tuple[str, ...]], ...]  # (root, pattern, names present)
    gits: tuple[GitMark, ...]
    modules: tuple[str, ...] = ()  # submodule git dirs (.git/modules/...) present at start
    links: tuple[tuple[str, str], ...] = ()  # protected names that were symlinks: (path, target)
    worktrees: tuple[str, ...] = ()  # linked worktrees' git dirs (.git/worktrees/...) at start
    # git directories in a writable tree, and the symlinks and special files in them at start
    repos: tuple[str, ...] = ()
    specials: frozenset[str] = frozenset()

    @property
    def git_dir(self) -> str | None:
        return self.git_dirs[0] if self.git_dirs else None


def prepare(workspace: Path, patterns: tuple[str, ...], others: tuple[Path, ...] = ()) -> Prepared:
    read_only: list[str] = []
    git_dirs: list[str] = []
    absent: list[str] = []
    globs: list[tuple[str, str, tuple[str, ...]]] = []
    gits: list[GitMark] = []
    modules: list[str] = []
    links: list[tuple[str, str]] = []
    worktrees: list[str] = []
    repos: list[str] = []
    roots = [str(r) for r in (workspace, *others)]

    def protect(path: str) -> None:
        """An existing protected name: bound read-only; a symlink is put back by the guard if
        the command changes it, and what it points to inside a writable tree is bound."""
        if not os.path.islink(path):
            read_only.append(path)
            return
        with contextlib.suppress(OSError):
            links.append((path, os.readlink(path)))
        real = os.path.realpath(path)
        if os.path.lexists(real) and pin(real):
            read_only.append(real)

    def pin(real: str) -> bool:
        """Make every directory from a writable root down to `real` a mount point, so none of
        them can be renamed and replaced by one the command prepared (which the symlink or
        `.git` file would then name). False when `real` is in no writable tree."""
        for r in roots:
            base = r.rstrip("/")
            if real != r and not real.startswith(base + "/"):
                continue
            parts = os.path.relpath(real, r).split(os.sep)
            for i in range(1, len(parts)):  # the ancestors; `real` itself is bound by the caller
                d = os.path.join(r, *parts[:i])
                if os.path.isdir(d) and not os.path.islink(d) and d not in git_dirs:
                    git_dirs.append(d)
            return True
        return False

    for root_path in (workspace, *others):
        root = str(root_path)
        mark = _git_mark(root)
        gits.append(mark)
        git = os.path.join(root, ".git")
        if mark.kind == "dir":
            git_dirs.append(git)
            repos.append(git)
            # submodules keep their own hooks and config under .git/modules/<name>/
            for sub in submodule_git_dirs(git):
                modules.append(sub)
                hooks = os.path.join(sub, "hooks")
                if not os.path.lexists(hooks):
                    with contextlib.suppress(OSError):
                        os.mkdir(hooks, 0o755)
                for name in GIT_PROTECTED:
                    path = os.path.join(sub, name)
                    if os.path.lexists(path):
                        protect(path)
                    elif name != "hooks":
                        absent.append(path)
            # linked worktrees' git dirs: `commondir` and `config.worktree` there decide which
            # config and hooks git uses in that worktree (wherever it is checked out)
            for wt in worktree_git_dirs(git):
                worktrees.append(wt)
                for name in ("commondir", "config.worktree"):
                    path = os.path.join(wt, name)
                    if os.path.lexists(path):
                        protect(path)
                    else:
                        absent.append(path)
        elif mark.kind == "symlink":
            # the repository a `.git` symlink names, when it lies in a writable tree, becomes
            # a mount point (cannot be moved away and replaced); the protected names below
            # are reached through the symlink
            real = os.path.realpath(git)
            if os.path.isdir(real) and pin(real):
                git_dirs.append(real)
                repos.append(real)
        elif mark.kind == "file":
            read_only.append(git)  # a worktree's `.git` file: it names the real repository
            # …which may lie inside a writable tree, with its hooks and config
            for real in _pointed_git_dirs(git):
                if pin(real):
                    git_dirs.append(real)  # a mount point: it cannot be moved or replaced
                    repos.append(real)
                    for name in GIT_PROTECTED:
                        path = os.path.join(real, name)
                        if os.path.lexists(path):
                            protect(path)
                        elif name != "hooks":
                            absent.append(path)
        for pattern in patterns:
            parent_rel, _, name = pattern.rpartition("/")
            parent = os.path.join(root, parent_rel) if parent_rel else root
            if GLOB_CHARS & set(pattern):
                present = _matching(parent, name)
                globs.append((root, pattern, tuple(present)))
                for n in present:
                    protect(os.path.join(parent, n))
                continue
            path = os.path.join(root, pattern)
            if pattern == ".git/hooks" and mark.kind == "dir" and not os.path.lexists(path):
                with contextlib.suppress(OSError):
                    os.mkdir(path, 0o755)
            if os.path.lexists(path):
                protect(path)
            else:
                absent.append(path)
    return Prepared(
        read_only=tuple(dict.fromkeys(read_only)),
        git_dirs=tuple(git_dirs),
        absent=tuple(absent),
        globs=tuple(globs),
        gits=tuple(gits),
        modules=tuple(modules),
        links=tuple(dict.fromkeys(links)),
        worktrees=tuple(worktrees),
        repos=tuple(repos),
        specials=frozenset(p for r in repos for p in special_entries(r)),
    )


# Inside objects/ only these directories themselves are checked, not the many files below.
_OBJECT_FANOUT = re.compile(r"^([0-9a-f]{2}|pack)$")


def special_entries(git: str) -> list[str]:
    """Symlinks, FIFOs, sockets and devices inside a git directory. Git itself makes only
    files and directories there; a symlink a command leaves (`logs/HEAD -> ~/.bashrc`) would
    have the reviewer's next git call write through it, and a FIFO would hang it."""
    out: list[str] = []
    stack = [git]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        in_objects = d == os.path.join(git, "objects")
        for e in entries:
            try:
                mode = e.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                if not (in_objects and _OBJECT_FANOUT.match(e.name)):
                    stack.append(e.path)
            elif not stat.S_ISREG(mode):
                out.append(e.path)
    return out


def _pointed_git_dirs(git_file: str) -> list[str]:
    """The git directory a `.git` file names (`gitdir: …`) and, for a linked worktree, the
    common directory its `commondir` names; resolved, existing directories only."""
    try:
        with open(git_file, "rb") as f:
            text = f.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return []
    if not text.startswith("gitdir:"):
        return []
    first = text.splitlines()[0][len("gitdir:") :].strip()
    gitdir = os.path.realpath(os.path.join(os.path.dirname(git_file), first))
    out = [gitdir] if os.path.isdir(gitdir) else []
    with contextlib.suppress(OSError), open(os.path.join(gitdir, "commondir"), "rb") as f:
        common = f.read(4096).decode("utf-8", errors="replace").strip()
        real = os.path.realpath(os.path.join(gitdir, common))
        if os.path.isdir(real) and real not in out:
            out.append(real)
    return out


def worktree_git_dirs(git: str) -> list[str]:
    """<git>/worktrees/<name> directories, without following symlinks."""
    top = os.path.join(git, "worktrees")
    if not os.path.isdir(top) or os.path.islink(top):
        return []
    try:
        return sorted(e.path for e in os.scandir(top) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def submodule_git_dirs(git: str, depth: int = 6) -> list[str]:
    """Git directories below <git>/modules (nested submodules included), without following
    symlinks."""
    out: list[str] = []
    top = os.path.join(git, "modules")
    if not os.path.isdir(top) or os.path.islink(top):
        return out
    stack = [(top, 0)]
    while stack:
        d, level = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if not e.is_dir(follow_symlinks=False):
                continue
            if os.path.isfile(os.path.join(e.path, "HEAD")):
                out.append(e.path)
                nested = os.path.join(e.path, "modules")
                if level < depth and os.path.isdir(nested) and not os.path.islink(nested):
                    stack.append((nested, level + 1))
            elif level < depth:
                stack.append((e.path, level + 1))  # names with slashes: modules/a/b
    return sorted(out)


def _git_mark(root: str) -> GitMark:
    git = os.path.join(root, ".git")
    try:
        st = os.lstat(git)
    except OSError:
        return GitMark(root, "absent")
    ident = (st.st_dev, st.st_ino)
    if stat.S_ISLNK(st.st_mode):
        return GitMark(root, "symlink", ident, os.readlink(git))
    if stat.S_ISDIR(st.st_mode):
        return GitMark(root, "dir", ident)
    if stat.S_ISREG(st.st_mode):
        return GitMark(root, "file", ident)
    return GitMark(root, "other", ident)


def _matching(parent: str, name_pattern: str) -> list[str]:
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    return sorted(n for n in names if fnmatch.fnmatchcase(n, name_pattern))


def guard(workspace: Path, prep: Prepared) -> tuple[str, ...]:
    """Undo protected names the command created. Returns one line per thing it changed."""
    notes: list[str] = []
    new_repos: list[str] = []
    for mark in prep.gits:
        git = os.path.join(mark.root, ".git")
        now = _git_mark(mark.root)
        if now.kind == "dir" and (
            mark.kind == "absent" or (mark.kind == "dir" and now.ident != mark.ident)
        ):
            new_repos.append(git)  # made from nothing, or put where the old one was
        elif mark.kind == "absent" and now.kind != "absent":
            # a `.git` file or symlink names a repository elsewhere, whose config and hooks
            # the reviewer's next git call would use
            _remove(git)
            notes.append(f"removed {_rel(git, workspace)} (a {now.kind} the command created)")
        elif mark.kind == "symlink" and (now.kind, now.target) != ("symlink", mark.target):
            _remove(git)
            with contextlib.suppress(OSError):
                os.symlink(mark.target, git)
            notes.append(f"restored {_rel(git, workspace)} (a symlink the command replaced)")
    for path, target in prep.links:
        try:
            same = os.readlink(path) == target
        except OSError:
            same = False
        if not same:
            _remove(path)
            with contextlib.suppress(OSError):
                os.symlink(target, path)
            notes.append(f"restored {_rel(path, workspace)} (a symlink the command replaced)")
    for path in prep.absent:
        if any(path.startswith(g + os.sep) for g in new_repos):
            continue  # handled below: a fresh repository keeps its config
        if os.path.lexists(path):
            _remove(path)
            notes.append(f"removed {_rel(path, workspace)} (protected; created by the command)")
    for root, pattern, present in prep.globs:
        parent_rel, _, name = pattern.rpartition("/")
        parent = os.path.join(root, parent_rel) if parent_rel else root
        for n in _matching(parent, name):
            if n not in present:
                path = os.path.join(parent, n)
                _remove(path)
                notes.append(f"removed {_rel(path, workspace)} (protected; created by the command)")
    for git in new_repos:
        notes += _tame_new_repository(git, workspace)
    for repo in prep.repos:
        if not os.path.isdir(repo) or os.path.islink(repo):
            continue
        for path in special_entries(repo):
            if path not in prep.specials:
                _remove(path)
                notes.append(f"removed {_rel(path, workspace)} (not a plain file; git makes none)")
    known = set(prep.modules)
    for mark in prep.gits:
        git = os.path.join(mark.root, ".git")
        if mark.kind != "dir" or not os.path.isdir(git) or os.path.islink(git):
            continue
        for sub in submodule_git_dirs(git):
            if sub not in known:  # a submodule repository the command made: same treatment
                notes += _tame_new_repository(sub, workspace)
        for wt in worktree_git_dirs(git):
            if wt not in prep.worktrees:  # a worktree the command added (`git worktree add`)
                notes += _tame_new_worktree(wt, workspace)
    return tuple(notes)


def _tame_new_worktree(wt: str, workspace: Path) -> list[str]:
    """A new worktree's `commondir` must name its own repository (git writes `../..`); any
    other value, and any `config.worktree`, would hand git someone else's config and hooks."""
    notes: list[str] = []
    try:
        wfd = os.open(wt, os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return notes
    try:
        try:
            fd = os.open("commondir", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=wfd)
            with os.fdopen(fd, "rb") as f:
                ok = stat.S_ISREG(os.fstat(f.fileno()).st_mode) and f.read(64).strip() == b"../.."
        except OSError:
            ok = not os.path.lexists(os.path.join(wt, "commondir"))
        names = ["config.worktree"] if ok else ["commondir", "config.worktree"]
        for name in names:
            with contextlib.suppress(OSError):
                st = os.lstat(name, dir_fd=wfd)
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(name, dir_fd=wfd, ignore_errors=True)
                else:
                    os.unlink(name, dir_fd=wfd)
                rel = _rel(os.path.join(wt, name), workspace)
                notes.append(f"removed {rel} (it redirects git)")
    finally:
        os.close(wfd)
    return notes


def _rel(path: str, workspace: Path) -> str:
    rel = os.path.relpath(path, workspace)
    return path if rel.startswith("..") else rel


def _remove(path: str) -> None:
    """Remove without following symlinks (rmtree works on descriptors on Linux)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _tame_new_repository(git: str, workspace: Path) -> list[str]:
    notes: list[str] = []
    try:
        gfd = os.open(git, os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return notes
    try:
        notes += _tame_hooks(gfd, git, workspace)
        notes += _tame_config(gfd, git, workspace)
        notes += _drop_redirects(gfd, git, workspace)
        for path in special_entries(git):
            _remove(path)
            notes.append(f"removed {_rel(path, workspace)} (not a plain file; git makes none)")
    finally:
        os.close(gfd)
    return notes


def _drop_redirects(gfd: int, git: str, workspace: Path) -> list[str]:
    """`commondir` sends git to another directory's config and hooks; `config.worktree` adds
    config. A repository the command created keeps neither."""
    notes = []
    for name in ("commondir", "config.worktree"):
        try:
            st = os.lstat(name, dir_fd=gfd)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=gfd, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=gfd)
        notes.append(f"removed {_rel(os.path.join(git, name), workspace)} (it redirects git)")
    return notes


def _tame_hooks(gfd: int, git: str, workspace: Path) -> list[str]:
    rel = _rel(os.path.join(git, "hooks"), workspace)
    try:
        st = os.lstat("hooks", dir_fd=gfd)
    except OSError:
        return []
    if not stat.S_ISDIR(st.st_mode):
        os.unlink("hooks", dir_fd=gfd)
        return [f"removed {rel} (not a directory)"]
    notes = []
    hfd = os.open("hooks", os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=gfd)
    try:
        for entry in os.listdir(hfd):
            if entry.endswith(".sample"):
                continue
            est = os.lstat(entry, dir_fd=hfd)
            if stat.S_ISDIR(est.st_mode):
                shutil.rmtree(entry, dir_fd=hfd, ignore_errors=True)
            else:
                os.unlink(entry, dir_fd=hfd)
            notes.append(f"removed {rel}/{entry} (a hook in a repository the command created)")
    finally:
        os.close(hfd)
    return notes


def _tame_config(gfd: int, git: str, workspace: Path) -> list[str]:
    rel = _rel(os.path.join(git, "config"), workspace)
    try:
        fd = os.open("config", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=gfd)
    except OSError:
        with contextlib.suppress(OSError):
            if stat.S_ISLNK(os.lstat("config", dir_fd=gfd).st_mode):
                os.unlink("config", dir_fd=gfd)
                return [f"removed {rel} (a symlink)"]
        return []
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return []
        lines = f.read(1 << 20).decode("utf-8", errors="replace").splitlines(keepends=True)
    kept, dropped = _safe_config_lines(lines)
    if not dropped:
        return []
    tmp = f"config.lockgate-{uuid.uuid4().hex}"
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=gfd)
    with os.fdopen(out, "w", encoding="utf-8") as f:
        f.write("".join(kept))
    os.replace(tmp, "config", src_dir_fd=gfd, dst_dir_fd=gfd)
    return [f"dropped {dropped} line(s) from {rel} that could run programs"]


def _safe_config_lines(lines: list[str]) -> tuple[list[str], int]:
    """The lines of a git config that stay (allow-listed section and key), and how many went.
    A section header may carry a key on the same line; a value continued with a backslash is
    dropped with its continuation lines."""
    kept: list[str] = []
    dropped = 0
    section = ""
    continued = False
    for line in lines:
        body = line.strip()
        if continued:
            dropped += 1
            continued = body.endswith("\\")
            continue
        if body.endswith("\\"):
            dropped += 1
            continued = True
            continue
        if not body or body[0] in "#;":
            kept.append(line)
            continue
        rest = body
        if body.startswith("["):
            end = body.find("]")
            if end < 0:
                dropped += 1
                section = ""
                continue
            header = body[1:end].strip()
            section = re.split(r"[\s.\"]", header, maxsplit=1)[0].lower()
            rest = body[end + 1 :].strip()
            if section not in _SAFE_GIT_KEYS:
                dropped += 1
                continue
            kept.append(body[: end + 1] + "\n")
            if not rest or rest[0] in "#;":
                continue
        m = _KEY.match(rest)
        if m and m.group(1).lower() in _SAFE_GIT_KEYS.get(section, frozenset()):
            kept.append(line if rest is body else rest + "\n")
        else:
            dropped += 1
    return kept, dropped

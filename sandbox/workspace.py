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
import stat
from collections.abc import Callable
from pathlib import Path

from sandbox.gitrefs import config_references, gitlinks, hash_len
from sandbox.output import escape_text
from sandbox.records import record
from sandbox.safefs import O_DIR, Beneath, GuardError, open_beneath, remove_at, walk

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


@record
class GitMark:
    """What `<root>/.git` was before the command: kind and identity."""

    root: str
    kind: str  # "absent" | "dir" | "file" | "symlink" | "other"
    ident: tuple[int, int] = (0, 0)
    target: str = ""


@record
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
    # nested repositories' git dirs that git enters (gitlinks in an index) present at start
    nested: tuple[str, ...] = ()

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
    nested: list[str] = []
    home = os.path.expanduser("~")

    def inside(path: str) -> bool:
        return any(path.startswith(r.rstrip("/") + "/") for r in roots)

    def references(git_dir: str, worktree: str) -> None:
        """Config files the repository's config includes and the hooks directory it names:
        bound read-only when they exist in a writable tree, removed after the run if the
        command creates them."""
        includes, hooks = config_references(os.path.join(git_dir, "config"), worktree, home)
        for target in (*includes, *hooks):
            if not inside(target) or target in read_only or target in absent:
                continue
            if os.path.lexists(target):
                protect(target)
            else:
                absent.append(target)

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
        # what the configs name (includes, core.hooksPath), and the repositories git enters
        for gd in [d for d in (*repos, *modules) if d.startswith(root.rstrip("/") + "/")]:
            references(gd, root)
        if mark.kind == "dir":
            for sub in nested_git_dirs(root):
                if sub in repos:
                    continue
                nested.append(sub)
                git_dirs.append(sub)  # a mount point: it cannot be moved or replaced
                repos.append(sub)
                for name in GIT_PROTECTED:
                    path = os.path.join(sub, name)
                    if os.path.lexists(path):
                        protect(path)
                    elif name == "hooks":
                        with contextlib.suppress(OSError):
                            os.mkdir(path, 0o755)
                            protect(path)
                    else:
                        absent.append(path)
                references(sub, os.path.dirname(sub))
            for sub_file in nested_git_dirs(root, dirs=False):
                # a submodule checkout's `.git` file: it names the repository git enters
                nested.append(sub_file)
                read_only.append(sub_file)
                for real in _pointed_git_dirs(sub_file):
                    if real not in repos and pin(real):
                        git_dirs.append(real)
                        repos.append(real)
                        for name in GIT_PROTECTED:
                            path = os.path.join(real, name)
                            if os.path.lexists(path):
                                protect(path)
                            elif name != "hooks":
                                absent.append(path)
        try:
            names: set[str] | None = set(os.listdir(root))
        except OSError:
            names = None
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
            if "/" not in pattern and names is not None and pattern not in names:
                absent.append(path)  # (one listing of the root instead of a stat per name)
            elif os.path.lexists(path):
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
        nested=tuple(nested),
    )


# Inside objects/ only these directories themselves are checked, not the many files below.
_OBJECT_FANOUT = re.compile(r"^([0-9a-f]{2}|pack)$")


def _in_objects(path: list[str]) -> bool:
    """Inside objects/ only the fan-out directories themselves are looked at, not the many
    files below them."""
    return len(path) == 2 and path[0] == "objects" and bool(_OBJECT_FANOUT.match(path[1]))


def special_entries(git: str) -> list[str]:
    """Symlinks, FIFOs, sockets and devices inside a git directory. Git itself makes only
    files and directories there; a symlink a command leaves (`logs/HEAD -> ~/.bashrc`) would
    have the reviewer's next git call write through it, and a FIFO would hang it."""
    try:
        base = os.open(git, O_DIR)
    except OSError:
        return []
    try:
        return [
            os.path.join(git, *path, name)
            for _, path, name, st in walk(base, "", _in_objects)
            if not stat.S_ISREG(st.st_mode)
        ]
    except (OSError, GuardError):
        return []
    finally:
        os.close(base)


_INDEX_CACHE: dict[str, tuple[tuple[int, int, int], list[str]]] = {}


def nested_git_dirs(root: str, dirs: bool = True) -> list[str]:
    """Git directories of the nested repositories the root repository's index links
    (gitlinks): `git status` at the root enters each one and reads its config. Only plain
    directories reached without a symlink, inside `root`; with `dirs=False`, the `.git` files
    (submodule checkouts) there instead."""
    git = os.path.join(root, ".git")
    index = os.path.join(git, "index")
    try:
        st = os.stat(index)
    except OSError:
        return []
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _INDEX_CACHE.get(index)
    if cached is not None and cached[0] == key:
        links = cached[1]
    else:
        links = gitlinks(index, hash_len(os.path.join(git, "config")))
        _INDEX_CACHE[index] = (key, links)
    out: list[str] = []
    for rel in links:
        parts = rel.split("/")
        if not rel or rel.startswith("/") or ".." in parts or "." in parts or ".git" in parts:
            continue
        sub = os.path.join(root, rel, ".git")
        if os.path.realpath(sub) != os.path.normpath(sub):
            continue  # a symlink on the way
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(os.lstat(sub).st_mode) if dirs else stat.S_ISREG(os.lstat(sub).st_mode):
                out.append(sub)
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


@record
class GuardReport:
    """What the guard changed (`notes`) and what it could not do (`failures`): a failure
    means a protected name may have survived the run, so it is shown as loudly as can be."""

    notes: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()


def guard(workspace: Path, prep: Prepared) -> tuple[str, ...]:
    """Undo protected names the command created. Returns one line per thing it changed, and
    one `FAILED: …` line per thing it could not do (see guard_run for them apart)."""
    report = guard_run(workspace, prep)
    return report.notes + tuple(f"FAILED: {f}" for f in report.failures)


def guard_run(workspace: Path, prep: Prepared) -> GuardReport:
    g = _Guard(workspace, prep)
    try:
        g.run()
    finally:
        g.close()
    return GuardReport(tuple(g.notes), tuple(g.failures))


class _Guard:
    """One pass after a run. Every operation goes through a root's descriptor (sandbox.safefs),
    and each item is its own step: one that fails is reported and the rest still runs."""

    def __init__(self, workspace: Path, prep: Prepared) -> None:
        self.ws = workspace
        self.prep = prep
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.roots: list[Beneath] = []
        self.listings: dict[str, set[str] | None] = {}  # a first look, see lexists
        for root in dict.fromkeys(m.root for m in prep.gits):
            try:
                self.roots.append(Beneath(root))
            except OSError as exc:
                self.failures.append(f"cannot open {self.show(root)}: {exc.strerror}")
        self.roots.sort(key=lambda b: len(b.root), reverse=True)  # the deepest root first

    def close(self) -> None:
        for b in self.roots:
            b.close()

    def show(self, path: str) -> str:
        return escape_text(_rel(path, self.ws))

    def locate(self, path: str) -> tuple[Beneath, str] | None:
        for b in self.roots:
            rel = b.rel(path)
            if rel is not None:
                return b, rel
        return None

    def step(self, what: str, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:  # any failure is reported, and the next step still runs
            self.failures.append(f"{what}: {escape_text(str(exc))}")

    def remove(self, path: str, why: str) -> None:
        found = self.locate(path)
        if found is None:
            raise GuardError(f"{self.show(path)} is outside every writable tree")
        b, rel = found
        if b.remove(rel):
            self.notes.append(f"removed {self.show(path)} ({why})")

    def lexists(self, path: str) -> bool:
        parent, name = os.path.split(path)
        if parent not in self.listings:
            try:
                self.listings[parent] = set(os.listdir(parent))
            except OSError:
                self.listings[parent] = None
        names = self.listings[parent]
        if names is not None and name not in names:
            return False
        if not os.path.lexists(path):
            # a quick look first (the common case: nothing there); a path string can only
            # find more than the safe walk below (through a symlink), never less
            return False
        found = self.locate(path)
        return found is not None and found[0].lstat(found[1]) is not None

    def run(self) -> None:
        new_repos: list[str] = []
        for mark in self.prep.gits:
            self.step(f"checking {self.show(mark.root)}/.git", self._git, mark, new_repos)
        for path, target in self.prep.links:
            self.step(f"restoring {self.show(path)}", self._link, path, target)
        for path in self.prep.absent:
            if any(path.startswith(g + os.sep) for g in new_repos):
                continue  # handled below: a fresh repository keeps its config
            if self.lexists(path):
                self.step(f"removing {self.show(path)}", self._created, path)
        for root, pattern, present in self.prep.globs:
            self.step(f"checking {escape_text(pattern)}", self._glob, root, pattern, present)
        for git in new_repos:
            self.step(f"taming {self.show(git)}", self._tame_repository, git)
        for repo in self.prep.repos:
            self.step(f"sweeping {self.show(repo)}", self._sweep, repo)
        for mark in self.prep.gits:
            self.step(f"checking {self.show(mark.root)}/.git", self._subrepos, mark)

    def _git(self, mark: GitMark, new_repos: list[str]) -> None:
        git = os.path.join(mark.root, ".git")
        now = _git_mark(mark.root)
        if now.kind == "dir" and (
            mark.kind == "absent" or (mark.kind == "dir" and now.ident != mark.ident)
        ):
            new_repos.append(git)  # made from nothing, or put where the old one was
        elif mark.kind == "absent" and now.kind != "absent":
            # a `.git` file or symlink names a repository elsewhere, whose config and hooks
            # the reviewer's next git call would use
            self.remove(git, f"a {now.kind} the command created")
        elif mark.kind == "symlink" and (now.kind, now.target) != ("symlink", mark.target):
            self._put_back(git, mark.target)

    def _link(self, path: str, target: str) -> None:
        found = self.locate(path)
        if found is None:
            return
        b, rel = found
        if b.readlink(rel) != target:
            self._put_back(path, target)

    def _put_back(self, path: str, target: str) -> None:
        found = self.locate(path)
        if found is None:
            raise GuardError(f"{self.show(path)} is outside every writable tree")
        b, rel = found
        b.remove(rel)
        b.symlink(target, rel)
        if b.readlink(rel) != target:
            raise GuardError(f"{self.show(path)} could not be put back")
        self.notes.append(f"restored {self.show(path)} (a symlink the command replaced)")

    def _glob(self, root: str, pattern: str, present: tuple[str, ...]) -> None:
        parent_rel, _, name = pattern.rpartition("/")
        parent = os.path.join(root, parent_rel) if parent_rel else root
        found = self.locate(parent)
        if found is None:
            return
        b, rel = found
        for n in sorted(b.listdir(rel)):
            if fnmatch.fnmatchcase(n, name) and n not in present:
                path = os.path.join(parent, n)
                self.step(f"removing {self.show(path)}", self._created, path)

    def _redirect(self, path: str) -> None:
        self.remove(path, "a .git file naming a repository outside .git/modules")

    def _created(self, path: str) -> None:
        self.remove(path, "protected; created by the command")

    def _sweep(self, repo: str) -> None:
        """Symlinks, FIFOs and other special files that were not there before the run."""
        found = self.locate(repo)
        if found is None:
            return
        b, rel = found
        st = b.lstat(rel) if rel else os.lstat(b.root)
        if st is None or not stat.S_ISDIR(st.st_mode):
            return
        for dfd, path, name, est in walk(b.fd, rel, _in_objects):
            full = os.path.join(repo, *path, name)
            if stat.S_ISREG(est.st_mode) or full in self.prep.specials:
                continue
            _unlink_verified(dfd, name, full)
            self.notes.append(f"removed {self.show(full)} (not a plain file; git makes none)")

    def _subrepos(self, mark: GitMark) -> None:
        git = os.path.join(mark.root, ".git")
        found = self.locate(git)
        if mark.kind != "dir" or found is None:
            return
        st = found[0].lstat(found[1])
        if st is None or not stat.S_ISDIR(st.st_mode):
            return
        for sub in submodule_git_dirs(git):
            if sub not in self.prep.modules:  # a submodule repository the command made
                self.step(f"taming {self.show(sub)}", self._tame_repository, sub)
        for wt in worktree_git_dirs(git):
            if wt not in self.prep.worktrees:  # a worktree the command added
                self.step(f"taming {self.show(wt)}", self._tame_worktree, wt)
        modules = os.path.join(git, "modules") + os.sep
        for sub_file in nested_git_dirs(mark.root, dirs=False):
            # a `.git` file the command put in a linked directory: git would enter the
            # repository it names; only git's own submodule layout (.git/modules/…) stays
            if sub_file in self.prep.nested:
                continue
            targets = _pointed_git_dirs(sub_file)
            if not targets or not all(t.startswith(modules) for t in targets):
                self.step(f"removing {self.show(sub_file)}", self._redirect, sub_file)
        for sub in nested_git_dirs(mark.root):
            # a nested repository the root now links (a gitlink the command added): the
            # reviewer's `git status` would enter it and run what its config names
            if sub not in self.prep.nested and sub not in self.prep.repos:
                self.step(f"taming {self.show(sub)}", self._tame_repository, sub)

    def _open(self, path: str) -> int:
        found = self.locate(path)
        if found is None:
            raise GuardError(f"{self.show(path)} is outside every writable tree")
        return open_beneath(found[0].fd, found[1])

    def _tame_worktree(self, wt: str) -> None:
        """A new worktree's `commondir` must name its own repository (git writes `../..`); any
        other value, and any `config.worktree`, would hand git someone else's config and
        hooks."""
        wfd = self._open(wt)
        try:
            try:
                fd = open_beneath(wfd, "commondir", os.O_RDONLY | os.O_CLOEXEC)
                with os.fdopen(fd, "rb") as f:
                    ok = (
                        stat.S_ISREG(os.fstat(f.fileno()).st_mode)
                        and f.read(64).strip() == b"../.."
                    )
            except OSError:
                ok = _absent_at(wfd, "commondir")
            for name in ["config.worktree"] if ok else ["commondir", "config.worktree"]:
                if _remove_verified(wfd, name, os.path.join(wt, name)):
                    self.notes.append(
                        f"removed {self.show(os.path.join(wt, name))} (it redirects git)"
                    )
        finally:
            os.close(wfd)

    def _tame_repository(self, git: str) -> None:
        """A repository the command created: no hooks but samples, safe config only, no
        redirects, no special files."""
        gfd = self._open(git)
        try:
            self.step(f"taming {self.show(git)}/hooks", self._tame_hooks, gfd, git)
            self.step(f"taming {self.show(git)}/config", self._tame_config, gfd, git)
            for name in ("commondir", "config.worktree"):
                full = os.path.join(git, name)
                if _remove_verified(gfd, name, full):
                    self.notes.append(f"removed {self.show(full)} (it redirects git)")
            for dfd, path, name, st in walk(gfd, "", _in_objects):
                if not stat.S_ISREG(st.st_mode):
                    full = os.path.join(git, *path, name)
                    _unlink_verified(dfd, name, full)
                    self.notes.append(
                        f"removed {self.show(full)} (not a plain file; git makes none)"
                    )
        finally:
            os.close(gfd)

    def _tame_hooks(self, gfd: int, git: str) -> None:
        rel = self.show(os.path.join(git, "hooks"))
        try:
            st = os.lstat("hooks", dir_fd=gfd)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(st.st_mode):
            _remove_verified(gfd, "hooks", os.path.join(git, "hooks"))
            self.notes.append(f"removed {rel} (not a directory)")
            return
        hfd = open_beneath(gfd, "hooks")
        try:
            for entry in sorted(os.listdir(hfd)):
                if entry.endswith(".sample"):
                    est = os.lstat(entry, dir_fd=hfd)
                    if stat.S_ISREG(est.st_mode):
                        continue
                _remove_verified(hfd, entry, os.path.join(git, "hooks", entry))
                self.notes.append(
                    f"removed {rel}/{escape_text(entry)} (a hook in a repository the command "
                    "created)"
                )
        finally:
            os.close(hfd)

    def _tame_config(self, gfd: int, git: str) -> None:
        rel = self.show(os.path.join(git, "config"))
        try:
            fd = open_beneath(gfd, "config", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            st = _lstat_at(gfd, "config")
            if st is not None:  # a symlink, or something else it cannot read
                _remove_verified(gfd, "config", os.path.join(git, "config"))
                self.notes.append(f"removed {rel} (not a plain file)")
            return
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return
            raw = f.read(MAX_CONFIG + 1)
        if len(raw) > MAX_CONFIG:
            # more than the tamer reads whole: hostile (git would read the rest); none of it stays
            _write_config(gfd, _MINIMAL_CONFIG)
            self.notes.append(f"replaced {rel} (larger than {MAX_CONFIG} bytes) with a minimal one")
            return
        kept, dropped = _safe_config_lines(raw.decode("utf-8", errors="replace").splitlines(True))
        if dropped:
            _write_config(gfd, "".join(kept))
            self.notes.append(f"dropped {dropped} line(s) from {rel} that could run programs")


MAX_CONFIG = 1 << 20
_MINIMAL_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"


def _write_config(gfd: int, text: str) -> None:
    tmp = f"config.lockgate-{os.urandom(16).hex()}"  # (uuid costs 4 ms to import)
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                  dir_fd=gfd)  # fmt: skip
    with os.fdopen(out, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, "config", src_dir_fd=gfd, dst_dir_fd=gfd)


def _lstat_at(dirfd: int, name: str) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=dirfd)
    except OSError:
        return None


def _absent_at(dirfd: int, name: str) -> bool:
    return _lstat_at(dirfd, name) is None


def _remove_verified(dirfd: int, name: str, full: str) -> bool:
    """Remove `name` (a tree too) below `dirfd`; False when it was not there."""
    if _absent_at(dirfd, name):
        return False
    remove_at(dirfd, name)
    if not _absent_at(dirfd, name):
        raise GuardError(f"{escape_text(full)} is still there after removing it")
    return True


def _unlink_verified(dirfd: int, name: str, full: str) -> None:
    try:
        os.unlink(name, dir_fd=dirfd)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise GuardError(f"cannot remove {escape_text(full)}: {exc.strerror}") from exc


def _rel(path: str, workspace: Path) -> str:
    rel = os.path.relpath(path, workspace)
    return path if rel.startswith("..") else rel


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

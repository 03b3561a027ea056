"""What a sandboxed command may read: an allow-list, turned into Landlock read rules.

Reads used to be a deny-list (everything but known secret stores), and every store off the list
leaked. Now nothing is readable unless it is granted:

- the system's top-level trees (/usr, /etc, /opt, …) — minus the home directories, the hidden
  stores, and, when the console runs as root, every entry that only its owner or group may read
  (`/etc/shadow`, `/etc/ssl/private`, `/etc/wireguard`, NetworkManager's connections): root's
  DAC rights would otherwise reach them, and root-only is exactly what a command must not see;
- the private views (fresh tmpfs), /dev, /proc and /sys;
- the toolchain directories and the extra readable roots the session names.

Landlock cannot carve a hole into a granted tree, so a tree holding an excluded entry is split:
its other entries are granted one by one, down to the excluded ones. The directories split that
way are stamped (inode + mtime): an entry added or replaced in one of them (a new root-only file,
or a file renamed over a granted one, whose new inode no rule names) makes the set stale, and it
is built again before the next run.

The mount namespace hides the homes too (an empty read-only view): Landlock is the second wall,
for anything the mounts missed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence

from sandbox.records import record

# How deep the root-only scan goes below each top-level tree; trees not named get DEFAULT_DEPTH.
# Trees that only the package manager writes (and that hold nothing root-only by design) are
# granted whole; the kernel's own views are fresh or read-only and granted whole.
WHOLE = frozenset({"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "proc", "sys",
                   "dev", "snap", "nix"})  # fmt: skip
DEPTHS = {"etc": 6, "var": 3}
DEFAULT_DEPTH = 3
# A bound on the entries the scan reads (a huge tree is granted past it rather than stall).
MAX_ENTRIES = 20000


@record
class ReadSet:
    rules: tuple[str, ...]  # paths granted read (and execute) access
    excluded: tuple[str, ...]  # entries left out inside granted trees (for `sandbox check`)
    stamps: tuple[tuple[str, int, int], ...]  # (dir, st_ino, st_mtime_ns) of split dirs

    def fresh(self) -> bool:
        """False when a split directory changed since the set was built."""
        for path, ino, mtime in self.stamps:
            try:
                st = os.stat(path)
            except OSError:
                return False
            if (st.st_ino, st.st_mtime_ns) != (ino, mtime):
                return False
        return True


def restricted(st: os.stat_result) -> bool:
    """An entry others may not read: only its owner (and group) can, so root-only for root."""
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return (mode & 0o005) != 0o005
    if stat.S_ISREG(mode):
        return not mode & 0o004
    return False  # symlinks are judged at their target; sockets and FIFOs are not read


class _Builder:
    def __init__(self, exclude: Sequence[str], scan_owner_only: bool) -> None:
        self.exclude = tuple(dict.fromkeys(p.rstrip("/") or "/" for p in exclude))
        self.scan = scan_owner_only
        self.rules: list[str] = []
        self.excluded: list[str] = []
        self.stamps: list[tuple[str, int, int]] = []
        self.budget = MAX_ENTRIES
        # Set lookups instead of a scan of every exclusion per entry (the scan made a root
        # one-shot `sandbox run` spend ~35 ms here). `excluded_here(p)`: some e with
        # within(p, e) (sandbox.paths), i.e. p == e or p[:i] == e.rstrip("/") where p[i] == "/".
        # `leads_to_exclusion(p)`: some e starting with p.rstrip("/") + "/", i.e. an e[:i] with
        # e[i] == "/" equal to p.rstrip("/").
        self._names = frozenset(self.exclude)
        self._bases = frozenset(e.rstrip("/") for e in self.exclude)
        self._above = frozenset(e[:i] for e in self.exclude for i, c in enumerate(e) if c == "/")

    def excluded_here(self, path: str) -> bool:
        if path in self._names:
            return True
        return any(c == "/" and path[:i] in self._bases for i, c in enumerate(path))

    def leads_to_exclusion(self, path: str) -> bool:
        return path.rstrip("/") in self._above

    def grant(self, path: str, depth: int) -> None:
        """Grant `path` whole, or split it around what must stay unreadable."""
        if self.excluded_here(path):
            return
        try:
            st = os.stat(path)
        except OSError:
            return
        if self.scan and restricted(st):
            self.excluded.append(path)
            return
        if not stat.S_ISDIR(st.st_mode):
            self.rules.append(path)
            return
        if self._whole(path, st, depth):
            self.rules.append(path)

    def _whole(self, path: str, st: os.stat_result, depth: int) -> bool:
        """True when `path` can be granted whole; else its granted parts were added."""
        forced = self.leads_to_exclusion(path)
        if not forced and (depth <= 0 or not self.scan or self.budget <= 0):
            return True
        try:
            entries = list(os.scandir(path))
        except OSError:
            return True  # unreadable to us: granting it grants nothing more
        self.budget -= len(entries)
        parts: list[str] = []
        whole = True
        for e in entries:
            child = e.path
            if self.excluded_here(child):
                whole = False
                continue
            try:
                cst = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if self.scan and restricted(cst):
                self.excluded.append(child)
                whole = False
                continue
            if stat.S_ISDIR(cst.st_mode) and (self.leads_to_exclusion(child) or depth > 1):
                mark = len(self.rules)
                if self._whole(child, cst, depth - 1):
                    parts.append(child)
                else:
                    whole = False
                    parts += self.rules[mark:]
                    del self.rules[mark:]
            else:
                parts.append(child)
        if whole:
            return True
        self.rules += parts
        self.stamps.append((path, st.st_ino, st.st_mtime_ns))
        return False


def read_set(
    *,
    homes: Iterable[str],
    deny: Iterable[str],
    extra: Iterable[str],
    views: Iterable[str],
    root_only: bool,
) -> ReadSet:
    """The Landlock read grants. `homes` and `deny` stay unreadable (an `extra` root may lie
    inside a home: a toolchain); `extra` are the readable roots and toolchains; `views` are fresh
    mounts (the private tmpfs views) granted whole; `root_only`: also leave out what only its
    owner may read (when the console runs as root)."""
    hidden = [os.path.realpath(h) for h in homes]
    secrets: list[str] = []
    for d in deny:
        secrets.append(os.path.abspath(d))
        real = os.path.realpath(d)
        if real != secrets[-1]:
            secrets.append(real)  # a store that is a symlink: its target is what would be read
    fresh = [v for v in views if v != "/"]
    system = _Builder([h for h in hidden if h != "/"] + secrets + fresh, root_only)
    try:
        top = sorted(os.listdir("/"))
    except OSError:
        top = []
    for name in top:
        path = "/" + name
        if name in WHOLE and not system.leads_to_exclusion(path):
            if not system.excluded_here(path):
                system.rules.append(path)
            continue
        system.grant(path, DEPTHS.get(name, DEFAULT_DEPTH))
    # the root directory itself is never granted whole (the homes and the views sit below it)
    try:
        st = os.stat("/")
        system.stamps.append(("/", st.st_ino, st.st_mtime_ns))
    except OSError:
        pass
    roots = _Builder(secrets, scan_owner_only=False)
    for root in extra:
        roots.grant(root, 0)
    rules = [*system.rules, *(v for v in fresh if os.path.isdir(v)), *roots.rules]
    return ReadSet(
        rules=tuple(dict.fromkeys(rules)),
        excluded=tuple(dict.fromkeys(system.excluded + roots.excluded)),
        stamps=tuple(dict.fromkeys(system.stamps + roots.stamps)),
    )

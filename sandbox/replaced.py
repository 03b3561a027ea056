"""Protected single files that a host program replaces while a command runs.

A read-only bind over one file (`.git/config`, `.mcp.json`) sits on that name's directory
entry. When a program on the host renames another file over the name (git writes its config
through `config.lock`, editors save through a temporary file), Linux detaches every mount on
the old entry in every other mount namespace: the sandbox then sees the new file, in a
writable directory, and can write it. No mount can prevent that for a file whose directory
must stay writable (`.git`, the workspace root), so the run is watched instead: an inotify
watch on the directories of the single-file covers sees the rename, the run is stopped within
the wait loop's poll interval (its processes killed), and the run's result reports the file as a guard failure, to be
checked. The guard also compares each such file's identity after every run, so a replacement
the watch missed is reported too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
import struct
import sys
from collections.abc import Iterable, Sequence

IN_CLOSE_WRITE = 0x08
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")
WATCHED = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE


def single_files(paths: Sequence[str]) -> dict[str, tuple[int, int]]:
    """The regular files among `paths` (covered one by one): path -> (st_dev, st_ino)."""
    out: dict[str, tuple[int, int]] = {}
    for p in paths:
        with contextlib.suppress(OSError):
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                out[p] = (st.st_dev, st.st_ino)
    return out


def replaced_since(files: dict[str, tuple[int, int]], seen: Iterable[str] = ()) -> list[str]:
    """The files whose name now holds another file (or none), and those a watch `seen`
    replaced: the identity alone can be fooled, since a file renamed over the name may get the
    inode number the replaced one freed (git's lock-and-rename, twice, can end on the same
    number), while the event cannot."""
    out = []
    for path, ident in files.items():
        try:
            st = os.lstat(path)
            now = (st.st_dev, st.st_ino)
        except OSError:
            now = (0, 0)
        if now != ident or path in seen:
            out.append(path)
    return out


class ReplaceWatch:
    """Watches the directories of the single-file covers during one run. No thread (the
    one-shot sandbox forks in-process and needs a single-threaded program): `poll()` reads the
    pending events without blocking, and is called from the run's own wait loop (through the
    cancel event's is_set). Linux only; elsewhere (and when inotify is unavailable) it watches
    nothing and the identity check after the run still reports."""

    def __init__(self, files: Sequence[str]) -> None:
        self.files = set(files)
        self.hit: str | None = None
        self.seen: set[str] = set()
        self._fd = -1
        self._dirs: dict[int, str] = {}
        if not self.files or not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            return
        self._fd = fd
        for d in sorted({os.path.dirname(f) for f in self.files}):
            wd = libc.inotify_add_watch(fd, os.fsencode(d), WATCHED | IN_ONLYDIR)
            if wd >= 0:
                self._dirs[wd] = d

    def fileno(self) -> int:
        """The inotify descriptor (-1 when nothing is watched): readable on an event."""
        return self._fd

    def poll(self) -> bool:
        """True once a covered name has been replaced, created or removed."""
        self._drain()
        return self.hit is not None

    def _drain(self) -> None:
        """Read the pending events: every covered name they touch is kept in `seen`."""
        while self._fd >= 0:
            try:
                data = os.read(self._fd, 65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            off = 0
            while off + _EVENT.size <= len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, off)
                raw = data[off + _EVENT.size : off + _EVENT.size + length]
                off += _EVENT.size + length
                path = os.path.join(self._dirs.get(wd, ""), os.fsdecode(raw.rstrip(b"\0")))
                if mask & WATCHED and path in self.files:
                    self.seen.add(path)
                    if self.hit is None:
                        self.hit = path

    def close(self) -> None:
        if self._fd >= 0:
            self._drain()  # a name replaced after the last poll counts too
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ReplaceWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def git_config_texts(files: dict[str, tuple[int, int]]) -> dict[str, str]:
    """The text of each covered git config (`config`, `config.worktree` in a git dir) before
    the run, to say afterwards what a replaced one gained."""
    out: dict[str, str] = {}
    for path in files:
        if os.path.basename(path) in ("config", "config.worktree") and "/.git" in path:
            with contextlib.suppress(OSError), open(path, "rb") as f:
                out[path] = f.read(1 << 20).decode("utf-8", errors="replace")
    return out


def risky_new_keys(before: str, path: str) -> list[tuple[str, str, str]]:
    """Entries (section, key, value) of the git config at `path` now that were not there
    before (a new key, or a new value for one) and are not among the keys that cannot run
    programs (the allow-list a new repository's config is cut to)."""
    from sandbox.gitrefs import config_entries
    from sandbox.workspace import _SAFE_GIT_KEYS

    try:
        with open(path, "rb") as f:
            now = f.read(1 << 20).decode("utf-8", errors="replace")
    except OSError:
        return []
    old = set(config_entries(before))
    out: list[tuple[str, str, str]] = []
    for entry in config_entries(now):
        sec, key, _ = entry
        if entry in old or key in _SAFE_GIT_KEYS.get(sec.split(".", 1)[0], frozenset()):
            continue
        if entry not in out:
            out.append(entry)
    return out


def strip_keys(path: str, root: str, keys: list[tuple[str, str, str]]) -> int:
    """Drop the entries `keys` (as risky_new_keys gives them) from the git config at `path`,
    through a descriptor of `root` (no symlink followed). Returns how many lines went."""
    import uuid

    from sandbox.gitrefs import config_entries
    from sandbox.safefs import Beneath, open_beneath

    with Beneath(root) as b:
        rel = b.rel(path)
        if not rel:
            return 0
        pfd, name = b.parent(rel)
        try:
            fd = open_beneath(pfd, name, os.O_RDONLY | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                lines = f.read(1 << 20).decode("utf-8", errors="replace").splitlines(True)
            kept: list[str] = []
            dropped = 0
            section = ""
            skipping = False
            for line in lines:
                body = line.strip()
                if skipping:
                    dropped += 1
                    skipping = body.endswith("\\")
                    continue
                entries = config_entries(line if body.startswith("[") else f"[{section}]\n{line}")
                if body.startswith("["):
                    end = body.find("]")
                    header = config_entries(body[: end + 1] + "\nx = 1") if end > 0 else []
                    section = header[0][0] if header else ""
                    if entries and entries[0] in keys:
                        kept.append(body[: end + 1] + "\n")
                        dropped += 1
                        continue
                elif entries and entries[0] in keys:
                    dropped += 1
                    skipping = body.endswith("\\")
                    continue
                kept.append(line)
            if not dropped:
                return 0
            tmp = f".{name}.lockgate-{uuid.uuid4().hex}"
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                          0o644, dir_fd=pfd)  # fmt: skip
            with os.fdopen(out, "w", encoding="utf-8") as f:
                f.write("".join(kept))
            os.replace(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd)
            return dropped
        finally:
            os.close(pfd)

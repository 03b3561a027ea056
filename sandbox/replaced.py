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
from collections.abc import Sequence

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


def replaced_since(files: dict[str, tuple[int, int]]) -> list[str]:
    """The files whose name now holds another file (or none)."""
    out = []
    for path, ident in files.items():
        try:
            st = os.lstat(path)
            now = (st.st_dev, st.st_ino)
        except OSError:
            now = (0, 0)
        if now != ident:
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
        while self.hit is None and self._fd >= 0:
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
                if mask & WATCHED and path in self.files and self.hit is None:
                    self.hit = path
        return self.hit is not None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ReplaceWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

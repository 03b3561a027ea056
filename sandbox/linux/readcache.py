"""The read allow-list (sandbox/visible.py) kept on disk between one-shot runs.

Building it as root scans /etc, /var and the other top-level trees for root-only entries: ~20 ms,
which a `lockgate sandbox run` would pay on every call. The console builds it once per session
and reuses it while `ReadSet.fresh()` holds (no split directory changed); this cache gives a
one-shot run the same reuse, and no more:

- the key is every argument of `read_set`, the effective uid, and the identity (inode, size,
  mtime) of visible.py itself, so another policy or another version of the scan never matches;
- an entry is used only while `fresh()` holds and for at most `MAX_AGE_S` seconds (the console
  bounds its reuse by the session; this bounds it by time), else it is built again;
- it lives only in a directory every sandbox hides (the caller checks that it is one of the
  policy's hidden stores, where no writable root may lie), and is read only when that directory
  and the file belong to this user and nobody else may write them. Anything unexpected in it
  (a bad file, a wrong type) means "build it again", never an error.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
import zlib
from collections.abc import Callable

from sandbox import visible
from sandbox.visible import ReadSet

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Any

VERSION = 1
MAX_AGE_S = 300.0


def cached_read_set(directory: str, build: Callable[..., ReadSet], **kw: Any) -> ReadSet:
    """`build(**kw)`, or the set an earlier run built with the same arguments while it is fresh."""
    key = _key(kw)
    path = os.path.join(directory, f"reads-{zlib.crc32(key.encode()):08x}.json")
    found = _load(directory, path, key)
    if found is not None and found.fresh():
        return found
    made = build(**kw)
    _store(directory, path, key, made)
    return made


def _key(kw: dict[str, Any]) -> str:
    """Everything the set depends on, compared whole (the file name is only a short hash)."""
    try:
        st = os.stat(visible.__file__)
        code = [st.st_ino, st.st_size, st.st_mtime_ns]
    except OSError:
        code = []
    args = {k: list(v) if isinstance(v, list | tuple) else v for k, v in sorted(kw.items())}
    return json.dumps([VERSION, os.geteuid(), code, args], sort_keys=True, default=str)


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _load(directory: str, path: str, key: str) -> ReadSet | None:
    try:
        if not _private(os.lstat(directory)):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st) or st.st_size > 4 << 20:
            return None
        data = json.loads(os.read(fd, st.st_size + 1))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        if time.time() - float(data["made"]) > MAX_AGE_S:
            return None
        if float(data["made"]) > time.time() + 1:  # from the future: a clock step
            return None
        rules, excluded = _strings(data["rules"]), _strings(data["excluded"])
        stamps = tuple((str(p), int(i), int(m)) for p, i, m in data["stamps"] if isinstance(p, str))
        if rules is None or excluded is None or len(stamps) != len(data["stamps"]):
            return None
        return ReadSet(rules=rules, excluded=excluded, stamps=stamps)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    finally:
        os.close(fd)


def _strings(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(value)


def _store(directory: str, path: str, key: str, found: ReadSet) -> None:
    """Best effort: written under a unique name, then renamed into place."""
    data = {
        "key": key,
        "made": time.time(),
        "rules": list(found.rules),
        "excluded": list(found.excluded),
        "stamps": [list(s) for s in found.stamps],
    }
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _private(os.lstat(directory)):
            return
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            os.write(fd, json.dumps(data).encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)

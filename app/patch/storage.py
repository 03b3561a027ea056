"""Where the journal and undo pre-images live: in lockgate's data directory, one store per
workspace (`<data_dir>/patch-store/<hash of the workspace path>/patches/<seq>-<id>/`).

Outside the workspace so that applying a patch leaves nothing in the tree but the patch's own
changes (a conformance check compares the whole tree) and so that an agent's commands never reach
the journal. Each applied patch is one directory holding `journal.json` (entries, state) and the
pre-images `b0`, `b1`, … (hard links to the old inodes when both are on one filesystem, else
copies). The same directory serves crash recovery (state "applying") and undo ("committed").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.config import data_dir
from app.patch import trust
from app.patch.errors import PatchError
from app.patch.fsops import fsync_dir, open_dir, write_new_at

PATCHES_DIR = "patches"
JOURNAL = "journal.json"
KEEP = 50


def store_path(root: Path) -> Path:
    """The store of the workspace whose real path is `root` (the directory may not exist)."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:32]
    return data_dir() / "patch-store" / key / PATCHES_DIR


def open_store(root: Path, *, create: bool) -> int | None:
    """Descriptor of the workspace's store (created 0700 when asked), never through a link."""
    path = store_path(root)
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(path, flags)
    except FileNotFoundError:
        if create:
            raise PatchError(f"cannot create the patch store {path}") from None
        return None
    except OSError as exc:
        raise PatchError(f"cannot open the patch store {path}: {exc.strerror}") from exc


def new_txn_name(patch_id: str) -> str:
    return f"{time.time_ns():020d}-{patch_id}"


@dataclass
class Txn:
    """An open transaction directory and its journal."""

    root: Path
    name: str
    fd: int
    journal: dict[str, Any]

    def write(self) -> None:
        write_journal(self.root, self.name, self.fd, self.journal)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def write_journal(root: Path, txn: str, txn_fd: int, journal: dict[str, Any]) -> None:
    """Record the journal's digest outside the workspace, then write it atomically inside."""
    data = json.dumps(journal, indent=1, sort_keys=True).encode("utf-8")
    trust.record(root, txn, data)
    tmp = f"{JOURNAL}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=txn_fd)
    write_new_at(txn_fd, tmp, data, 0o600)
    os.rename(tmp, JOURNAL, src_dir_fd=txn_fd, dst_dir_fd=txn_fd)
    fsync_dir(txn_fd)


UNTRUSTED: dict[str, Any] = {"state": "untrusted"}


def read_journal(root: Path, txn: str, txn_fd: int) -> dict[str, Any] | None:
    """The journal, None if there is none, or UNTRUSTED if lockgate did not write these bytes."""
    try:
        fd = os.open(JOURNAL, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=txn_fd)
    except FileNotFoundError:
        return None
    except OSError:
        return UNTRUSTED
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return UNTRUSTED
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if not trust.is_ours(root, txn, raw):
        return UNTRUSTED
    try:
        data = json.loads(raw)
    except ValueError:
        return UNTRUSTED
    return data if isinstance(data, dict) else UNTRUSTED


def list_txns(store_fd: int) -> list[str]:
    return sorted(n for n in os.listdir(store_fd) if not n.startswith("."))


def open_txn(store_fd: int, name: str) -> int | None:
    try:
        return open_dir(store_fd, [name], name)
    except PatchError:
        return None


def remove_txn(store_fd: int, name: str, root: Path | None = None) -> None:
    fd = open_txn(store_fd, name)
    if fd is None:
        return
    try:
        for entry in os.listdir(fd):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(name, dir_fd=store_fd)
    fsync_dir(store_fd)
    if root is not None:
        trust.forget(root, name)

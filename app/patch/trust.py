"""Which journals lockgate itself wrote.

The journal and pre-images live in lockgate's data directory, out of an agent's reach, but
recovery and undo act on a journal with the console's own rights, so a planted or edited journal
could rename any file over any other. Before each journal write its SHA-256 is recorded (a
separate file per transaction); recovery and undo act only on journals whose exact bytes were
recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from app.core.config import data_dir
from app.patch.errors import PatchError


def _dir(root: Path) -> Path:
    key = hashlib.sha256(os.fsencode(str(root))).hexdigest()[:32]
    return data_dir() / "patch-journals" / key


def _record_path(root: Path, txn: str) -> Path:
    if not txn or "/" in txn or txn.startswith("."):
        raise PatchError(f"bad transaction name {txn!r}")
    return _dir(root) / f"{txn}.sha256"


def record(root: Path, txn: str, journal: bytes) -> None:
    """Remember `journal` as ours (appended, fsynced) before it is written to the workspace."""
    path = _record_path(root, txn)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (hashlib.sha256(journal).hexdigest() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise PatchError(
            f"cannot record the patch journal in {path.parent}: {exc.strerror}"
        ) from exc


def is_ours(root: Path, txn: str, journal: bytes) -> bool:
    try:
        recorded = _record_path(root, txn).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError, PatchError):
        return False
    return hashlib.sha256(journal).hexdigest() in recorded


def forget(root: Path, txn: str) -> None:
    with contextlib.suppress(OSError, PatchError):
        _record_path(root, txn).unlink()

"""Atomic, crash-safe application of a plan, with recovery and undo.

Protocol (all paths through descriptors opened without following links):
  1. lock the workspace (flock on its directory), finish or roll back any earlier transaction;
  2. stale check: every touched file must still hash to what the reviewer saw;
  3. write the journal (state "applying") naming every temp file, pre-image and directory;
  4. prepare: pre-image each old file (hard link to its inode, else a copy) and write each new
     content to a temp file beside its target; fsync all of it;
  5. commit: rename each temp over its target (deletions: unlink); fsync the directories;
  6. mark the journal "committed".
A failure in 4-6 rolls back at once; a crash is rolled back by `recover()` at the next start.
Rollback decides per entry from what is on disk (temp still there, target hash = old or new), so
it is idempotent and leaves the tree exactly as it was before — never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.patch.errors import PatchError
from app.patch.fsops import (
    FileState,
    fsync_dir,
    lstat_at,
    open_dir,
    open_root,
    read_state,
    read_state_at,
    sha256,
    write_new_at,
)
from app.patch.plan import Plan
from app.patch.storage import (
    KEEP,
    Txn,
    list_txns,
    new_txn_name,
    open_store,
    open_txn,
    read_journal,
    remove_txn,
    write_journal,
)

StepHook = Callable[[str], None]
step_hook: StepHook | None = None
"""Called at each step of a transaction; crash tests set it in a child process to pause there."""


def _step(name: str) -> None:
    if step_hook is not None:
        step_hook(name)


@dataclass(frozen=True)
class Change:
    rel: str
    old_hash: str | None
    old_mode: int | None
    new: bytes | None
    new_mode: int | None
    new_hash: str | None


@dataclass(frozen=True)
class Applied:
    txn: str
    files: tuple[str, ...]
    statuses: tuple[tuple[str, str], ...]  # (A|M|D, path)


def _split(rel: str) -> tuple[list[str], str]:
    parts = rel.split("/")
    return parts[:-1], parts[-1]


class _Dirs:
    """Open parent-directory descriptors, one per directory, closed together."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.fds: dict[str, int] = {}

    def get(self, parts: list[str], rel: str, *, create: bool, created: list[str]) -> int | None:
        key = "/".join(parts)
        fd = self.fds.get(key)
        if fd is None:
            fd = open_dir(self.root_fd, parts, rel, create=create, created=created)
            if fd is None:
                return None
            self.fds[key] = fd
        return fd

    def fsync_all(self) -> None:
        for fd in self.fds.values():
            fsync_dir(fd)

    def close(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


class _Locked:
    """The workspace root descriptor with an exclusive flock held on it."""

    def __init__(self, workspace: Path) -> None:
        self.fd = open_root(workspace)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError as exc:
            os.close(self.fd)
            raise PatchError(f"cannot lock workspace {workspace}: {exc.strerror}") from exc

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the flock


# --------------------------------------------------------------------------- public entry points


def apply_plan(plan: Plan) -> Applied:
    changes = [
        Change(f.rel, f.old_hash, f.old_mode, f.new, f.new_mode, f.new_hash) for f in plan.files
    ]
    with _Locked(plan.workspace) as root_fd:
        _recover(root_fd, plan.workspace)
        _stale_check(root_fd, changes)
        applied = _transact(root_fd, plan.workspace, changes, plan.id, undoes=None)
        _prune(root_fd, plan.workspace)
        return applied


def recover(workspace: Path) -> list[str]:
    """Finish or roll back transactions a crash left behind; returns what was rolled back."""
    with _Locked(workspace) as root_fd:
        return _recover(root_fd, workspace)


def undo_last(workspace: Path) -> Applied:
    """Restore the pre-images of the last applied patch, if its files are as it left them."""
    with _Locked(workspace) as root_fd:
        _recover(root_fd, workspace)
        store_fd = open_store(workspace, create=False)
        if store_fd is None:
            raise PatchError("nothing to undo: no patch has been applied in this workspace")
        try:
            target: tuple[str, dict[str, Any]] | None = None
            for name in reversed(list_txns(store_fd)):
                tfd = open_txn(store_fd, name)
                if tfd is None:
                    continue
                try:
                    j = read_journal(workspace, name, tfd)
                finally:
                    os.close(tfd)
                if j and j.get("state") == "committed" and not j.get("undoes"):
                    target = (name, j)
                    break
            if target is None:
                raise PatchError("nothing to undo: no applied patch is left to undo")
            name, journal = target
            changes = _undo_changes(root_fd, store_fd, name, journal)
            applied = _transact(root_fd, workspace, changes, uuid.uuid4().hex[:16], undoes=name)
            _finish_undo(root_fd, workspace, store_fd, name)
            return applied
        finally:
            os.close(store_fd)


# --------------------------------------------------------------------------- internals


def _state_hash(st: FileState) -> str | None:
    return sha256(st.content)


def _stale_check(root_fd: int, changes: Sequence[Change]) -> None:
    for ch in changes:
        st = read_state(root_fd, ch.rel)
        if _state_hash(st) != ch.old_hash:
            what = (
                "was created"
                if ch.old_hash is None
                else ("was deleted" if st.content is None else "changed")
            )
            raise PatchError(
                f"stale patch: {ch.rel} {what} since it was reviewed; review the patch again"
            )


def _missing_dirs(root_fd: int, changes: Sequence[Change]) -> list[str]:
    missing: list[str] = []
    seen: set[str] = set()
    for ch in changes:
        if ch.new is None:
            continue
        parts, _ = _split(ch.rel)
        for k in range(1, len(parts) + 1):
            d = "/".join(parts[:k])
            if d in seen:
                continue
            fd = open_dir(root_fd, parts[:k], ch.rel)
            if fd is None:
                seen.add(d)
                missing.append(d)
            else:
                os.close(fd)
                seen.add(d)
    return missing


def _transact(
    root_fd: int, root: Path, changes: Sequence[Change], patch_id: str, *, undoes: str | None
) -> Applied:
    created_plan = _missing_dirs(root_fd, changes)
    store_fd = open_store(root, create=True)
    assert store_fd is not None
    name = new_txn_name(patch_id)
    dirs = _Dirs(root_fd)
    txn: Txn | None = None
    try:
        os.mkdir(name, 0o700, dir_fd=store_fd)
        fsync_dir(store_fd)
        tfd = open_dir(store_fd, [name], name)
        assert tfd is not None
        entries = [
            {
                "rel": ch.rel,
                "tmp": f".lockgate-tmp-{patch_id}-{i}" if ch.new is not None else None,
                "backup": f"b{i}" if ch.old_hash is not None else None,
                "old_hash": ch.old_hash,
                "old_mode": ch.old_mode,
                "new_hash": ch.new_hash,
                "new_mode": ch.new_mode,
            }
            for i, ch in enumerate(changes)
        ]
        txn = Txn(
            root,
            name,
            tfd,
            {
                "version": 1,
                "id": patch_id,
                "state": "applying",
                "created_at": time.time(),
                "created_dirs": created_plan,
                "entries": entries,
                "undoes": undoes,
            },
        )
        txn.write()
        _step("journal")
        try:
            _prepare(root_fd, txn, changes, dirs)
            _commit(txn, changes, dirs)
        except BaseException as exc:
            dirs.close()
            try:
                _rollback(root_fd, txn.fd, txn.journal)
            except (OSError, PatchError) as rb_exc:
                raise PatchError(
                    f"apply failed ({_reason(exc)}) and rollback is incomplete ({_reason(rb_exc)}); "
                    "it will be retried on the next start"
                ) from exc
            txn.close()
            txn = None
            remove_txn(store_fd, name, root)
            if isinstance(exc, PatchError):
                raise
            if isinstance(exc, OSError):
                raise PatchError(f"apply failed, nothing was changed: {_reason(exc)}") from exc
            raise
        statuses = tuple(
            ("A" if ch.old_hash is None else "D" if ch.new is None else "M", ch.rel)
            for ch in changes
        )
        return Applied(name, tuple(ch.rel for ch in changes), statuses)
    finally:
        dirs.close()
        if txn is not None:
            txn.close()
        os.close(store_fd)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc) or exc.__class__.__name__


def _prepare(root_fd: int, txn: Txn, changes: Sequence[Change], dirs: _Dirs) -> None:
    created: list[str] = []
    for entry, ch in zip(txn.journal["entries"], changes, strict=True):
        parts, base = _split(ch.rel)
        dfd = dirs.get(parts, ch.rel, create=ch.new is not None, created=created)
        if dfd is None:
            raise PatchError(f"stale patch: the directory of {ch.rel} is gone")
        if entry["backup"]:
            _make_backup(dfd, base, txn.fd, entry["backup"], ch)
        if ch.new is not None:
            st = lstat_at(dfd, base) if ch.old_hash is not None else None
            owner = (st.st_uid, st.st_gid) if st is not None else None
            write_new_at(dfd, entry["tmp"], ch.new, ch.new_mode or 0o644, owner)
        _step("prepare")
    for d in created:
        pparts = d.split("/")[:-1]
        pfd = dirs.get(pparts, d, create=False, created=[])
        if pfd is not None:
            fsync_dir(pfd)
    fsync_dir(txn.fd)
    dirs.fsync_all()


def _make_backup(dfd: int, base: str, txn_fd: int, backup: str, ch: Change) -> None:
    try:
        os.link(base, backup, src_dir_fd=dfd, dst_dir_fd=txn_fd, follow_symlinks=False)
    except OSError:
        st = read_state_at(dfd, base, ch.rel)
        if st.content is None:
            raise PatchError(f"stale patch: {ch.rel} was deleted since it was reviewed") from None
        write_new_at(txn_fd, backup, st.content, st.mode or 0o644)
    saved = read_state_at(txn_fd, backup, ch.rel)
    if sha256(saved.content) != ch.old_hash:
        raise PatchError(f"stale patch: {ch.rel} changed since it was reviewed; review it again")


def _commit(txn: Txn, changes: Sequence[Change], dirs: _Dirs) -> None:
    for entry, ch in zip(txn.journal["entries"], changes, strict=True):
        parts, base = _split(ch.rel)
        dfd = dirs.fds["/".join(parts)]
        if ch.new is not None:
            os.rename(entry["tmp"], base, src_dir_fd=dfd, dst_dir_fd=dfd)
        else:
            os.unlink(base, dir_fd=dfd)
        _step("commit")
    dirs.fsync_all()
    txn.journal["state"] = "committed"
    txn.write()
    _step("committed")


def _rollback(root_fd: int, txn_fd: int, journal: dict[str, Any]) -> None:
    for entry in reversed(journal.get("entries", [])):
        rel = entry["rel"]
        parts, base = _split(rel)
        try:
            dfd = open_dir(root_fd, parts, rel)
        except PatchError:
            continue  # a link where our directory was: we never wrote through it
        if dfd is None:
            continue
        try:
            tmp = entry.get("tmp")
            if tmp and lstat_at(dfd, tmp) is not None:
                os.unlink(tmp, dir_fd=dfd)
                fsync_dir(dfd)
                continue
            try:
                st = read_state_at(dfd, base, rel)
            except PatchError:
                continue
            h = sha256(st.content)
            is_new = h == entry["new_hash"] and (st.content is None or st.mode == entry["new_mode"])
            is_old = h == entry["old_hash"] and (st.content is None or st.mode == entry["old_mode"])
            if not is_new or is_old:
                continue
            backup = entry.get("backup")
            if backup and lstat_at(txn_fd, backup) is not None:
                _restore(txn_fd, backup, dfd, base, entry["old_hash"], rel)
            elif entry["old_hash"] is None:
                os.unlink(base, dir_fd=dfd)
            else:
                raise PatchError(f"cannot restore {rel}: its saved copy is missing")
            fsync_dir(dfd)
        finally:
            os.close(dfd)
    _remove_dirs(root_fd, journal.get("created_dirs", []))


def _restore(txn_fd: int, backup: str, dfd: int, base: str, old_hash: str, rel: str) -> None:
    """Put the pre-image back over `base`: the very inode we verified (linked through its open
    descriptor, so nothing swapped in after the check can take its place), else a copy."""
    fd = os.open(backup, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=txn_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PatchError(f"cannot restore {rel}: its saved copy is not a regular file")
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        data = b"".join(chunks)
        if sha256(data) != old_hash:
            raise PatchError(f"cannot restore {rel}: its saved copy was altered")
        tmp = f".lockgate-restore-{uuid.uuid4().hex[:12]}"
        try:
            os.link(f"/proc/self/fd/{fd}", tmp, dst_dir_fd=dfd, follow_symlinks=True)
        except OSError:
            write_new_at(dfd, tmp, data, stat.S_IMODE(st.st_mode))
        os.rename(tmp, base, src_dir_fd=dfd, dst_dir_fd=dfd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(backup, dir_fd=txn_fd)


def _remove_dirs(root_fd: int, rels: Sequence[str]) -> None:
    for d in reversed(list(rels)):
        parts = d.split("/")
        try:
            pfd = open_dir(root_fd, parts[:-1], d)
        except PatchError:
            continue
        if pfd is None:
            continue
        try:
            os.rmdir(parts[-1], dir_fd=pfd)
            fsync_dir(pfd)
        except OSError:
            pass  # not empty (someone else's files) or already gone
        finally:
            os.close(pfd)


def _recover(root_fd: int, root: Path) -> list[str]:
    store_fd = open_store(root, create=False)
    if store_fd is None:
        return []
    rolled: list[str] = []
    try:
        for name in list_txns(store_fd):
            tfd = open_txn(store_fd, name)
            if tfd is None:
                continue
            try:
                journal = read_journal(root, name, tfd)
                if journal is None:
                    # The crash came before the first journal write: nothing else was touched.
                    os.close(tfd)
                    tfd = -1
                    remove_txn(store_fd, name, root)
                    continue
                state = journal.get("state")
                if state == "applying":
                    _rollback(root_fd, tfd, journal)
                    os.close(tfd)
                    tfd = -1
                    remove_txn(store_fd, name, root)
                    rolled.append(name)
                elif state == "committed" and journal.get("undoes"):
                    _finish_undo(root_fd, root, store_fd, str(journal["undoes"]))
            finally:
                if tfd >= 0:
                    os.close(tfd)
    finally:
        os.close(store_fd)
    return rolled


def _undo_changes(root_fd: int, store_fd: int, name: str, journal: dict[str, Any]) -> list[Change]:
    tfd = open_txn(store_fd, name)
    if tfd is None:
        raise PatchError("cannot undo: the saved pre-images are missing")
    try:
        changes: list[Change] = []
        for entry in journal.get("entries", []):
            rel = entry["rel"]
            cur = read_state(root_fd, rel)
            if sha256(cur.content) != entry["new_hash"]:
                raise PatchError(f"cannot undo: {rel} changed since the patch was applied")
            old: bytes | None = None
            if entry.get("backup"):
                saved = read_state_at(tfd, entry["backup"], rel)
                if saved.content is None or sha256(saved.content) != entry["old_hash"]:
                    raise PatchError(f"cannot undo: the saved copy of {rel} is missing or altered")
                old = saved.content
            changes.append(
                Change(
                    rel=rel,
                    old_hash=entry["new_hash"],
                    old_mode=cur.mode,
                    new=old,
                    new_mode=entry["old_mode"],
                    new_hash=entry["old_hash"],
                )
            )
        return changes
    finally:
        os.close(tfd)


def _finish_undo(root_fd: int, root: Path, store_fd: int, name: str) -> None:
    tfd = open_txn(store_fd, name)
    if tfd is None:
        return
    try:
        journal = read_journal(root, name, tfd)
        if journal is None or journal.get("state") != "committed":
            return
        journal["state"] = "undone"
        write_journal(root, name, tfd, journal)
    finally:
        os.close(tfd)
    _remove_dirs(root_fd, journal.get("created_dirs", []))


def _prune(root_fd: int, root: Path) -> None:
    store_fd = open_store(root, create=False)
    if store_fd is None:
        return
    try:
        names = list_txns(store_fd)
        for name in names[:-KEEP] if len(names) > KEEP else []:
            remove_txn(store_fd, name, root)
    finally:
        os.close(store_fd)

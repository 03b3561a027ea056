"""What a jailed agent changed: read from the overlay's upper layer, compared with the real
workspace, and undone (for denied changes) through the agent's own view of the overlay.

The upper layer holds every file the agent (or a program it ran) wrote, whiteouts (character
devices 0:0) for what it deleted, and opaque directories for trees it replaced. Changes inside
`.git` stay in the overlay (object files and indexes are no review material, and a repository's
hooks and config are protected anyway); so do binary, huge and special files, each with a note.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from app.agent.acp.diffs import FileChange, decode_text

MAX_FILE = 2 << 20  # bigger files stay in the overlay, with a note
SKIP_DIRS = (".git",)


@dataclass
class OverlayScan:
    changes: list[FileChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    for name in ("user.overlay.opaque", "trusted.overlay.opaque"):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def read_real(workspace: Path, rel: str) -> tuple[bool, str | None]:
    """(exists, its text or None when it is not text). Walked from the workspace without
    following symlinks: a real symlink (or a symlinked directory on the way) is never read
    through, so nothing outside the workspace shows up in a diff."""
    try:
        data = read_beneath(workspace, rel, MAX_FILE)
    except FileNotFoundError:
        return False, None
    except OSError:
        return True, None  # a symlink, a special file, too large: not reviewable text
    return True, decode_text(data)


def _real_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        out.extend(Path(dirpath) / f for f in filenames)
    return out


def scan(upper: Path, workspace: Path) -> OverlayScan:
    result = OverlayScan()
    seen: set[str] = set()

    def rel_of(p: Path) -> str:
        return p.relative_to(upper).as_posix()

    def deleted(rel: str) -> None:
        exists, text = read_real(workspace, rel)
        if not exists or rel in seen:
            return
        seen.add(rel)
        if text is None:
            result.notes.append(f"{rel}: the agent deleted a file that is not text; not applied")
            return
        result.changes.append(FileChange(rel, "delete", text, None))

    for dirpath, dirnames, filenames in os.walk(upper):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        entries = list(filenames)
        for d in list(dirnames):
            st = os.lstat(here / d)
            if _is_whiteout(st):
                entries.append(d)
        if here != upper and _opaque(str(here)):
            kept = {rel_of(here / f) for f in filenames}
            real_dir = workspace / rel_of(here)
            if real_dir.is_dir():
                for f in _real_files(real_dir):
                    rel = f.relative_to(workspace).as_posix()
                    if rel not in kept:
                        deleted(rel)
        for name in entries:
            path = here / name
            rel = rel_of(path)
            st = os.lstat(path)
            if _is_whiteout(st):
                real = workspace / rel
                if real.is_dir() and not real.is_symlink():
                    for f in _real_files(real):
                        deleted(f.relative_to(workspace).as_posix())
                else:
                    deleted(rel)
                continue
            if stat.S_ISLNK(st.st_mode):
                result.notes.append(f"{rel}: the agent made a symlink; it stays in its overlay")
                continue
            if not stat.S_ISREG(st.st_mode):
                result.notes.append(f"{rel}: not a regular file; it stays in the agent's overlay")
                continue
            if st.st_size > MAX_FILE:
                result.notes.append(f"{rel}: over {MAX_FILE >> 20} MB; it stays in the overlay")
                continue
            new = decode_text(path.read_bytes())
            exists, old = read_real(workspace, rel)
            if new is None or (exists and old is None):
                try:
                    same = exists and read_beneath(workspace, rel, MAX_FILE) == path.read_bytes()
                except OSError:
                    same = False
                if not same:
                    result.notes.append(f"{rel}: not text; it stays in the agent's overlay")
                continue
            if exists and old == new:
                continue
            seen.add(rel)
            result.changes.append(FileChange(rel, "modify" if exists else "add", old, new))
    result.changes.sort(key=lambda c: c.rel)
    return result


def _parent_fd(root: Path, rel: str, *, create: bool) -> tuple[int, str]:
    """A descriptor of `rel`'s directory, walked from `root` one name at a time without
    following any symlink: the agent may have planted one in its overlay to aim a write at the
    host through lockgate's hands."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise OSError(22, f"bad path {rel!r}")
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            try:
                nxt = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=fd)  # fmt: skip
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(name, 0o755, dir_fd=fd)
                nxt = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=fd)  # fmt: skip
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def read_beneath(root: Path, rel: str, limit: int) -> bytes:
    dfd, name = _parent_fd(root, rel, create=False)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
    finally:
        os.close(dfd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(22, "not a regular file")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise OSError(27, f"larger than {limit >> 20} MB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_beneath(root: Path, rel: str, data: bytes | None) -> None:
    """Write (or, for None, remove) `rel` under `root`, never through a symlink."""
    dfd, name = _parent_fd(root, rel, create=data is not None)
    try:
        if data is None:
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                return
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=dfd)
            return
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=dfd)
        except FileNotFoundError:
            pass
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644, dir_fd=dfd)  # fmt: skip
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    finally:
        os.close(dfd)


def roll_back(changes: list[FileChange], root: Path) -> list[str]:
    """Make the agent's view (`root`: the workspace as the jail sees it) of each file what the
    real one is again. Returns what failed."""
    failed: list[str] = []
    for change in changes:
        try:
            write_beneath(root, change.rel, None if change.old is None else change.old.encode())
        except OSError as exc:
            failed.append(f"{change.rel}: {exc.strerror or exc}")
    return failed


def sync_in(rel: str, text: str, root: Path) -> str:
    """Put an approved write into the agent's view too (it reads its own overlay). Returns an
    error text, empty on success."""
    try:
        write_beneath(root, rel, text.encode())
    except OSError as exc:
        return f"{rel}: {exc.strerror or exc}"
    return ""

"""File operations the guard makes on host paths a command controlled.

The guard runs as the console's user after the command's processes are gone, on a tree the
command shaped at will: a symlink where a directory was (`.git/modules -> /somewhere`), a
directory 1,500 levels deep, a `chmod 555` directory. So every operation here starts from a
descriptor of a root (the workspace, a writable root), resolves the rest with `openat2`
RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (or, where the kernel lacks it, one O_NOFOLLOW component
at a time), never follows a symlink, removes trees iteratively (no recursion limit, one
descriptor at a time, climbing back through `..` only after checking it is the directory it
came from), and checks afterwards that what it removed is gone. What it cannot do raises
GuardError, which the guard reports as a failure of the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Any

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
NR_OPENAT2 = 437  # x86_64 and the generic table (aarch64)


class GuardError(Exception):
    """The guard could not do (or could not verify) something it had to."""


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


_openat2_ok: bool | None = None if sys.platform.startswith("linux") else False


_libc_syscall: Any = None


def _openat2(dirfd: int, path: str, flags: int) -> int:
    global _libc_syscall
    if _libc_syscall is None:
        _libc_syscall = ctypes.CDLL(None, use_errno=True).syscall
        _libc_syscall.restype = ctypes.c_long
    how = _OpenHow(flags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    fn = _libc_syscall
    fd = fn(
        ctypes.c_long(NR_OPENAT2),
        ctypes.c_int(dirfd),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{os.strerror(err)}: {path}")
    return int(fd)


def open_beneath(dirfd: int, rel: str, flags: int = O_DIR) -> int:
    """Open `rel` below `dirfd` without following any symlink and without leaving `dirfd`'s
    tree. OSError (ELOOP, ENOTDIR, EXDEV, ENOENT …) when that is not possible."""
    global _openat2_ok
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OSError(errno.EXDEV, f"'..' in {rel}")
    if not parts:
        return os.open(".", flags | os.O_NOFOLLOW, dir_fd=dirfd)
    if _openat2_ok is not False:
        try:
            fd = _openat2(dirfd, "/".join(parts), flags | os.O_NOFOLLOW)
            _openat2_ok = True
            return fd
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM) or _openat2_ok:
                raise
            _openat2_ok = False  # no openat2 (old kernel, or a seccomp filter): walk instead
    cur = os.open(".", O_DIR, dir_fd=dirfd)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, O_DIR, dir_fd=cur)
            os.close(cur)
            cur = nxt
        return os.open(parts[-1], flags | os.O_NOFOLLOW, dir_fd=cur)
    finally:
        os.close(cur)


_NOT_THERE = (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EXDEV)


def _ident(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


class Beneath:
    """One root (a directory descriptor) and the operations the guard needs below it."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or "/"
        self.fd = os.open(self.root, O_DIR)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Beneath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rel(self, path: str) -> str | None:
        """`path` relative to the root, or None when it is not below it."""
        if path == self.root:
            return ""
        base = self.root if self.root.endswith("/") else self.root + "/"
        return path[len(base) :] if path.startswith(base) else None

    def parent(self, rel: str) -> tuple[int, str]:
        """A descriptor of the directory holding `rel` (the caller closes it), and the name."""
        head, _, name = rel.rpartition("/")
        if not name or name in (".", ".."):
            raise OSError(errno.EINVAL, f"bad name {rel!r}")
        return open_beneath(self.fd, head), name

    def lstat(self, rel: str) -> os.stat_result | None:
        try:
            pfd, name = self.parent(rel)
        except OSError:
            return None
        try:
            return os.lstat(name, dir_fd=pfd)
        except OSError:
            return None
        finally:
            os.close(pfd)

    def readlink(self, rel: str) -> str | None:
        try:
            pfd, name = self.parent(rel)
        except OSError:
            return None
        try:
            return os.readlink(name, dir_fd=pfd)
        except OSError:
            return None
        finally:
            os.close(pfd)

    def listdir(self, rel: str) -> list[str]:
        try:
            fd = open_beneath(self.fd, rel)
        except OSError:
            return []
        try:
            return os.listdir(fd)
        except OSError:
            return []
        finally:
            os.close(fd)

    def symlink(self, target: str, rel: str) -> None:
        pfd, name = self.parent(rel)
        try:
            os.symlink(target, name, dir_fd=pfd)
        finally:
            os.close(pfd)

    def remove(self, rel: str) -> bool:
        """Remove whatever is at `rel` (a tree too), never following a symlink. False when
        nothing was there; GuardError when it could not be removed (or is still there)."""
        try:
            pfd, name = self.parent(rel)
        except OSError as exc:
            if exc.errno in _NOT_THERE:
                return False  # no such path below the root without a symlink on the way
            raise GuardError(f"cannot reach {rel}: {exc.strerror}") from exc
        try:
            try:
                os.lstat(name, dir_fd=pfd)
            except FileNotFoundError:
                return False
            remove_at(pfd, name)
            try:
                os.lstat(name, dir_fd=pfd)
            except FileNotFoundError:
                return True
            raise GuardError(f"{rel} is still there after removing it")
        finally:
            os.close(pfd)


def walk(
    base_fd: int, rel: str, prune: Callable[[list[str]], bool] | None = None
) -> Iterator[tuple[int, list[str], str, os.stat_result]]:
    """Every entry that is not a directory below `rel`: (descriptor of its directory, the
    directory's path below `rel` as names, its name, its lstat). Iterative, one descriptor
    held at a time; `prune(path)` says which directories not to enter (they are still looked
    at as entries of their parent: a symlink where a directory should be is yielded)."""
    cur = open_beneath(base_fd, rel)
    path: list[str] = []
    stack: list[tuple[list[str], tuple[int, int]]] = []
    pending: list[str] | None = None
    try:
        while True:
            if pending is None:
                pending = []
                for entry in os.scandir(cur):
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if not stat.S_ISDIR(st.st_mode):
                        yield cur, path, entry.name, st
                    elif prune is None or not prune([*path, entry.name]):
                        pending.append(entry.name)
            if pending:
                child = pending.pop()
                try:
                    nxt = os.open(child, O_DIR, dir_fd=cur)
                except OSError:
                    continue
                stack.append((pending, _ident(os.fstat(cur))))
                path.append(child)
                os.close(cur)
                cur, pending = nxt, None
                continue
            if not stack:
                return
            up = os.open("..", O_DIR, dir_fd=cur)
            pending, want = stack.pop()
            if _ident(os.fstat(up)) != want:
                os.close(up)
                raise GuardError(f"{'/'.join(path)} moved while it was being checked")
            path.pop()
            os.close(cur)
            cur = up
    finally:
        os.close(cur)


def remove_at(parent_fd: int, name: str) -> None:
    """Remove `name` in `parent_fd`: a file or link at once, a directory tree iteratively."""
    st = os.lstat(name, dir_fd=parent_fd)
    if not stat.S_ISDIR(st.st_mode):
        _unlink(parent_fd, name)
        return
    _writable_dir(parent_fd, name, st)
    top = os.open(".", O_DIR, dir_fd=parent_fd)
    cur = os.open(name, O_DIR, dir_fd=parent_fd)
    names = [name]  # the path from `parent_fd` down to `cur`
    idents = [_ident(os.fstat(top))]  # identity of each directory above `cur`
    os.close(top)
    try:
        while names:
            subdirs: list[str] = []
            for entry in os.scandir(cur):
                est = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(est.st_mode):
                    subdirs.append(entry.name)
                else:
                    _unlink(cur, entry.name)
            if subdirs:
                child = subdirs[0]
                cst = os.lstat(child, dir_fd=cur)
                _writable_dir(cur, child, cst)
                nxt = os.open(child, O_DIR, dir_fd=cur)
                idents.append(_ident(os.fstat(cur)))
                names.append(child)
                os.close(cur)
                cur = nxt
                continue
            up = os.open("..", O_DIR, dir_fd=cur)
            if _ident(os.fstat(up)) != idents[-1]:
                os.close(up)
                raise GuardError(f"{'/'.join(names)} moved while it was being removed")
            os.close(cur)
            cur = up
            try:
                os.rmdir(names.pop(), dir_fd=cur)
            except OSError as exc:
                raise GuardError(f"cannot remove {'/'.join(names)}: {exc.strerror}") from exc
            idents.pop()
    finally:
        os.close(cur)


def _writable_dir(parent_fd: int, name: str, st: os.stat_result) -> None:
    """A `chmod 555` (or 000) directory the command left: make it ours to empty again."""
    if st.st_mode & 0o700 != 0o700:
        with contextlib.suppress(OSError):
            os.chmod(name, 0o700, dir_fd=parent_fd)  # lstat said: a directory, not a link


def _unlink(dirfd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dirfd)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise GuardError(f"cannot remove {name}: {exc.strerror}") from exc

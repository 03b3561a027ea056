"""Safe path resolution and descriptor-relative file operations inside a workspace.

The patch engine runs in the console's own process, outside the sandbox, so every path a patch
names is treated as hostile: it is normalised without touching the disk, checked against the
protected list, then opened one component at a time relative to a descriptor of the workspace
with O_NOFOLLOW, so a symlink anywhere on the way (planted before review, or swapped in for a
directory between review and apply) is refused rather than followed out of the workspace.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.patch.errors import PatchError, quote

MAX_FILE_BYTES = 64 * 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK

# Paths an agent's patch must not write without the reviewer approving that very item: they run
# code later (git hooks, editor tasks, direnv), steer the agent itself, or are the console's own.
_PROTECTED_ANYWHERE = (".git",)
_PROTECTED_TOP_DIRS = (
    ".codex",
    ".claude",
    ".cursor",
    ".gemini",
    ".continue",
    ".devcontainer",
    ".idea",
    ".vscode",
    ".windsurf",
)
_PROTECTED_TOP_FILES = (
    ".envrc",
    ".mcp.json",
    ".gitmodules",
    ".aider.conf.yml",
    ".cursorrules",
)


def sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


# Invisible or direction-changing characters: a name that reads differently from what it is
# (bidi overrides), or that some filesystems ignore (HFS+ drops zero-width joiners, so
# ".g\u200cit" is ".git" there).
_INVISIBLE = frozenset(
    "\u00ad\u061c\u180e\u2028\u2029\ufeff"
    + "".join(chr(c) for c in range(0x200B, 0x2010))
    + "".join(chr(c) for c in range(0x202A, 0x202F))
    + "".join(chr(c) for c in range(0x2060, 0x2070))
)


def _bad_char(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0 or ch in _INVISIBLE


@dataclass(frozen=True)
class Workspace:
    """The one directory a patch may change; `root` is its real path."""

    root: Path

    @classmethod
    def at(cls, path: Path | str) -> Workspace:
        real = Path(os.path.realpath(os.fspath(path)))
        if not real.is_dir():
            raise PatchError(f"workspace {quote(str(path))} is not a directory")
        return cls(real)

    def normalize(self, path: str, *, given_root: Path | None = None) -> str:
        """A patch path as workspace-relative posix text, or a PatchError saying why not."""
        if not path or not path.strip():
            raise PatchError("empty path")
        if any(_bad_char(ch) for ch in path):
            raise PatchError(f"path {quote(path)} contains control characters or line breaks")
        if "\\" in path:
            raise PatchError(f"path {quote(path)} contains a backslash")
        if path.startswith("~"):
            raise PatchError(f"path {quote(path)} starts with '~'; home-relative paths are refused")
        rel_text = path
        if path.startswith("/"):
            rel_text = self._relative_from_absolute(path, given_root)
        parts = [p for p in rel_text.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            raise PatchError(f"path {quote(path)} contains '..'")
        if not parts:
            raise PatchError(f"path {quote(path)} names the workspace itself")
        for p in parts:
            if len(p.encode("utf-8", "surrogatepass")) > 255:
                raise PatchError(f"path {quote(path)} has a component longer than 255 bytes")
        rel = "/".join(parts)
        if len(rel.encode("utf-8", "surrogatepass")) > 4000:
            raise PatchError(f"path {quote(path)} is too long")
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PatchError(f"path {quote(path)} is not valid UTF-8") from exc
        return rel

    def _relative_from_absolute(self, path: str, given_root: Path | None) -> str:
        squashed = "/" + "/".join(p for p in path.split("/") if p not in ("", "."))
        if any(p == ".." for p in squashed.split("/")):
            raise PatchError(f"path {quote(path)} contains '..'")
        roots = {str(self.root)}
        if given_root is not None:
            given = os.path.abspath(os.fspath(given_root))
            roots.add("/" + "/".join(p for p in given.split("/") if p not in ("", ".")))
        for root in sorted(roots, key=len, reverse=True):
            if squashed == root:
                raise PatchError(f"path {quote(path)} names the workspace itself")
            if root == "/" or squashed.startswith(root + "/"):
                return squashed[len(root) :].lstrip("/")
        raise PatchError(f"path {quote(path)} is outside the workspace")


def protected_reason(rel: str) -> str | None:
    """Why `rel` is protected, or None. Names compare case-insensitively (macOS, Windows)."""
    parts = rel.split("/")
    # casefold for case-insensitive filesystems; trailing dots/spaces and the 8.3 short name
    # because NTFS resolves ".git. " and "GIT~1" to ".git".
    low = [p.casefold().rstrip(". ") or p.casefold() for p in parts]
    if any(p in _PROTECTED_ANYWHERE or p == "git~1" for p in low):
        return "git internals (hooks and config run code)"
    top = low[0]
    if top.startswith(".lockgate"):
        return "lockgate's own files"
    if top in _PROTECTED_TOP_DIRS or top.startswith(".aider"):
        return "agent or editor configuration (it can run code or steer agents)"
    if len(parts) == 1 and top in _PROTECTED_TOP_FILES:
        return "configuration that runs code or steers agents"
    return None


def check_protected(rels: Iterable[str], approved: frozenset[str]) -> None:
    for rel in rels:
        reason = protected_reason(rel)
        if reason and rel not in approved:
            raise PatchError(
                f"{rel} is a protected path ({reason}); it needs the reviewer's approval"
            )


# --------------------------------------------------------------------------- descriptor walks


def open_root(root: Path) -> int:
    try:
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise PatchError(f"cannot open workspace {root}: {exc.strerror}") from exc


def _refuse_component(dir_fd: int, rel_dir: str, name: str, exc: OSError, path: str) -> PatchError:
    where = f"{rel_dir}/{name}" if rel_dir else name
    try:
        is_link = stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        is_link = False
    if is_link or exc.errno in (errno.ELOOP, errno.EMLINK):
        return PatchError(f"{path}: {where} is a symlink; refusing to follow it")
    if exc.errno == errno.ENOTDIR:
        return PatchError(f"{path}: {where} is not a directory")
    return PatchError(f"{path}: cannot open {where}: {exc.strerror}")


def open_dir(
    root_fd: int,
    parts: list[str],
    path: str,
    *,
    create: bool = False,
    created: list[str] | None = None,
) -> int | None:
    """Descriptor of the directory `parts` (relative to root_fd), never following a link.

    Missing: None, or (create=True) made with mode 0777 & ~umask and recorded in `created`.
    """
    fd = os.dup(root_fd)
    done: list[str] = []
    try:
        for name in parts:
            try:
                nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                try:
                    os.mkdir(name, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
                else:
                    if created is not None:
                        created.append("/".join([*done, name]))
                try:
                    nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise _refuse_component(fd, "/".join(done), name, exc, path) from exc
            except OSError as exc:
                raise _refuse_component(fd, "/".join(done), name, exc, path) from exc
            os.close(fd)
            fd = nxt
            done.append(name)
        return fd
    except BaseException:
        os.close(fd)
        raise


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class FileState:
    """A regular file as read through a safe walk (None content: it does not exist)."""

    content: bytes | None
    mode: int | None
    nlink: int = 1
    ino: int | None = None


def read_state(root_fd: int, rel: str) -> FileState:
    """Read `rel` safely: absent → FileState(None); symlink, directory, device → PatchError."""
    parts = rel.split("/")
    dfd = open_dir(root_fd, parts[:-1], rel)
    if dfd is None:
        return FileState(None, None)
    try:
        return read_state_at(dfd, parts[-1], rel)
    finally:
        os.close(dfd)


def read_state_at(dfd: int, name: str, rel: str) -> FileState:
    st = lstat_at(dfd, name)
    if st is None:
        return FileState(None, None)
    if stat.S_ISLNK(st.st_mode):
        raise PatchError(f"{rel} is a symlink; refusing to write through it")
    if stat.S_ISDIR(st.st_mode):
        raise PatchError(f"{rel} is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise PatchError(f"{rel} is not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise PatchError(f"{rel} is too large to patch ({st.st_size} bytes)")
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dfd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PatchError(f"{rel} is a symlink; refusing to write through it") from exc
        raise PatchError(f"cannot read {rel}: {exc.strerror}") from exc
    try:
        fst = os.fstat(fd)
        if not stat.S_ISREG(fst.st_mode) or (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
            raise PatchError(f"{rel} changed while it was being read")
        chunks: list[bytes] = []
        total = 0
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            total += len(b)
            if total > MAX_FILE_BYTES:
                raise PatchError(f"{rel} is too large to patch")
            chunks.append(b)
        return FileState(b"".join(chunks), stat.S_IMODE(fst.st_mode), fst.st_nlink, fst.st_ino)
    finally:
        os.close(fd)


def write_new_at(
    dfd: int, name: str, data: bytes, mode: int, owner: tuple[int, int] | None = None
) -> None:
    """Create `name` (must not exist) with `data`, fsynced, mode set exactly (no umask).

    `owner` (uid, gid) is given when replacing a file: root keeps the file's owner, others keep
    its group where they may.
    """
    fd = os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd
    )
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if owner is not None:
            _chown_like(fd, owner)
        os.fchmod(fd, mode & 0o777)
        os.fsync(fd)
    finally:
        os.close(fd)


def _chown_like(fd: int, owner: tuple[int, int]) -> None:
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) == owner:
        return
    uid = owner[0] if os.geteuid() == 0 else -1
    with contextlib.suppress(PermissionError):  # not ours to give away: it stays ours
        os.fchown(fd, uid, owner[1])


def fsync_dir(dfd: int) -> None:
    try:
        os.fsync(dfd)
    except OSError as exc:  # some filesystems refuse fsync on directories
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise


def current_umask() -> int:
    """The process umask, read without setting it (os.umask would race other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def default_file_mode() -> int:
    """0666 minus the process umask, as a fresh file would get."""
    return 0o666 & ~current_umask()

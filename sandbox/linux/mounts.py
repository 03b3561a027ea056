"""The command's view of the file system, built in a fresh mount namespace.

Landlock does not cover chmod/chown/utime/xattr and cannot make a sub-path of a writable tree
read-only, so the mount namespace carries the write policy: everything read-only (recursively,
with mount_setattr), then writable clones of the workspace and writable roots, then read-only
binds over protected names inside them, then empty views over secrets and over the places host
services keep their unix sockets (/tmp, /run, $XDG_RUNTIME_DIR), and a minimal /dev.

Writable trees are cloned (open_tree) *before* /tmp is covered, so a workspace under /tmp stays
reachable at its own path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from sandbox.linux import syscalls as sc
from sandbox.paths import within_any

DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}
EMPTY_DIR = "empty-dir"
EMPTY_FILE = "empty-file"


def under_private(path: str, private: Sequence[str]) -> bool:
    return within_any(path, private)


def build_static(
    writable: Sequence[str],
    private: Sequence[str],
    tmp_size: int,
    readable: Sequence[str] = (),
    hidden: Sequence[str] = (),
    links: Sequence[tuple[str, str]] = (),
) -> int:
    """The part of the view that is the same for every command of a Sandbox. Runs in the
    supervisor right after unshare (it has CAP_SYS_ADMIN in the new user namespace). Returns a
    descriptor of the detached tmpfs of empties that `apply_run` hides secrets with.

    `hidden` (the homes) get an empty view, read-only once the readable and writable trees
    inside them are back: a directory-level cover, so no file in a home can be renamed out from
    under it."""
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
    clone = sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC
    trees = [(p, sc.open_tree(sc.AT_FDCWD, p, clone | sc.AT_RECURSIVE)) for p in writable]
    covers = [*private, *hidden]
    # Read-only trees that a private or hidden view would cover (the console's venv under /tmp,
    # a toolchain in the home), unless a writable tree already brings them back.
    ro_trees = [
        (p, sc.open_tree(sc.AT_FDCWD, p, clone | sc.AT_RECURSIVE))
        for p in readable
        if under_private(p, covers) and os.path.exists(p) and not within_any(p, writable)
    ]
    dev_nodes = {}
    late: list[str] = []
    try:
        for name in DEV_NODES:
            if os.path.exists(f"/dev/{name}"):
                dev_nodes[name] = sc.open_tree(sc.AT_FDCWD, f"/dev/{name}", clone)
        stash = detached_empties()
        # nodev too: a device node elsewhere (a chroot, a container's tree) must not give
        # the command the raw disk; the few devices it gets are bound into /dev below.
        sc.mount_setattr(
            sc.AT_FDCWD,
            "/",
            sc.AT_RECURSIVE,
            sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV,
        )
        for path in private:
            if os.path.isdir(path) and not os.path.islink(path):
                _tmpfs(path, tmp_size if path == "/tmp" else 64 << 20, "1777")
        shown: list[str] = []
        for path in hidden:
            if not os.path.isdir(path) or os.path.islink(path) or under_private(path, private):
                continue  # gone, or already under a fresh private view
            if under_private(path, writable):
                late.append(path)  # a home inside a writable tree: covered after it
                continue
            _tmpfs(path, 1 << 20, "0755")
            shown.append(path)
        _dev(dev_nodes)
        for path, fd in ro_trees:
            sc.mount_setattr(
                fd,
                "",
                sc.AT_EMPTY_PATH | sc.AT_RECURSIVE,
                sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV,
            )
            _mountpoint(path, fd)  # only ever inside a fresh tmpfs view
            sc.move_mount(fd, path)
        # Shallow trees first: a writable tree inside another (the workspace inside a writable
        # parent) then sits on top as a mount point, which cannot be renamed or replaced, so
        # its protected names cannot be moved away with it.
        for path, fd in sorted(trees, key=lambda t: t[0].rstrip("/").count("/")):
            sc.mount_setattr(
                fd,
                "",
                sc.AT_EMPTY_PATH | sc.AT_RECURSIVE,
                sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV,
            )
            os.makedirs(path, exist_ok=True)  # only in a fresh tmpfs view or a writable tree
            sc.move_mount(fd, path)
        for path in late:
            _tmpfs(path, 1 << 20, "0755")
            shown.append(path)
        for link, target in links:  # a toolchain dir that is a symlink (~/.pyenv -> /opt/…)
            if under_private(link, shown) and not os.path.lexists(link):
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(target, link)
        for path in shown:  # the homes: nothing may be written into the empty view
            sc.mount_setattr(sc.AT_FDCWD, path, 0, sc.MOUNT_ATTR_RDONLY)
    finally:
        for _, fd in (*trees, *ro_trees):
            os.close(fd)
        for fd in dev_nodes.values():
            os.close(fd)
    return stash


def _mountpoint(path: str, fd: int) -> None:
    """An empty directory or file at `path` to attach the tree behind `fd` to."""
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.makedirs(path, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.lexists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def apply_run(
    stash: int, git_dirs: Sequence[str], read_only: Sequence[str], deny: Sequence[str]
) -> None:
    """The part that depends on the workspace and home as they are now, just before the run."""
    for git_dir in git_dirs:
        if os.path.isdir(git_dir) and not os.path.islink(git_dir):
            _bind_self(git_dir, read_only=False)
    for path in read_only:
        if os.path.lexists(path) and not os.path.islink(path):
            _bind_self(path, read_only=True)
    for path in deny:
        _hide(path, stash)


# What the walk of the writable trees looks for, made when a spare is made (before the command
# is known): sockets a command must not reach, and files with more than one name.
# Bounded: git's own directories are skipped (git makes no sockets; its objects are read-only
# by convention), and past the budget the rest is left as it is.
WALK_ENTRIES = 200_000
WALK_DEPTH = 32
_WALK_SKIP = frozenset({".git"})
# Hard links are broken by copying; past these, the rest are covered read-only instead.
BREAK_BYTES = 1 << 30
BREAK_FILE_MAX = 64 << 20
MAX_LINK_COVERS = 4096


def scan_writable(roots: Sequence[str], allow: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(pathname unix sockets but those `allow` names, regular files with st_nlink > 1) in
    the writable trees.

    Sockets: a service bound by a relative path, or from a container's own network namespace
    through a volume, is missing from /proc/net/unix, and neither a network namespace nor
    Landlock (ABI < 9) stops connect() to it.
    Hard links: a file linked from a store outside the workspace (pnpm, uv) shares its inode
    with every other name; a write through the workspace's name would reach them all."""
    allowed = set(allow)
    sockets: list[str] = []
    linked: list[str] = []
    budget = WALK_ENTRIES
    stack = [(r, 0) for r in roots]
    while stack and budget > 0:
        d, depth = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        budget -= len(entries)
        for e in entries:
            try:
                # the entry's type comes with the listing: only files and the unknown cost a stat
                if e.is_symlink():
                    continue
                if e.is_dir(follow_symlinks=False):
                    if depth < WALK_DEPTH and e.name not in _WALK_SKIP:
                        stack.append((e.path, depth + 1))
                    continue
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            mode = st.st_mode
            if stat.S_ISSOCK(mode):
                if e.path not in allowed:
                    sockets.append(e.path)
            elif stat.S_ISREG(mode) and st.st_nlink > 1:
                linked.append(e.path)
    return sockets, linked


def _cover(stash: int, path: str) -> None:
    fd = sc.open_tree(stash, EMPTY_FILE, sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC)
    try:
        sc.move_mount(fd, path)
    finally:
        os.close(fd)


def break_link(path: str) -> bool:
    """Give `path` an inode of its own: a copy renamed over it (mode kept). The other names
    keep the old inode, which a write through this name can no longer reach. False when it
    was not a multiply-linked regular file any more."""
    src = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(src)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink < 2:
            return False
        parent = os.path.dirname(path)
        tmp = os.path.join(parent, f".lockgate-unlink-{os.urandom(6).hex()}")
        dst = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600)  # fmt: skip
        try:
            left = st.st_size
            while left > 0:
                n = os.copy_file_range(src, dst, left)
                if n == 0:
                    break
                left -= n
            os.fchmod(dst, stat.S_IMODE(st.st_mode))
        except BaseException:
            os.close(dst)
            os.unlink(tmp)
            raise
        os.close(dst)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        os.rename(tmp, path)
        return True
    finally:
        os.close(src)


def secure_writable(stash: int, roots: Sequence[str], allow: Sequence[str] = ()) -> None:
    """Cover the sockets in the writable trees with an empty read-only file (connect() then
    fails, and the cover cannot be removed from inside), and break the hard links: each file
    with other names gets its own copy (within BREAK_BYTES; past it, or when a copy fails, it
    is covered read-only by a bind of itself; past MAX_LINK_COVERS the sandbox refuses)."""
    sockets, linked = scan_writable(roots, allow)
    for path in sockets:
        _cover(stash, path)
    spent = 0
    covers = 0
    for path in linked:
        try:
            size = os.lstat(path).st_size
            if size <= BREAK_FILE_MAX and spent + size <= BREAK_BYTES:
                spent += size
                break_link(path)
                continue
        except OSError:
            pass  # (a protected file already bound read-only cannot be renamed over: EBUSY)
        covers += 1
        if covers > MAX_LINK_COVERS:
            raise ValueError(
                f"{len(linked)} files in the workspace have other names (hard links) and too "
                "many are too large to copy; run `cp -a --remove-destination` on them or "
                "relink the store outside the sandbox"
            )
        if os.path.lexists(path):
            _bind_self(path, read_only=True)


def mount_proc() -> None:
    """Run as pid 1 of the new pid namespace: /proc shows only the command's own processes."""
    # Read-only: the command's uid may be host root, whose DAC rights over /proc/sys would
    # otherwise rest on Landlock alone.
    sc.mount(
        "proc", "/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RDONLY, None
    )


def detached_empties() -> int:
    """A detached, read-only tmpfs holding one empty directory and one empty file; clones of
    them hide secrets. Nothing else can reach it: it is never attached to the tree."""
    fd = sc.new_tmpfs({"mode": "0755", "size": "16k"})
    os.mkdir(EMPTY_DIR, 0o000, dir_fd=fd)
    os.close(os.open(EMPTY_FILE, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o000, dir_fd=fd))
    sc.mount_setattr(
        fd,
        "",
        sc.AT_EMPTY_PATH,
        sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV | sc.MOUNT_ATTR_NOEXEC,
    )
    return fd


def _hide(path: str, stash: int) -> None:
    """Cover one secret with an empty one of its kind. The console passes resolved paths (a
    store that is a symlink is hidden at its target); a symlink here is left alone: a mount
    cannot sit on one, and the read allow-list keeps its target out anyway."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode):
        return
    source = EMPTY_DIR if stat.S_ISDIR(st.st_mode) else EMPTY_FILE
    fd = sc.open_tree(stash, source, sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC)
    try:
        sc.move_mount(fd, path)
    finally:
        os.close(fd)


def _bind_self(path: str, *, read_only: bool) -> None:
    fd = sc.open_tree(
        sc.AT_FDCWD,
        path,
        sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC | sc.AT_RECURSIVE | sc.AT_SYMLINK_NOFOLLOW,
    )
    try:
        if read_only:
            sc.mount_setattr(
                fd,
                "",
                sc.AT_EMPTY_PATH | sc.AT_RECURSIVE,
                sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV,
            )
        sc.move_mount(fd, path)
    finally:
        os.close(fd)


def _tmpfs(path: str, size: int, mode: str) -> None:
    sc.mount("tmpfs", path, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, f"mode={mode},size={size}")


def _dev(nodes: dict[str, int]) -> None:
    """A minimal /dev like bubblewrap's --dev: no host terminals, a private pts instance."""
    _tmpfs("/dev", 1 << 20, "0755")
    for name, fd in nodes.items():
        target = f"/dev/{name}"
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o666))
        # Read-only binds: reads and writes of the device still work, but its inode is the
        # host's, so chmod/chown/utime/xattr on it would change the host's /dev otherwise.
        sc.mount_setattr(
            fd,
            "",
            sc.AT_EMPTY_PATH,
            sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NOEXEC,
        )
        sc.move_mount(fd, target)
    for name, dest in DEV_LINKS.items():
        os.symlink(dest, f"/dev/{name}")
    os.mkdir("/dev/pts", 0o755)
    os.mkdir("/dev/shm", 0o1777)
    sc.mount(
        "devpts",
        "/dev/pts",
        "devpts",
        sc.MS_NOSUID | sc.MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620",
    )
    _tmpfs("/dev/shm", 64 << 20, "1777")
    sc.mount_setattr(sc.AT_FDCWD, "/dev", 0, sc.MOUNT_ATTR_RDONLY)


def private_views(
    xdg_runtime_dir: str | None, chosen: Sequence[str] | None = None
) -> tuple[str, ...]:
    """Resolved, without duplicates; /tmp is always private (it is the command's TMPDIR)."""
    views = ["/tmp", "/run", "/var/run", "/var/tmp"] if chosen is None else ["/tmp", *chosen]
    if xdg_runtime_dir and os.path.isabs(xdg_runtime_dir):
        views.append(xdg_runtime_dir)
    out: list[str] = []
    for v in views:
        real = os.path.realpath(v)
        if real not in out:
            out.append(real)
    return tuple(out)

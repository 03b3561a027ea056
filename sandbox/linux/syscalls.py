"""Thin ctypes bindings for the Linux calls Python 3.11 lacks (unshare, the new mount API,
capset, Landlock, seccomp). Every wrapper raises OSError with the real errno, so callers can say
exactly which layer the kernel refused."""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
raw_syscall = _syscall  # for hot loops: returns -1 and sets errno (ctypes.get_errno)

MACHINE = os.uname().machine  # what platform.machine() says, without its ~1 ms import

# Syscall numbers shared by x86_64 and the generic table (aarch64) for the calls added after 4.x.
NR_OPEN_TREE = 428
NR_MOVE_MOUNT = 429
NR_FSOPEN = 430
NR_FSCONFIG = 431
NR_FSMOUNT = 432
NR_MOUNT_SETATTR = 442
NR_LANDLOCK_CREATE_RULESET = 444
NR_LANDLOCK_ADD_RULE = 445
NR_LANDLOCK_RESTRICT_SELF = 446
NR_CAPSET = {"x86_64": 126, "aarch64": 91}.get(MACHINE, -1)
NR_SECCOMP = {"x86_64": 317, "aarch64": 277}.get(MACHINE, -1)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
CLONE_NS_FLAGS = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWTIME
)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
FSOPEN_CLOEXEC = 1
FSMOUNT_CLOEXEC = 1

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_GET_SECCOMP = 21
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _path(p: str | None) -> bytes | None:
    return None if p is None else os.fsencode(p)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    _check(
        _libc.mount(
            _path(source),
            _path(target),
            _path(fstype),
            ctypes.c_ulong(flags),
            _path(data),
        ),
        f"mount {target}",
    )


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return _check(
        _libc.prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(a2),
            ctypes.c_ulong(a3),
            ctypes.c_ulong(a4),
            ctypes.c_ulong(a5),
        ),
        f"prctl({option})",
    )


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def syscall(nr: int, *args: object, what: str) -> int:
    if nr < 0:
        raise OSError(38, f"{what}: not available on {MACHINE}")
    return _check(_syscall(ctypes.c_long(nr), *args), what)


def open_tree(dirfd: int, path: str, flags: int) -> int:
    return syscall(
        NR_OPEN_TREE,
        ctypes.c_int(dirfd),
        _path(path),
        ctypes.c_uint(flags),
        what=f"open_tree {path}",
    )


def move_mount(from_fd: int, to_path: str) -> None:
    syscall(
        NR_MOVE_MOUNT,
        ctypes.c_int(from_fd),
        b"",
        ctypes.c_int(AT_FDCWD),
        _path(to_path),
        ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
        what=f"move_mount {to_path}",
    )


class _MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


def mount_setattr(dirfd: int, path: str, flags: int, attr_set: int, attr_clr: int = 0) -> None:
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    syscall(
        NR_MOUNT_SETATTR,
        ctypes.c_int(dirfd),
        _path(path),
        ctypes.c_uint(flags),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
        what=f"mount_setattr {path or dirfd}",
    )


def new_tmpfs(options: dict[str, str]) -> int:
    """A detached tmpfs (fsopen/fsmount): reachable only through the returned descriptor."""
    fs = syscall(NR_FSOPEN, b"tmpfs", ctypes.c_uint(FSOPEN_CLOEXEC), what="fsopen tmpfs")
    try:
        for key, value in options.items():
            syscall(
                NR_FSCONFIG,
                ctypes.c_int(fs),
                ctypes.c_uint(FSCONFIG_SET_STRING),
                key.encode(),
                value.encode(),
                ctypes.c_int(0),
                what=f"fsconfig {key}",
            )
        syscall(
            NR_FSCONFIG,
            ctypes.c_int(fs),
            ctypes.c_uint(FSCONFIG_CMD_CREATE),
            None,
            None,
            ctypes.c_int(0),
            what="fsconfig create",
        )
        return syscall(
            NR_FSMOUNT,
            ctypes.c_int(fs),
            ctypes.c_uint(FSMOUNT_CLOEXEC),
            ctypes.c_uint(0),
            what="fsmount",
        )
    finally:
        os.close(fs)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def clear_capabilities() -> None:
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    syscall(NR_CAPSET, ctypes.byref(header), ctypes.byref(data), what="capset")


def cap_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 40

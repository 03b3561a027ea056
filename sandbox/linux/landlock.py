"""Landlock: the kernel's own per-process access control, applied last before exec.

Landlock only *adds* access inside the handled rights, so it is our second wall for writes (the
mount namespace is the first) and our only wall for abstract unix sockets and signals (ABI 6
scoping). Rights we do not list as handled would be allowed, so we handle everything the running
kernel knows.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable

from sandbox.linux import syscalls
from sandbox.records import record

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2
CREATE_RULESET_VERSION = 1 << 0

READ = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

REQUIRED_ABI = 6


def fs_rights_for(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def writable_rights(abi: int) -> int:
    """Everything in a writable tree except making device nodes and device ioctls."""
    return fs_rights_for(abi) & ~(MAKE_CHAR | MAKE_BLOCK | IOCTL_DEV)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _NetPort(ctypes.Structure):
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


def abi_version() -> int:
    """0 when Landlock is missing or disabled at boot."""
    try:
        return syscalls.syscall(
            syscalls.NR_LANDLOCK_CREATE_RULESET,
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(CREATE_RULESET_VERSION),
            what="landlock_create_ruleset",
        )
    except OSError:
        return 0


@record
class PathRule:
    path: str
    access: int


def restrict_self(
    abi: int,
    paths: Iterable[PathRule],
    connect_ports: Iterable[int] = (),
) -> None:
    """Apply a ruleset to this process (and every later child). Needs no_new_privs first."""
    handled_fs = fs_rights_for(abi)
    handled_net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(handled_fs, handled_net, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = syscalls.syscall(
        syscalls.NR_LANDLOCK_CREATE_RULESET,
        ctypes.byref(attr),
        ctypes.c_size_t(size),
        ctypes.c_uint32(0),
        what="landlock_create_ruleset",
    )
    try:
        # the loop runs once per read rule (hundreds: see sandbox/visible.py), so it calls the
        # syscall directly with its arguments built once
        add = syscalls.raw_syscall
        nr = ctypes.c_long(syscalls.NR_LANDLOCK_ADD_RULE)
        rs = ctypes.c_int(ruleset)
        kind = ctypes.c_int(RULE_PATH_BENEATH)
        zero = ctypes.c_uint32(0)
        beneath = _PathBeneath(0, -1)
        ref = ctypes.byref(beneath)
        for rule in paths:
            try:
                fd = os.open(rule.path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                access = rule.access & handled_fs
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= FILE_RIGHTS
                beneath.allowed_access = access
                beneath.parent_fd = fd
                if add(nr, rs, kind, ref, zero) < 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"landlock_add_rule {rule.path}: {os.strerror(err)}")
            finally:
                os.close(fd)
        if handled_net:
            for port in connect_ports:
                net = _NetPort(NET_CONNECT_TCP, port)
                syscalls.syscall(
                    syscalls.NR_LANDLOCK_ADD_RULE,
                    ctypes.c_int(ruleset),
                    ctypes.c_int(RULE_NET_PORT),
                    ctypes.byref(net),
                    ctypes.c_uint32(0),
                    what=f"landlock_add_rule port {port}",
                )
        syscalls.syscall(
            syscalls.NR_LANDLOCK_RESTRICT_SELF,
            ctypes.c_int(ruleset),
            ctypes.c_uint32(0),
            what="landlock_restrict_self",
        )
    finally:
        os.close(ruleset)


def _is_dir(fd: int) -> bool:
    import stat

    return stat.S_ISDIR(os.fstat(fd).st_mode)

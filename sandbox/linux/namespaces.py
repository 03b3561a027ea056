"""Entering the command's namespaces from the (single-threaded) supervisor.

unshare(CLONE_NEWUSER) fails with EINVAL in a multi-threaded process, which is why this only ever
runs in a child of the zygote. The command keeps its own uid and gid (root stays root, a user
stays that user) so files it writes in the workspace belong to the right owner.
"""

from __future__ import annotations

from sandbox.linux import syscalls as sc

NAMESPACES = (
    sc.CLONE_NEWUSER
    | sc.CLONE_NEWNS
    | sc.CLONE_NEWPID
    | sc.CLONE_NEWNET
    | sc.CLONE_NEWIPC
    | sc.CLONE_NEWUTS
)


def enter(uid: int, gid: int, flags: int = NAMESPACES) -> None:
    sc.unshare(flags)
    if flags & sc.CLONE_NEWUSER:
        write_id_maps(uid, gid)


def write_id_maps(uid: int, gid: int) -> None:
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)

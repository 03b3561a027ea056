"""What this kernel gives the sandbox, found by trying it (in a throwaway child of the zygote):
a feature that is compiled in but disabled by a sysctl or an LSM only shows when used."""

from __future__ import annotations

import contextlib
import json
import os
import signal

from sandbox.linux import landlock, limits, mounts, namespaces, seccomp
from sandbox.linux import syscalls as sc

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Any

_NS_FLAGS = {
    "mount": sc.CLONE_NEWNS,
    "pid": sc.CLONE_NEWPID,
    "net": sc.CLONE_NEWNET,
    "ipc": sc.CLONE_NEWIPC,
    "uts": sc.CLONE_NEWUTS,
}


def probe() -> dict[str, Any]:
    result: dict[str, Any] = {
        "arch": sc.MACHINE,
        "arch_supported": seccomp.supported(),
        "landlock_abi": landlock.abi_version(),
        "uid": os.getuid(),
        "process_cap": limits.process_cap_mechanism(),
        "memory_cap": limits.memory_mechanism(),
    }
    result.update(_in_child())
    return result


def _in_child() -> dict[str, Any]:
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = _child_checks()
        except BaseException as exc:
            out = {"user": f"probe failed: {exc}"}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    raw = b""
    while chunk := os.read(r, 65536):
        raw += chunk
    os.close(r)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    try:
        value = json.loads(raw)
    except ValueError:
        return {"user": "probe child died"}
    return value if isinstance(value, dict) else {"user": "probe child answered nonsense"}


def _child_checks() -> dict[str, Any]:
    """Each value is "ok" or the reason it failed."""
    out: dict[str, Any] = {}
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    out["seccomp"] = _try(_seccomp_check)
    try:
        namespaces.enter(os.getuid(), os.getgid(), sc.CLONE_NEWUSER)
        out["user"] = "ok"
    except OSError as exc:
        out["user"] = str(exc)
        for name in _NS_FLAGS:
            out[name] = "needs a user namespace"
        return out
    for name, flag in _NS_FLAGS.items():
        out[name] = _try(lambda flag=flag: sc.unshare(flag))
    if out["mount"] == "ok":
        out["mount_api"] = _try(_mount_api_check)
    if out["pid"] == "ok" and out["mount"] == "ok":
        out["proc"] = _try(_proc_check)
    return out


def _try(fn: Any) -> str:
    try:
        fn()
    except (OSError, ValueError) as exc:
        return str(exc)
    return "ok"


def _seccomp_check() -> None:
    """Install a real filter (it allows everything but keyctl) in a grandchild."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
            seccomp.install(seccomp.assemble(seccomp.program()))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(1, "seccomp filter could not be installed")


def _mount_api_check() -> None:
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
    fd = mounts.detached_empties()
    os.close(fd)
    sc.mount_setattr(sc.AT_FDCWD, "/", sc.AT_RECURSIVE, sc.MOUNT_ATTR_RDONLY)


def _proc_check() -> None:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            mounts.mount_proc()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(1, "a fresh /proc cannot be mounted in the pid namespace")

"""One command from a single-threaded program (`lockgate sandbox run` from a shell), without
starting a zygote process for it.

The zygote exists because the console is multi-threaded: unshare(CLONE_NEWUSER) fails there and
fork is unsafe. A one-shot CLI has one thread, so it can be its own zygote: `InProcessZygote`
hands each request to the zygote's own `Zygote.handle` in this process, which forks the same
supervisor (`supervisor.spare_main`: cgroup, namespaces, mounts, init with Landlock, seccomp, no
capabilities) the zygote process would. Nothing of the setup is copied here, so every hardening
of the zygote path applies to this one as it is written.

What it saves (measured by bench/oneshot.py): a `python -I -S` start and the sandbox imports in a
second process, the read allow-list scan (kept in a hidden store between runs while it is fresh,
see readcache.py), and the full kernel probe (a child that tries every namespace, the mount API, a
fresh /proc and a seccomp filter). Instead the plan is made from what costs one syscall to learn
(Landlock ABI, architecture, the process cap this process can set up), and the real setup is the
probe: a layer the kernel lacks makes the setup fail and the command never runs; only then is
the full probe run, so the refusal names what is missing exactly as the zygote path would.
"""

from __future__ import annotations

import os

from sandbox.linux import landlock, limits, seccomp, zygote
from sandbox.linux import syscalls as sc
from sandbox.linux.backend import LinuxBackend
from sandbox.linux.client import Spare
from sandbox.linux.client import Zygote as ZygoteClient
from sandbox.linux.readcache import cached_read_set
from sandbox.paths import within, within_any
from sandbox.policy import SandboxError, SandboxPolicy, SandboxUnavailable
from sandbox.probe import KernelSupport
from sandbox.visible import ReadSet

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Any

# layers the real setup tries (and fails on, closed) before the command is sent
_TRIED_BY_SETUP = ("user", "mount", "pid", "net", "ipc", "uts", "mount_api", "proc", "seccomp")


def thread_count() -> int:
    """Threads of this process as the kernel counts them (C libraries' threads included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0  # no /proc: unknown, which is not one


def single_threaded() -> bool:
    return thread_count() == 1


class InProcessZygote(ZygoteClient):
    """The client side of the zygote protocol, with the zygote's request handling run in this
    process instead of in a `python -I -S` child. Refuses to fork from a process with a second
    thread."""

    def __init__(self, python: str | None = None) -> None:
        super().__init__(python)
        self._server: zygote.Zygote | None = None

    def _start_locked(self) -> None:
        if self._server is not None:
            return
        _require_single_thread()
        # SIGCHLD keeps its disposition (the zygote ignores it; here a child the program waits
        # for must stay waitable): the cgroup pool reaps its supervisors when it closes.
        self._server = zygote.Zygote(None)

    def _send_locked(self, payload: bytes, fds: list[int]) -> None:
        self._start_locked()
        _require_single_thread()
        assert self._server is not None
        # the zygote gets its own copies, as SCM_RIGHTS would give it, and closes them
        self._server.handle(payload, [os.dup(fd) for fd in fds])

    def probe(self) -> dict[str, Any]:
        """What the plan needs, at a syscall each. The layers in `_TRIED_BY_SETUP` are marked
        as present: the setup applies each of them or fails, and `take` then runs the full probe
        to say which is missing."""
        found: dict[str, Any] = {name: "ok" for name in _TRIED_BY_SETUP}
        found.update(
            arch=sc.MACHINE,
            arch_supported=seccomp.supported(),
            landlock_abi=landlock.abi_version(),
            uid=os.getuid(),
            process_cap=limits.process_cap_mechanism(),
        )
        with self._lock:
            self._start_locked()
            assert self._server is not None
            self._server.caps(found)  # the pools this process really set up, as the zygote says
        return found

    def full_probe(self) -> dict[str, Any]:
        """The zygote's own probe (every layer tried in a throwaway child)."""
        return super().probe()

    def take(self, key: bytes) -> Spare:
        try:
            return super().take(key)
        except SandboxError as exc:
            # The command never ran. Say what the kernel lacks, as `Sandbox.start` would have.
            try:
                refusal = KernelSupport.from_probe(self.full_probe()).refusal()
            except SandboxError:
                refusal = ""
            if refusal:
                raise SandboxUnavailable(refusal) from exc
            raise

    def close(self) -> None:
        super().close()
        with self._lock:
            server, self._server = self._server, None
            if server is not None and server.cgroups is not None:
                server.cgroups.close()


class OneShotBackend(LinuxBackend):
    """The Linux backend with the sandboxes forked by this process (see the module doc)."""

    zygote_class = InProcessZygote

    def _read_set(self, **kw: Any) -> ReadSet:
        """The read allow-list, kept between runs in a hidden store (sandbox/linux/readcache.py)."""
        directory = cache_dir(self.policy)
        if directory is None:
            return super()._read_set(**kw)
        return cached_read_set(directory, super()._read_set, **kw)


def cache_dir(policy: SandboxPolicy) -> str | None:
    """lockgate's data directory (where `default_deny_read` says it is), when this policy hides
    it and no writable root of it lies around it; else None (no cache)."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    base = os.environ.get("LOCKGATE_DATA_DIR") or os.path.join(home, ".local", "share", "lockgate")
    path = os.path.realpath(os.path.join(base, "oneshot"))
    if not os.path.isabs(path):
        return None
    hidden = [os.path.realpath(p) for p in policy.deny_read]
    if not within_any(path, hidden):
        return None
    writable = [os.path.realpath(p) for p in (policy.workspace, *policy.writable)]
    if any(within(path, w) or within(w, path) for w in writable):
        return None
    return path


def _require_single_thread() -> None:
    count = thread_count()
    if count != 1:
        raise SandboxError(
            f"sandbox setup failed: the in-process sandbox needs a single-threaded program "
            f"(this one has {count} threads)"
        )

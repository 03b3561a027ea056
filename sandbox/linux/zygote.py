"""The zygote: a small single-threaded process, started once per Sandbox, that forks the
supervisors the console asks for.

The console is multi-threaded (asyncio, Textual, workers): unshare(CLONE_NEWUSER) fails there and
fork is unsafe. The zygote runs `python -I -S` (no site, no user paths, an empty environment),
imports only the stdlib and this package, and never starts a thread. It only ever forks: each
supervisor answers the console directly on the reply socket that came with the request. It exits
when the console closes its end of the control socket, and every supervisor dies with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys

from sandbox.linux import limits, probe_kernel, supervisor
from sandbox.linux.protocol import Plan, View, split_spare

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Any

MAX_MESSAGE = 1 << 20


def bootstrap_argv(python: str) -> list[str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from sandbox.linux.zygote import serve; serve(int(sys.argv[2]))"
    )
    return [python, "-I", "-S", "-c", code, root]


class Zygote:
    def __init__(self, control: socket.socket | None) -> None:
        """`control` is None when a single-threaded program runs the zygote's requests itself
        (sandbox/linux/oneshot.py)."""
        self.control = control
        base = limits.pids_cgroup_base()
        self.cgroups: limits.CgroupPool | None = None
        if base:
            try:
                self.cgroups = limits.CgroupPool(base)
            except OSError:
                self.cgroups = None  # supervisors then refuse: the plan asked for a cgroup
        self.memory: limits.CgroupPool | None = None
        mem_base = limits.memory_cgroup_base()
        if mem_base:
            try:
                self.memory = limits.CgroupPool(mem_base, "memory.limit_in_bytes", 1 << 30)
            except OSError:
                self.memory = None  # supervisors then fall back to RLIMIT_DATA

    def serve(self) -> None:
        assert self.control is not None
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self.control, MAX_MESSAGE, 4)
            except InterruptedError:
                continue
            except OSError:
                break
            if not msg:
                break
            self.handle(msg, fds)
        for pool in (self.cgroups, self.memory):
            if pool is not None:
                pool.close()

    def handle(self, msg: bytes, fds: list[int]) -> None:
        """One request; its descriptors (this process's own copies) are closed afterwards."""
        try:
            if fds:
                self.dispatch(msg, fds[0])
        except Exception as exc:  # a bad request or a failed fork must not end the zygote
            if fds:
                _answer(fds[0], json.dumps({"error": f"sandbox setup failed: {exc}"}).encode())
        finally:
            for f in fds:
                with contextlib.suppress(OSError):
                    os.close(f)

    def process_cap(self, found: str | None) -> str | None:
        """The cap the supervisors will really get: a pool this zygote could set up."""
        if self.cgroups is not None:
            return limits.CGROUP
        if found == limits.CGROUP:
            return limits.SUPERVISOR
        return found

    def caps(self, found: dict[str, Any]) -> None:
        """Set the probe's caps to what this zygote's supervisors really get (its own pools);
        the one-shot probe (oneshot.py) calls this too."""
        found["process_cap"] = self.process_cap(found.get("process_cap"))
        found["memory_cap"] = limits.MEMCG if self.memory is not None else limits.RLIMIT_DATA

    def dispatch(self, msg: bytes, reply_fd: int) -> None:
        if msg.startswith(b"spare\n"):
            plan, view = split_spare(msg)
            self._fork_supervisor(plan, view, reply_fd)
            return
        data = json.loads(msg)
        if data.get("op") == "probe":
            found = probe_kernel.probe()
            self.caps(found)
            _answer(reply_fd, json.dumps(found).encode())
            return
        raise ValueError(f"unknown request {data.get('op')!r}")

    def _fork_supervisor(self, plan: Plan, view: View, reply_fd: int) -> None:
        cgroup = memcg = None
        if plan.process_cap == limits.CGROUP and self.cgroups is not None:
            cgroup = self.cgroups.acquire(plan.max_processes + 2)
        if plan.memory and plan.memory_cap == limits.MEMCG and self.memory is not None:
            memcg = self.memory.acquire(plan.memory)
        pid = os.fork()
        if pid == 0:
            try:
                if self.control is not None:
                    self.control.close()
                reply = socket.socket(fileno=os.dup(reply_fd))
                supervisor.spare_main(plan, view, reply, cgroup, memory_cgroup=memcg)
            finally:
                os._exit(0)
        for path, pool in ((cgroup, self.cgroups), (memcg, self.memory)):
            if path is None or pool is None:
                continue
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                return  # already gone (and reaped): the cgroups are free again
            pool.own(path, pidfd)
            os.close(pidfd)


def _answer(fd: int, data: bytes) -> None:
    try:
        with socket.socket(fileno=os.dup(fd)) as chan:
            chan.send(data)
    except OSError:
        pass


def serve(fd: int) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C in the console's terminal is not ours
    supervisor.seccomp_filter(False)
    supervisor.seccomp_filter(True)
    Zygote(socket.socket(fileno=fd)).serve()
    sys.exit(0)

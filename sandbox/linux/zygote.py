"""The zygote: a small single-threaded process, started once per Sandbox, that forks the
supervisor of each command.

The console is multi-threaded (asyncio, Textual, workers): unshare(CLONE_NEWUSER) fails there and
fork is unsafe. The zygote runs `python -I -S` (no site, no user paths, an empty environment),
imports only the stdlib and this package, and never starts a thread.

To keep a spawn near bubblewrap's cost, the zygote keeps one *spare* supervisor per plan, already
inside its namespaces with the static part of the mount view built and its init confined; a run
request is handed to the spare and a new spare is forked at once. The zygote exits when the
console closes its end of the control socket; spares and supervisors die with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass

from sandbox.linux import limits, probe_kernel, supervisor
from sandbox.linux.protocol import Plan, RunReport, split_run

MAX_MESSAGE = 1 << 20


def bootstrap_argv(python: str) -> list[str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from sandbox.linux.zygote import serve; serve(int(sys.argv[2]))"
    )
    return [python, "-I", "-S", "-c", code, root]


SPARES = 2  # two ready supervisors: back-to-back commands never wait for a prewarm


@dataclass
class _Spare:
    key: bytes
    pid: int
    pidfd: int
    sock: socket.socket

    def discard(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        self.sock.close()
        os.close(self.pidfd)


class Zygote:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.spares: list[_Spare] = []
        base = limits.pids_cgroup_base()
        self.cgroups = limits.CgroupPool(base) if base else None

    def serve(self) -> None:
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self.control, MAX_MESSAGE, 8)
            except InterruptedError:
                continue
            except OSError:
                break
            if not msg:
                break
            prewarm: bytes | None = None
            try:
                prewarm = self.dispatch(msg, fds)
            except (ValueError, KeyError, TypeError) as exc:
                if fds:
                    _answer(fds[0], RunReport(error=f"bad request: {exc}").encode())
            finally:
                for f in fds:
                    with contextlib.suppress(OSError):
                        os.close(f)
            if prewarm is not None:
                # Forked only now, after this run's descriptors are closed: a spare must never
                # hold another command's pipes open.
                while len(self.spares) < SPARES:
                    self.spares.append(self._fork_spare(prewarm))
        for spare in self.spares:
            spare.discard()
        if self.cgroups is not None:
            self.cgroups.close()

    def dispatch(self, msg: bytes, fds: list[int]) -> bytes | None:
        """Hand a run to a spare (or a fresh supervisor); returns the plan to prewarm."""
        if msg.startswith(b"{"):
            data = json.loads(msg)
            if data.get("op") == "probe" and fds:
                _answer(fds[0], json.dumps(probe_kernel.probe()).encode())
                return None
            raise ValueError(f"unknown request {data.get('op')!r}")
        if not msg.startswith(b"run\n") or len(fds) != 4:
            raise ValueError("malformed run request")
        key = split_run(msg)[0]
        stale = [s for s in self.spares if s.key != key]
        for spare in stale:
            spare.discard()
        self.spares = [s for s in self.spares if s.key == key]
        for _attempt in range(SPARES + 1):
            spare = self.spares.pop(0) if self.spares else self._fork_spare(key)
            try:
                socket.send_fds(spare.sock, [msg], fds)
            except OSError:
                spare.discard()  # died while waiting (killed, OOM): use another
                continue
            spare.sock.close()
            os.close(spare.pidfd)
            return key
        _answer(fds[0], RunReport(error="sandbox supervisor could not be started").encode())
        return key

    def _fork_spare(self, key: bytes) -> _Spare:
        plan = Plan.from_json(json.loads(key))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cgroup = None
        if plan.process_cap == limits.CGROUP and self.cgroups is not None:
            cgroup = self.cgroups.acquire(plan.max_processes + 2)
        pid = os.fork()
        if pid == 0:
            try:
                self.control.close()
                ours.close()
                for spare in self.spares:
                    spare.sock.close()
                supervisor.spare_main(plan, theirs, cgroup)
            finally:
                os._exit(0)
        theirs.close()
        pidfd = os.pidfd_open(pid)
        if cgroup is not None and self.cgroups is not None:
            self.cgroups.own(cgroup, pidfd)
        return _Spare(key, pid, pidfd, ours)


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

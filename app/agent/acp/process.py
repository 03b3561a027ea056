"""The agent's process, jailed or not: its stdio as asyncio streams, and a way to stop it that
leaves nothing behind.

Unjailed, the agent is a plain child in its own process group (so stopping it stops whatever it
started). Jailed, it is the one program of a sandbox (`sandbox.linux.jail`): killing the
sandbox's init makes the kernel kill every process in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

STOP_GRACE_S = 1.5


class AgentProcess(Protocol):
    stdout: asyncio.StreamReader
    stdin: asyncio.StreamWriter
    stderr: asyncio.StreamReader

    def exit_description(self) -> str:
        """'exited with code 3', 'killed by signal 9', or '' while it runs."""
        ...

    async def wait(self) -> None: ...

    async def stop(self) -> None:
        """Close its stdin, give it a moment, then kill it and everything it started."""
        ...

    def kill_now(self) -> None:
        """Kill it and everything it started, at once (no event loop needed)."""
        ...


Spawner = Callable[[], Awaitable[AgentProcess]]

STREAM_LIMIT = 1 << 20


_PRCTL: Callable[..., int] | None
try:  # resolved here, in the parent: nothing is loaded between fork and exec
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child, before exec: if lockgate dies without stopping it (SIGKILL), so does the
    agent (its own children are killed with its process group by `stop`/`kill_now`)."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG


class LocalProcess:
    """An unjailed agent: `--agent-unjailed`."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
        self.stdout = proc.stdout
        self.stdin = proc.stdin
        self.stderr = proc.stderr

    @classmethod
    async def start(cls, argv: list[str], *, cwd: Path, env: dict[str, str]) -> LocalProcess:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(cwd),
            env=env,
            start_new_session=True,  # its own process group: stopped as a whole
            limit=STREAM_LIMIT,
            preexec_fn=_die_with_parent,
        )
        return cls(proc)

    def exit_description(self) -> str:
        code = self._proc.returncode
        if code is None:
            return ""
        return f"killed by signal {-code}" if code < 0 else f"exited with code {code}"

    async def wait(self) -> None:
        await self._proc.wait()

    def kill_now(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        transport = getattr(self._proc, "_transport", None)
        if transport is not None:
            with contextlib.suppress(Exception):  # its loop may be closed already
                transport.close()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.stdin.close()
        if self._proc.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._proc.wait(), STOP_GRACE_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # the group outlives a finished leader
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()
        # closed here, on its loop: a transport left to the garbage collector would try to use
        # a loop that may be gone by then
        transport = getattr(self._proc, "_transport", None)
        if transport is not None:
            transport.close()


@dataclass
class _Pipes:
    stdin: asyncio.StreamWriter
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader


async def pipes_from_fds(stdin_fd: int, stdout_fd: int, stderr_fd: int) -> _Pipes:
    """asyncio streams over raw pipe descriptors (the jail hands us its program's pipes)."""
    loop = asyncio.get_running_loop()
    out = asyncio.StreamReader(limit=STREAM_LIMIT)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(out), os.fdopen(stdout_fd, "rb", buffering=0)
    )
    err = asyncio.StreamReader(limit=STREAM_LIMIT)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(err), os.fdopen(stderr_fd, "rb", buffering=0)
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(stdin_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return _Pipes(writer, out, err)

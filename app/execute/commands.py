"""The CommandExecutor port, served by the embedded sandbox.

An approved command runs as `bash -c <command>` in the session's sandbox. The sandbox call blocks,
so it runs in a worker thread; output chunks come back onto the event loop as they arrive. When
the pipeline cancels the task, the whole process tree of the command is killed before the
cancellation goes on (never a command left running behind a CANCELLED result).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal, Protocol

from app.core.model import CommandAction, Result, ResultStatus
from app.core.ports import OutputSink
from sandbox import Completed, Sandbox, SandboxError

DEFAULT_TIMEOUT_S = 600.0
SCRIPT_ARG_MAX = 100_000


class ProxySockets(Protocol):
    """Gives each command its own proxy socket (app.execute.network.NetworkGate does)."""

    def socket_for(
        self, action: CommandAction, command: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[Path]: ...


class SandboxCommandExecutor:
    def __init__(
        self,
        sandbox: Sandbox,
        workspace: Path,
        *,
        network: ProxySockets | None = None,
        default_timeout_s: float | None = DEFAULT_TIMEOUT_S,
        max_output: int = 1 << 20,
        shell: str = "bash",
    ) -> None:
        self.sandbox = sandbox
        self.workspace = Path(os.path.realpath(workspace))
        self.network = network
        self.default_timeout_s = default_timeout_s
        self.max_output = max_output
        self.shell = shell

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        try:
            cwd = self._cwd(action.cwd)
        except ValueError as exc:
            return Result(action.id, ResultStatus.FAILED, message=str(exc), call_id=action.call_id)
        async with self._proxy(action, command) as proxy_socket:
            return await self._run(action, command, cwd, proxy_socket, on_output)

    @contextlib.asynccontextmanager
    async def _proxy(self, action: CommandAction, command: str) -> AsyncIterator[Path | None]:
        if self.network is None:
            yield None
            return
        async with self.network.socket_for(action, command) as path:
            yield path

    async def _run(
        self,
        action: CommandAction,
        command: str,
        cwd: Path,
        proxy_socket: Path | None,
        on_output: OutputSink,
    ) -> Result:
        loop = asyncio.get_running_loop()
        cancel = threading.Event()

        def sink(name: str, chunk: bytes) -> None:
            stream: Literal["stdout", "stderr"] = "stdout" if name == "stdout" else "stderr"
            loop.call_soon_threadsafe(on_output, stream, chunk)

        timeout = action.timeout_s if action.timeout_s else self.default_timeout_s
        # The kernel takes at most 128 KiB in one argument: a longer command is handed to the
        # shell as a script on descriptor 3 instead of as `-c` text.
        script: str | None = None
        argv = [self.shell, "-c", command]
        if len(command.encode("utf-8", "surrogateescape")) > SCRIPT_ARG_MAX:
            argv, script = [self.shell, "/dev/fd/3"], command
        work = asyncio.ensure_future(
            asyncio.to_thread(
                self.sandbox.run,
                argv,
                timeout=timeout,
                cwd=cwd,
                max_output=self.max_output,
                on_output=sink,
                cancel=cancel,
                proxy_socket=proxy_socket,
                # the CA bundle variables when the session inspects HTTPS
                env=getattr(self.network, "sandbox_env", None) if proxy_socket else None,
                script=script,
            )
        )
        try:
            done = await asyncio.shield(work)
        except asyncio.CancelledError:
            cancel.set()  # the supervisor kills the pid namespace: every descendant dies
            while not work.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({work})
            raise
        except SandboxError as exc:
            return Result(
                action.id,
                ResultStatus.FAILED,
                message=f"the sandbox refused to run it: {exc}",
                call_id=action.call_id,
            )
        # what the proxy refused that the command's own tools explain badly (a client that
        # pins certificates fails TLS inspection with a bare "certificate verify failed")
        for note in getattr(self.network, "pop_notes", lambda _id: [])(action.id):
            on_output("stderr", f"lockgate: {note}\n".encode())
        return _result(action, command, done, timeout)

    def _cwd(self, requested: str | None) -> Path:
        """A model-chosen cwd is only a cwd: it must lie inside the workspace."""
        if not requested:
            return self.workspace
        path = Path(requested)
        target = path if path.is_absolute() else self.workspace / path
        real = Path(os.path.realpath(target))
        if real != self.workspace and self.workspace not in real.parents:
            raise ValueError(f"cwd {requested} is outside the workspace")
        if not real.is_dir():
            raise ValueError(f"cwd {requested} is not a directory")
        return real


def _result(action: CommandAction, command: str, done: Completed, timeout: float | None) -> Result:
    # a guard failure leads: a protected name (a hook, an agent config) may have survived
    notes: list[str] = [f"SANDBOX GUARD FAILED: {f}" for f in done.guard_failures]
    if done.timed_out:
        status = ResultStatus.TIMED_OUT
        notes.append(f"timed out after {timeout:g}s; every process was killed")
    elif done.cancelled:
        status = ResultStatus.CANCELLED
        notes.append("cancelled; every process was killed")
    else:
        status = ResultStatus.COMPLETED
        if done.signal is not None:
            notes.append(f"killed by signal {done.signal}")
    if done.truncated:
        notes.append(
            f"output cut to its start and end (stdout {done.stdout_total} bytes, "
            f"stderr {done.stderr_total} bytes in all)"
        )
    notes += [f"sandbox guard: {g}" for g in done.guard]
    exit_code = done.exit_code
    if exit_code is None and done.signal is not None:
        exit_code = 128 + done.signal
    return Result(
        action.id,
        status,
        exit_code=exit_code if status is ResultStatus.COMPLETED else None,
        stdout=done.stdout,
        stderr=done.stderr,
        stdout_total=done.stdout_total,
        stderr_total=done.stderr_total,
        duration_s=done.duration_s,
        ran=command,
        message="; ".join(notes),
        call_id=action.call_id,
    )

"""`lockgate serve`'s socket: bound (mode 0600, in the 0700 runtime dir) before the console
starts, so its path can be printed and a second serve of the same workspace is refused; served
on the console's own event loop once the pipeline starts reading the link.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

from app.core.events import AgentEvent
from app.hooks.endpoint import (
    Endpoint,
    EndpointError,
    endpoint_paths,
    load_endpoint,
    runtime_dir,
    runtime_path,
    write_private_file,
)
from app.hooks.sandbox_serve import HandedRuns, OneShotCli, is_handoff
from app.hooks.service import HookLink, HookService
from app.hooks.wire import MAX_LINE, Answer, Request, WireError
from sandbox.paths import within


class ServeError(Exception):
    """The socket cannot be set up; one line."""


class Listener:
    """The bound socket plus the token and endpoint files; `close()` removes all three."""

    def __init__(self, workspace: Path) -> None:
        wanted = runtime_path()
        if within(os.path.realpath(wanted), os.path.realpath(workspace)):
            # commands run with the workspace writable and readable: the token would be theirs,
            # and a socket made after their sandbox was set up is not covered there
            raise ServeError(
                f"runtime dir {wanted} is inside the workspace, where sandboxed commands can "
                "reach the socket and its token; set LOCKGATE_RUNTIME_DIR outside it"
            )
        try:
            rdir = runtime_dir(create=True)
        except EndpointError as exc:
            raise ServeError(str(exc)) from None
        self.workspace = workspace
        self.endpoint_file, self.socket_path, self.token_file = endpoint_paths(rdir, str(workspace))
        self._refuse_if_served()
        self.token = secrets.token_urlsafe(32)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
            sock.bind(self.socket_path)
            os.chmod(self.socket_path, 0o600)
            sock.listen(64)
        except OSError as exc:
            sock.close()
            raise ServeError(f"socket {self.socket_path}: {exc.strerror}") from None
        finally:
            os.umask(old)
        sock.setblocking(False)
        self.sock: socket.socket | None = sock
        write_private_file(self.token_file, self.token + "\n")
        self.endpoint = Endpoint(str(workspace), self.socket_path, self.token_file, os.getpid())
        self.published = False

    def publish(self) -> None:
        """Write the endpoint file hooks look for: only once the socket is served, so a hook
        never finds a console that is still starting (or failed to)."""
        write_private_file(self.endpoint_file, self.endpoint.to_json() + "\n")
        self.published = True

    def _refuse_if_served(self) -> None:
        """Another serve of this workspace answers on the same socket path (bound and listening
        from its first moment, endpoint file or not): refuse. A dead one's socket is replaced."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect(self.socket_path)
        except OSError:
            return  # nothing there, or stale: its serve is gone
        finally:
            probe.close()
        pid = "?"
        with contextlib.suppress(EndpointError):
            pid = str(load_endpoint(self.endpoint_file).pid)
        raise ServeError(
            f"{self.workspace} is already being served (pid {pid}, socket {self.socket_path})"
        )

    def close(self) -> None:
        """Remove the files, then stop listening: while our socket still answers, no other serve
        of the workspace can have taken the paths, so everything removed is ours."""
        if self.sock is None:
            return
        for path in (self.endpoint_file, self.token_file, self.socket_path):
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.sock.close()
        self.sock = None


class ServeLink(HookLink):
    """The console's link under `lockgate serve`: serves the socket while the pipeline reads it."""

    def __init__(self, listener: Listener, handoff: OneShotCli | None = None) -> None:
        super().__init__()
        self.listener = listener
        self.service: HookService | None = None  # set by the serve command once wired
        self.connections = 0
        # `lockgate sandbox run` handed over by the CLI (app/hooks/sandbox_serve.py); declined
        # without the CLI's own parts
        self.runs = HandedRuns(listener.workspace, listener.token, handoff)

    async def events(self) -> AsyncIterator[AgentEvent]:
        sock = self.listener.sock
        if sock is None or self.service is None:
            raise RuntimeError("serve link used without a socket and a service")
        server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_LINE + 1)
        self.listener.publish()
        self.status("waiting", f"serving hooks on {self.listener.socket_path}")
        try:
            async for event in super().events():
                yield event
        finally:
            server.close()
            await asyncio.get_running_loop().run_in_executor(None, self.runs.close)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
            self.listener.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            answer = await self._answer(reader, writer)
            if answer is None:
                return  # a hand-off: answered in its own frames
            writer.write(answer.to_line())
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        except Exception:  # one bad connection must never take the console down
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Answer | None:
        """The hook request's answer, or None when the connection was a `sandbox run` hand-off
        (served, with its own checks, by `HandedRuns`)."""
        if not _same_user(writer):
            return Answer("deny", "lockgate: another user's process may not ask this console")
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), 10.0)
            request = None if is_handoff(line) else Request.from_line(line)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            return Answer("deny", "lockgate: the hook request was cut short; denied")
        except WireError as exc:
            return Answer("deny", f"lockgate: {exc}; denied")
        if request is None:
            await self.runs.serve(line, reader, writer)
            return None
        gone = asyncio.Event()

        async def watch() -> None:
            with contextlib.suppress(Exception):
                await reader.read(1)  # the client sends nothing more: data or EOF = it left
            gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            assert self.service is not None
            return await self.service.handle(request, gone)
        finally:
            watcher.cancel()


def _same_user(writer: asyncio.StreamWriter) -> bool:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())

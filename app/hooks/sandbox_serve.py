"""The serve's side of the `lockgate sandbox run` hand-off (client and protocol:
`app.hooks.sandbox_handoff`): it runs the command the CLI would have run, in the same sandbox.

Same isolation and policy as the cold path, or no hand-off: the arguments are parsed by the
CLI's own parser, the policy is built by the CLI's own `RunOptions.policy()` and the run is the
CLI's own `execute` (handed in by `lockgate serve` as a `OneShotCli`); that policy's
defaults read this process's environment and interpreter, so a request whose environment (the
variables the policy reads), uid or interpreter differs is declined, as is one for another
workspace, one from another user, one from a process in other namespaces than this one's (a
sandboxed command: it cannot even see the socket, see endpoint.py) and anything the fast path
declines. A decline starts nothing, and the CLI then runs the command itself. The command's
environment is picked by the policy's allow-list from the CLI's environment, never this one's.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import hmac
import json
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.hooks.sandbox_handoff import HANDOFF_VERSION, KIND
from sandbox import Sandbox, SandboxError

# what the policy's defaults read from the environment (sandbox/policy.py, app/core/dirs.py,
# the zygote's private views, the endpoint's runtime dir): a request must carry this process's
POLICY_ENV = (
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    "LOCKGATE_CONFIG_DIR",
    "LOCKGATE_DATA_DIR",
    "LOCKGATE_RUNTIME_DIR",
)
MAX_SANDBOXES = 8  # one per --writable/--readable set; the hook's rewrite uses one

Emit = Callable[[bytes, bytes], None]


def is_handoff(line: bytes) -> bool:
    """Whether a request line is a hand-off (its first key says so) rather than a hook request."""
    return line.startswith(b'{"kind": "' + KIND.encode() + b'"')


def frame(kind: bytes, data: bytes) -> bytes:
    return kind + len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class OneShotCli:
    """`lockgate sandbox run`'s own parts, handed in by `lockgate serve`: app.cli imports this
    package, so this package does not import them back. `parse`: `sandbox_fast.parse`;
    `execute`: `sandbox_exec.execute`; `streams`: `sandbox_exec.Streams`."""

    parse: Callable[[list[str]], Any]
    execute: Callable[..., int]
    streams: Callable[..., Any]


class HandedRuns:
    """Runs handed over by `lockgate sandbox run` in one workspace's serve: one zygote-backed
    `Sandbox` per policy, kept warm until `close()`. Without `cli` every hand-off is declined."""

    def __init__(self, workspace: Path, token: str, cli: OneShotCli | None = None) -> None:
        self.workspace = Path(os.path.realpath(workspace))
        self._token = token
        self._cli = cli
        self._sandboxes: dict[tuple[Any, ...], Sandbox] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.accepted = 0  # runs started (tests and the audit of this serve's own use)
        self.declined = 0

    async def serve(
        self, line: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Answer one hand-off connection: a decline, or the run's frames and exit status."""
        try:
            opts, environ, stdin, ttys = self._accept(line, writer)
        except _Decline as why:
            self.declined += 1
            writer.write(frame(b"D", str(why).encode("utf-8", "replace")))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            return
        self.accepted += 1
        writer.write(frame(b"A", b""))
        loop = asyncio.get_running_loop()
        cancel = threading.Event()

        def emit(kind: bytes, data: bytes) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the console is gone
                loop.call_soon_threadsafe(_send, writer, frame(kind, data))

        async def watch() -> None:
            with contextlib.suppress(Exception):
                await reader.read(1)  # the client sends nothing more: data or EOF = it left
            cancel.set()

        watcher = asyncio.ensure_future(watch())
        # a thread of its own per run, not the loop's shared executor: an agent's long or
        # background commands must never queue behind each other
        finished: asyncio.Future[int] = loop.create_future()

        def work() -> None:
            try:
                result: int | BaseException = self._run(opts, environ, stdin, ttys, emit, cancel)
            except BaseException as exc:
                result = exc
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, finished, result)

        threading.Thread(target=work, name="lockgate-handoff", daemon=True).start()
        try:
            status = await asyncio.shield(finished)
        except asyncio.CancelledError:
            cancel.set()  # the console is stopping this connection: the command stops too
            raise
        finally:
            watcher.cancel()
        writer.write(frame(b"x", str(status).encode("ascii")))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def _accept(
        self, line: bytes, writer: asyncio.StreamWriter
    ) -> tuple[Any, dict[str, str], bytes | None, tuple[bool, bool]]:
        """The checked request, or _Decline saying why not (nothing started)."""
        if self._closed:
            raise _Decline("the console is closing")
        if self._cli is None:
            raise _Decline("this console takes no hand-offs")
        if not _same_namespaces(writer):
            raise _Decline("the client is not a process of this user outside any sandbox")
        try:
            data = json.loads(line)
        except ValueError:
            raise _Decline("the request is not JSON") from None
        if not isinstance(data, dict) or data.get("v") != HANDOFF_VERSION:
            raise _Decline("not a hand-off request of this version")
        token = data.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode("utf-8", "replace"), self._token.encode("utf-8")
        ):
            raise _Decline("wrong token for this console")
        environ = data.get("environ")
        if not isinstance(environ, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in environ.items()
        ):
            raise _Decline("the request's environment is not a string map")
        differs = [k for k in POLICY_ENV if environ.get(k) != os.environ.get(k)]
        if differs:
            raise _Decline(f"the environment differs from the console's ({', '.join(differs)})")
        if data.get("uid") != os.getuid():
            raise _Decline("another uid")
        if data.get("prefixes") != [
            sys.prefix,
            sys.exec_prefix,
            sys.base_prefix,
            sys.base_exec_prefix,
        ]:
            raise _Decline("another Python environment than the console's")
        args = data.get("args")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise _Decline("the request's arguments are not a list of strings")
        opts = self._cli.parse(list(args))
        if opts is None:
            raise _Decline("options the fast path leaves to the full command")
        if not opts.workspace.is_absolute() or Path(os.path.realpath(opts.workspace)) != (
            self.workspace
        ):
            raise _Decline(f"not the workspace this console serves ({self.workspace})")
        if not all(p.is_absolute() for p in (*opts.writable, *opts.readable)):
            raise _Decline("a relative --writable or --readable")
        if opts.timeout is not None and not opts.timeout > 0:
            raise _Decline("the timeout is not positive")
        raw_stdin = data.get("stdin")
        if (raw_stdin is not None) != opts.use_stdin or not (
            raw_stdin is None or isinstance(raw_stdin, str)
        ):
            raise _Decline("stdin does not match --stdin")
        try:
            stdin = None if raw_stdin is None else binascii.a2b_base64(raw_stdin)
        except (binascii.Error, ValueError):
            raise _Decline("stdin is not base64") from None
        ttys = data.get("ttys")
        if not (
            isinstance(ttys, list) and len(ttys) == 2 and all(t in (True, False) for t in ttys)
        ):
            raise _Decline("the request does not say whether its output is a terminal")
        with self._lock:
            if _key(opts) not in self._sandboxes and len(self._sandboxes) >= MAX_SANDBOXES:
                raise _Decline("this console keeps no more sandboxes")
        return opts, environ, stdin, (bool(ttys[0]), bool(ttys[1]))

    def _sandbox(self, opts: Any) -> Sandbox:
        """The warm sandbox of this policy (the CLI's own `RunOptions.policy()`)."""
        with self._lock:
            if self._closed:
                raise SandboxError("the console is closing")
            key = _key(opts)
            sb = self._sandboxes.get(key)
            if sb is None:
                sb = Sandbox(opts.policy(), prewarm=True)
                self._sandboxes[key] = sb
            return sb

    def _run(
        self,
        opts: Any,
        environ: dict[str, str],
        stdin: bytes | None,
        ttys: tuple[bool, bool],
        emit: Emit,
        cancel: threading.Event,
    ) -> int:
        """The CLI's own `execute`, with the output going to the client (in a worker thread)."""
        assert self._cli is not None  # (checked by _accept)
        streams = self._cli.streams(
            _Sink(emit, b"o"), _Sink(emit, b"e"), ttys[0] and not opts.raw, ttys[1] and not opts.raw
        )
        return int(
            self._cli.execute(
                opts,
                streams=streams,
                stdin=stdin,
                sandbox=lambda: self._sandbox(opts),
                cancel=cancel,
                inherit=environ,
            )
        )

    def close(self) -> None:
        """Stop every sandbox (and a command still running in one)."""
        with self._lock:
            self._closed = True
            boxes = list(self._sandboxes.values())
            self._sandboxes.clear()
        for sb in boxes:
            with contextlib.suppress(Exception):
                sb.close()


class _Decline(Exception):
    pass


class _Sink:
    """A binary stream for `_Passthrough` whose writes become frames to the client."""

    def __init__(self, emit: Emit, kind: bytes) -> None:
        self._emit = emit
        self._kind = kind

    def write(self, data: bytes) -> int:
        if data:
            self._emit(self._kind, bytes(data))
        return len(data)

    def flush(self) -> None:
        return None


def _key(opts: Any) -> tuple[Any, ...]:
    return (tuple(opts.writable), tuple(opts.readable))


def _settle(fut: asyncio.Future[int], result: int | BaseException) -> None:
    if fut.done():
        return
    if isinstance(result, BaseException):
        fut.set_exception(result)
    else:
        fut.set_result(result)


def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


def _same_namespaces(writer: asyncio.StreamWriter) -> bool:
    """The peer is this user's and lives in this process's user and mount namespaces: not a
    sandboxed command (each sandbox has namespaces of its own)."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
        if uid != os.getuid() or pid <= 0:
            return False
        return all(
            os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}")
            for ns in ("user", "mnt", "pid")
        )
    except OSError:
        return False


__all__ = ["POLICY_ENV", "HandedRuns", "OneShotCli", "frame", "is_handoff"]

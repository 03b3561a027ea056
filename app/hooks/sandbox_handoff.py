"""`lockgate sandbox run`, handed to the running `lockgate serve` of its workspace: the serve's
warm zygote starts the sandbox, so the CLI skips the sandbox's imports and setup (see
docs/hooks.md "Hand-off"). Standard library only, as lean as the hook client: it runs before
every command an agent's hook rewrote.

The protocol (one connection per run): one JSON line from here (see `request_line`), then
frames back, each a kind byte, a 4-byte big-endian length and that many bytes: `D` declined
(nothing was started; the reason), `A` accepted, `o`/`e` bytes for stdout/stderr (already cut
and escaped as the cold path would), `x` the exit status. This end sends nothing more: closing
it (the process died) stops the command.

Exactly once: the cold path runs only when the serve could not be reached before the request
was sent, or it declined; once the request is out, anything else is reported, never retried.
"""

from __future__ import annotations

import os
import sys

# `_socket`, not `socket` (~5 ms of enums), as in app.hooks.client
from _socket import AF_UNIX, SOCK_STREAM
from _socket import socket as unix_socket

from app.hooks import minijson as json
from app.hooks.endpoint import (
    EndpointError,
    endpoint_paths,
    load_endpoint,
    runtime_dir,
    runtime_path,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

KIND = "sandbox-run"
HANDOFF_VERSION = 1
CONNECT_TIMEOUT_S = 1.0
SETUP_FAILED = 125
# a request line must stay under the server's line limit (app.hooks.wire.MAX_LINE, 8 MiB)
MAX_STDIN = 4 << 20


class _Declined(Exception):
    """The serve said no before starting anything: the cold path runs the command."""


def request_line(
    token: str, args: list[str], stdin: bytes | None, ttys: tuple[bool, bool]
) -> bytes:
    """The request: the arguments as given, and everything the serve compares with its own
    before it runs anything (this process's environment, uid and interpreter)."""
    body: dict[str, Any] = {
        "kind": KIND,  # first: the serve tells a hand-off from a hook request by it
        "v": HANDOFF_VERSION,
        "token": token,
        "args": args,
        "environ": dict(os.environ),
        "uid": os.getuid(),
        "prefixes": [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix],
        "ttys": list(ttys),
        "stdin": None,
    }
    if stdin is not None:
        from binascii import b2a_base64

        body["stdin"] = b2a_base64(stdin, newline=False).decode("ascii")
    return (json.dumps(body) + "\n").encode("ascii")


def attempt(args: list[str], workspace: str, use_stdin: bool, timeout: float | None) -> int | None:
    """Run `sandbox run ARGS` in the workspace's serve: its exit status, or None when the cold
    path must run it (no serve, or it declined; stdin, if read, is put back for that path).
    `workspace`, `use_stdin`, `timeout`: what the CLI's own reading of ARGS found in them (the
    serve parses ARGS again with the CLI's parser)."""
    if os.environ.get("LOCKGATE_NO_HANDOFF") == "1" or os.environ.get("LOCKGATE_SANDBOX"):
        return None
    if not os.path.isabs(workspace):
        return None
    sock = _connect(workspace)
    if sock is None:
        return None
    sock_ = sock[0]
    stdin = None
    try:
        if use_stdin:
            stdin = sys.stdin.buffer.read()
            if len(stdin) > MAX_STDIN:
                _put_back(stdin)
                return None
        try:
            sock_.sendall(request_line(sock[1], args, stdin, (_tty(1), _tty(2))))
        except OSError:
            # the line ends in a newline: a send cut short is a request the serve never read
            if stdin is not None:
                _put_back(stdin)
            return None
        # the serve ends the run at the command's timeout; this only bounds a serve that hangs
        sock_.settimeout(None if timeout is None else max(timeout, 0.0) + 60.0)
        try:
            status = _follow(sock_)
        except _Declined as why:
            _debug(f"declined ({why}); this process runs the command")
            if stdin is not None:
                _put_back(stdin)
            return None
        _debug(f"run by the console of {workspace}")
        return status
    except KeyboardInterrupt:
        return 130  # the socket closes below: the serve sees it and stops the command
    finally:
        sock_.close()


def _connect(workspace: str) -> tuple[unix_socket, str] | None:
    """A connected socket to the workspace's serve and its token, or None (no usable serve)."""
    if not os.path.lexists(runtime_path()):
        return None
    try:
        rdir = runtime_dir()
        ep_file = endpoint_paths(rdir, workspace)[0]
        if not os.path.lexists(ep_file):
            return None
        endpoint = load_endpoint(ep_file)
        if os.path.realpath(endpoint.workspace) != os.path.realpath(workspace):
            return None
        token = endpoint.token()
    except EndpointError:
        return None
    sock = unix_socket(AF_UNIX, SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT_S)
    try:
        sock.connect(endpoint.socket)
    except OSError:
        sock.close()
        return None
    return sock, token


def _follow(sock: unix_socket) -> int:
    """Read the serve's frames and pass the output on; the run's exit status."""
    buf = bytearray()
    accepted = False
    while True:
        try:
            frame = _frame(sock, buf, accepted)
        except TimeoutError:
            return _fail("the console gave no answer in time; the command was not run again")
        except OSError as exc:
            return _fail(f"the console connection broke ({exc.strerror}); not run again")
        if frame is None:
            if accepted:
                return _fail("the console ended the run before it finished; not run again")
            return _fail("the console closed the hand-off without an answer; not run again")
        kind, data = frame
        if kind == b"D" and not accepted:
            raise _Declined(data.decode("utf-8", "replace"))
        if kind == b"A" and not accepted:
            accepted = True
        elif kind in (b"o", b"e") and accepted:
            _write(sys.stdout.buffer if kind == b"o" else sys.stderr.buffer, data)
        elif kind == b"x" and accepted:
            try:
                return int(data)
            except ValueError:
                return _fail("the console sent a malformed exit status")
        else:
            return _fail("the console sent a malformed hand-off frame; not run again")


def _frame(sock: unix_socket, buf: bytearray, accepted: bool) -> tuple[bytes, bytes] | None:
    """The next frame, or None at end of file."""
    while True:
        if not accepted and buf[:1] == b"{":
            # a hook answer (a serve without hand-offs, or another user's): it runs nothing
            raise _Declined("the console answered as to a hook request")
        if len(buf) >= 5:
            size = int.from_bytes(buf[1:5], "big")
            if len(buf) >= 5 + size:
                kind, data = bytes(buf[:1]), bytes(buf[5 : 5 + size])
                del buf[: 5 + size]
                return kind, data
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None
        buf += chunk


def _write(sink: Any, data: bytes) -> None:
    try:
        sink.write(data)
        sink.flush()
    except BrokenPipeError:
        pass


def _fail(reason: str) -> int:
    """125 and one line, as the cold path reports a sandbox that could not be set up."""
    _write(sys.stderr.buffer, f"lockgate: sandbox hand-off: {reason}\n".encode())
    return SETUP_FAILED


def _debug(line: str) -> None:
    """`LOCKGATE_HANDOFF_DEBUG=1`: say on stderr whether the serve ran the command (and if
    not, why)."""
    if os.environ.get("LOCKGATE_HANDOFF_DEBUG") == "1":
        _write(sys.stderr.buffer, f"lockgate: sandbox hand-off: {line}\n".encode())


def _tty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _put_back(data: bytes) -> None:
    """Stdin as the cold path will read it (`sys.stdin.buffer.read()`), already read here."""
    import io

    sys.stdin = io.TextIOWrapper(io.BytesIO(data))


__all__ = ["KIND", "attempt", "request_line"]

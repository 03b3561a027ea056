"""The console's side of the zygote: start it once, send run requests, drain the command's pipes.

Safe to call from many threads at once: each run has its own reply channel and pipes; only the
send on the shared control socket is serialised.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.linux.protocol import RunReport
from sandbox.linux.zygote import bootstrap_argv
from sandbox.output import HeadTail
from sandbox.policy import SandboxError

OutputCallback = Callable[[str, bytes], None]
CANCEL_POLL_S = 0.05
EOF_GRACE_S = 2.0


@dataclass(frozen=True)
class Outcome:
    report: RunReport
    stdout: HeadTail
    stderr: HeadTail


class Zygote:
    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def __enter__(self) -> Zygote:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            argv = [*bootstrap_argv(self.python), str(theirs.fileno())]
            debug = os.environ.get("LOCKGATE_SANDBOX_DEBUG") == "1"
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if debug else subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env={},
                close_fds=True,
                start_new_session=True,  # the terminal's ^C goes to the console, not here
            )
        except OSError as exc:
            ours.close()
            raise SandboxError(f"cannot start the sandbox helper: {exc}") from exc
        finally:
            theirs.close()
        self._control = ours

    def close(self) -> None:
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._proc = None

    def _send(self, payload: bytes, fds: list[int]) -> None:
        with self._lock:
            for attempt in (0, 1):
                self._start_locked()
                assert self._control is not None
                try:
                    socket.send_fds(self._control, [payload], fds)
                    return
                except OSError as exc:
                    if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN) or attempt:
                        raise SandboxError(f"sandbox helper unreachable: {exc}") from exc
                    self._control.close()
                    self._control = None
                    if self._proc is not None:
                        self._proc.wait()
                        self._proc = None

    def probe(self) -> dict[str, Any]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with ours:
            try:
                self._send(json.dumps({"op": "probe"}).encode(), [theirs.fileno()])
            finally:
                theirs.close()
            ours.settimeout(30)
            try:
                raw = ours.recv(1 << 20)
            except TimeoutError as exc:
                raise SandboxError("sandbox helper did not answer the probe") from exc
        if not raw:
            raise SandboxError("sandbox helper died while probing the kernel")
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise SandboxError("sandbox helper answered the probe with nonsense")
        return value

    def run(
        self,
        payload: bytes,
        *,
        timeout: float | None,
        stdin: bytes | None,
        max_output: int,
        on_output: OutputCallback | None,
        cancel: threading.Event | None,
    ) -> Outcome:
        chan, chan_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        in_w: int | None = None
        if stdin is None:
            in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        else:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
        try:
            self._send(payload, [chan_theirs.fileno(), in_r, out_w, err_w])
        except BaseException:
            for fd in (out_r, err_r, in_w):
                if fd is not None:
                    os.close(fd)
            chan.close()
            raise
        finally:
            chan_theirs.close()
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        try:
            return _drain(
                chan, out_r, err_r, in_w, stdin or b"", timeout, max_output, on_output, cancel
            )
        finally:
            chan.close()


def _drain(
    chan: socket.socket,
    out_r: int,
    err_r: int,
    in_w: int | None,
    stdin: bytes,
    timeout: float | None,
    max_output: int,
    on_output: OutputCallback | None,
    cancel: threading.Event | None,
) -> Outcome:
    captures = {out_r: ("stdout", HeadTail(max_output)), err_r: ("stderr", HeadTail(max_output))}
    sel = selectors.DefaultSelector()
    for fd in captures:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, "pipe")
    sel.register(chan, selectors.EVENT_READ, "chan")
    pending = memoryview(stdin)
    if in_w is not None:
        os.set_blocking(in_w, False)
        if pending:
            sel.register(in_w, selectors.EVENT_WRITE, "stdin")
        else:
            os.close(in_w)
            in_w = None
    report: RunReport | None = None
    open_pipes = set(captures)
    cancel_sent = False
    # Backstop only: the supervisor enforces the timeout itself.
    backstop = None if timeout is None else time.monotonic() + timeout + 10.0
    eof_deadline: float | None = None
    try:
        while open_pipes or report is None:
            if report is not None:
                if eof_deadline is None:
                    eof_deadline = time.monotonic() + EOF_GRACE_S
                if time.monotonic() >= eof_deadline:
                    break
            for key, _ in sel.select(CANCEL_POLL_S):
                if key.data == "pipe":
                    fd = key.fd
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(fd)
                        open_pipes.discard(fd)
                        continue
                    name, cap = captures[fd]
                    cap.add(chunk)
                    if on_output is not None:
                        on_output(name, chunk)
                elif key.data == "chan":
                    try:
                        raw = chan.recv(1 << 16)
                    except OSError:
                        raw = b""
                    sel.unregister(chan)
                    if raw:
                        report = RunReport.decode(raw)
                    else:
                        report = RunReport(error="sandbox supervisor died unexpectedly")
                elif key.data == "stdin" and in_w is not None:
                    try:
                        sent = os.write(in_w, pending[:65536])
                        pending = pending[sent:]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(in_w)
                        os.close(in_w)
                        in_w = None
            if report is None and not cancel_sent:
                overdue = backstop is not None and time.monotonic() > backstop
                if (cancel is not None and cancel.is_set()) or overdue:
                    with contextlib.suppress(OSError):
                        chan.send(b"cancel")
                    cancel_sent = True
    finally:
        sel.close()
        os.close(out_r)
        os.close(err_r)
        if in_w is not None:
            os.close(in_w)
    assert report is not None
    return Outcome(report, captures[out_r][1], captures[err_r][1])

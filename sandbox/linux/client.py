"""The console's side: start the zygote once, keep spare sandboxes ready, run a command by talking
to a spare's init directly, drain the pipes, enforce timeout and cancel through init's pidfd.

Safe to call from many threads at once: each run owns its spare and its pipes; only the spare
pool and the send on the shared control socket are serialised.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from sandbox.linux.protocol import final_status, run_message
from sandbox.linux.zygote import bootstrap_argv
from sandbox.output import HeadTail, drain_ready
from sandbox.policy import SandboxError
from sandbox.records import record

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    import subprocess  # imported where the zygote starts: one-shot runs never start one
    from typing import Any

OutputCallback = Callable[[str, bytes], None]
POLL_S = 0.05
EOF_GRACE_S = 2.0
READY_TIMEOUT_S = 30.0
SPARES = 2  # kept ready (or being made) per key, refilled after each run


@record(frozen=False)
class Spare:
    """One sandbox made ahead of time: a supervisor's reply socket, and once it is ready, its
    init's socket and pidfd."""

    key: bytes
    reply: socket.socket
    init: socket.socket | None = None
    pidfd: int = -1

    def wait_ready(self) -> None:
        if self.init is not None:
            return
        self.reply.settimeout(READY_TIMEOUT_S)
        try:
            msg, fds, _, _ = socket.recv_fds(self.reply, 1 << 16, 2)
        except TimeoutError as exc:
            raise SandboxError("sandbox setup failed: the supervisor did not get ready") from exc
        except OSError as exc:
            raise SandboxError(f"sandbox setup failed: {exc}") from exc
        finally:
            self.reply.settimeout(None)
        for fd in fds:  # SCM_RIGHTS hands them over inheritable: no other child gets them
            os.set_inheritable(fd, False)
        if msg == b"ready" and len(fds) == 2:
            self.init = socket.socket(fileno=fds[0])
            self.pidfd = fds[1]
            return
        for fd in fds:
            os.close(fd)
        if not msg:
            raise _Gone("the sandbox supervisor is gone")
        try:
            error = str(json.loads(msg).get("error") or "")
        except ValueError:
            error = ""
        raise SandboxError(error or "sandbox setup failed")

    def kill(self) -> None:
        if self.pidfd >= 0:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def close(self) -> None:
        if self.init is not None:
            self.init.close()
            self.init = None
        self.reply.close()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


class _Gone(SandboxError):
    """A spare died before it was used (the zygote was restarted, OOM): make a fresh one."""


@record(frozen=False)
class Outcome:
    stdout: HeadTail
    stderr: HeadTail
    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    note: str = ""
    error: str = ""


class Zygote:
    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._pool: dict[bytes, list[Spare]] = {}

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
        import subprocess

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
            for spares in self._pool.values():
                for spare in spares:
                    spare.close()
            self._pool.clear()
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._proc is not None:
                import subprocess

                try:
                    self._proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._proc = None

    def _send_locked(self, payload: bytes, fds: list[int]) -> None:
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
                with self._lock:
                    self._send_locked(json.dumps({"op": "probe"}).encode(), [theirs.fileno()])
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

    # ---------------------------------------------------------------- spares

    def _request_locked(self, key: bytes) -> Spare:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._send_locked(key, [theirs.fileno()])
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return Spare(key, ours)

    def take(self, key: bytes) -> Spare:
        """A ready sandbox for `key` (plan + view): a pooled spare, else a new one. A pooled
        spare that failed (it was made while something else held the machine's limits, or the
        zygote was restarted) is replaced by a fresh one once; a fresh one's error is final."""
        for attempt in (0, 1):
            with self._lock:
                for other in [k for k in self._pool if k != key]:
                    for spare in self._pool.pop(other):
                        spare.close()  # the file system changed: those views are stale
                pool = self._pool.setdefault(key, [])
                pooled = bool(pool) and attempt == 0
                spare = pool.pop(0) if pooled else self._request_locked(key)
            try:
                spare.wait_ready()
                return spare
            except SandboxError:
                spare.close()
                if not pooled:
                    raise
        raise SandboxError("sandbox setup failed")  # unreachable: the loop returns or raises

    def refill(self, key: bytes) -> None:
        """Top the pool up for `key` (the file system as it is now), dropping spares made for
        another view. Called at start and *after* each run, so making spares never slows a run."""
        with self._lock:
            for other in [k for k in self._pool if k != key]:
                for spare in self._pool.pop(other):
                    spare.close()
            pool = self._pool.setdefault(key, [])
            while len(pool) < SPARES:
                pool.append(self._request_locked(key))

    def settle(self) -> None:
        """Wait until every pooled spare is ready (benchmarks measure from a quiet machine)."""
        with self._lock:
            spares = [sp for pool in self._pool.values() for sp in pool]
        for spare in spares:
            with contextlib.suppress(SandboxError):
                spare.wait_ready()

    def drop_spares(self) -> None:
        """Forget every pooled spare (the next run makes its sandbox on demand)."""
        with self._lock:
            for pool in self._pool.values():
                for spare in pool:
                    spare.close()
            self._pool.clear()

    # ---------------------------------------------------------------- one run

    def run(
        self,
        key: bytes,
        payload: bytes,
        *,
        timeout: float | None,
        stdin: bytes | None,
        max_output: int,
        on_output: OutputCallback | None,
        cancel: threading.Event | None,
        proxy_socket: str | None,
    ) -> Outcome:
        spare = self.take(key)
        try:
            if proxy_socket is not None:
                _connect_proxy(spare, proxy_socket)
            assert spare.init is not None
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            in_w: int | None = None
            if stdin is None:
                in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            else:
                in_r, in_w = os.pipe2(os.O_CLOEXEC)
            msg, extra = run_message(payload)  # a long command travels in a memfd
            try:
                socket.send_fds(spare.init, [msg], [in_r, out_w, err_w, *extra])
            except OSError as exc:
                for fd in (out_r, err_r, in_w):
                    if fd is not None:
                        os.close(fd)
                raise SandboxError(f"sandbox init is gone: {exc}") from exc
            finally:
                for fd in (in_r, out_w, err_w, *extra):
                    os.close(fd)
            return _drain(spare, out_r, err_r, in_w, stdin or b"", timeout, max_output,
                          on_output, cancel)  # fmt: skip
        finally:
            spare.close()


def _connect_proxy(spare: Spare, path: str) -> None:
    spare.reply.settimeout(READY_TIMEOUT_S)
    try:
        spare.reply.send(b"proxy\n" + path.encode())
        answer = spare.reply.recv(1 << 16)
    except OSError as exc:
        raise SandboxError(f"sandbox setup failed: proxy bridge: {exc}") from exc
    finally:
        spare.reply.settimeout(None)
    if answer != b"ok":
        try:
            error = str(json.loads(answer).get("error") or "") if answer else ""
        except ValueError:
            error = ""
        raise SandboxError(error or "sandbox setup failed: proxy bridge")


def _drain(
    spare: Spare,
    out_r: int,
    err_r: int,
    in_w: int | None,
    stdin: bytes,
    timeout: float | None,
    max_output: int,
    on_output: OutputCallback | None,
    cancel: threading.Event | None,
) -> Outcome:
    assert spare.init is not None
    outcome = Outcome(HeadTail(max_output), HeadTail(max_output))
    captures = {out_r: ("stdout", outcome.stdout), err_r: ("stderr", outcome.stderr)}
    sel = selectors.DefaultSelector()
    for fd in captures:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, "pipe")
    sel.register(spare.init, selectors.EVENT_READ, "init")
    sel.register(spare.reply, selectors.EVENT_READ, "reply")
    sel.register(spare.pidfd, selectors.EVENT_READ, "gone")
    # a cancel event with a descriptor (the sandbox's watch of replaced protected files) wakes
    # the loop at once instead of at the next poll
    wake = getattr(cancel, "fileno", lambda: -1)()
    if wake >= 0:
        sel.register(wake, selectors.EVENT_READ, "cancel")
    pending = memoryview(stdin)
    if in_w is not None:
        os.set_blocking(in_w, False)
        if pending:
            sel.register(in_w, selectors.EVENT_WRITE, "stdin")
        else:
            os.close(in_w)
            in_w = None
    open_pipes = set(captures)
    final: dict[str, int] | None = None
    init_done = gone = killed = False
    deadline = None if timeout is None else time.monotonic() + timeout
    eof_deadline: float | None = None
    try:
        # Done when init has exited (the kernel has then killed every process of the namespace,
        # so nothing of the command runs on) and the pipes are drained.
        while open_pipes or not gone:
            now = time.monotonic()
            if gone:
                eof_deadline = eof_deadline or now + EOF_GRACE_S
                if now >= eof_deadline:
                    break
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - now))
            for key, _ in sel.select(wait):
                if key.data == "pipe":
                    drain_ready(sel, key.fd, captures, open_pipes, on_output)
                elif key.data == "init":
                    raw = _recv(spare.init)
                    if raw:
                        final = final_status(raw)
                    sel.unregister(spare.init)
                    init_done = True
                elif key.data == "gone":
                    sel.unregister(spare.pidfd)
                    gone = init_done = True
                elif key.data == "reply":
                    raw = _recv(spare.reply)
                    if not raw:
                        sel.unregister(spare.reply)
                        continue
                    with contextlib.suppress(ValueError, AttributeError):
                        outcome.note = str(json.loads(raw).get("note") or outcome.note)
                elif key.data == "cancel":
                    sel.unregister(wake)  # read by cancel.is_set() below
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
            if init_done or killed:
                continue
            if deadline is not None and time.monotonic() >= deadline:
                outcome.timed_out = killed = True
                spare.kill()
            elif cancel is not None and cancel.is_set():
                outcome.cancelled = killed = True
                spare.kill()
    finally:
        sel.close()
        os.close(out_r)
        os.close(err_r)
        if in_w is not None:
            os.close(in_w)
    if final is None and not killed and not outcome.note:
        outcome.note = _late_note(spare.reply)  # the cap kill can beat its note here
    if final is not None and not killed:
        outcome.exit_code = final.get("code")
        outcome.signal = final.get("signal")
    elif killed:
        outcome.cancelled = outcome.cancelled and not outcome.timed_out
    elif outcome.note:
        outcome.signal = signal.SIGKILL
    else:
        outcome.error = "sandbox init died unexpectedly"
    return outcome


def _late_note(reply: socket.socket) -> str:
    """The supervisor writes its note before it kills init; wait briefly for it."""
    reply.settimeout(0.5)
    try:
        raw = reply.recv(1 << 16)
    except OSError:
        return ""
    finally:
        reply.settimeout(None)
    try:
        return str(json.loads(raw).get("note") or "") if raw else ""
    except (ValueError, AttributeError):
        return ""


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(1 << 16)
    except OSError:
        return b""

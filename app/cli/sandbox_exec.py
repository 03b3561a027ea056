"""One `lockgate sandbox run`, without click: the options as a record, the policy they make, and
the run with its output passed through. `sandbox_cmd` (the click command) and `sandbox_fast`
(the fast path of `app.cli.FAST_PATHS`) both end here, so the two cannot drift apart.

Exit status: the command's own; 124 on timeout; 128+N when killed by signal N; 125 with a
one-line reason on stderr when the sandbox cannot be set up (the command never ran).
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.core.dirs import config_dir
from sandbox import SandboxError, SandboxPolicy
from sandbox.policy import default_deny_read, default_readable
from sandbox.records import field, record

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, BinaryIO

    from sandbox import Completed, Sandbox

SETUP_FAILED = 125


@record
class RunOptions:
    """What `sandbox run` was asked; option groups (e.g. the network's) add to `extra`."""

    workspace: Path
    writable: tuple[Path, ...]
    timeout: float | None
    max_output: int
    use_stdin: bool
    allow_degraded: bool
    argv: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)
    readable: tuple[Path, ...] = ()
    raw: bool = False  # --raw: the command's bytes reach a terminal unescaped

    def policy(self) -> SandboxPolicy:
        deny = (*default_deny_read(), config_dir())
        return SandboxPolicy(
            workspace=self.workspace,
            writable=self.writable,
            allow_degraded=self.allow_degraded,
            deny_read=tuple(dict.fromkeys(deny)),
            readable=(*default_readable(), *self.readable),
        )


@record
class Streams:
    """Where a run's output and lockgate's own lines go: this process's stdout and stderr (the
    cold path), or the frames of a run handed to `lockgate serve` (app/hooks/sandbox_serve.py).
    `escape_*`: made safe for a terminal on the way (sandbox.output.TerminalEscaper)."""

    out: BinaryIO
    err: BinaryIO
    escape_out: bool = False
    escape_err: bool = False

    @classmethod
    def of_this_process(cls, raw: bool) -> Streams:
        # A terminal acts on what it is sent (OSC 52 writes the clipboard, CSI moves the
        # cursor): the command's output is escaped for one, as the console does, unless --raw.
        return cls(
            sys.stdout.buffer, sys.stderr.buffer, _escape(sys.stdout, raw), _escape(sys.stderr, raw)
        )

    def say(self, line: str) -> None:
        """One line of lockgate's own on the error stream."""
        try:
            self.err.write((line + "\n").encode("utf-8", "surrogateescape"))
            self.err.flush()
        except BrokenPipeError:
            pass


def execute(
    opts: RunOptions,
    policy: SandboxPolicy | None = None,
    *,
    in_process: bool = False,
    streams: Streams | None = None,
    stdin: bytes | None = None,
    sandbox: Callable[[], Sandbox] | None = None,
    **run_kw: Any,
) -> int:
    """Run and pass the output through; returns the exit status for `lockgate sandbox run`.
    `in_process=True` only from a single-threaded process (see sandbox/linux/oneshot.py).
    A run handed to a serve gives its own `streams`, the `stdin` bytes the CLI read, and
    `sandbox`: its warm sandbox for this policy (kept open; built in here, so a policy it
    refuses is reported as any setup failure)."""
    from sandbox import Sandbox

    out_streams = streams or Streams.of_this_process(opts.raw)
    if opts.timeout is not None and opts.timeout <= 0:
        return _refuse(out_streams, "--timeout must be positive")
    if stdin is None and opts.use_stdin:
        stdin = sys.stdin.buffer.read()
    out = _Passthrough(out_streams.out, opts.max_output, out_streams, out_streams.escape_out)
    err = _Passthrough(out_streams.err, opts.max_output, out_streams, out_streams.escape_err)

    def run(sb: Sandbox) -> Completed:
        return sb.run(
            list(opts.argv),
            timeout=opts.timeout,
            stdin=stdin,
            max_output=opts.max_output,
            on_output=lambda name, chunk: (out if name == "stdout" else err).live(chunk),
            **run_kw,
        )

    try:
        if sandbox is not None:
            done = run(sandbox())
        else:
            with Sandbox(policy or opts.policy(), prewarm=False, in_process=in_process) as sb:
                done = run(sb)
    except SandboxError as exc:
        return _refuse(out_streams, str(exc))
    out.finish(done.stdout, done.stdout_total)
    err.finish(done.stderr, done.stderr_total)
    for note in done.guard:
        out_streams.say(f"lockgate: sandbox guard: {note}")
    for failure in done.guard_failures:  # a protected name may have survived: say it loudly
        out_streams.say(f"lockgate: SANDBOX GUARD FAILED: {failure}")
    if done.timed_out:
        out_streams.say(f"lockgate: timed out after {opts.timeout:g}s; every process was killed")
    return done.shell_status


def say(line: str) -> None:
    """One line on stderr (what click.echo(err=True) does, without click)."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except BrokenPipeError:
        pass


def _refuse(streams: Streams, reason: str) -> int:
    line = " ".join(reason.split())
    if not line.startswith("sandbox"):
        line = f"sandbox: {line}"
    streams.say(f"lockgate: {line}")
    return SETUP_FAILED


def _escape(stream: Any, raw: bool) -> bool:
    try:
        return not raw and bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Passthrough:
    """Streams the first half of the budget live; at the end writes the rest that was kept
    (everything, or the tail after a note saying how much was left out). `escape`: made safe
    for a terminal on the way (sandbox.output.TerminalEscaper)."""

    def __init__(self, sink: BinaryIO, limit: int, streams: Streams, escape: bool = False) -> None:
        from sandbox.output import TerminalEscaper

        self.sink = sink
        self.streams = streams
        self.head = limit // 2
        self.limit = limit
        self.written = 0
        self.escaper = TerminalEscaper() if escape else None

    def live(self, chunk: bytes) -> None:
        room = self.head - self.written
        if room <= 0:
            return
        part = chunk[:room]
        self._write(part)

    def finish(self, kept: bytes, total: int) -> None:
        rest = kept[self.written :]
        if total > self.limit:
            omitted = total - len(kept)
            self.streams.say(f"lockgate: output cut: {omitted} bytes left out of {total}")
        self._write(rest, final=True)

    def _write(self, data: bytes, final: bool = False) -> None:
        if not data and not (final and self.escaper is not None):
            return
        shown = data if self.escaper is None else self.escaper.feed(data, final=final)
        try:
            self.sink.write(shown)
            self.sink.flush()
        except BrokenPipeError:
            pass
        self.written += len(data)


__all__ = ["SETUP_FAILED", "RunOptions", "Streams", "execute", "say"]

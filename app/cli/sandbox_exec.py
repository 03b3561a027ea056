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
    from typing import Any, BinaryIO

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


def execute(
    opts: RunOptions,
    policy: SandboxPolicy | None = None,
    *,
    in_process: bool = False,
    **run_kw: Any,
) -> int:
    """Run and pass the output through; returns the exit status for `lockgate sandbox run`.
    `in_process=True` only from a single-threaded process (see sandbox/linux/oneshot.py)."""
    from sandbox import Sandbox

    if opts.timeout is not None and opts.timeout <= 0:
        return _refuse("--timeout must be positive")
    stdin = sys.stdin.buffer.read() if opts.use_stdin else None
    # A terminal acts on what it is sent (OSC 52 writes the clipboard, CSI moves the cursor):
    # the command's output is escaped for one, as the console does, unless --raw.
    out = _Passthrough(sys.stdout.buffer, opts.max_output, _escape(sys.stdout, opts.raw))
    err = _Passthrough(sys.stderr.buffer, opts.max_output, _escape(sys.stderr, opts.raw))
    try:
        with Sandbox(policy or opts.policy(), prewarm=False, in_process=in_process) as sb:
            done = sb.run(
                list(opts.argv),
                timeout=opts.timeout,
                stdin=stdin,
                max_output=opts.max_output,
                on_output=lambda name, chunk: (out if name == "stdout" else err).live(chunk),
                **run_kw,
            )
    except SandboxError as exc:
        return _refuse(str(exc))
    out.finish(done.stdout, done.stdout_total)
    err.finish(done.stderr, done.stderr_total)
    for note in done.guard:
        say(f"lockgate: sandbox guard: {note}")
    for failure in done.guard_failures:  # a protected name may have survived: say it loudly
        say(f"lockgate: SANDBOX GUARD FAILED: {failure}")
    if done.timed_out:
        say(f"lockgate: timed out after {opts.timeout:g}s; every process was killed")
    return done.shell_status


def say(line: str) -> None:
    """One line on stderr (what click.echo(err=True) does, without click)."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except BrokenPipeError:
        pass


def _refuse(reason: str) -> int:
    line = " ".join(reason.split())
    if not line.startswith("sandbox"):
        line = f"sandbox: {line}"
    say(f"lockgate: {line}")
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

    def __init__(self, sink: BinaryIO, limit: int, escape: bool = False) -> None:
        from sandbox.output import TerminalEscaper

        self.sink = sink
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
            say(f"lockgate: output cut: {omitted} bytes left out of {total}")
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


__all__ = ["SETUP_FAILED", "RunOptions", "execute", "say"]

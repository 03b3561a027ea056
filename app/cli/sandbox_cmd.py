"""`lockgate sandbox check|run`: what the kernel gives the sandbox, and one command run in it.

Exit status of `run`: the command's own; 124 on timeout; 128+N when killed by signal N; 125 with
a one-line reason on stderr when the sandbox cannot be set up (the command never ran).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import click

from app.cli.network_options import network_options, run_with_network
from app.core.config import config_dir
from sandbox import SandboxError, SandboxPolicy, probe
from sandbox.policy import default_deny_read, default_readable

SETUP_FAILED = 125


@click.group(name="sandbox")
def cli() -> None:
    """Check what this kernel gives the sandbox; run one command in it."""


@cli.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the probe as JSON.")
def check(as_json: bool) -> None:
    """Say, layer by layer, what this kernel gives the sandbox and whether it can run.
    Exit 0 when it can, 1 when it cannot."""
    try:
        support = probe()
    except SandboxError as exc:
        click.echo(f"lockgate: {exc}", err=True)
        sys.exit(1)
    reads = _reads() if support.platform == "linux" else {}
    if as_json:
        data = support.to_dict()
        data["reads"] = reads
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        for layer in support.layers():
            mark = "ok " if layer.ok else ("-- " if not layer.required else "NO ")
            tail = "" if layer.ok or not layer.degradable else "  (skippable with --allow-degraded)"
            # "ok" is already the mark: only a detail that says more is printed
            detail = "" if layer.detail == "ok" else layer.detail
            click.echo(f"{mark} {layer.name:<16} {detail}{tail}".rstrip())
        if support.process_cap:
            click.echo(f"process cap: {_CAP_WORDS.get(support.process_cap, support.process_cap)}")
        if reads:
            _print_reads(reads)
        if support.can_run():
            click.echo("sandbox: can run")
        else:
            click.echo(support.refusal())
    sys.exit(0 if support.can_run() else 1)


def _reads() -> dict[str, Any]:
    """What a command of `lockgate sandbox run` (no --readable) may read: the allow-list."""
    import os

    from sandbox.linux.mounts import private_views
    from sandbox.policy import default_toolchains, home_dirs
    from sandbox.visible import read_set

    homes = [str(h) for h in home_dirs()]
    shown = [str(p) for p in (*default_readable(), *default_toolchains())]
    found = read_set(
        homes=homes,
        deny=[str(p) for p in (*default_deny_read(), config_dir())],
        extra=shown,
        views=private_views(os.environ.get("XDG_RUNTIME_DIR")),
        root_only=os.geteuid() == 0,
    )
    return {
        "hidden_homes": homes,
        "shown_read_only": list(dict.fromkeys(shown)),
        "owner_only_left_out": list(found.excluded),
        "rules": len(found.rules),
    }


def _print_reads(reads: dict[str, Any]) -> None:
    from sandbox.output import escape_text

    def names(paths: list[str]) -> str:
        return ", ".join(escape_text(p) for p in paths) or "none"

    click.echo(f"reads: an allow-list (Landlock rules: {reads['rules']})")
    click.echo(f"  hidden (home): {names(reads['hidden_homes'])}")
    click.echo(f"  shown read-only: {names(reads['shown_read_only'])}")
    left = reads["owner_only_left_out"]
    if left:
        more = f" and {len(left) - 8} more" if len(left) > 8 else ""
        click.echo(f"  owner-only entries left out: {names(left[:8])}{more}")
    click.echo("  add more with --readable PATH or [sandbox] readable = [...]")


_CAP_WORDS = {
    "pids-cgroup": "pids cgroup (one per command)",
    "rlimit-userns": "RLIMIT_NPROC counted inside the command's own user namespace",
    "supervisor": "supervisor counts the pid namespace and kills it past the cap",
}


@dataclass(frozen=True)
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

    def policy(self) -> SandboxPolicy:
        deny = (*default_deny_read(), config_dir())
        return SandboxPolicy(
            workspace=self.workspace,
            writable=self.writable,
            allow_degraded=self.allow_degraded,
            deny_read=tuple(dict.fromkeys(deny)),
            readable=(*default_readable(), *self.readable),
        )


@cli.command(
    "run",
    context_settings={"allow_interspersed_args": False},
)
@click.option(
    "--workspace",
    required=True,
    type=click.Path(path_type=Path),
    help="The directory the command may write (besides its private /tmp).",
)
@click.option(
    "--writable",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Another writable directory. Repeatable.",
)
@click.option(
    "--readable",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Another read-only root (a directory or a file), e.g. a cache in the home, which is "
    "otherwise hidden. Repeatable.",
)
@click.option("--timeout", type=float, metavar="S", help="Kill the command after S seconds.")
@click.option(
    "--max-output",
    type=click.IntRange(min=0),
    default=1 << 20,
    show_default=True,
    metavar="BYTES",
    help="Pass at most BYTES of each stream through: the start and the end.",
)
@click.option("--stdin", "use_stdin", is_flag=True, help="Give the command our stdin.")
@click.option(
    "--allow-degraded",
    is_flag=True,
    help="Run even when Landlock (ABI >= 6) or seccomp is missing: a weaker sandbox.",
)
@network_options
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
def run(**params: Any) -> None:
    """Run PROGRAM [ARG...] in the sandbox (put `--` before it)."""
    opts = RunOptions(
        workspace=params.pop("workspace"),
        writable=tuple(params.pop("writable")),
        readable=tuple(params.pop("readable")),
        timeout=params.pop("timeout"),
        max_output=params.pop("max_output"),
        use_stdin=params.pop("use_stdin"),
        allow_degraded=params.pop("allow_degraded"),
        argv=tuple(params.pop("argv")),
        extra=params,
    )
    sys.exit(run_with_network(opts, execute))


def execute(opts: RunOptions, policy: SandboxPolicy | None = None, **run_kw: Any) -> int:
    """Run and pass the output through; returns the exit status for `lockgate sandbox run`."""
    from sandbox import Sandbox

    if opts.timeout is not None and opts.timeout <= 0:
        return _refuse("--timeout must be positive")
    stdin = sys.stdin.buffer.read() if opts.use_stdin else None
    out = _Passthrough(sys.stdout.buffer, opts.max_output)
    err = _Passthrough(sys.stderr.buffer, opts.max_output)
    try:
        with Sandbox(policy or opts.policy(), prewarm=False) as sb:
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
        click.echo(f"lockgate: sandbox guard: {note}", err=True)
    if done.timed_out:
        click.echo(
            f"lockgate: timed out after {opts.timeout:g}s; every process was killed", err=True
        )
    return done.shell_status


def _refuse(reason: str) -> int:
    line = " ".join(reason.split())
    if not line.startswith("sandbox"):
        line = f"sandbox: {line}"
    click.echo(f"lockgate: {line}", err=True)
    return SETUP_FAILED


class _Passthrough:
    """Streams the first half of the budget live; at the end writes the rest that was kept
    (everything, or the tail after a note saying how much was left out)."""

    def __init__(self, sink: BinaryIO, limit: int) -> None:
        self.sink = sink
        self.head = limit // 2
        self.limit = limit
        self.written = 0

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
            click.echo(f"lockgate: output cut: {omitted} bytes left out of {total}", err=True)
        self._write(rest)

    def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self.sink.write(data)
            self.sink.flush()
        except BrokenPipeError:
            pass
        self.written += len(data)


__all__ = ["RunOptions", "cli", "execute"]

"""`lockgate sandbox check|run`: what the kernel gives the sandbox, and one command run in it
(the run itself, `RunOptions` and `execute`, is in `sandbox_exec`, shared with the fast path
`sandbox_fast`).

Exit status of `run`: the command's own; 124 on timeout; 128+N when killed by signal N; 125 with
a one-line reason on stderr when the sandbox cannot be set up (the command never ran).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from app.cli.network_options import network_options, run_with_network
from app.cli.sandbox_backend_options import sandbox_backend_options

# The sandbox, the policy and the run are imported inside the commands: `--help` loads none.


@click.group(name="sandbox")
def cli() -> None:
    """Check what this kernel gives the sandbox; run one command in it."""


@cli.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the probe as JSON.")
@click.option(
    "--backend",
    type=click.Choice(["linux", "podman"]),
    default="linux",
    show_default=True,
    help="podman: what this host's podman offers the container backend (version, rootless or "
    "not, cgroup controllers, the image) instead of the kernel's layers.",
)
@click.option("--image", "image_ref", default=None, metavar="REF", help="podman: the image.")
@click.option("--rootfs", default=None, metavar="DIR", help="podman: an exploded root instead.")
@click.option(
    "--podman-connection", default=None, metavar="NAME", help="podman: a system connection."
)
def check(
    as_json: bool,
    backend: str = "linux",
    image_ref: str | None = None,
    rootfs: str | None = None,
    podman_connection: str | None = None,
) -> None:
    """Say, layer by layer, what this kernel gives the sandbox and whether it can run.
    Exit 0 when it can, 1 when it cannot."""
    if backend == "podman":
        from app.cli.sandbox_image_cmd import check_podman

        sys.exit(check_podman(image_ref, rootfs, podman_connection, as_json))
    from sandbox import SandboxError, probe

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
        if support.memory_cap:
            click.echo(f"memory cap: {_memory_words(support.memory_cap)}")
        if reads:
            _print_reads(reads)
        if support.can_run():
            click.echo("sandbox: can run")
        else:
            click.echo(support.refusal())
    sys.exit(0 if support.can_run() else 1)


def _memory_words(mechanism: str) -> str:
    from sandbox.policy import default_memory

    limit = default_memory()
    size = f"{limit / (1 << 30):.1f} GiB" if limit else "no limit"
    if mechanism == "memory-cgroup":
        how = "a memory cgroup per command (all its processes together)"
    else:
        how = "RLIMIT_DATA per process (with the process cap, at most that many times it)"
    return f'{how}; {size} by default ([sandbox] memory = "4G")'


def _reads() -> dict[str, Any]:
    """What a command of `lockgate sandbox run` (no --readable) may read: the allow-list."""
    import os

    from app.core.config import config_dir
    from sandbox.linux.mounts import private_views
    from sandbox.policy import default_deny_read, default_readable, default_toolchains, home_dirs
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


@cli.command(
    "run",
    context_settings={"allow_interspersed_args": False},
)
@click.option(
    "--workspace",
    "-w",
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
    "--raw",
    is_flag=True,
    help="Pass the command's output to a terminal as it is. Without it, escape sequences and "
    "control characters (a clipboard write, a cursor move) are shown as visible markers when "
    "the output is a terminal, as the console does.",
)
@click.option(
    "--allow-degraded",
    is_flag=True,
    help="Run even when Landlock (ABI >= 6) or seccomp is missing: a weaker sandbox.",
)
@network_options
@sandbox_backend_options
@click.argument(
    "argv", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- PROGRAM [ARG]..."
)
def run(**params: Any) -> None:
    """Run PROGRAM [ARG...] in the sandbox (put `--` before it)."""
    from app.cli.sandbox_exec import RunOptions, execute

    opts = RunOptions(
        workspace=params.pop("workspace"),
        writable=tuple(params.pop("writable")),
        readable=tuple(params.pop("readable")),
        timeout=params.pop("timeout"),
        max_output=params.pop("max_output"),
        use_stdin=params.pop("use_stdin"),
        raw=params.pop("raw"),
        allow_degraded=params.pop("allow_degraded"),
        argv=tuple(params.pop("argv")),
        extra=params,
    )
    sys.exit(run_with_network(opts, _with_backend(execute)))


def _with_backend(execute: Any) -> Any:
    """`execute` with the policy completed by --sandbox-backend/--image/--rootfs (sandbox
    run reads no user config: the options alone choose)."""

    def run(opts: Any, policy: Any = None, **kw: Any) -> int:
        from app.cli.sandbox_exec import SETUP_FAILED, say
        from app.core.config import ConfigError
        from app.execute.sandbox_backend import apply

        try:
            chosen = apply(policy or opts.policy())
        except ConfigError as exc:
            say(f"lockgate: {exc}")
            return SETUP_FAILED
        return int(execute(opts, chosen, **kw))

    return run


def _image_group() -> click.Group:
    from app.cli.sandbox_image_cmd import image

    return image


cli.add_command(_image_group())


__all__ = ["cli"]

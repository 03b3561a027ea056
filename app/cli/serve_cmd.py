"""`lockgate serve`: the console with no agent of its own, reviewing for agents that call
`lockgate hook claude|gemini|codex` before each tool use. See docs/hooks.md.

Exit codes: 0 the reviewer quit (with --headless: stopped by SIGINT/SIGTERM); 2 a usage mistake
or a socket/session that cannot be set up.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.cli import UserError
from app.cli.network_options import network_choice, network_options
from app.cli.sandbox_backend_options import sandbox_backend_options

if TYPE_CHECKING:
    from app.hooks.sandbox_serve import OneShotCli

_PASS_ON = (  # network options handed on, word for word, to every rewritten `sandbox run`
    ("allow_domain", "--allow-domain"),
    ("deny_domain", "--deny-domain"),
    ("allow_method", "--allow-method"),
    ("allow_port", "--allow-port"),
    ("preset", "--preset"),
    ("allow_address", "--allow-address"),
    ("allow_url", "--allow-url"),
    ("no_inspect_domain", "--no-inspect-domain"),
)


def sandbox_network_args(params: dict[str, Any]) -> tuple[str, ...]:
    if (params.get("network") or "off") != "allow":
        return ()
    args: list[str] = ["--network", "allow"]
    for key, flag in _PASS_ON:
        for value in params.get(key) or ():
            args += [flag, str(value)]
    if params.get("read_only_http"):
        args.append("--read-only-http")
    if params.get("inspect_tls") is not None:
        args.append("--inspect-tls" if params["inspect_tls"] else "--no-inspect-tls")
    if params.get("upstream_ca"):
        args += ["--upstream-ca", str(Path(params["upstream_ca"]).resolve())]
    return tuple(args)


@click.command("serve")
@click.option(
    "--workspace",
    "-w",
    default=None,
    metavar="DIR",
    help="The project the agents work in (default: the current directory). Hooks find this "
    "console from any directory inside it.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1.0),
    default=600.0,
    show_default=True,
    metavar="S",
    help="The longest an approved shell command may run in the sandbox (an agent's own shorter "
    "timeout wins).",
)
@click.option(
    "--audit",
    default=None,
    metavar="PATH",
    help="Write the audit log here (default: a new file in the user data dir).",
)
@click.option(
    "--headless",
    is_flag=True,
    help="No console (a service, CI): policy decides, what it would ask is denied with its "
    "reason, and every decision is printed and audited.",
)
@network_options
@sandbox_backend_options
def cli(
    workspace: str | None, timeout: float, audit: str | None, headless: bool, **params: Any
) -> None:
    """Open the console and review the tool calls of agents with hooks (Claude Code, Gemini
    CLI, Codex): `lockgate hook claude --install` once, then start the agent as usual.

    Approved shell commands are rewritten to run inside `lockgate sandbox run` with this
    workspace, timeout and network; file edits are shown as diffs and written by the agent
    itself. Several agent sessions may use one console: each has its own group in the queue.
    """
    from app.hooks.serve import open_served
    from app.hooks.server import ServeError
    from app.session import SessionError

    ws = Path(workspace) if workspace else Path.cwd()
    if not headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("the console needs a terminal; use --headless to serve without one")
    if not ws.is_dir():
        raise UserError(f"workspace {ws}: not a directory")
    from app.execute.sandbox_backend import cli_args

    # the rewritten `sandbox run` gets the network and the backend options as given here
    network_args = sandbox_network_args(params) + cli_args()
    choice = network_choice(params)
    allowed = tuple(str(d) for d in (params.get("allow_domain") or ()))
    try:
        served = open_served(
            ws,
            network="allow" if choice.rules is not None else "off",
            allowed_domains=allowed,
            network_args=network_args,
            rules=choice.rules,
            timeout_s=timeout,
            audit_path=Path(audit) if audit else None,
            headless=headless,
            handoff=_handoff(),
        )
    except (ServeError, SessionError) as exc:
        raise UserError(str(exc)) from None
    session = served.session
    click.echo(f"lockgate: serving {session.workspace}")
    click.echo(f"lockgate: socket {served.listener.socket_path}")
    click.echo(f"lockgate: endpoint {served.listener.endpoint_file}")
    click.echo(f"lockgate: audit log {session.audit_path}")
    if headless:
        code = _headless(served)
    else:
        from app.ui import run_console

        # The lines above vanish under the console's screen: say it once inside too.
        session.notices = (
            *session.notices,
            f"Reviewing hooks for {session.workspace} on {served.listener.socket_path}",
        )
        try:
            with session:
                code = run_console(session, served.link)
        finally:
            served.listener.close()  # also when the console failed before the link ran
    sys.exit(code)


def _headless(served: Any) -> int:
    """Until SIGINT/SIGTERM (exit 0): one line per answer on stdout, everything in the audit log."""
    import asyncio
    import signal

    from app.patch.display import terminal_safe

    def say(line: str) -> None:
        click.echo(terminal_safe(line))  # tool input is untrusted text

    async def serve() -> int:
        session = served.session
        served.link.service.on_answer = say
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        running = asyncio.ensure_future(session.pipeline.run(served.link))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        await session.pipeline.cancel()
        await served.link.cancel()
        await running
        stopped.cancel()
        return 0

    try:
        with served.session:
            code = asyncio.run(serve())
    finally:
        served.listener.close()
    click.echo(
        f"lockgate: audit log {served.session.audit_path} (check it with `lockgate log verify`)"
    )
    return code


def _handoff() -> OneShotCli:
    """`lockgate sandbox run`'s own parser, run and output streams, for the commands the CLI
    hands to this serve (app/hooks/sandbox_serve.py): the same code as the cold path."""
    from app.cli import sandbox_exec, sandbox_fast
    from app.hooks.serve import OneShotCli

    return OneShotCli(
        parse=sandbox_fast.parse, execute=sandbox_exec.execute, streams=sandbox_exec.Streams
    )

"""`lockgate hook claude|gemini|codex`: the command an agent runs before each tool call.

It reads the agent's hook JSON on stdin, asks the `lockgate serve` console of the workspace (or,
with --policy-only, the policy alone) and prints the verdict in the agent's hook format. Every
failure denies. `--install` adds it to the agent's settings instead. See docs/hooks.md.

The plain hook path imports only `app.hooks.client` (standard library): it runs once per tool
call, and its start-up is the agent's waiting time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli import UserError


@click.group("hook")
def cli() -> None:
    """The hook command for Claude Code, Gemini CLI and Codex (`lockgate hook AGENT`)."""


def _options(f: click.decorators.FC) -> click.decorators.FC:
    options = [
        click.option(
            "--policy-only",
            is_flag=True,
            help="Decide from the policy alone, without a console (CI). What the policy would "
            "ask a human is denied, with the policy's reason.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=None,
            metavar="S",
            help="How long to wait for the console's verdict before denying (default: 590 s "
            "for Claude Code and Codex, 55 s for Gemini CLI, each under the agent's own hook "
            "timeout).",
        ),
        click.option(
            "--workspace",
            "-w",
            default=None,
            metavar="DIR",
            help="With --install --project: the project to install into; with --policy-only: "
            "the workspace (default: the agent's project dir, else its cwd).",
        ),
        click.option(
            "--install",
            is_flag=True,
            help="Add this hook to the agent's settings (merged into what is there; the diff is "
            "shown first) instead of answering a hook call.",
        ),
        click.option(
            "--project",
            "scope",
            flag_value="project",
            default=True,
            help="With --install: the project's settings (default).",
        ),
        click.option(
            "--user", "scope", flag_value="user", help="With --install: the user's settings."
        ),
        click.option(
            "--yes", "-y", is_flag=True, help="With --install: write without asking to confirm."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _run(
    agent: str,
    policy_only: bool,
    timeout: float | None,
    workspace: str | None,
    install: bool,
    scope: str,
    yes: bool,
) -> None:
    if install:
        _install(agent, scope, workspace, timeout, yes)
        return
    if not policy_only:
        from app.hooks.client import main

        sys.exit(main(agent, timeout))
    sys.exit(_policy_only(agent, workspace, timeout))


def _policy_only(agent: str, workspace: str | None, timeout: float | None) -> int:
    from app.hooks.policy_only import main

    return main(agent, workspace)


def _install(
    agent: str, scope: str, workspace: str | None, timeout: float | None, yes: bool
) -> None:
    from app.hooks.install import InstallError, hook_command, plan_install, settings_path, write
    from app.hooks.serve import default_launcher

    ws = Path(workspace) if workspace else Path.cwd()
    if scope == "project" and not ws.is_dir():
        raise UserError(f"workspace {ws}: not a directory")
    wait = timeout if timeout is not None else (590.0 if agent == "gemini" else None)
    command = hook_command(default_launcher(), agent, wait)
    try:
        plan = plan_install(agent, settings_path(agent, scope, ws, Path.home()), command)  # type: ignore[arg-type]
    except InstallError as exc:
        raise UserError(str(exc)) from None
    if not plan.changes:
        click.echo(f"lockgate: {plan.path} already runs lockgate; nothing to change")
        return
    click.echo(plan.diff(), nl=False)
    if not yes and sys.stdin.isatty() and not click.confirm(f"Write {plan.path}?", default=True):
        raise click.exceptions.Abort()
    try:
        write(plan)
    except OSError as exc:
        raise UserError(f"{plan.path}: {exc.strerror}") from None
    click.echo(
        f"lockgate: wrote {plan.path}; start `lockgate serve` in the project, then the agent"
    )


def _make(agent: str, text: str) -> click.Command:
    @_options
    def command(**kw: object) -> None:
        _run(agent, **kw)  # type: ignore[arg-type]

    return click.command(agent, help=text)(command)


for _agent, _help in (
    ("claude", "Claude Code's PreToolUse hook (matcher *)."),
    ("gemini", "Gemini CLI's BeforeTool hook."),
    ("codex", "Codex's PreToolUse hook (review only: Codex sandboxes its own commands)."),
):
    cli.add_command(_make(_agent, _help))

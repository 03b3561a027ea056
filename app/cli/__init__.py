"""The `lockgate` command. Subcommands live one module each and are imported only when used,
so `lockgate risk` never pays for Textual and `lockgate --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import click

from app import __version__

# name -> (module, one-line help). Each module defines a click command or group called `cli`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "app.cli.demo_cmd",
        "Open the console on the embedded demo session (no key, no network).",
    ),
    "run": ("app.cli.run_cmd", "Run a live agent (OpenAI or compatible) under review."),
    "sandbox": (
        "app.cli.sandbox_cmd",
        "Check what this kernel gives the sandbox; run one command in it.",
    ),
    "risk": ("app.cli.risk_cmd", "Score commands and patches the way the console does."),
    "patch": ("app.cli.patch_cmd", "Check, apply and undo V4A or unified patches in a workspace."),
    "log": ("app.cli.log_cmd", "Show, verify and export audit logs."),
    "serve": ("app.cli.serve_cmd", "Open the console as the reviewer for agents with hooks."),
    "hook": (
        "app.cli.hook_cmd",
        "The hook agents run before each tool call (claude, gemini, codex).",
    ),
    "acp": ("app.cli.acp_cmd", "Review any ACP agent (Gemini CLI, Codex, Claude Code …), jailed."),
    "scan": ("app.cli.scan_cmd", "Look for prompt injection in a tool output (exit 1 if found)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.cli
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text from the table, so listing commands imports none of them.
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lockgate")
def cli() -> None:
    """lockgate: review what a code-executing AI agent proposes, and run what you approve
    inside an OS sandbox."""


class UserError(click.ClickException):
    """A mistake the user can fix; printed as one line, exit 2."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"lockgate: {self.format_message()}", err=True)


def main(argv: list[str] | None = None) -> None:
    try:
        rv = cli.main(args=argv, prog_name="lockgate", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("lockgate: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        if isinstance(exc, UserError):
            exc.show()
        else:
            click.echo(f"lockgate: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("lockgate: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(141)
    # In non-standalone mode click returns the code of `ctx.exit(n)` / `Exit(n)` instead of exiting.
    if isinstance(rv, int) and rv != 0:
        sys.exit(rv)

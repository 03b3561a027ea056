"""The click side of the `lockgate` command: the lazy group, the one-line user error, and the
wrapper that turns click's outcomes into exit statuses. Imported only when no fast path in
`app.cli.FAST_PATHS` took the arguments (click alone costs ~20 ms of a cold start)."""

from __future__ import annotations

import importlib
import sys

import click

from app import __version__
from app.cli.registry import SUBCOMMANDS


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


def run(argv: list[str] | None) -> None:
    """Run the click group; exits with the command's status."""
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

"""`lockgate patch`: check, apply and undo V4A or unified patches in a workspace.

Exit codes: 0 done; 1 the patch was refused (one line on stderr says why, nothing changed);
2 a usage mistake (no such file, workspace is not a directory).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli import UserError

# The patch engine loads inside the commands: `lockgate patch --help` needs none of it.
if TYPE_CHECKING:
    from app.patch.fsops import Workspace
    from app.patch.plan import Plan


class Refused(click.ClickException):
    """The patch (or undo) was refused; printed as one line, exit 1."""

    exit_code = 1

    def show(self, file: object = None) -> None:
        from app.patch.errors import one_line

        click.echo(f"lockgate: {one_line(self.format_message())}", err=True)


def _workspace(path: str) -> tuple[Path, Workspace]:
    from app.patch.errors import PatchError
    from app.patch.fsops import Workspace

    given = Path(path)
    if not given.is_dir():
        raise UserError(f"workspace {path}: not a directory")
    try:
        return given.absolute(), Workspace.at(given)
    except PatchError as exc:
        raise UserError(str(exc)) from exc


def _read_input(source: str) -> str:
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except FileNotFoundError as exc:
        raise UserError(f"{source}: no such file") from exc
    except IsADirectoryError as exc:
        raise UserError(f"{source}: is a directory") from exc
    except OSError as exc:
        raise UserError(f"{source}: cannot read: {exc.strerror}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(f"the patch is not UTF-8 text (byte {exc.start})") from exc


def _recover(ws: Workspace) -> None:
    from app.patch.apply import recover
    from app.patch.errors import PatchError

    try:
        rolled = recover(ws.root)
    except PatchError as exc:
        raise Refused(f"recovery of an interrupted patch failed: {exc}") from exc
    for name in rolled:
        click.echo(f"lockgate: rolled back an interrupted patch ({name})", err=True)


def _plan(workspace: str, source: str, fmt: str, approve: tuple[str, ...]) -> Plan:
    from app.patch.errors import PatchError
    from app.patch.parse import parse_patch
    from app.patch.plan import build_plan

    given, ws = _workspace(workspace)
    text = _read_input(source)
    _recover(ws)
    try:
        approved = frozenset(ws.normalize(p, given_root=given) for p in approve)
        parsed = parse_patch(text, fmt)  # type: ignore[arg-type]
        return build_plan(parsed, ws, approved=approved, given_root=given)
    except PatchError as exc:
        raise Refused(str(exc)) from exc


_workspace_opt = click.option(
    "--workspace",
    "-w",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The directory the patch applies to.",
)
_format_opt = click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "v4a", "unified"]),
    default="auto",
    show_default=True,
    help="Patch format (auto-detected by default).",
)
_approve_opt = click.option(
    "--approve-protected",
    "approve",
    multiple=True,
    metavar="PATH",
    help="Allow this protected path (git hooks/config, agent config …); repeatable.",
)


@click.group()
def cli() -> None:
    """Check, apply and undo V4A (apply_patch) or unified patches in a workspace."""


@cli.command()
@_workspace_opt
@_format_opt
@_approve_opt
@click.argument("source", metavar="FILE|-")
def check(workspace: str, fmt: str, approve: tuple[str, ...], source: str) -> None:
    """Parse and resolve a patch and print the unified diff it would apply; change nothing."""
    from app.patch.display import terminal_safe
    from app.patch.render import summary_line

    plan = _plan(workspace, source, fmt, approve)
    click.echo(terminal_safe(plan.unified_diff), nl=False)
    for r in plan.rendered:
        click.echo(terminal_safe(f" {r.path} | +{r.added} -{r.removed}"), err=True)
    click.echo(summary_line(plan.rendered), err=True)


@cli.command()
@_workspace_opt
@_format_opt
@_approve_opt
@click.option("--show", is_flag=True, help="Also print the unified diff that was applied.")
@click.argument("source", metavar="FILE|-")
def apply(workspace: str, fmt: str, approve: tuple[str, ...], show: bool, source: str) -> None:
    """Apply a patch atomically: every file changes, or none does."""
    from app.patch.apply import apply_plan
    from app.patch.display import terminal_safe
    from app.patch.errors import PatchError

    plan = _plan(workspace, source, fmt, approve)
    try:
        applied = apply_plan(plan)
    except PatchError as exc:
        raise Refused(str(exc)) from exc
    except OSError as exc:
        raise Refused(f"apply failed: {exc.strerror or exc}") from exc
    if show:
        click.echo(terminal_safe(plan.unified_diff), nl=False)
    click.echo("Success. Updated the following files:")
    for status, path in plan.summary or applied.statuses:
        click.echo(terminal_safe(f"{status} {path}"))


@cli.command()
@_workspace_opt
def undo(workspace: str) -> None:
    """Restore the files the last applied patch changed, if nobody changed them since."""
    from app.patch.apply import undo_last
    from app.patch.display import terminal_safe
    from app.patch.errors import PatchError

    _, ws = _workspace(workspace)
    _recover(ws)
    try:
        applied = undo_last(ws.root)
    except PatchError as exc:
        raise Refused(str(exc)) from exc
    click.echo("Undid the last patch; restored:")
    for status, path in applied.statuses:
        click.echo(terminal_safe(f"{status} {path}"))

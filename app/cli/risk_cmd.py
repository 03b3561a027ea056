"""`lockgate risk`: score commands and patches the way the console does.

    lockgate risk [--workspace DIR] [--policy FILE] [--json] -- "COMMAND"
    lockgate risk --jsonl [--workspace DIR] < lines

--jsonl reads one object a line, `{"command": "…"}` or `{"patch": "…"}`, and writes one line
each: `{"score", "level", "decision", "categories", "reasons", "spans"}`; a line it cannot read
gets `{"error": "…"}` and the stream goes on. Output lines are flushed one by one, so a caller
can feed and read interactively.

Scoring one COMMAND ends the process as soon as the answer is written (`exit_now`: no
interpreter teardown), so run it as a process, not through click's test runner. The scoring
itself is in `risk_exec`, shared with the fast path `risk_fast`.
"""

from __future__ import annotations

from pathlib import Path

import click

from app.cli import UserError


@click.command("risk")
@click.option(
    "--workspace",
    "-w",
    type=click.Path(path_type=Path),
    default=None,
    help="Workspace root (default: the current directory).",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    default=None,
    help="An extra rule file (TOML), trusted like your own config.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--jsonl", is_flag=True, help="Read JSON lines on stdin, write one result a line.")
@click.option(
    "--network",
    type=click.Choice(["off", "allow"]),
    default="off",
    show_default=True,
    help="The sandbox's network mode the command would run with.",
)
@click.option("--headless", is_flag=True, help="Decide as headless runs do (ask becomes deny).")
@click.argument("command", nargs=-1)
def cli(
    workspace: Path | None,
    policy_file: Path | None,
    as_json: bool,
    jsonl: bool,
    network: str,
    headless: bool,
    command: tuple[str, ...],
) -> None:
    """Score a shell COMMAND (or, with --jsonl, commands and patches from stdin)."""
    from app.cli.risk_exec import RiskOptions, RiskRefused, score

    opts = RiskOptions(workspace, policy_file, as_json, jsonl, network, headless, command)
    try:
        score(opts, lambda text, err: click.echo(text, err=err))
    except RiskRefused as exc:
        raise UserError(str(exc)) from exc

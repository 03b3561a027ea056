"""The Textual console. `run_console(session, link)` is the one entry point the CLI uses;
importing this package does not import Textual (the CLI stays fast for other subcommands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from app.core.ports import AgentLink
    from app.ui.contract import SessionLike


def run_console(session: SessionLike, link: AgentLink, outside_roots: Sequence[Path] = ()) -> int:
    """Run the console in this terminal until the reviewer quits; returns the exit status.
    `outside_roots`: the sandbox's writable roots outside the workspace, for the session diff."""
    from app.ui.app import run_console as _run

    return _run(session, link, outside_roots)

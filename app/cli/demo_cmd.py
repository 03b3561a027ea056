"""`lockgate demo`: the console on a scripted agent session — no key, no network needed.

The bundled `shopcart` project is copied to a temporary git repository and a scripted agent
fixes its failing test, proposing along the way what lockgate exists to catch (a typosquatted
install, `curl | sh`, a read of ~/.ssh, a request to an unlisted host, a git hook). Everything
after the agent is real: scoring, policy, your verdicts, the sandbox, the patches, the audit log.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import click

from app.cli import UserError
from app.cli.monitor_options import monitor_options
from app.cli.network_options import network_extra, network_rule_options
from app.cli.sandbox_backend_options import sandbox_backend_options


@click.command("demo")
@click.option(
    "--script",
    "script_path",
    default=None,
    metavar="FILE",
    help="Play your own script (TOML or JSON; see --print-script for the format) instead of "
    "the bundled one.",
)
@click.option(
    "--workspace",
    "-w",
    default=None,
    metavar="DIR",
    help="Play in DIR as it is (for your own script) instead of a fresh temporary copy of the "
    "bundled demo project.",
)
@click.option(
    "--headless",
    is_flag=True,
    help="No console: policy decides; what would be asked is denied (and the agent is told).",
)
@click.option(
    "--pace",
    type=click.FloatRange(0, 10),
    default=None,
    help="Speed of the scripted agent: 1 reads naturally, 0 plays at once "
    "(default: 1 in the console, 0 headless).",
)
@click.option(
    "--print-script",
    is_flag=True,
    help="Print the bundled script (its header explains the format) and exit.",
)
@click.option(
    "--keep-workspace",
    is_flag=True,
    help="Keep the temporary demo workspace afterwards (its path is printed).",
)
@network_rule_options
@sandbox_backend_options
@monitor_options
def cli(
    script_path: str | None,
    workspace: str | None,
    headless: bool,
    pace: float | None,
    keep_workspace: bool,
    print_script: bool,
    monitor_model: str | None = None,
    monitor_base_url: str | None = None,
    **network_params: Any,
) -> None:
    """Open the console on the embedded demo session (no key, no network)."""
    from app.agent.demo_setup import DemoSetupError, prepare_demo_workspace
    from app.agent.scripted import ScriptedLink, ScriptError, bundled_script, load_script
    from app.cli.run_cmd import _open, play

    if print_script:
        click.echo(bundled_script().read_text(encoding="utf-8"), nl=False)
        return

    try:
        script = load_script(Path(script_path) if script_path else bundled_script())
    except ScriptError as exc:
        raise UserError(str(exc)) from None
    extra = network_extra(network_params, script.network, 'a script with network = "allow"')

    temporary: Path | None = None
    if workspace is not None:
        ws = Path(workspace)
        if not ws.is_dir():
            raise UserError(f"workspace {workspace}: not a directory")
        ws = ws.resolve()
    else:
        try:
            ws = temporary = prepare_demo_workspace()
        except DemoSetupError as exc:
            raise UserError(str(exc)) from None
    code = 1
    try:
        link = ScriptedLink(script, pace=pace if pace is not None else (0.0 if headless else 1.0))
        session = _open(
            workspace=ws,
            headless=headless,
            network=script.network,
            allowed_domains=script.allow_domains,
            audit=None,
            network_extra=extra,
            monitor_model=monitor_model,
            monitor_base_url=monitor_base_url,
            task=script.task,
        )
        with session:
            code = play(session, link, headless=headless)
    finally:
        if temporary is not None:
            if keep_workspace:
                click.echo(f"lockgate: demo workspace kept at {temporary}", err=True)
            else:
                shutil.rmtree(temporary, ignore_errors=True)
    sys.exit(code)

"""Wiring for `lockgate serve`: a session whose executors hand approved actions back to the
agents (see `handoff.py`), a socket, and the service answering hook requests from it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app.hooks.answers import default_launcher
from app.hooks.handoff import HandOffCommands, HandOffPatches, HookPolicy
from app.hooks.sandbox_serve import OneShotCli
from app.hooks.server import Listener, ServeLink
from app.hooks.service import HookService, SandboxSpec

__all__ = ["OneShotCli", "Served", "default_launcher", "open_served"]

SECRET_ENV = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@dataclass
class Served:
    session: Any  # app.session.Session
    link: ServeLink
    listener: Listener


def open_served(
    workspace: Path,
    *,
    network: Literal["off", "allow"] = "off",
    allowed_domains: tuple[str, ...] = (),
    network_args: tuple[str, ...] = (),
    rules: Any = None,
    timeout_s: float = 600.0,
    audit_path: Path | None = None,
    launcher: Sequence[str] | None = None,
    observers: Sequence[Any] = (),
    headless: bool = False,
    handoff: OneShotCli | None = None,
) -> Served:
    """Bind the socket (refusing a second serve of the workspace), open the session, wire the
    service. `handoff`: the CLI's own `sandbox run` parts, to run the commands the CLI hands
    over (none: they are declined, and the CLI runs them itself). Raises ServeError or
    SessionError with a one-line message."""
    from app.session import SessionOptions, open_session

    ws = Path(os.path.realpath(workspace))
    listener = Listener(ws)
    try:
        link = ServeLink(listener, handoff)
        commands = HandOffCommands()

        def wrap_executors(_commands: Any, patches: Any) -> tuple[Any, Any]:
            return commands, HandOffPatches(patches)

        session = open_session(
            SessionOptions(
                workspace=ws,
                network=network,
                allowed_domains=allowed_domains,
                audit_path=audit_path,
                headless=headless,
                secrets=tuple(v for k in SECRET_ENV if (v := os.environ.get(k, "").strip())),
                observers=(link, *observers),
                wrap_executors=wrap_executors,
                wrap_policy=HookPolicy,
            )
        )
    except BaseException:
        listener.close()
        raise
    link.service = HookService(
        session.pipeline,
        link,
        commands,
        workspace=session.workspace,
        spec=SandboxSpec(
            tuple(launcher or default_launcher()),
            session.workspace,
            timeout_s=timeout_s,
            network_args=network_args,
        ),
        rules=rules,
        audit=session.audit,
        token=listener.token,
    )
    return Served(session, link, listener)

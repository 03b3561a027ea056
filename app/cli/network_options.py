"""The network options of `lockgate sandbox run`, and the proxy that serves one command run.

Kept apart from `sandbox_cmd.py` so that command only adds a decorator and a `with` block.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import click

from app.cli import UserError
from app.core.config import ConfigError, load_user_config
from app.execute.network import program_of, session_rules
from sandbox.net import (
    AllowListProxy,
    NetworkRules,
    ProxyThread,
    RequestRecord,
    RuleError,
    RunContext,
)

F = TypeVar("F", bound=Callable[..., Any])

NETWORK_HELP = (
    "Network for the command: 'off' (default: no network at all) or 'allow' (only through "
    "lockgate's proxy, under the rules given by the options below and the [network] section "
    "of the user config). No console is attached to `sandbox run`, so requests to hosts no "
    "rule allows are denied with a 403 that names the rule."
)
_RULE_OPTIONS = (
    "allow_domain",
    "deny_domain",
    "allow_method",
    "allow_port",
    "read_only_http",
    "preset",
    "allow_address",
    "allow_url",
)


def network_options(f: F) -> F:
    """Adds --network, --allow-domain, --deny-domain, --allow-method, --allow-port,
    --read-only-http, --preset and --allow-address to a click command."""
    options = [
        click.option(
            "--network",
            type=click.Choice(["off", "allow"]),
            default="off",
            show_default=True,
            help=NETWORK_HELP,
        ),
        click.option(
            "--allow-domain",
            "allow_domain",
            multiple=True,
            metavar="D",
            help="Allow host D (exact, e.g. pypi.org) or names below it (*.example.com). "
            "Repeatable. Host names are compared whole after canonicalisation; IP addresses "
            "are refused unless named exactly.",
        ),
        click.option(
            "--deny-domain",
            "deny_domain",
            multiple=True,
            metavar="D",
            help="Deny host D or *.D (the wildcard also covers D itself); deny wins over allow. "
            "Repeatable.",
        ),
        click.option(
            "--allow-method",
            "allow_method",
            multiple=True,
            metavar="M",
            help="Allow plain-HTTP method M (e.g. GET); once given, other methods are refused. "
            "Repeatable. HTTPS is tunnelled, not decrypted: method limits on HTTPS would need "
            "TLS interception, which lockgate does not do.",
        ),
        click.option(
            "--allow-port",
            "allow_port",
            multiple=True,
            metavar="P",
            help="Also allow port P (80 and 443 are always allowed). Repeatable.",
        ),
        click.option(
            "--read-only-http",
            "read_only_http",
            is_flag=True,
            help="Refuse plain-HTTP requests that carry a body. Like --allow-method, this "
            "cannot apply inside HTTPS (no TLS interception).",
        ),
        click.option(
            "--preset",
            "preset",
            multiple=True,
            metavar="NAME",
            help="Add a named rule set: built-in pypi, npm, github, crates, go, docs, or one "
            "defined as [network.presets.NAME] in the user config. Repeatable.",
        ),
        click.option(
            "--allow-url",
            "allow_url",
            multiple=True,
            metavar="'METHOD URL'",
            help="Allow only these URLs on the URL's host, e.g. "
            "'GET https://api.github.com/repos/ORG/*' (method or *, scheme, exact host, path; "
            "a trailing * makes the path a prefix). Repeatable. HTTPS URL rules turn TLS "
            "inspection on.",
        ),
        click.option(
            "--allow-address",
            "allow_address",
            multiple=True,
            metavar="CIDR",
            help="Let allowed names resolve into this special range (loopback, private, "
            "link-local are refused otherwise), e.g. 10.0.0.0/8. Repeatable.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass(frozen=True)
class NetworkChoice:
    mode: str  # "off" | "allow"
    rules: NetworkRules | None


def network_choice(params: dict[str, Any]) -> NetworkChoice:
    """The network options (pops them from `params`) → what to run with. Raises UserError."""
    mode = str(params.pop("network", "off") or "off")
    values = {k: params.pop(k, None) for k in _RULE_OPTIONS}
    if mode == "off":
        given = [k for k, v in values.items() if v]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise UserError(f"{flag} needs --network allow")
        return NetworkChoice("off", None)
    try:
        config = load_user_config()
        rules = session_rules(
            config.section("network"),
            allowed_domains=tuple(values["allow_domain"] or ()),
            presets=tuple(values["preset"] or ()),
            where=str(config.path),
        )
        extra = NetworkRules.build(
            deny=values["deny_domain"] or (),
            ports=values["allow_port"] or (),
            methods=values["allow_method"] or (),
            read_only=bool(values["read_only_http"]),
            addresses=values["allow_address"] or (),
            urls=values["allow_url"] or (),
        )
    except (RuleError, ConfigError) as exc:
        raise UserError(str(exc)) from None
    return NetworkChoice("allow", rules.combine(extra))


def _note_denial(rec: RequestRecord) -> None:
    if rec.verdict != "denied":
        return
    where = f"{rec.host}:{rec.port}" if rec.port else rec.host
    reason = f": {rec.reason}" if rec.reason else ""
    click.echo(
        f"lockgate: network: refused {rec.method} {where} (rule {rec.rule}){reason}", err=True
    )


class CommandProxy:
    """The proxy for one `sandbox run`: a private socket directory, a background loop, and a
    note on stderr for every refused request. Enter it after the sandbox has started."""

    def __init__(self, rules: NetworkRules, command: list[str]) -> None:
        self._proxy = AllowListProxy(rules, asker=None, record=_note_denial)
        self._thread = ProxyThread(self._proxy)
        self._command = command
        self._dir = Path(tempfile.mkdtemp(prefix="lockgate-net-"))
        os.chmod(self._dir, 0o700)
        self.socket_path = self._dir / "proxy.sock"

    def __enter__(self) -> Path:
        text = " ".join(self._command)
        self._thread.start()
        try:
            self._thread.listen(
                self.socket_path,
                RunContext(command=text, program=program_of(text)),
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.socket_path

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._thread.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


def run_with_network(opts: Any, execute: Callable[..., int]) -> int:
    """`sandbox run` with its network options: `off` runs as before; `allow` starts the proxy,
    runs the command in proxy mode on its own socket, and stops the proxy afterwards.

    `opts` is `sandbox_cmd.RunOptions` (its `extra` holds these options); `execute` is
    `sandbox_cmd.execute`, which accepts a policy and extra `Sandbox.run` arguments."""
    choice = network_choice(dict(opts.extra))
    if choice.rules is None:
        return execute(opts)
    with CommandProxy(choice.rules, list(opts.argv)) as socket_path:
        policy = dataclasses.replace(opts.policy(), network="proxy", proxy_socket=socket_path)
        return execute(opts, policy=policy, proxy_socket=socket_path)

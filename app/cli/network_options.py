"""The network options of `lockgate sandbox run` (and of `run`, `demo`, `acp`), and the proxy
that serves one `sandbox run`.

Kept apart from the commands so each only adds a decorator. The session machinery
(`app.execute.network`) is imported when options are used, not when a command's help is shown.
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
from typing import TYPE_CHECKING, Any, TypeVar

import click

from app.cli import UserError
from app.core.config import ConfigError, load_user_config

# sandbox.net (the proxy: asyncio, TLS) is imported where a network is really set up: the
# options' help and `--network off` never pay its ~50 ms.
if TYPE_CHECKING:
    from app.execute.network import NetworkExtra, TlsSetup
    from sandbox.net import NetworkRules, RequestRecord

F = TypeVar("F", bound=Callable[..., Any])

NETWORK_HELP = (
    "Network for the command: 'off' (default: no network at all) or 'allow' (only through "
    "lockgate's proxy, under the rules given by the options below and the [network] section "
    "of the user config). No console is attached to `sandbox run`, so requests to hosts no "
    "rule allows are denied with a 403 that names the rule."
)
# The rule options every session-starting command takes (`sandbox run`, `run`, `demo`, `acp`);
# `--network` and `--allow-domain` come with `network_options` or the command's own.
_EXTRA_OPTIONS = (
    "deny_domain",
    "allow_method",
    "allow_port",
    "read_only_http",
    "preset",
    "allow_address",
    "allow_url",
    "inspect_tls",
    "no_inspect_domain",
    "upstream_ca",
)
_RULE_OPTIONS = ("allow_domain", *_EXTRA_OPTIONS)


def _rule_option_list() -> list[Callable[[F], F]]:
    return [
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
            help="Allow HTTP method M (e.g. GET); once given, other methods are refused, for "
            "plain HTTP and (TLS inspection turns on by itself) for HTTPS. Repeatable.",
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
            help="Only GET, HEAD and OPTIONS, with no body and no method-override header, for "
            "plain HTTP and (TLS inspection turns on by itself) for HTTPS.",
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
            "--allow-address",
            "allow_address",
            multiple=True,
            metavar="CIDR",
            help="Let allowed names resolve into this special range (loopback, private, "
            "link-local are refused otherwise), e.g. 10.0.0.0/8. Repeatable.",
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
            "--inspect-tls/--no-inspect-tls",
            "inspect_tls",
            default=None,
            help="Inspect HTTPS to allowed hosts with a per-session CA that only the sandbox "
            "trusts, so method, read-only and URL limits hold inside HTTPS. On by itself with "
            "--read-only-http, --allow-method or an https --allow-url; with --no-inspect-tls "
            "such limits make HTTPS tunnels fail with a 403 saying so.",
        ),
        click.option(
            "--no-inspect-domain",
            "no_inspect_domain",
            multiple=True,
            metavar="D",
            help="Never inspect HTTPS to D or *.D (clients that pin certificates): an opaque "
            "tunnel where method, read-only and URL limits cannot apply. Repeatable.",
        ),
        click.option(
            "--upstream-ca",
            "upstream_ca",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            metavar="FILE",
            help="With TLS inspection: also trust this root (PEM) for the real servers, e.g. a "
            "corporate CA; the system roots are always checked too.",
        ),
    ]


def network_options(f: F) -> F:
    """Adds --network, --allow-domain and every rule option (see `network_rule_options`) to a
    click command (`sandbox run`)."""
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
        *_rule_option_list(),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def network_rule_options(f: F) -> F:
    """Adds --deny-domain, --allow-method, --allow-port, --read-only-http, --preset,
    --allow-address, --allow-url, --inspect-tls, --no-inspect-domain and --upstream-ca to a
    command that has its own --network and --allow-domain (`run`, `demo`, `acp`). Turn them
    into `SessionOptions.network_extra` with `network_extra(params, network)`."""
    for option in reversed(_rule_option_list()):
        f = option(f)
    return f


def _extra_rules(values: dict[str, Any]) -> NetworkRules:
    from sandbox.net import NetworkRules

    return NetworkRules.build(
        deny=values.get("deny_domain") or (),
        ports=values.get("allow_port") or (),
        methods=values.get("allow_method") or (),
        read_only=bool(values.get("read_only_http")),
        addresses=values.get("allow_address") or (),
        urls=values.get("allow_url") or (),
        inspect_tls=values.get("inspect_tls"),
        no_inspect=values.get("no_inspect_domain") or (),
    )


def network_extra(
    params: dict[str, Any], network: str, needs: str = "--network allow"
) -> NetworkExtra | None:
    """The rule options (popped from `params`) → `SessionOptions.network_extra`, or None when
    none was given. Presets are given as rules here. Raises UserError (one line); `needs` says
    how the network is turned on for this command."""
    values = {k: params.pop(k, None) for k in _EXTRA_OPTIONS}
    given = [k for k, v in values.items() if v not in (None, False, ())]
    if not given:
        return None
    if network != "allow":
        raise UserError(f"--{given[0].replace('_', '-')} needs {needs}")
    from app.execute.network import NetworkExtra, session_rules
    from sandbox.net import RuleError

    try:
        rules = _extra_rules(values)
        presets = tuple(values.get("preset") or ())
        if presets:
            config = load_user_config()
            rules = session_rules(
                config.section("network"), presets=presets, where=str(config.path)
            ).combine(rules)
    except (RuleError, ConfigError) as exc:
        raise UserError(str(exc)) from None
    return NetworkExtra(rules=rules, upstream_ca=values.get("upstream_ca"))


@dataclass(frozen=True)
class NetworkChoice:
    mode: str  # "off" | "allow"
    rules: NetworkRules | None
    upstream_ca: Path | None = None


def network_choice(params: dict[str, Any]) -> NetworkChoice:
    """The network options (pops them from `params`) → what to run with. Raises UserError."""
    mode = str(params.pop("network", "off") or "off")
    values = {k: params.pop(k, None) for k in _RULE_OPTIONS}
    if mode == "off":
        given = [k for k, v in values.items() if v not in (None, False, ())]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise UserError(f"{flag} needs --network allow")
        return NetworkChoice("off", None)
    from app.execute.network import session_rules
    from sandbox.net import RuleError

    try:
        config = load_user_config()
        rules = session_rules(
            config.section("network"),
            allowed_domains=tuple(values["allow_domain"] or ()),
            presets=tuple(values["preset"] or ()),
            where=str(config.path),
        )
        extra = _extra_rules(values)
    except (RuleError, ConfigError) as exc:
        raise UserError(str(exc)) from None
    return NetworkChoice("allow", rules.combine(extra), values.get("upstream_ca"))


def _note_denial(rec: RequestRecord) -> None:
    if rec.verdict != "denied":
        return
    where = f"{rec.host}:{rec.port}" if rec.port else rec.host
    reason = f": {rec.reason}" if rec.reason else ""
    click.echo(
        f"lockgate: network: refused {rec.method} {where} (rule {rec.rule}){reason}", err=True
    )


class CommandProxy:
    """The proxy for one `sandbox run`: a private socket directory, a background loop, a note
    on stderr for every refused request, and the TLS inspection the rules need (`tls`)."""

    def __init__(
        self, rules: NetworkRules, command: list[str], upstream_ca: Path | None = None
    ) -> None:
        from app.execute.network import network_notes, open_inspection
        from sandbox.net import AllowListProxy, ProxyThread, RuleError

        try:
            self.tls: TlsSetup | None = open_inspection(rules, upstream_ca)
        except RuleError as exc:
            raise UserError(str(exc)) from None
        for note in network_notes(rules):
            if "not inspected" in note:
                click.echo(f"lockgate: {note}", err=True)
        self._proxy = AllowListProxy(
            rules,
            asker=None,
            record=_note_denial,
            inspection=self.tls.inspection if self.tls is not None else None,
        )
        self._thread = ProxyThread(self._proxy)
        self._command = command
        self._dir = Path(tempfile.mkdtemp(prefix="lockgate-net-"))
        os.chmod(self._dir, 0o700)
        self.socket_path = self._dir / "proxy.sock"

    def __enter__(self) -> Path:
        from app.execute.network import program_of
        from sandbox.net import RunContext

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
            if self.tls is not None:
                self.tls.close()


def run_with_network(opts: Any, execute: Callable[..., int]) -> int:
    """`sandbox run` with its network options: `off` runs as before; `allow` starts the proxy,
    runs the command in proxy mode on its own socket, and stops the proxy afterwards.

    `opts` is `sandbox_exec.RunOptions` (its `extra` holds these options); `execute` is
    `sandbox_exec.execute`, which accepts a policy and extra `Sandbox.run` arguments."""
    choice = network_choice(dict(opts.extra))
    if choice.rules is None:
        return execute(opts)
    proxy = CommandProxy(choice.rules, list(opts.argv), choice.upstream_ca)
    with proxy as socket_path:
        policy = dataclasses.replace(opts.policy(), network="proxy", proxy_socket=socket_path)
        if proxy.tls is None:
            return execute(opts, policy=policy, proxy_socket=socket_path)
        return execute(
            opts,
            policy=proxy.tls.with_bundle(policy),
            proxy_socket=socket_path,
            env=dict(proxy.tls.env),
        )

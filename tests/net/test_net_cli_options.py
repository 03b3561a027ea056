"""The network options of `lockgate sandbox run`, parsed into rules (no sandbox needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from app.cli import UserError
from app.cli.network_options import network_choice, network_options
from sandbox.net import RuleVerdict, canonical_host


def _params(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "network": "off",
        "allow_domain": (),
        "deny_domain": (),
        "allow_method": (),
        "allow_port": (),
        "read_only_http": False,
        "preset": (),
        "allow_address": (),
        "other": 1,
    }
    base.update(kw)
    return base


def test_off_is_the_default_and_refuses_rule_options() -> None:
    params = _params()
    assert network_choice(params).mode == "off"
    assert params == {"other": 1}  # the network options were taken out
    with pytest.raises(UserError, match="--allow-domain needs --network allow"):
        network_choice(_params(allow_domain=("a.com",)))
    with pytest.raises(UserError, match="--read-only-http needs --network allow"):
        network_choice(_params(read_only_http=True))


def test_allow_builds_rules() -> None:
    choice = network_choice(
        _params(
            network="allow",
            allow_domain=("pypi.org", "*.example.com"),
            deny_domain=("bad.example.com",),
            allow_method=("get", "HEAD"),
            allow_port=("8080",),
            read_only_http=True,
            preset=("npm",),
        )
    )
    rules = choice.rules
    assert rules is not None and choice.mode == "allow"

    def v(host: str, port: int = 443) -> RuleVerdict:
        assert rules is not None
        return rules.check_target(canonical_host(host), port).verdict

    assert v("pypi.org") is RuleVerdict.ALLOW and v("registry.npmjs.org") is RuleVerdict.ALLOW
    assert v("a.example.com", 8080) is RuleVerdict.ALLOW
    assert v("bad.example.com") is RuleVerdict.DENY
    assert v("other.org") is RuleVerdict.UNKNOWN
    assert rules.methods == frozenset({"GET", "HEAD"}) and rules.read_only


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"allow_domain": ("a.com:443",)}, "without a port"),
        ({"allow_domain": ("2130706433",)}, "numeric"),
        ({"allow_method": ("CONNECT",)}, "CONNECT"),
        ({"allow_port": ("http",)}, "not a number"),
        ({"preset": ("nope",)}, "unknown network preset"),
        ({"allow_address": ("10.0.0.0/33",)}, "CIDR"),
    ],
)
def test_bad_values_are_one_line_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        network_choice(_params(network="allow", **kw))


def test_user_config_network_section_and_presets() -> None:
    cfg = Path(os.environ["LOCKGATE_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text(
        '[network]\nallow_domains = ["always.example.org"]\n'
        '[network.presets.mine]\nallow_domains = ["mine.example.org"]\nallow_methods = ["GET"]\n'
    )
    rules = network_choice(_params(network="allow", preset=("mine",))).rules
    assert rules is not None
    names = {str(p) for p in rules.allow}
    assert {"always.example.org", "mine.example.org"} <= names
    assert rules.methods == frozenset({"GET"})
    (cfg / "config.toml").write_text('[network]\nallow_domain = ["typo.org"]\n')
    with pytest.raises(UserError, match="unknown key 'allow_domain'"):
        network_choice(_params(network="allow"))


def test_help_says_what_https_cannot_do() -> None:
    @click.command()
    @network_options
    def cmd(**params: Any) -> None:
        pass

    out = CliRunner().invoke(cmd, ["--help"], terminal_width=200).output
    for flag in (
        "--network", "--allow-domain", "--deny-domain", "--allow-method", "--allow-port",
        "--read-only-http", "--preset",
    ):  # fmt: skip
        assert flag in out
    flat = " ".join(out.split())
    assert "for HTTPS" in flat and "--inspect-tls" in flat and "--allow-url" in flat
    assert "requests to hosts no rule allows are denied" in flat


def test_rule_options_for_session_commands() -> None:
    """`run`, `demo` and `acp` take the same rule options; they become a NetworkExtra."""
    from app.cli.network_options import network_extra, network_rule_options

    seen: dict[str, Any] = {}

    @click.command()
    @network_rule_options
    def cmd(**params: Any) -> None:
        seen.update(params)

    runner = CliRunner()
    out = runner.invoke(cmd, ["--help"], terminal_width=200).output
    for flag in ("--deny-domain", "--allow-method", "--allow-port", "--read-only-http",
                 "--preset", "--allow-address", "--allow-url", "--inspect-tls",
                 "--no-inspect-domain", "--upstream-ca"):  # fmt: skip
        assert flag in out, flag
    assert "--network" not in out.replace("--network allow", "")
    result = runner.invoke(
        cmd, ["--read-only-http", "--allow-port", "8080", "--preset", "pypi", "--allow-url",
              "GET https://api.github.com/repos/ORG/*"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    params = dict(seen)
    extra = network_extra(params, "allow")
    assert params == {}
    assert extra is not None and extra.rules is not None
    assert extra.rules.read_only and 8080 in extra.rules.ports and extra.rules.inspection_wanted
    assert "pypi.org" in {str(p) for p in extra.rules.allow}
    assert network_extra({"deny_domain": ()}, "off") is None
    with pytest.raises(UserError, match="--read-only-http needs --network allow"):
        network_extra({"read_only_http": True}, "off")
    with pytest.raises(UserError, match="URL rule"):
        network_extra({"allow_url": ("GET ftp://x/",)}, "allow")

"""Rules: whole-name matching, deny wins, ports, methods, read-only, presets from config."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.net.addresses import address_refusal
from sandbox.net.host import HostError, canonical_host
from sandbox.net.rules import (
    NetworkRules,
    RuleError,
    RuleVerdict,
    preset_rules,
    rules_from_table,
)


def _v(rules: NetworkRules, host: str, port: int = 443) -> RuleVerdict:
    return rules.check_target(canonical_host(host), port).verdict


ALLOW, DENY, UNKNOWN = RuleVerdict.ALLOW, RuleVerdict.DENY, RuleVerdict.UNKNOWN


def test_exact_names_match_whole() -> None:
    r = NetworkRules.build(allow=["allowed.com"])
    assert _v(r, "allowed.com") is ALLOW
    assert _v(r, "ALLOWED.COM.") is ALLOW
    assert _v(r, "allowed.com.evil.com") is UNKNOWN
    assert _v(r, "evilallowed.com") is UNKNOWN
    assert _v(r, "www.allowed.com") is UNKNOWN
    assert _v(r, "allowed.co") is UNKNOWN


def test_wildcards_cover_names_below_only() -> None:
    r = NetworkRules.build(allow=["*.allowed.com"])
    assert _v(r, "a.allowed.com") is ALLOW
    assert _v(r, "a.b.allowed.com") is ALLOW
    assert _v(r, "allowed.com") is UNKNOWN
    assert _v(r, "evilallowed.com") is UNKNOWN
    assert _v(r, "allowed.com.evil.com") is UNKNOWN


def test_deny_wins_and_wildcard_deny_covers_bare_name() -> None:
    r = NetworkRules.build(allow=["*.example.com", "example.com"], deny=["*.example.com"])
    assert _v(r, "example.com") is DENY
    assert _v(r, "x.example.com") is DENY
    r = NetworkRules.build(allow=["*.example.com"], deny=["bad.example.com"])
    assert _v(r, "bad.example.com") is DENY
    assert _v(r, "good.example.com") is ALLOW
    m = r.check_target(canonical_host("bad.example.com"), 443)
    assert m.rule == "deny-domain bad.example.com"


def test_ports() -> None:
    r = NetworkRules.build(allow=["a.com"])
    assert _v(r, "a.com", 443) is ALLOW and _v(r, "a.com", 80) is ALLOW
    assert _v(r, "a.com", 8443) is DENY
    assert r.check_target(canonical_host("a.com"), 22).rule == "allow-port"
    r = NetworkRules.build(allow=["a.com"], ports=[8443])
    assert _v(r, "a.com", 8443) is ALLOW and _v(r, "a.com", 443) is ALLOW


def test_ip_literals_need_an_exact_rule() -> None:
    r = NetworkRules.build(allow=["*.example.com", "10.0.0.5", "[2001:db8::1]"])
    assert _v(r, "10.0.0.5") is ALLOW
    assert _v(r, "10.0.0.6") is DENY
    assert _v(r, "[2001:db8::1]") is ALLOW
    assert _v(r, "[2001:db8::2]") is DENY
    with pytest.raises(RuleError):
        NetworkRules.build(allow=["*.10.0.0.5"])
    with pytest.raises(RuleError):
        NetworkRules.build(allow=["0x0a.0.0.5"])


def test_lookalikes_need_an_exact_rule() -> None:
    r = NetworkRules.build(allow=["*.example.com"])
    assert _v(r, "xn--pple-43d.example.com") is DENY  # аpple, Cyrillic а
    assert r.check_target(canonical_host("аpple.example.com"), 443).rule == "look-alike"
    r = NetworkRules.build(allow=["аpple.com"])
    assert _v(r, "xn--pple-43d.com") is ALLOW
    with pytest.raises(RuleError, match="dotted suffix"):
        NetworkRules.build(allow=["*.com"])


def test_methods_and_read_only() -> None:
    r = NetworkRules.build(methods=["get", "HEAD"], read_only=True)
    assert r.check_request("GET", False) is None
    m = r.check_request("POST", False)
    assert m is not None and m.rule == "allow-method"
    m = r.check_request("GET", True)
    assert m is not None and m.rule == "read-only-http"
    assert NetworkRules().check_request("DELETE", True) is None
    with pytest.raises(RuleError):
        NetworkRules.build(methods=["CONNECT"])
    with pytest.raises(RuleError):
        NetworkRules.build(methods=["GE T"])


def test_combine_keeps_limits() -> None:
    a = NetworkRules.build(allow=["a.com"], methods=["GET"])
    b = NetworkRules.build(allow=["b.com"], deny=["c.com"], ports=[8080])
    c = a.combine(b)
    assert _v(c, "a.com") is ALLOW and _v(c, "b.com") is ALLOW and _v(c, "c.com") is DENY
    assert c.methods == frozenset({"GET"}) and 8080 in c.ports
    d = c.combine(NetworkRules.build(methods=["HEAD"], read_only=True))
    assert d.methods == frozenset({"GET", "HEAD"}) and d.read_only


@pytest.mark.parametrize(
    "bad", ["a.*.com", "*", "*.com:443", "example.com:443", "user@x.com", "x..com", "*.com.*"]
)
def test_bad_domain_rules(bad: str) -> None:
    with pytest.raises(RuleError):
        NetworkRules.build(allow=[bad])


def test_presets_builtin_and_user() -> None:
    r = preset_rules("pypi", {})
    assert _v(r, "pypi.org") is ALLOW and _v(r, "files.pythonhosted.org") is ALLOW
    user = {"docs": {"allow_domains": ["docs.example.org"], "allow_methods": ["GET"]}}
    r = preset_rules("docs", user)  # a user preset replaces the built-in of the same name
    assert _v(r, "docs.example.org") is ALLOW and _v(r, "docs.python.org") is UNKNOWN
    assert r.methods == frozenset({"GET"})
    with pytest.raises(RuleError, match="unknown network preset 'nope'"):
        preset_rules("nope", user)
    with pytest.raises(RuleError, match="unknown key"):
        preset_rules("x", {"x": {"allow_domain": ["typo.com"]}})
    with pytest.raises(RuleError, match="read_only"):
        rules_from_table({"read_only": "yes"}, "config")
    with pytest.raises(RuleError, match="allow_domains must be a list"):
        rules_from_table({"allow_domains": "a.com"}, "config")


def test_address_refusals() -> None:
    def refused(a: str, nets: tuple[str, ...] = ()) -> bool:
        return bool(
            address_refusal(ipaddress.ip_address(a), tuple(ipaddress.ip_network(n) for n in nets))
        )

    for a in [
        "127.0.0.1", "127.5.5.5", "10.0.0.1", "172.16.0.1", "192.168.0.1", "169.254.169.254",
        "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
        "fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:8.8.8.8", "::ffff:127.0.0.1",
        "2002:7f00:1::", "64:ff9b::7f00:1", "::127.0.0.1", "192.0.2.1", "198.18.0.1",
    ]:  # fmt: skip
        assert refused(a), a
    for a in ["8.8.8.8", "93.184.215.14", "2606:4700::1111"]:
        assert not refused(a), a
    assert not refused("127.0.0.1", ("127.0.0.0/8",))
    assert refused("127.0.0.1", ("::1/128",))
    assert not refused("10.1.2.3", ("10.0.0.0/8",))


_HOSTISH = st.text(
    alphabet=st.sampled_from(list("allowed.comALLOWEDxn-@:%.0123456789[]аοɡ\u200b\x00/\\")),
    max_size=30,
)


@given(_HOSTISH)
def test_only_the_named_host_is_allowed(text: str) -> None:
    """Whatever the spelling, an exact rule lets through exactly one canonical name."""
    rules = NetworkRules.build(allow=["allowed.com"])
    try:
        host = canonical_host(text)
    except HostError:
        return
    verdict = rules.check_target(host, 443).verdict
    assert (verdict is RuleVerdict.ALLOW) == (host.name == "allowed.com" and host.kind == "name")

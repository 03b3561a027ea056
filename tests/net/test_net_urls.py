"""URL rules (`--allow-url 'GET https://api.github.com/repos/ORG/*'`): parsing, matching, and
the proxy holding plain HTTP to them (inspected HTTPS: test_net_inspect.py)."""

from __future__ import annotations

import pytest
from netkit import ProxyFactory, UpstreamServer, exchange, loopback_rules, status_of

from sandbox.net import NetworkRules, RuleError, canonical_host, rules_from_table
from sandbox.net.rules import UrlRule


def _rules(*urls: str) -> NetworkRules:
    return NetworkRules.build(urls=urls)


def test_parse_and_describe() -> None:
    u = UrlRule.parse("get https://API.GitHub.com/repos/ORG/*")
    assert (u.method, u.scheme, u.host.name, u.port, u.path, u.prefix) == (
        "GET", "https", "api.github.com", 443, "/repos/ORG/", True
    )  # fmt: skip
    assert str(u) == "GET https://api.github.com/repos/ORG/*"
    assert UrlRule.parse("http://h.test:8080/x").method is None
    assert str(UrlRule.parse("http://h.test:8080/x")) == "* http://h.test:8080/x"
    assert 8080 in _rules("http://h.test:8080/x").ports


@pytest.mark.parametrize(
    "text",
    [
        "GET ftp://h.test/x",
        "GET https://*.h.test/x",
        "GET https://h.test/a*b",
        "GET https://h.test/a?q=1",
        "GET https://h.test/../x",
        "GET https://h.test/a%2f",
        "CONNECT https://h.test/",
        "GET POST https://h.test/",
        "GET https://u@h.test/",
    ],
)
def test_bad_url_rules_are_refused(text: str) -> None:
    with pytest.raises(RuleError):
        UrlRule.parse(text)


def test_matching_is_method_scheme_host_port_and_prefix() -> None:
    r = _rules("GET https://api.github.com/repos/ORG/*", "POST http://h.test/exact")
    gh = canonical_host("api.github.com")
    ok = r.check_url("GET", "https", gh, 443, "/repos/ORG/x/issues?page=2")
    assert ok is None
    for method, scheme, port, path in [
        ("POST", "https", 443, "/repos/ORG/x"),
        ("GET", "http", 443, "/repos/ORG/x"),
        ("GET", "https", 8443, "/repos/ORG/x"),
        ("GET", "https", 443, "/repos/ORGevil/x"),
        ("GET", "https", 443, "/repos/org/x"),
        ("GET", "https", 443, "/repos/ORG/../OTHER/x"),
        ("GET", "https", 443, "/repos/ORG/%2e%2e/OTHER"),
        ("GET", "https", 443, "/repos/ORG/..;/OTHER"),
        ("GET", "https", 443, "/repos/ORG/x%252f"),
        ("GET", "https", 443, "/repos/ORG//x"),
    ]:
        denied = r.check_url(method, scheme, gh, port, path)
        assert denied is not None and denied.rule == "allow-url", (method, scheme, port, path)
    h = canonical_host("h.test")
    assert r.check_url("POST", "http", h, 80, "/exact?x=1") is None
    assert r.check_url("POST", "http", h, 80, "/exact/more") is not None
    # a host no URL rule names is not limited by URL rules
    assert r.check_url("DELETE", "https", canonical_host("other.test"), 443, "/..") is None


def test_url_rule_allows_its_host_and_implies_inspection_for_https() -> None:
    r = _rules("GET https://api.github.com/repos/ORG/*")
    assert r.check_target(canonical_host("api.github.com"), 443).verdict == "allow"
    assert r.check_target(canonical_host("github.com"), 443).verdict == "unknown"
    assert r.inspection_wanted
    assert r.https_limits(canonical_host("api.github.com")) == "--allow-url"
    assert not _rules("GET http://h.test/x").inspection_wanted


def test_config_keys() -> None:
    r = rules_from_table(
        {
            "allow_urls": ["GET https://api.github.com/repos/ORG/*"],
            "inspect_tls": True,
            "domains": {"pinned.test": {"inspect": False}, "other.test": {"inspect": True}},
        },
        "cfg",
    )
    assert r.inspect_tls is True and len(r.urls) == 1
    assert r.inspect_exempt(canonical_host("pinned.test")) is not None
    assert r.inspect_exempt(canonical_host("other.test")) is None
    with pytest.raises(RuleError, match="inspect"):
        rules_from_table({"domains": {"x.test": {"inspect": "no"}}}, "cfg")
    with pytest.raises(RuleError, match="inspect_tls"):
        rules_from_table({"inspect_tls": 1}, "cfg")


def test_plain_http_is_held_to_url_rules(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    port = http_upstream.port
    rules = loopback_rules(
        port, allow=(), urls=(f"GET http://api.allowed.test:{port}/repos/ORG/*",)
    )
    p = make_proxy(rules)

    def get(path: str, method: str = "GET") -> bytes:
        return exchange(
            p.socket_path,
            (
                f"{method} http://api.allowed.test:{port}{path} HTTP/1.1\r\n"
                f"Host: api.allowed.test:{port}\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
        )

    before = len(http_upstream.requests)
    assert status_of(get("/repos/ORG/x")) == 200
    for path, method in [
        ("/repos/OTHER/x", "GET"),
        ("/repos/ORG/x", "POST"),
        ("/repos/ORG/../OTHER", "GET"),
        ("/repos/ORG/%2E%2E/OTHER", "GET"),
    ]:
        resp = get(path, method)
        assert status_of(resp) == 403 and b"X-Lockgate-Rule: allow-url" in resp, (path, resp)
    assert [r[1] for r in http_upstream.requests[before:]] == ["/repos/ORG/x"]
    assert [r.verdict for r in p.records] == ["allowed", "denied", "denied", "denied", "denied"]


def test_start_notes_say_what_cannot_hold() -> None:
    """A domain exempt from inspection is CONNECT-only: the session says so at start."""
    from app.execute.network import network_notes

    rules = NetworkRules.build(allow=("a.test", "pinned.test"), read_only=True,
                               no_inspect=("pinned.test",))  # fmt: skip
    notes = network_notes(rules)
    assert any("is inspected" in n for n in notes)
    (exempt,) = [n for n in notes if "pinned.test" in n]
    assert "cannot apply" in exempt
    assert network_notes(NetworkRules.build(allow=("a.test",))) == []

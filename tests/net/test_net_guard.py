"""The proxy's second look (the session's taint guard): a request the rules allow can still be
sent to the console, and a broken guard asks rather than opens."""

from __future__ import annotations

from pathlib import Path

from netkit import ProxyFactory, UpstreamServer, exchange, loopback_rules, status_of

from app.injection.taint import TaintGuard, TaintSource, TaintTracker
from sandbox.net import AskRequest, RunContext
from sandbox.net.proxy import AskAnswer


def _request(method: str, port: int) -> bytes:
    body = b"x=1" if method == "POST" else b""
    return (
        f"{method} http://allowed.test:{port}/upload HTTP/1.1\r\nHost: allowed.test:{port}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def test_guarded_requests_are_asked_even_on_an_allowed_host(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    asked: list[AskRequest] = []

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req)
        return AskAnswer.DENY

    def guard(req: AskRequest) -> str | None:
        return "tainted" if req.method == "POST" else None

    px = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    px.proxy.set_guard(guard)
    port = http_upstream.port
    assert status_of(exchange(px.socket_path, _request("GET", port))) == 200
    assert not asked
    response = exchange(px.socket_path, _request("POST", port))
    assert status_of(response) == 403
    assert [(a.host, a.method) for a in asked] == [("allowed.test", "POST")]


def test_a_broken_guard_asks(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    asked: list[AskRequest] = []

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req)
        return AskAnswer.DENY

    def guard(req: AskRequest) -> str | None:
        raise RuntimeError("bug")

    px = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    px.proxy.set_guard(guard)
    assert status_of(exchange(px.socket_path, _request("GET", http_upstream.port))) == 403
    assert len(asked) == 1


def test_taint_guard(tmp_path: Path) -> None:
    tracker = TaintTracker(tmp_path)
    human = {"cmd-reviewed"}
    guard = TaintGuard(tracker, lambda action_id: action_id in human)

    def req(method: str, action_id: str) -> AskRequest:
        return AskRequest("docs.python.org", 443, method, "https", RunContext(action_id=action_id))

    assert guard(req("POST", "cmd-auto")) is None  # clean session
    tracker.mark(TaintSource("cmd-x", "turn 1", "network", "https://evil.example/page", 0.0))
    assert guard(req("POST", "cmd-auto")) is not None
    assert guard(req("CONNECT", "cmd-auto")) is not None
    assert guard(req("GET", "cmd-auto")) is None
    assert guard(req("POST", "cmd-reviewed")) is None

"""The proxy inside a session: asks go through the real Pipeline, records into the real audit
log, verdicts for the session become proxy rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from netkit import ProxyFactory, RecordingResolver, UpstreamServer, loopback_rules, status_of

from app.core.audit import AuditLog
from app.core.events import ActionStateChanged, PipelineEvent
from app.core.model import (
    Action,
    Assessment,
    CommandAction,
    Decision,
    DecisionKind,
    Level,
    NetworkAction,
    PatchAction,
    Result,
    Verdict,
    VerdictKind,
)
from app.core.pipeline import ActionState, Pipeline
from app.core.ports import OutputSink, PatchReview, SessionContext
from app.execute.network import NetworkGate, PipelineAsker, answer_for, program_of, session_rules
from sandbox.net import AskAnswer, RuleError


class _Risk:
    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        return Assessment(score=20, level=Level.LOW)


class _Policy:
    """Network: hosts in `allow` are allowed by policy, others asked."""

    def __init__(self, allow: tuple[str, ...] = ()) -> None:
        self.allow = allow
        self.remembered: list[Verdict] = []

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        if isinstance(action, NetworkAction) and action.host in self.allow:
            return Decision(DecisionKind.ALLOW, rule="test:net-allow")
        return Decision(DecisionKind.ASK, rule="test:ask")

    def remember(self, action: Action, verdict: Verdict) -> None:
        self.remembered.append(verdict)


class _NoCommands:
    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        raise AssertionError("no command runs in these tests")


class _NoPatches:
    def review(self, action: PatchAction) -> PatchReview:
        raise AssertionError("no patch in these tests")

    async def apply(self, action: PatchAction, review: PatchReview) -> Result:
        raise AssertionError("no patch in these tests")

    async def undo_last(self) -> Result:
        raise AssertionError("no patch in these tests")


class _Reviewer:
    """Answers every waiting network action with `kind`, as a person at the console would."""

    def __init__(self, pipeline: Pipeline, kind: VerdictKind | None) -> None:
        self.pipeline = pipeline
        self.kind = kind
        self.seen: list[NetworkAction] = []

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
            action = self.pipeline.view(event.action_id).action
            assert isinstance(action, NetworkAction)
            self.seen.append(action)
            if self.kind is not None:
                kind = self.kind
                loop = asyncio.get_running_loop()
                loop.call_soon(
                    lambda: self.pipeline.submit_verdict(Verdict(action.id, kind, key="k"))
                )


def _pipeline(
    workspace: Path,
    audit: AuditLog | None = None,
    *,
    headless: bool = False,
    policy: _Policy | None = None,
) -> Pipeline:
    return Pipeline(
        context=SessionContext(workspace=workspace, network="allow", headless=headless),
        risk=_Risk(),
        policy=policy or _Policy(),
        commands=_NoCommands(),
        patches=_NoPatches(),
        audit=audit,
    )


async def _get(path: Path, host: str, port: int) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(f"GET http://{host}:{port}/a HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


def _gate(pipeline: Pipeline, audit: AuditLog | None, port: int, **kw: float) -> NetworkGate:
    return NetworkGate(
        loopback_rules(port),
        pipeline=pipeline,
        audit=audit,
        resolver=RecordingResolver(),
        **kw,
    )


def _action(command: str = "pip install requests") -> CommandAction:
    return CommandAction(command=command, turn_id="turn-1")


async def test_reviewer_allows_for_session_and_audit_records_it(
    workspace: Path, tmp_path: Path, http_upstream: UpstreamServer
) -> None:
    audit = AuditLog.create(workspace, path=tmp_path / "audit.jsonl")
    pipeline = _pipeline(workspace, audit)
    reviewer = _Reviewer(pipeline, VerdictKind.APPROVE_SESSION)
    pipeline.add_observer(reviewer)
    gate = _gate(pipeline, audit, http_upstream.port)
    cmd = _action()
    try:
        async with gate.socket_for(cmd) as sock:
            assert status_of(await _get(sock, "other.test", http_upstream.port)) == 200
            assert status_of(await _get(sock, "other.test", http_upstream.port)) == 200
    finally:
        await gate.close()
    assert len(reviewer.seen) == 1  # the session verdict became a rule: asked once
    asked = reviewer.seen[0]
    assert (asked.host, asked.port, asked.method, asked.scheme) == (
        "other.test", http_upstream.port, "GET", "http"
    )  # fmt: skip
    assert asked.program == "pip" and asked.parent_action_id == cmd.id
    assert asked.turn_id == "turn-1"
    assert pipeline.view(asked.id).state is ActionState.DONE
    audit.close()
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    net = [r["data"] for r in lines if r["kind"] == "network"]
    assert len(net) == 2
    assert net[0]["command"] == "pip install requests" and net[0]["allowed"] is True
    assert net[0]["rule"] == "ask:session" and net[1]["rule"] == "allow-domain other.test"
    assert net[0]["parent_action_id"] == cmd.id
    assert net[0]["bytes_down"] > 0 and net[0]["bytes_up"] > 0
    assert any(r["kind"] == "verdict" for r in lines)


async def test_reviewer_denies(workspace: Path, http_upstream: UpstreamServer) -> None:
    pipeline = _pipeline(workspace)
    pipeline.add_observer(_Reviewer(pipeline, VerdictKind.DENY))
    gate = _gate(pipeline, None, http_upstream.port)
    try:
        async with gate.socket_for(_action("curl http://other.test")) as sock:
            resp = await _get(sock, "other.test", http_upstream.port)
    finally:
        await gate.close()
    assert status_of(resp) == 403 and b"rule: ask:deny" in resp


async def test_headless_denies_without_asking(
    workspace: Path, http_upstream: UpstreamServer
) -> None:
    pipeline = _pipeline(workspace, headless=True)
    reviewer = _Reviewer(pipeline, VerdictKind.APPROVE)
    pipeline.add_observer(reviewer)
    gate = _gate(pipeline, None, http_upstream.port)
    try:
        async with gate.socket_for(_action()) as sock:
            resp = await _get(sock, "other.test", http_upstream.port)
    finally:
        await gate.close()
    assert status_of(resp) == 403 and reviewer.seen == []


async def test_nobody_answers_then_timeout_denies(
    workspace: Path, http_upstream: UpstreamServer
) -> None:
    pipeline = _pipeline(workspace)
    reviewer = _Reviewer(pipeline, None)
    pipeline.add_observer(reviewer)
    gate = _gate(pipeline, None, http_upstream.port, ask_timeout_s=0.3)
    try:
        async with gate.socket_for(_action()) as sock:
            resp = await asyncio.wait_for(_get(sock, "other.test", http_upstream.port), 10)
    finally:
        await gate.close()
    assert status_of(resp) == 403 and len(reviewer.seen) == 1
    assert pipeline.view(reviewer.seen[0].id).state is ActionState.DENIED


async def test_policy_allow_holds_for_the_session(
    workspace: Path, http_upstream: UpstreamServer
) -> None:
    policy = _Policy(allow=("other.test",))
    pipeline = _pipeline(workspace, policy=policy)
    gate = _gate(pipeline, None, http_upstream.port)
    try:
        async with gate.socket_for(_action()) as sock:
            for _ in range(3):
                assert status_of(await _get(sock, "other.test", http_upstream.port)) == 200
    finally:
        await gate.close()
    assert len([v for v in pipeline.views() if isinstance(v.action, NetworkAction)]) == 1


async def test_asker_across_threads(
    workspace: Path, make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    """The CLI shape: the proxy on its own thread's loop, the pipeline on this one."""
    pipeline = _pipeline(workspace)
    reviewer = _Reviewer(pipeline, VerdictKind.APPROVE)
    pipeline.add_observer(reviewer)
    asker = PipelineAsker(pipeline, loop=asyncio.get_running_loop())
    p = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    reader, writer = await asyncio.open_unix_connection(str(p.socket_path))
    port = http_upstream.port
    writer.write(
        f"GET http://other.test:{port}/ HTTP/1.1\r\nHost: other.test:{port}\r\n\r\n".encode()
    )
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert status_of(data) == 200 and len(reviewer.seen) == 1


def test_answer_mapping() -> None:
    def v(kind: VerdictKind, by: str = "human") -> Verdict:
        return Verdict("net-1", kind, by=by)  # type: ignore[arg-type]

    assert answer_for(v(VerdictKind.APPROVE)) is AskAnswer.ONCE
    assert answer_for(v(VerdictKind.APPROVE, "policy")) is AskAnswer.SESSION
    assert answer_for(v(VerdictKind.APPROVE_SESSION)) is AskAnswer.SESSION
    assert answer_for(v(VerdictKind.APPROVE_ALWAYS)) is AskAnswer.ALWAYS
    assert answer_for(v(VerdictKind.EDIT)) is AskAnswer.DENY
    assert answer_for(v(VerdictKind.DENY)) is AskAnswer.DENY
    assert answer_for(v(VerdictKind.DENY_FEEDBACK)) is AskAnswer.DENY


@pytest.mark.parametrize(
    "command,program",
    [
        ("pip install x", "pip"),
        ("PIP_INDEX_URL=x /usr/bin/python3 -m pip install y", "python3"),
        ("env A=1 curl https://x", "curl"),
        ("'unbalanced", "'unbalanced"),
        ("", ""),
    ],
)
def test_program_of(command: str, program: str) -> None:
    assert program_of(command) == program


def test_session_rules_from_config() -> None:
    section = {
        "allow_domains": ["a.example.com"],
        "deny_domains": ["*.bad.example"],
        "presets": {"mine": {"allow_domains": ["b.example.com"], "read_only": True}},
    }
    rules = session_rules(section, allowed_domains=("c.example.com",), presets=("mine", "pypi"))
    names = {str(p) for p in rules.allow}
    assert {"a.example.com", "b.example.com", "c.example.com", "pypi.org"} <= names
    assert rules.read_only and {str(p) for p in rules.deny} == {"*.bad.example"}
    with pytest.raises(RuleError, match="unknown network preset"):
        session_rules(section, presets=("nope",))
    with pytest.raises(RuleError, match="presets"):
        session_rules({"presets": ["x"]})

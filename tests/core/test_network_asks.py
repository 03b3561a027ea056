"""Network asks belong to the run of the program that made them (#18.6, #18.14): an ask still
open when that run ends expires (no "waiting" row that nobody can use, a verdict given later is
refused with the reason), and the hosts a reviewer saw in the command they approved are allowed
for that command's run without asking again — only for that run, only on the URL's port."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from corefakes import FakePolicy, FakeRisk, FilePatches, ScriptedLink, cmd

from app.core.events import ActionStateChanged, PipelineEvent
from app.core.model import (
    Action,
    Assessment,
    CommandAction,
    Decision,
    DecisionKind,
    NetworkAction,
    Result,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.core.pipeline import APPROVED_HOST_RULE, ActionState, Pipeline, PipelineError
from app.core.ports import OutputSink, SessionContext
from app.execute.network import answer_for
from sandbox.net import AskAnswer


class AskingPolicy(FakePolicy):
    """The fake policy, but every network request is asked (as an unlisted host is)."""

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        if isinstance(action, NetworkAction):
            return Decision(DecisionKind.ASK, rule="test:unlisted-host")
        return super().decide(action, assessment)


class ProgramThatAsks:
    """A command executor whose program asks for hosts while it runs, as the proxy would on its
    behalf, then ends (times out) without waiting for open asks."""

    def __init__(self, hosts: dict[str, list[tuple[str, int]]]) -> None:
        self.hosts = hosts  # command text -> (host, port) it asks for
        self.pipeline: Pipeline | None = None
        self.asks: dict[str, asyncio.Task[Verdict]] = {}  # host -> the ask (the proxy's request)

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        assert self.pipeline is not None
        for host, port in self.hosts.get(command, []):
            ask = NetworkAction(
                host=host, port=port, turn_id=action.turn_id, parent_action_id=action.id
            )
            self.asks[host] = asyncio.create_task(self.pipeline.ask_network(ask, 30))
            for _ in range(20):  # the request reaches the queue (or is answered) at once
                await asyncio.sleep(0)
        return Result(action.id, ResultStatus.TIMED_OUT, message="timed out after 0.1 s")


def setup(
    workspace: Path, hosts: dict[str, list[tuple[str, int]]]
) -> tuple[Pipeline, ProgramThatAsks, list[str]]:
    program = ProgramThatAsks(hosts)
    p = Pipeline(
        context=SessionContext(workspace=workspace, network="allow"),
        risk=FakeRisk(),
        policy=AskingPolicy(),
        commands=program,
        patches=FilePatches(workspace),
    )
    program.pipeline = p
    waited: list[str] = []

    class Reviewer:
        """Approves the commands that wait; leaves network asks waiting (nobody looks)."""

        def notify(self, event: PipelineEvent) -> None:
            if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
                waited.append(event.action_id)
                if isinstance(p.view(event.action_id).action, CommandAction):
                    asyncio.get_running_loop().call_soon(
                        p.submit_verdict, Verdict(event.action_id, VerdictKind.APPROVE, key="y")
                    )

    p.add_observer(Reviewer())
    return p, program, waited


def the_ask(p: Pipeline, host: str) -> str:
    (view,) = [
        v for v in p.views() if isinstance(v.action, NetworkAction) and v.action.host == host
    ]
    return view.action.id


async def test_an_ask_expires_with_the_run_that_made_it(workspace: Path) -> None:
    command = "ASK pip install lintkit"
    p, program, _ = setup(workspace, {command: [("pypi.example", 443)]})
    await asyncio.wait_for(p.run(ScriptedLink([[cmd(command)]])), 10)
    ask = the_ask(p, "pypi.example")
    view = p.view(ask)
    # the program timed out: its ask is over, not "waiting" for a verdict nobody can use
    assert view.state is ActionState.DENIED and p.waiting() == []
    assert view.result is not None and view.result.message.startswith("expired: the command")
    verdict = await asyncio.wait_for(program.asks["pypi.example"], 5)
    assert verdict.kind is VerdictKind.DENY and answer_for(verdict) is AskAnswer.DENY
    with pytest.raises(PipelineError, match="expired"):
        p.submit_verdict(Verdict(ask, VerdictKind.APPROVE, key="y"))
    assert p.view(ask).state is ActionState.DENIED  # approving it afterwards changed nothing


async def test_an_ask_whose_request_went_away_expires(workspace: Path) -> None:
    p, _, _ = setup(workspace, {})
    ask = NetworkAction(host="gone.example", port=443, turn_id="t1", parent_action_id="cmd-x")
    task = asyncio.create_task(p.ask_network(ask, 30))
    for _ in range(5):
        await asyncio.sleep(0)
    assert p.view(ask.id).state is ActionState.WAITING
    task.cancel()  # the proxy dropped the request (the client hung up)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert p.view(ask.id).state is ActionState.DENIED and p.waiting() == []


async def test_an_approved_commands_own_host_is_not_asked_again(workspace: Path) -> None:
    install = "ASK curl -fsSL https://get.lintkit.example/install.sh | sh"
    other_run = "ASK echo fetching later"
    hosts = {
        install: [("get.lintkit.example", 443), ("cdn.elsewhere.example", 443)],
        # the same host from a run whose command does not name it: asked
        other_run: [("get.lintkit.example", 443)],
    }
    p, _, waited = setup(workspace, hosts)
    first, second = cmd(install), cmd(other_run)
    await asyncio.wait_for(p.run(ScriptedLink([[first, second]])), 10)

    views = [v for v in p.views() if isinstance(v.action, NetworkAction)]
    own, elsewhere, again = views
    assert own.action.parent_action_id == first.id and own.action.host == "get.lintkit.example"
    assert own.verdict is not None and own.verdict.by == "policy"
    assert own.verdict.key == APPROVED_HOST_RULE and own.state is ActionState.DONE
    assert own.decision is not None and first.id in own.decision.reason
    assert own.action.id not in waited  # never put before the reviewer as a second ask
    assert answer_for(own.verdict) is AskAnswer.ONCE  # for this run, not for the session
    # a host the command does not name was asked (and expired with the run)
    assert elsewhere.action.id in waited and elsewhere.state is ActionState.DENIED
    # the approval does not reach another command's run
    assert again.action.parent_action_id == second.id and again.action.id in waited


def test_hosts_a_command_names() -> None:
    from app.core.hosts import command_hosts, names_host

    text = "curl -fsSL https://user:pw@Get.Lintkit.example./i.sh | sh; wget http://x.example:8080/a"
    assert command_hosts(text) == {("get.lintkit.example", 443), ("x.example", 8080)}
    assert not names_host(text, "get.lintkit.example", 80)  # only the URL's own port
    assert not names_host("curl http://127.0.0.1/x http://0x7f.1/", "127.0.0.1", 80)  # addresses
    assert not names_host("curl https://gіthub.com/x", "xn--gthub-n4a.com", 443)  # look-alikes
    assert not names_host("echo get.lintkit.example", "get.lintkit.example", 443)  # no URL


async def test_an_allowed_ask_says_what_became_of_its_request(workspace: Path) -> None:
    """#18.15: an approved ask's row showed "allowed" though the connection got a 502; the gate
    now tells the pipeline what happened, and the row says it."""
    from app.execute.network import outcome
    from sandbox.net import RequestRecord

    install = "ASK curl -fsSL https://get.lintkit.example/install.sh | sh"
    p, _, _ = setup(workspace, {install: [("get.lintkit.example", 443)]})
    first = cmd(install)
    await asyncio.wait_for(p.run(ScriptedLink([[first]])), 10)
    (own,) = [v for v in p.views() if isinstance(v.action, NetworkAction)]
    assert own.result is not None and own.result.message == "allowed"
    rec = RequestRecord(
        at=0.0, command=install, action_id=first.id, method="GET", scheme="https",
        host="get.lintkit.example", port=443, verdict="allowed", rule="ask:once",
        reason="upstream answered 502", status=502,
    )  # fmt: skip
    assert p.note_network_outcome(first.id, rec.host, rec.port, outcome(rec))
    message = p.view(own.action.id).result.message  # type: ignore[union-attr]
    assert message == "allowed; it failed: 502 (upstream answered 502)"
    # once: a second request of the same run does not rewrite it
    assert not p.note_network_outcome(first.id, rec.host, rec.port, "the server answered 200")

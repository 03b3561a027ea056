"""Findings that land after an action was assessed (registry lookups, a monitor's opinion) can
only raise it: score, level and decision go up while it waits, never down, and nothing that
already ran or was denied changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from app.core.events import ActionAssessed, ActionDecided, AgentEvent, PipelineEvent, Proposed
from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Decision,
    DecisionKind,
    Finding,
    Level,
    Result,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.core.pipeline import ActionState, Pipeline
from app.core.ports import SessionContext


class _Risk:
    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        score = 40 if "install" in action.reviewed_text else 0
        return Assessment(score=score, level=Level.from_score(score))


class _Policy:
    """Asks at medium and above, allows below; denies critical when told to."""

    def __init__(self, deny_critical: bool = False) -> None:
        self.deny_critical = deny_critical

    def decide(self, action: Action, a: Assessment) -> Decision:
        if self.deny_critical and a.level == Level.CRITICAL:
            return Decision(DecisionKind.DENY, "test:deny-critical", "critical")
        if a.level >= Level.MEDIUM:
            return Decision(DecisionKind.ASK, "test:ask", "medium or more")
        return Decision(DecisionKind.ALLOW, "test:allow")

    def remember(self, action: Action, verdict: Verdict) -> None:
        pass


class _Commands:
    async def run(self, action: CommandAction, command: str, on_output: object) -> Result:
        return Result(action.id, ResultStatus.COMPLETED, exit_code=0, ran=command)


class _Patches:
    def review(self, action: object) -> object:
        raise AssertionError("no patches here")

    async def apply(self, action: object, review: object) -> Result:
        raise AssertionError("no patches here")

    async def undo_last(self) -> Result:
        raise AssertionError("no patches here")


class _OneTurn:
    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions

    async def _events(self) -> AsyncIterator[AgentEvent]:
        for a in self.actions:
            yield Proposed(a)
        await asyncio.sleep(3600)  # the test drives the rest

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._events()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        pass

    async def cancel(self) -> None:
        pass


async def _pipeline(
    tmp_path: Path, *actions: Action, deny_critical: bool = False
) -> tuple[Pipeline, list[PipelineEvent], asyncio.Task[None]]:
    events: list[PipelineEvent] = []

    class Collect:
        def notify(self, event: PipelineEvent) -> None:
            events.append(event)

    p = Pipeline(
        context=SessionContext(workspace=tmp_path),
        risk=_Risk(),
        policy=_Policy(deny_critical),
        commands=_Commands(),
        patches=_Patches(),  # type: ignore[arg-type]
        observers=[Collect()],
    )
    task = asyncio.create_task(p.run(_OneTurn(list(actions))))
    for _ in range(50):
        await asyncio.sleep(0)
    return p, events, task


def _critical(reason: str) -> Finding:
    return Finding(Category.SUPPLY_CHAIN, 95, reason)


async def test_a_waiting_action_is_raised_to_critical_and_says_why(tmp_path: Path) -> None:
    install = CommandAction("pip install lockgate-helperz", "t1")
    p, events, task = await _pipeline(tmp_path, install)
    assert p.view(install.id).state is ActionState.WAITING
    assert p.add_findings(
        install.id, [_critical("no package named lockgate-helperz on PyPI")], source="deps"
    )
    view = p.view(install.id)
    assert view.state is ActionState.WAITING
    assert view.assessment is not None and view.assessment.level is Level.CRITICAL
    assert "no package named lockgate-helperz on PyPI" in view.assessment.reasons
    assert [type(e) for e in events if isinstance(e, ActionAssessed | ActionDecided)][-2:] == [
        ActionAssessed,
        ActionDecided,
    ]
    task.cancel()


async def test_a_late_deny_settles_the_action(tmp_path: Path) -> None:
    install = CommandAction("pip install lockgate-helperz", "t1")
    p, _, task = await _pipeline(tmp_path, install, deny_critical=True)
    p.add_findings(install.id, [_critical("quarantined on PyPI")], source="deps")
    view = p.view(install.id)
    assert view.state is ActionState.DENIED
    assert view.result is not None and "quarantined" in view.result.message + view.result.feedback
    task.cancel()


async def test_findings_never_lower_and_never_touch_what_already_ran(tmp_path: Path) -> None:
    ls = CommandAction("ls", "t1")
    p, _, task = await _pipeline(tmp_path, ls)
    for _ in range(50):
        await asyncio.sleep(0)
    before = p.view(ls.id)
    assert before.verdict is not None and before.verdict.kind is VerdictKind.APPROVE
    changed = p.add_findings(ls.id, [Finding(Category.NETWORK, 5, "a low note")], source="monitor")
    after = p.view(ls.id)
    assert not changed
    assert after.verdict == before.verdict and after.state == before.state
    assert after.assessment is not None
    assert "a low note" in after.assessment.reasons
    lower = p.add_findings(ls.id, [Finding(Category.NETWORK, 1, "lower")], source="monitor")
    assert not lower and p.view(ls.id).assessment.score == after.assessment.score  # type: ignore[union-attr]
    task.cancel()


async def test_the_same_finding_twice_changes_nothing(tmp_path: Path) -> None:
    install = CommandAction("pip install lockgate-helperz", "t1")
    p, events, task = await _pipeline(tmp_path, install)
    finding = _critical("no package named lockgate-helperz on PyPI")
    assert p.add_findings(install.id, [finding], source="deps")
    n = len(events)
    assert not p.add_findings(install.id, [finding, finding], source="deps")
    assert len(events) == n
    assert p.view(install.id).assessment.findings.count(finding) == 1  # type: ignore[union-attr]
    task.cancel()

"""Registry checks inside a review session, with the real risk engine and policy and a fake
registry on loopback: the item appears at once, is held while the registry is asked, and its
assessment moves when the answer lands; headless sessions wait for the answer and deny."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from fake_registry import FakeRegistry, serve

from app.core.events import AgentEvent, Proposed
from app.core.model import CommandAction, DecisionKind, Level, PatchAction, Result, ResultStatus
from app.core.pipeline import ActionState, Pipeline, PipelineError
from app.core.ports import SessionContext
from app.deps.check import Cache, DepsChecker
from app.deps.indexes import Indexes
from app.deps.policy import DepsPolicy
from app.risk.engine import RiskEngine
from app.risk.policy import load_policy


@pytest.fixture
def reg() -> Iterator[FakeRegistry]:
    with serve() as r:
        yield r


class _Link:
    def __init__(self, *actions: CommandAction | PatchAction) -> None:
        self.actions = actions

    async def _events(self) -> AsyncIterator[AgentEvent]:
        for a in self.actions:
            yield Proposed(a)
        await asyncio.sleep(3600)

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._events()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        pass

    async def cancel(self) -> None:
        pass


class _NoRun:
    async def run(self, action: CommandAction, command: str, on_output: object) -> Result:
        return Result(action.id, ResultStatus.COMPLETED, exit_code=0, ran=command)


def _session(
    ws: Path, reg: FakeRegistry, tmp: Path, *, headless: bool
) -> tuple[Pipeline, DepsPolicy]:
    engine = RiskEngine()
    inner = load_policy(ws, engine=engine, headless=headless)
    indexes = Indexes(registries={"pypi": reg.url("pypi") + "simple/", "npm": reg.url("npm")})
    deps = DepsPolicy(inner, DepsChecker(indexes, Cache(tmp / "cache")), headless=headless)
    from app.execute.patches import WorkspacePatchExecutor

    p = Pipeline(
        context=SessionContext(workspace=ws, headless=headless),
        risk=engine,
        policy=deps,
        commands=_NoRun(),
        patches=WorkspacePatchExecutor(ws, ask_for_protected=not headless),
    )
    deps.attach(p)
    return p, deps


async def _settle(p: Pipeline, action_id: str, until: object, timeout: float = 5.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < end:
        with contextlib.suppress(PipelineError):  # not proposed yet
            if until(p.view(action_id)):  # type: ignore[operator]
                return
        await asyncio.sleep(0.02)
    raise AssertionError(p.view(action_id))


async def test_held_while_checking_then_the_registry_answer_raises_it(
    reg: FakeRegistry, tmp_path: Path, workspace: Path
) -> None:
    p, _ = _session(workspace, reg, tmp_path, headless=False)
    install = CommandAction("pip install brandnew", "t1")
    task = asyncio.create_task(p.run(_Link(install)))
    await _settle(p, install.id, lambda v: v.decision is not None)
    first = p.view(install.id)
    assert first.state is ActionState.WAITING
    assert first.decision is not None and first.decision.kind is DecisionKind.ASK
    await _settle(
        p,
        install.id,
        lambda v: any("first appeared on PyPI 3 days ago" in r for r in v.assessment.reasons),
    )
    after = p.view(install.id)
    assert after.assessment is not None and after.assessment.level >= Level.HIGH
    assert after.state is ActionState.WAITING
    assert "first appeared on PyPI" in after.decision.reason  # type: ignore[union-attr]
    task.cancel()


async def test_a_patch_adding_a_missing_dependency_is_raised_to_critical(
    reg: FakeRegistry, tmp_path: Path, workspace: Path
) -> None:
    (workspace / "requirements.txt").write_text("flask==3.0\n")
    p, _ = _session(workspace, reg, tmp_path, headless=False)
    patch = PatchAction(
        "*** Begin Patch\n*** Update File: requirements.txt\n@@\n flask==3.0\n"
        "+lockgate-helperz==0.1\n*** End Patch\n",
        "t1",
    )
    task = asyncio.create_task(p.run(_Link(patch)))
    await _settle(
        p, patch.id, lambda v: v.assessment is not None and v.assessment.level is Level.CRITICAL
    )
    view = p.view(patch.id)
    assert any("no package named lockgate-helperz on PyPI" in r for r in view.assessment.reasons)  # type: ignore[union-attr]
    assert view.state is ActionState.WAITING
    assert "/pypi/simple/lockgate-helperz/" in reg.requests
    task.cancel()


async def test_headless_waits_for_the_answer_and_denies(
    reg: FakeRegistry, tmp_path: Path, workspace: Path
) -> None:
    p, _ = _session(workspace, reg, tmp_path, headless=True)
    install = CommandAction("pip install badpkg", "t1")
    task = asyncio.create_task(p.run(_Link(install)))
    await _settle(p, install.id, lambda v: v.result is not None)
    view = p.view(install.id)
    assert view.state is ActionState.DENIED
    assert "quarantined on PyPI" in view.result.message  # type: ignore[union-attr]
    task.cancel()


async def test_popular_installs_never_ask_a_registry(
    reg: FakeRegistry, tmp_path: Path, workspace: Path
) -> None:
    p, _ = _session(workspace, reg, tmp_path, headless=False)
    install = CommandAction("pip install requests flask", "t1")
    task = asyncio.create_task(p.run(_Link(install)))
    await _settle(p, install.id, lambda v: v.decision is not None)
    await asyncio.sleep(0.1)
    assert reg.requests == []
    assert p.view(install.id).decision.rule != "deps:checking"  # type: ignore[union-attr]
    task.cancel()


async def test_the_answer_is_handed_over_once(
    reg: FakeRegistry, tmp_path: Path, workspace: Path
) -> None:
    """Late findings make the pipeline decide again; that must not hand the answer over again
    (it once did, thousands of times a second)."""
    p, _ = _session(workspace, reg, tmp_path, headless=False)
    calls: list[str] = []
    real = p.add_findings

    def counting(action_id: str, findings: Sequence[object], *, source: str) -> bool:
        calls.append(action_id)
        return real(action_id, findings, source=source)  # type: ignore[arg-type]

    p.add_findings = counting  # type: ignore[method-assign]
    install = CommandAction("pip install brandnew", "t1")
    task = asyncio.create_task(p.run(_Link(install)))
    await _settle(p, install.id, lambda v: len(v.assessment.findings) > 1)
    await asyncio.sleep(0.3)
    assert calls == [install.id]
    reasons = p.view(install.id).assessment.reasons  # type: ignore[union-attr]
    assert len(reasons) == len(set(reasons))
    assert sum("first appeared" in r for r in reasons) == 1
    task.cancel()

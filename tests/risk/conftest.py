"""Fixtures for the risk engine tests: a workspace nested a few levels inside tmp (so its
neighbours are "outside the workspace", not "temporary files"), an engine, and the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from riskkit import Judge

from app.core.model import Assessment, CommandAction, Decision, PatchAction
from app.core.ports import SessionContext
from app.risk.engine import RiskEngine
from app.risk.policy import Policy, load_policy


@pytest.fixture(scope="session")
def engine() -> RiskEngine:
    return RiskEngine(warm=False)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    w = tmp_path / "home" / "dev" / "project"
    w.mkdir(parents=True)
    return w


@pytest.fixture
def ctx(ws: Path) -> SessionContext:
    return SessionContext(workspace=ws)


@pytest.fixture
def policy(ws: Path, engine: RiskEngine) -> Policy:
    return load_policy(ws, engine=engine)


@pytest.fixture
def judge(engine: RiskEngine, ctx: SessionContext, policy: Policy) -> Judge:
    def run(text: str) -> tuple[Assessment, Decision]:
        action: CommandAction | PatchAction
        if text.startswith(("*** Begin Patch", "--- ", "diff --git")):
            action = PatchAction(text, "t")
        else:
            action = CommandAction(text, "t")
        a = engine.assess(action, ctx)
        return a, policy.decide(action, a)

    return run

"""The ACP link in the real console (Pilot): the reviewer answers a permission request with
feedback and denies a terminal command; the agent gets reject_once, an error, and the feedback
as its next user message. And an unjailed agent is shown as a weaker mode for the whole session."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from acpkit import AGENT, results
from textual.pilot import Pilot

from app.cli.acp_cmd import AcpRun, open_acp
from app.core.events import AgentEventSeen, AgentText, PipelineEvent
from app.ui.app import LockgateApp
from app.ui.screens.dialogs import FeedbackScreen
from app.ui.screens.main import SETTLE_S, MainScreen
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.header import ConsoleHeader
from app.ui.widgets.queue import QueueList

pytestmark = pytest.mark.sandbox


@dataclass
class Prose:
    text: list[str] = field(default_factory=list)

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, AgentEventSeen) and isinstance(event.event, AgentText):
            self.text.append(event.event.text)

    @property
    def results(self) -> dict[str, str]:
        return results("".join(self.text))


@dataclass
class Console:
    app: LockgateApp
    pilot: Pilot[int]
    run: AcpRun
    prose: Prose

    async def until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            if loop.time() > end:
                raise AssertionError("condition not reached")
            await self.pilot.pause(0.02)

    def waiting(self) -> list[str]:
        return [v.action.id for v in self.run.session.pipeline.waiting()]

    async def select(self, action_id: str) -> None:
        main = self.app.screen
        assert isinstance(main, MainScreen)
        queue = main.query_one(QueueList)
        await self.until(lambda: queue.index_of(action_id) is not None)
        queue.highlighted = queue.index_of(action_id)
        await self.until(lambda: main.query_one(DetailPane).shown_id == action_id)
        await self.pilot.pause(SETTLE_S + 0.1)


@asynccontextmanager
async def console(
    ws: Path, scenario: str, *params: str, unjailed: bool = False
) -> AsyncIterator[Console]:
    argv = [sys.executable, str(AGENT), scenario, *params]
    run = open_acp(ws, argv, prompt="go", unjailed=unjailed)
    prose = Prose()
    run.session.pipeline.add_observer(prose)
    try:
        app = LockgateApp(run.view, run.link, watch_files=False)
        async with app.run_test(size=(160, 50)) as pilot:
            c = Console(app, pilot, run, prose)
            await c.until(lambda: isinstance(app.screen, MainScreen))
            yield c
    finally:
        run.close()


@pytest.mark.timeout(90)
async def test_feedback_and_denial_in_the_console_reach_the_agent(gitws: Path) -> None:
    async with console(gitws, "console") as c:
        await c.until(lambda: len(c.waiting()) == 1)
        (perm,) = c.waiting()
        await c.select(perm)
        await c.pilot.press("f")
        await c.until(lambda: isinstance(c.app.screen, FeedbackScreen))
        await c.pilot.press(*"push to a branch instead", "enter")
        await c.until(lambda: "permission" in c.prose.results)
        assert c.prose.results["permission"] == "no"  # reject_once
        await c.until(lambda: len(c.waiting()) == 1)
        (curl,) = c.waiting()
        await c.select(curl)
        await c.pilot.press("n")
        await c.until(lambda: "follow-up" in c.prose.results)
        r = c.prose.results
        assert r["terminal"].startswith("error")
        assert r["write"] == "True"  # a safe write: policy applied it
        assert (
            "push to a branch instead" in r["follow-up"]
        )  # the feedback, as the next user message
        assert (gitws / "app.py").read_text() == "print('ok')\n"
        assert not (gitws / "data.json").exists()
        header = c.app.screen.query_one(ConsoleHeader)
        assert not any("UNJAILED" in d for d in header.degraded)
        assert not header.has_class("-degraded")
        assert "mode full-access" in header.agent  # the agent's mode stays in the header


@pytest.mark.timeout(60)
async def test_an_unjailed_agent_is_a_weaker_mode_for_the_whole_session(gitws: Path) -> None:
    async with console(gitws, "flood", "CHUNKS=10", unjailed=True) as c:
        header = c.app.screen.query_one(ConsoleHeader)
        assert any("AGENT UNJAILED" in d for d in header.degraded)
        assert header.has_class("-degraded")
        await c.until(lambda: "flood" in c.prose.results)
        assert any("AGENT UNJAILED" in d for d in header.degraded)  # still there

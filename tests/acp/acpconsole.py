"""The console under Pilot with an ACP agent opened exactly as `lockgate acp` opens it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acpkit import AGENT, results
from textual.pilot import Pilot

from app.cli.acp_cmd import AcpRun, open_acp
from app.core.events import AgentEventSeen, AgentText, PipelineEvent
from app.ui.app import LockgateApp
from app.ui.screens.main import SETTLE_S, MainScreen
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.queue import QueueList


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
    ws: Path,
    scenario: str,
    *params: str,
    unjailed: bool = False,
    argv: list[str] | None = None,
    **options: Any,
) -> AsyncIterator[Console]:
    """The console on `scripted_agent.py SCENARIO PARAMS…` (or on `argv`)."""
    argv = argv or [sys.executable, str(AGENT), scenario, *params]
    run = open_acp(ws, argv, prompt="go", unjailed=unjailed, **options)
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

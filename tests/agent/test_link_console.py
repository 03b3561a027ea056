"""A live-model turn under Pilot: the fake server streams a shell call, the reviewer answers in the
real console with keys, and the test reads the exact `shell_call_output` the model received."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, responses_stream, shell_call
from linkkit import API_KEY, FAST, pipeline_for
from textual.pilot import Pilot

from app.agent.responses import ResponsesLink
from app.agent.transport import make_client
from app.core.pipeline import Pipeline
from app.core.ports import SessionContext
from app.core.state import ActionState
from app.ui.app import LockgateApp
from app.ui.screens.dialogs import EditCommandScreen, FeedbackScreen
from app.ui.screens.main import SETTLE_S, MainScreen
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.queue import QueueList


@dataclass
class Session:
    pipeline: Pipeline
    workspace: Path
    session_id: str = "agent-console-test"
    notices: tuple[str, ...] = ()
    taint: object = None  # no untrusted-content tracking, no model monitor
    monitor: object = None
    sandbox_status: object = field(
        default_factory=lambda: {"summary": "test", "network": "off", "degraded": []}
    )


@dataclass
class Run:
    app: LockgateApp
    pilot: Pilot[int]
    session: Session
    server: FakeOpenAI

    async def until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            if loop.time() > end:
                raise AssertionError("condition not reached")
            await self.pilot.pause(0.02)

    def waiting(self) -> list[str]:
        return [v.action.id for v in self.session.pipeline.waiting()]

    async def select(self, action_id: str) -> None:
        main = self.app.screen
        assert isinstance(main, MainScreen)
        queue = main.query_one(QueueList)
        await self.until(lambda: queue.index_of(action_id) is not None)  # the row may lag
        queue.highlighted = queue.index_of(action_id)
        await self.until(lambda: main.query_one(DetailPane).shown_id == action_id)
        # The console may have moved the selection here itself; verdict keys wait out SETTLE_S
        # after such a move (a held key must not approve what just appeared), as a reader would.
        await self.pilot.pause(SETTLE_S + 0.1)


@asynccontextmanager
async def console(workspace: Path) -> AsyncIterator[Run]:
    with FakeOpenAI() as server:
        server.reply(
            responses_stream([shell_call("c1", "echo hi", "rm -rf build")], text="Cleaning up."),
            responses_stream([], response_id="resp_2", text="Done."),
        )
        client, url, key = make_client(api_key=API_KEY, base_url=server.base_url)
        link = ResponsesLink("tidy up", client=client, context=SessionContext(workspace=workspace),
                             model="m", base_url=url, api_key=key, backoff=FAST)  # fmt: skip
        session = Session(pipeline_for(workspace, headless=False), workspace)
        app = LockgateApp(session, link, watch_files=False)
        async with app.run_test(size=(160, 50)) as pilot:
            run = Run(app, pilot, session, server)
            await run.until(lambda: isinstance(app.screen, MainScreen))
            yield run


def second_input(server: FakeOpenAI) -> Any:
    return server.bodies()[1]["input"][0]["output"]


@pytest.mark.timeout(60)
async def test_feedback_in_the_console_reaches_the_model(workspace: Path) -> None:
    async with console(workspace) as run:
        await run.until(lambda: len(run.waiting()) == 1)
        (action_id,) = run.waiting()
        await run.select(action_id)
        await run.pilot.press("f")
        await run.until(lambda: isinstance(run.app.screen, FeedbackScreen))
        await run.pilot.press(*"use make clean", "enter")
        await run.until(lambda: len(run.server.requests) == 2)
        hi, rm = second_input(run.server)
        assert hi == {"stdout": "hi\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}
        assert rm == {
            "stdout": "",
            "stderr": "lockgate: denied by the reviewer: use make clean\nThis command did not run.",
            "outcome": {"type": "exit", "exit_code": 126},
        }


@pytest.mark.timeout(60)
async def test_edit_in_the_console_tells_the_model_what_ran(workspace: Path) -> None:
    (workspace / "build").mkdir()
    async with console(workspace) as run:
        await run.until(lambda: len(run.waiting()) == 1)
        (action_id,) = run.waiting()
        await run.select(action_id)
        await run.pilot.press("e")
        await run.until(lambda: isinstance(run.app.screen, EditCommandScreen))
        await run.pilot.press("home", *"echo ", "ctrl+s")
        await run.until(lambda: len(run.server.requests) == 2)
        _, rm = second_input(run.server)
        assert rm == {
            "stdout": "rm -rf build\n",
            "stderr": "lockgate: the reviewer edited this command before it ran. What ran:\n  echo rm -rf build",
            "outcome": {"type": "exit", "exit_code": 0},
        }
        assert (workspace / "build").is_dir()
        assert run.session.pipeline.view(action_id).state == ActionState.DONE

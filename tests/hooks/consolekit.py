"""The console side of the hook tests: `lockgate serve`'s session and socket in this process
(`open_served`), the real console under Pilot, and the real hook client as a subprocess."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hookkit import LOCKGATE, hook_env, runtime_dir
from textual.pilot import Pilot

from app.hooks.serve import Served, open_served
from app.ui.app import LockgateApp
from app.ui.screens.main import MainScreen
from app.ui.selection import SETTLE_S
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.queue import QueueList


@dataclass
class Console:
    app: LockgateApp
    pilot: Pilot[int]
    served: Served
    env: dict[str, str]

    async def until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            if loop.time() > end:
                raise AssertionError("condition not reached")
            await self.pilot.pause(0.02)

    def waiting(self) -> list[str]:
        return [v.action.id for v in self.served.session.pipeline.waiting()]

    async def select(self, action_id: str) -> None:
        main = self.app.screen
        assert isinstance(main, MainScreen)
        queue = main.query_one(QueueList)
        await self.until(lambda: queue.index_of(action_id) is not None)
        queue.highlighted = queue.index_of(action_id)
        await self.until(lambda: main.query_one(DetailPane).shown_id == action_id)
        await self.pilot.pause(SETTLE_S + 0.1)

    async def hook(self, event: dict[str, Any], *args: str) -> asyncio.Task[dict[str, Any]]:
        async def call() -> dict[str, Any]:
            proc = await asyncio.create_subprocess_exec(
                LOCKGATE, "hook", "claude", *args,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=self.env,
            )  # fmt: skip
            out, _ = await proc.communicate(json.dumps(event).encode())
            data: dict[str, Any] = json.loads(out)["hookSpecificOutput"]
            return data

        return asyncio.ensure_future(call())


@asynccontextmanager
async def console(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Console]:
    rdir = runtime_dir()
    monkeypatch.setenv("LOCKGATE_RUNTIME_DIR", rdir)
    served = open_served(workspace, launcher=(LOCKGATE,))
    app = LockgateApp(served.session, served.link, watch_files=False)
    with served.session:
        async with app.run_test(size=(160, 50)) as pilot:
            c = Console(app, pilot, served, hook_env(rdir))
            await c.until(lambda: isinstance(app.screen, MainScreen))
            await c.until(lambda: served.listener.published)
            yield c

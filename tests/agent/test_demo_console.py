"""The embedded demo in the real console under Pilot, start to finish: the real session (sandbox,
risk, policy, proxy, patches, audit), the bundled script, and a reviewer at the keys who turns
down the typosquat with feedback, the `curl | sh` and the network ask."""

from __future__ import annotations

import asyncio
import functools
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app.agent.demo_setup import prepare_demo_workspace
from app.agent.scripted import ScriptedLink, bundled_script, load_script
from app.core.model import CommandAction, NetworkAction, PatchAction
from app.core.state import ActionState
from app.core.verify import verify_log
from app.session import Session, SessionOptions, open_session
from app.ui.app import LockgateApp
from app.ui.screens.dialogs import FeedbackScreen
from app.ui.screens.main import SETTLE_S, MainScreen
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.queue import QueueList


def _listed(queue: QueueList, action_id: str) -> bool:
    return queue.index_of(action_id) is not None


def _shown(main: MainScreen, action_id: str) -> bool:
    return main.query_one(DetailPane).shown_id == action_id


def tidy(session: Session) -> set[str]:
    """The demo's two cleanup commands, which wait at the same time."""
    return {
        v.action.id
        for v in session.pipeline.waiting()
        if isinstance(v.action, CommandAction)
        and v.action.command in ("find . -name '*.pyc' -delete", "git clean -fdX")
    }


def _answered(session: Session, action_id: str) -> bool:
    return action_id not in [v.action.id for v in session.pipeline.waiting()]


@pytest.mark.sandbox
@pytest.mark.timeout(180)
async def test_demo_in_the_console(tmp_path: Path) -> None:
    ws = prepare_demo_workspace(tmp_path)
    script = load_script(bundled_script())
    session = open_session(
        SessionOptions(workspace=ws, network=script.network, allowed_domains=script.allow_domains)
    )
    answered: list[str] = []
    try:
        async with session:
            app = LockgateApp(session, ScriptedLink(script, pace=0), watch_files=False)
            async with app.run_test(size=(160, 50)) as pilot:

                async def until(predicate: Callable[[], bool], timeout: float = 60) -> None:
                    end = asyncio.get_running_loop().time() + timeout
                    while not predicate():
                        assert asyncio.get_running_loop().time() < end, "timed out"
                        await pilot.pause(0.05)

                await until(lambda: isinstance(app.screen, MainScreen))
                while not app.pipeline_done.is_set():
                    waiting = session.pipeline.waiting()
                    if not waiting:
                        await pilot.pause(0.05)
                        continue
                    view = waiting[0]
                    main = app.screen
                    assert isinstance(main, MainScreen)
                    queue = main.query_one(QueueList)
                    await until(functools.partial(_listed, queue, view.action.id))
                    queue.highlighted = queue.index_of(view.action.id)
                    await until(functools.partial(_shown, main, view.action.id))
                    # keys ignore a selection the console just moved for SETTLE_S
                    await pilot.pause(SETTLE_S + 0.1)
                    action = view.action
                    if isinstance(action, CommandAction) and action.command.startswith(
                        "pip install"
                    ):
                        answered.append("pip")
                        await pilot.press("f")
                        await until(lambda: isinstance(app.screen, FeedbackScreen))
                        await pilot.press(*"no typosquats", "enter")
                    elif isinstance(action, CommandAction) and "| sh" in action.command:
                        answered.append("curl")
                        await pilot.press("n")
                    elif isinstance(action, PatchAction) and ".git/hooks" in action.patch:
                        answered.append("hook")
                        await pilot.press("n")
                    elif isinstance(action, CommandAction) and action.id in tidy(session):
                        # The two cleanups wait together: `a` approves the batch once both
                        # were on screen (one press may first bring the other into view).
                        answered.append("tidy")
                        await pilot.press("a")
                        await pilot.pause(0.1)
                        if session.pipeline.view(action.id).state is ActionState.WAITING:
                            await pilot.press("a")
                    elif isinstance(action, NetworkAction):
                        answered.append(f"net:{action.host}")
                        await pilot.press("n")
                    else:
                        raise AssertionError(f"unexpected ask: {action.reviewed_text}")
                    await until(functools.partial(_answered, session, view.action.id))
                await pilot.pause(0.2)
            audit = session.audit_path
        assert answered == ["tidy", "pip", "curl", "net:metrics.devtools.example", "hook"]
        assert "if quantity >= 10:" in (ws / "shopcart" / "pricing.py").read_text()
        assert not (ws / ".git" / "hooks" / "pre-commit").exists()
        report = verify_log(audit)
        assert report.ok, report
    finally:
        shutil.rmtree(ws, ignore_errors=True)

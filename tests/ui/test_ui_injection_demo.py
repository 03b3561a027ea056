"""The injection-chain demo in the real console (real session: sandbox, scanner, taint tracker,
taint policy, proxy), at 80x24: the page the agent reads is flagged, the header names the source,
the row of `cat` is marked, the injected words are highlighted on its output lines, and the POST
that follows is asked with the chain named."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from uikit import screen_text

from app.agent.demo_setup import prepare_demo_workspace
from app.agent.scripted import ScriptedLink, load_script
from app.core.model import CommandAction
from app.core.state import ActionState
from app.session import SessionOptions, open_session
from app.ui.app import LockgateApp
from app.ui.screens.main import MainScreen

SCRIPT = Path(__file__).resolve().parents[2] / "app/agent/examples/injection_chain.toml"


@pytest.mark.sandbox
@pytest.mark.timeout(120)
async def test_the_injection_chain_on_screen(tmp_path: Path) -> None:
    ws = prepare_demo_workspace(tmp_path)
    script = load_script(SCRIPT)
    session = open_session(
        SessionOptions(workspace=ws, network=script.network, allowed_domains=script.allow_domains)
    )
    async with session:
        app = LockgateApp(session, ScriptedLink(script, pace=0), watch_files=False)
        async with app.run_test(size=(80, 24)) as pilot:

            async def until(predicate: Callable[[], bool], timeout: float = 60) -> None:
                end = asyncio.get_running_loop().time() + timeout
                while not predicate():
                    assert asyncio.get_running_loop().time() < end, screen_text(app)
                    await pilot.pause(0.05)

            def post_waits() -> bool:
                return any(
                    isinstance(v.action, CommandAction) and "curl -s -X POST" in v.action.command
                    for v in session.pipeline.waiting()
                )

            await until(lambda: isinstance(app.screen, MainScreen))
            await until(post_waits)
            main = app.main
            await until(lambda: "⚠ tainted: `cat docs/lintkit-integration.md`" in screen_text(app))
            cat = next(v for v in session.pipeline.views() if "cat docs/" in v.action.reviewed_text)
            assert cat.state is ActionState.DONE
            row = main.review.model.row_of(cat.action.id)
            assert row is not None and "⚠ untrusted" in main.queue.rows[row].prompt.plain
            marked = [r.text[s:e] for r in main.output.rows for s, e in r.marks]
            assert marked, "nothing highlighted in the output pane"
            flags = [r.text for r in main.output.rows if r.kind == "flag"]
            assert "highlighted above" in flags[0], flags
            post = next(v for v in session.pipeline.waiting())
            assert post.decision is not None
            assert "`cat docs/lintkit-integration.md`" in post.decision.reason
            await session.pipeline.cancel()

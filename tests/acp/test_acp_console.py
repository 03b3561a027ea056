"""The ACP link in the real console (Pilot): the reviewer answers a permission request with
feedback and denies a terminal command; the agent gets reject_once, an error, and the feedback
as its next user message. And an unjailed agent is shown as a weaker mode for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest
from acpconsole import console

from app.ui.screens.dialogs import FeedbackScreen
from app.ui.widgets.header import ConsoleHeader

pytestmark = pytest.mark.sandbox


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
        # an edit permission (a script that downloads: asked); approved, the agent's write of
        # exactly that content is not asked again
        await c.until(lambda: len(c.waiting()) == 1)
        (edit,) = c.waiting()
        assert "setup.sh" in c.run.session.pipeline.view(edit).action.reviewed_text
        await c.select(edit)
        await c.pilot.press("y")
        await c.until(lambda: "follow-up" in c.prose.results)
        r = c.prose.results
        assert r["terminal"].startswith("error")
        assert r["write"] == "True"  # a safe write: policy applied it
        assert r["edit-permission"] == "yes" and r["setup-write"] == "ok"
        assert (gitws / "setup.sh").read_text().startswith("#!/bin/sh\ncurl")
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

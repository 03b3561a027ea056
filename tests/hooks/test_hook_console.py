"""The console side under Pilot: `lockgate serve`'s session and socket in this process, the real
`lockgate hook claude` client as a subprocess, and a reviewer answering with keys."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import pytest
from consolekit import console
from hookkit import claude_event

from app.core.state import ActionState
from app.ui.screens.dialogs import FeedbackScreen

pytestmark = pytest.mark.sandbox


@pytest.mark.timeout(90)
async def test_a_risky_command_waits_for_the_reviewer(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with console(workspace, monkeypatch) as c:
        safe = await c.hook(claude_event("Bash", {"command": "ls"}, workspace, session="s-one"))
        assert (await safe)["permissionDecision"] == "allow"  # auto-approved, nobody asked

        risky = await c.hook(claude_event("Bash", {"command": "rm -rf build"}, workspace, "s-one"))
        await c.until(lambda: len(c.waiting()) == 1)
        assert not risky.done()  # the agent waits for the reviewer
        (action_id,) = c.waiting()
        assert c.served.session.pipeline.view(action_id).action.turn_id == "claude:s-one"
        await c.select(action_id)
        await c.pilot.press("y")
        answer = await asyncio.wait_for(risky, 20)
        assert answer["permissionDecision"] == "allow"
        words = shlex.split(answer["updatedInput"]["command"])
        assert words[-3:] == ["bash", "-c", "rm -rf build"] and "sandbox" in words

        push = await c.hook(
            claude_event("Bash", {"command": "git push origin main"}, workspace, "s-two")
        )
        await c.until(lambda: len(c.waiting()) == 1)
        (push_id,) = c.waiting()
        assert c.served.session.pipeline.view(push_id).action.turn_id == "claude:s-two"
        await c.select(push_id)
        await c.pilot.press("f")
        await c.until(lambda: isinstance(c.app.screen, FeedbackScreen))
        await c.pilot.press(*"open a PR instead", "enter")
        denied = await asyncio.wait_for(push, 20)
        assert denied["permissionDecision"] == "deny"
        assert "open a PR instead" in denied["permissionDecisionReason"]
        assert "updatedInput" not in denied


@pytest.mark.timeout(60)
async def test_a_hook_that_gives_up_withdraws_its_question(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with console(workspace, monkeypatch) as c:
        event = claude_event("Bash", {"command": "rm -rf build"}, workspace)
        gone = await c.hook(event, "--timeout", "1")
        answer = await asyncio.wait_for(gone, 20)
        assert answer["permissionDecision"] == "deny"
        (view,) = c.served.session.pipeline.views()
        await c.until(
            lambda: c.served.session.pipeline.view(view.action.id).state == ActionState.DENIED
        )
        assert not c.waiting()  # nothing is left for the reviewer to approve into the void


@pytest.mark.timeout(90)
async def test_an_edit_runs_as_edited_or_not_at_all(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ui.screens.dialogs import EditCommandScreen

    (workspace / ".env").write_text("KEY=1\n")
    async with console(workspace, monkeypatch) as c:
        bash = await c.hook(claude_event("Bash", {"command": "rm -rf build"}, workspace))
        await c.until(lambda: len(c.waiting()) == 1)
        await c.select(c.waiting()[0])
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.press("home", *"echo ", "ctrl+s")
        answer = await asyncio.wait_for(bash, 20)
        assert answer["permissionDecision"] == "allow"
        assert shlex.split(answer["updatedInput"]["command"])[-1] == "echo rm -rf build"

        # A read is carried out by the agent as it asked: an edit of its shown command cannot be.
        read = await c.hook(claude_event("Read", {"file_path": str(workspace / ".env")}, workspace))
        await c.until(lambda: len(c.waiting()) == 1)
        await c.select(c.waiting()[0])
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.press("end", *" | head -1", "ctrl+s")
        denied = await asyncio.wait_for(read, 20)
        assert denied["permissionDecision"] == "deny"
        assert "only an edited version" in denied["permissionDecisionReason"]

"""After a verdict the selection moves on to the next waiting action, and a newly waiting action
takes the selection from one that is finished; nothing is ever approved by a move, and a key
pressed while the selection moves acts on nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from uikit import Console, cmd, console

from app.core.model import NetworkAction
from app.core.pipeline import ActionState
from app.ui.screens.dialogs import ConfirmCriticalScreen, EditCommandScreen, FeedbackScreen
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.queue import QueueList

THREE = [
    cmd("rm -rf build", n=1),
    cmd("curl https://a.example", n=2),
    cmd("pip install requests", n=3),
]


def selected(c: Console) -> str | None:
    row = c.main.query_one(QueueList).highlighted_row()
    return row.action_id if row is not None else None


def detail_title(c: Console) -> str:
    """The first line of the detail pane as drawn on the terminal."""
    text = c.main.query_one(DetailPane).text
    return text.splitlines()[0] if text else ""


async def shows(c: Console, action_id: str, state: str = "waiting") -> None:
    """The cursor is on `action_id` and the detail pane, on screen, shows it in `state`."""
    await c.until(lambda: selected(c) == action_id)
    await c.until(lambda: c.main.query_one(DetailPane).shown_id == action_id)
    await c.until(lambda: detail_title(c).startswith(action_id) and state in detail_title(c))
    assert detail_title(c).strip() in c.text


async def decided(c: Console, action_id: str) -> None:
    await c.until(lambda: c.state(action_id) != ActionState.WAITING)


async def three_waiting(c: Console) -> None:
    c.link.turn("t1", THREE)
    await c.until(lambda: c.state("cmd-t1-3") == ActionState.WAITING)
    await c.select("cmd-t1-1")


async def test_each_verdict_moves_to_the_next_waiting_action_without_approving_it(
    workspace: Path,
) -> None:
    actions = [cmd(f"rm -rf build{i}", n=i) for i in range(1, 6)]
    async with console(workspace) as c:
        c.link.turn("t1", actions)
        await c.until(lambda: c.state("cmd-t1-5") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        for n, key in enumerate(["y", "n", "s", "A"], 1):
            await c.pilot.press(key)
            await decided(c, f"cmd-t1-{n}")
            await shows(c, f"cmd-t1-{n + 1}")
            await c.pilot.pause(0.05)
            assert all(c.state(f"cmd-t1-{m}") == ActionState.WAITING for m in range(n + 1, 6))
            await c.settle()
        assert all(a != "cmd-t1-5" for a, _ in c.session.commands.ran)


async def test_a_held_key_does_not_run_through_the_queue(workspace: Path) -> None:
    async with console(workspace) as c:
        await three_waiting(c)
        await c.pilot.press("y", "y", "y")  # auto-repeat: three presses in one go
        await c.until(lambda: c.state("cmd-t1-1") != ActionState.WAITING)
        await shows(c, "cmd-t1-2")
        assert c.state("cmd-t1-2") == ActionState.WAITING
        assert c.state("cmd-t1-3") == ActionState.WAITING
        assert any("selection just moved to cmd-t1-2" in n for n in c.notes())
        # Once the reviewer has had the action in front of them, the key works again.
        await c.settle()
        await c.pilot.press("y")
        await c.until(lambda: c.state("cmd-t1-2") != ActionState.WAITING)
        await shows(c, "cmd-t1-3")
        assert c.state("cmd-t1-3") == ActionState.WAITING


async def test_deny_with_feedback_and_edit_move_on_too(workspace: Path) -> None:
    async with console(workspace) as c:
        await three_waiting(c)
        await c.pilot.press("f")
        await c.until(lambda: isinstance(c.app.screen, FeedbackScreen))
        await c.pilot.press(*"no", "enter")
        await shows(c, "cmd-t1-2")
        await c.settle()
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.press("ctrl+s")
        await shows(c, "cmd-t1-3")
        assert c.state("cmd-t1-3") == ActionState.WAITING


async def test_last_of_its_batch_goes_back_to_the_earliest_waiting(workspace: Path) -> None:
    async with console(workspace) as c:
        await three_waiting(c)
        await c.select("cmd-t1-3")
        await c.pilot.press("n")
        await shows(c, "cmd-t1-1")


async def test_nothing_left_waiting_keeps_the_selection(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("n")
        await shows(c, "cmd-t1-1", "denied")


async def test_batch_approval_moves_to_the_critical_one_left_waiting(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn(
            "t1",
            [cmd("ls -la", n=1), cmd("cat /etc/shadow", n=2), cmd("rm -rf build", n=3)],
        )
        await c.until(lambda: c.state("cmd-t1-3") == ActionState.WAITING)
        await c.select("cmd-t1-3")
        await c.pilot.press("a")
        await c.until(lambda: c.state("cmd-t1-3") != ActionState.WAITING)
        await shows(c, "cmd-t1-2")
        assert c.state("cmd-t1-2") == ActionState.WAITING
        # The critical one still needs its own y and the confirmation.
        await c.settle()
        await c.pilot.press("y")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        await c.pilot.press("escape")
        await c.pilot.pause(0.1)
        assert c.state("cmd-t1-2") == ActionState.WAITING


async def test_a_new_waiting_action_takes_the_selection_from_a_finished_one(
    workspace: Path,
) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("ls -la", n=1)])
        await c.until(lambda: "t1" in c.link.results)
        await shows(c, "cmd-t1-1", "done")
        c.link.turn("t2", [cmd("rm -rf build", turn="t2", n=1)])
        await shows(c, "cmd-t2-1")
        assert c.state("cmd-t2-1") == ActionState.WAITING
        assert c.session.commands.ran == [("cmd-t1-1", "ls -la")]


async def test_a_new_waiting_action_never_takes_the_selection_from_a_waiting_one(
    workspace: Path,
) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await shows(c, "cmd-t1-1")
        ask = NetworkAction("pypi.org", 443, turn_id="", id="net-1", created_at=0.0)
        task = asyncio.get_running_loop().create_task(c.session.pipeline.ask_network(ask, 30))
        await c.until(lambda: "network ask" in c.text)
        await c.pilot.pause(0.1)
        await shows(c, "cmd-t1-1")
        # Its verdict then leads on to the network ask.
        await c.settle()
        await c.pilot.press("n")
        await shows(c, "net-1")
        task.cancel()

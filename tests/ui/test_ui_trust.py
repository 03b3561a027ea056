"""The console a reviewer can trust (issue 18): what is approved is what runs, every change is in
the final review, every pane is reachable from the keyboard. Each test failed before its fix."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from textual.widgets import Static
from uikit import cmd, console, patch

from app.core.audit import AuditLog, read_records
from app.core.model import NetworkAction
from app.core.pipeline import ActionState
from app.ui.screens.dialogs import ConfirmCriticalScreen, ConfirmScreen, EditCommandScreen
from app.ui.screens.main import MainScreen
from app.ui.screens.session_diff import SessionDiffScreen
from app.ui.widgets.detail import DetailPane


async def test_critical_edit_confirmation_shows_what_will_run_and_the_diff(
    workspace: Path, tmp_path: Path
) -> None:
    """#18.2: `e` on a critical command, add arguments, ctrl+s: the "type yes" dialog shows the
    edited text (not the proposed one) and the diff; so do the detail pane and the audit log."""
    audit = AuditLog.create(workspace, path=tmp_path / "audit.jsonl", session_id="s")
    async with console(workspace, audit=audit) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.press("end", *" | head -1", "ctrl+s")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        dialog = c.app.screen
        shown = str(dialog.query_one("#dialog-text Static", Static).visual)
        assert shown == "cat /etc/shadow | head -1"
        diff = str(dialog.query_one("#dialog-diff", Static).visual)
        assert "− cat /etc/shadow\n" in diff and "+ cat /etc/shadow | head -1" in diff
        assert "Run the edited cmd-t1-1?" in c.text
        await c.pilot.press(*"yes", "enter")
        await c.until(lambda: bool(c.session.commands.ran))
        assert c.session.commands.ran == [("cmd-t1-1", "cat /etc/shadow | head -1")]
        await c.until(lambda: isinstance(c.app.screen, MainScreen))
        detail = c.main.query_one(DetailPane)
        await c.until(lambda: "will run (edited)" in detail.text)
        assert "│ cat /etc/shadow | head -1" in detail.text
        assert "− cat /etc/shadow" in detail.text and "+ cat /etc/shadow | head -1" in detail.text
        audit.close()
    verdicts = [r for _, r in read_records(tmp_path / "audit.jsonl") if r["kind"] == "verdict"]
    data = verdicts[0]["data"]
    assert data["verdict"]["edited"] == "cat /etc/shadow | head -1"
    assert data["edit"]["proposed"] == "cat /etc/shadow"
    assert "-cat /etc/shadow\n+cat /etc/shadow | head -1" in data["edit"]["diff"], json.dumps(data)


async def test_session_diff_shows_the_approved_hook_first_and_marked(workspace: Path) -> None:
    """#18.3: after approving a patch to `.git/hooks/pre-commit`, `d` shows the hook, first."""
    (workspace / ".git" / "hooks").mkdir(parents=True)
    (workspace / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (workspace / "a.py").write_text("x = 1\n")
    async with console(workspace) as c:
        await c.until(lambda: c.app.snapshot is not None)
        c.link.turn(
            "t1",
            [patch("a.py=x = 2\n", n=1), patch(".git/hooks/pre-commit=#!/bin/sh\nrm -rf ~\n", n=2)],
        )
        for n in (1, 2):
            await c.until(lambda n=n: c.state(f"patch-t1-{n}") == ActionState.WAITING)
            await c.select(f"patch-t1-{n}")
            await c.pilot.press("y")
        await c.until(lambda: "rm -rf" in (workspace / ".git/hooks/pre-commit").read_text())
        await c.pilot.press("d")
        await c.until(lambda: isinstance(c.app.screen, SessionDiffScreen))
        await c.until(lambda: "2 changes" in c.text)
        text = c.text
        assert "⚠ 1 dangerous" in text
        assert "⚠ .git/hooks/pre-commit changed — git internals" in text
        assert text.index("⚠ DANGEROUS .git/hooks/pre-commit") < text.index("▾ a.py")
        assert "+rm -rf ~" in text


async def test_tab_and_shift_tab_go_round_every_pane(workspace: Path) -> None:
    """#18.4: Tab visits the queue, the detail, the output, the agent and the files panes."""
    async with console(workspace, size=(100, 30)) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        visited = []
        for _ in range(5):
            await c.pilot.press("tab")
            focused = c.app.focused
            visited.append(focused.id if focused is not None else None)
        assert visited == ["command-detail", "output", "agent", "activity", "queue"]
        await c.pilot.press("shift+tab")
        assert c.app.focused is not None and c.app.focused.id == "activity"


async def test_a_unlocks_from_the_keyboard_alone_at_100x30(workspace: Path) -> None:
    """#18.4: a long command only whole in the detail pane: Tab into it, End, and `a` works —
    no mouse wheel needed."""
    long = "rm -rf build && " + " ".join(f"--flag-{i}=value" for i in range(60))
    async with console(workspace, size=(100, 30)) as c:
        c.link.turn("t1", [cmd(long, n=1), cmd("rm -rf dist", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("a")
        await c.pilot.pause(0.05)
        assert c.session.commands.ran == []
        assert any("not been on screen" in n for n in c.notes())
        await c.pilot.press("tab", "end")
        await c.pilot.pause(0.1)
        await c.pilot.press("a")
        await c.until(lambda: len(c.session.commands.ran) == 2)


async def test_enter_expanding_the_whole_action_counts_as_seen(workspace: Path) -> None:
    """#18.4: "seen" is the whole item displayed by any means: expanding it with enter so it
    fits is as good as scrolling."""
    long = "rm -rf build && " + " ".join(f"--flag-{i}=v" for i in range(30))
    async with console(workspace, size=(100, 30)) as c:
        c.link.turn("t1", [cmd(long, n=1), cmd("rm -rf dist", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.pause(0.1)
        assert "cmd-t1-1" not in c.main.seen  # taller than the pane
        await c.pilot.press("enter")
        await c.until(lambda: "cmd-t1-1" in c.main.seen)


async def test_o_shows_the_selected_actions_own_output(workspace: Path) -> None:
    """#18.4: an older action's output is reachable from the keyboard: `o` on it."""
    outputs = {f"echo {i}": (f"line from {i}\n".encode() * 20, b"", 0) for i in range(1, 4)}
    async with console(workspace, size=(100, 30), outputs=outputs) as c:
        c.link.turn("t1", [cmd(f"echo {i}", n=i) for i in range(1, 4)])
        await c.until(lambda: "t1" in c.link.results)
        await c.until(lambda: "cmd-t1-3 completed" in c.text)
        assert "line from 1" not in c.text
        await c.select("cmd-t1-1")
        await c.pilot.press("o")
        await c.pilot.pause(0.05)
        assert "── cmd-t1-1 runs: echo 1" in c.text and "out│ line from 1" in c.text
        await c.pilot.press("o")
        await c.pilot.pause(0.05)
        assert c.main.maximized is None


async def test_u_names_the_patch_it_undoes_confirms_and_the_row_says_undone(
    workspace: Path,
) -> None:
    """#18.7: `u` says which patch it will undo (the last applied, whatever is selected), asks,
    and afterwards that patch's row reads "undone", not "done"."""
    async with console(workspace) as c:
        c.link.turn("t1", [patch("a.py=1\n", n=1), patch("b.py=2\n", n=2)])
        for n in (1, 2):
            await c.until(lambda n=n: c.state(f"patch-t1-{n}") == ActionState.WAITING)
            await c.select(f"patch-t1-{n}")
            await c.pilot.press("y")
        await c.until(lambda: (workspace / "b.py").exists())
        await c.select("patch-t1-1")
        await c.pilot.press("u")
        await c.until(lambda: isinstance(c.app.screen, ConfirmScreen))
        question = str(c.app.screen.query_one("#dialog-text-plain", Static).visual)
        assert "u undoes patch-t1-2, the last one applied, not the selected patch-t1-1" in question
        await c.pilot.press("n")
        await c.until(lambda: isinstance(c.app.screen, MainScreen))
        assert (workspace / "b.py").exists()
        await c.pilot.press("u")
        await c.until(lambda: isinstance(c.app.screen, ConfirmScreen))
        await c.pilot.press("y")
        await c.until(lambda: not (workspace / "b.py").exists())
        await c.until(lambda: "undone    ± patch b.py" in c.text)
        assert (workspace / "a.py").exists()


async def test_keys_that_cannot_act_say_why(workspace: Path) -> None:
    """#18.10: `e` on a network ask, `n` on an action that no longer waits, ctrl+c, and the
    palette's Screenshot each act or say why not."""
    async with console(workspace) as c:
        ask = NetworkAction("pypi.org", 443, turn_id="", id="net-1", program="pip", created_at=0)
        task = asyncio.get_running_loop().create_task(c.session.pipeline.ask_network(ask, 30))
        await c.select("net-1")
        await c.pilot.press("e")
        await c.until(
            lambda: any("net-1 is a network ask: it cannot be edited" in n for n in c.notes())
        )
        await c.pilot.press("n")
        await asyncio.wait_for(task, 3)
        await c.until(lambda: "denied" in c.text)
        await c.pilot.press("n")
        await c.until(lambda: any("net-1 is denied: verdict keys act only" in n for n in c.notes()))
        await c.pilot.press("ctrl+c")
        await c.until(lambda: any("ctrl+c does not quit lockgate: q quits" in n for n in c.notes()))
        c.app.take_screenshot()
        await c.until(lambda: any(n.startswith("Screenshot saved: /") for n in c.notes()))
        saved = next(n for n in c.notes() if n.startswith("Screenshot saved: "))
        assert Path(saved.removeprefix("Screenshot saved: ")).is_file()


async def test_output_lines_wider_than_the_pane_end_in_a_marker(workspace: Path) -> None:
    """#18.11: the output pane never cuts a line silently: `›` at the edge, like the detail."""
    wide = b"x" * 150 + b"END\n"
    async with console(workspace, size=(100, 30), outputs={"cat wide": (wide, b"", 0)}) as c:
        c.link.turn("t1", [cmd("cat wide", n=1)])
        await c.until(lambda: "cmd-t1-1 completed" in c.text)
        line = next(ln for ln in c.text.splitlines() if "out│ xxx" in ln)
        assert "›" in line and "END" not in line


async def test_no_stale_toast_says_an_action_still_waits(workspace: Path) -> None:
    """#18.13: cancelling a critical confirmation and then denying leaves no "still waits"."""
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("y")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        await c.pilot.press("escape")
        await c.until(lambda: isinstance(c.app.screen, MainScreen))
        await c.pilot.press("n")
        await c.until(lambda: "denied" in c.text)
        assert not any("still wait" in n for n in c.notes()), c.notes()
        assert "still wait" not in c.text


async def test_each_turn_of_the_agents_words_is_its_own_paragraph(workspace: Path) -> None:
    """#18.9: words of the next turn never run on into the last turn's paragraph."""
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("ls", n=1)], text="Looking at the files.")
        await c.until(lambda: "t1" in c.link.results)
        c.link.turn("t2", [cmd("ls -la", turn="t2", n=1)], text="Now the tests.")
        await c.until(lambda: "t2" in c.link.results)
        await c.until(lambda: "Now the tests." in c.main.agent.text)
        assert c.main.agent.text == "Looking at the files.\n\nNow the tests."
        assert "files.Now" not in c.text


def _cursor_bar(svg: str, row: int) -> int:
    """How many cells of terminal row `row` have the background of its 12th cell (the queue
    cursor's, just after the risk badge)."""
    rects = [
        (fill, round(float(x) / 12.2), round(float(width) / 12.2))
        for fill, x, y, width in re.findall(
            r'<rect fill="(#[0-9a-f]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"', svg
        )
        if abs(float(y) - (1.5 + row * 24.4)) < 1
    ]
    colour = next(fill for fill, x, width in rects if x <= 11 < x + width)
    return sum(width for fill, _, width in rects if fill == colour)


async def test_80x24_keeps_every_header_value_whole_keys_and_the_cursor_bar(
    workspace: Path,
) -> None:
    """#18.12: at 80x24 the header keeps the sandbox and net values, the footer cuts no key in
    half, the agent's state counts what waits, and the cursor bar follows a resize."""
    status = {"layers": ["ns"] * 11, "network": "proxy", "degraded": [], "process_cap": "pids"}
    async with console(workspace, size=(80, 24), sandbox_status=status) as c:
        c.link.status("waiting", "2 action(s) proposed")
        c.link.turn("t1", [cmd("rm -rf build", n=1), cmd("ls", n=2)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.until(lambda: "waiting" in c.text.splitlines()[0])
        await c.until(lambda: "Undo" in c.text.splitlines()[-1])
        lines = c.text.splitlines()
        assert "sandbox 11 layers" in lines[0] and lines[0].endswith("net proxy"), lines[0]
        assert lines[-1].rstrip().endswith("u Undo patch"), lines[-1]
        assert "? Help  q Quit" in lines[-1]
        assert "action(s)" not in c.text
        await c.pilot.resize_terminal(160, 30)
        await c.until(lambda: "1 action waits for you" in c.text.splitlines()[0])
        # The queue is 45% of the width; its cursor bar spans it, less borders and the badge.
        assert _cursor_bar(c.app.export_screenshot(), 3) >= 160 * 45 // 100 - 14


async def test_e_and_n_on_an_auto_approved_action_not_run_yet_say_why(workspace: Path) -> None:
    """#18.10: the safe `ls` is approved by policy but waits behind a critical action: `n` and
    `e` on it say that it takes no verdict."""
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1), cmd("ls", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.AUTO_APPROVED)
        await c.select("cmd-t1-2")
        for key in ("n", "e"):
            await c.pilot.press(key)
        await c.until(lambda: len([n for n in c.notes() if "approved automatically" in n]) == 2)
        assert "cmd-t1-2 was approved automatically (test:safe)" in c.notes()[-1]
        assert c.state("cmd-t1-2") == ActionState.AUTO_APPROVED


async def test_an_edit_that_makes_a_command_critical_is_confirmed_as_critical(
    workspace: Path,
) -> None:
    """An edit is judged on its own: `curl …` (asked, medium) edited into a read of the password
    hashes gets the typed-yes confirmation, titled with the danger of what will run."""
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("curl https://example.org/x", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.press("ctrl+a", "ctrl+k", *"cat /etc/shadow", "ctrl+s")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        assert "reads the system's password hashes" in c.text
        await c.pilot.press(*"yes", "enter")
        await c.until(lambda: bool(c.session.commands.ran))
        assert c.session.commands.ran == [("cmd-t1-1", "cat /etc/shadow")]


async def test_an_edit_a_rule_denies_is_refused_and_the_action_still_waits(
    workspace: Path,
) -> None:
    """A reviewer's edit never goes past a rule that denies it (the pipeline refuses it)."""
    async with console(workspace) as c:
        c.link.turn("t1", [cmd("curl https://example.org/x", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.press("ctrl+a", "ctrl+k", *"POLICY-DENY ls", "ctrl+s")
        await c.until(lambda: any("the edited command is denied" in n for n in c.notes()))
        assert c.state("cmd-t1-1") == ActionState.WAITING
        assert c.session.commands.ran == []

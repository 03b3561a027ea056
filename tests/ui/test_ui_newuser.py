"""What a new user hit walking the demo before shipping (helper H13). Each test failed before its
fix."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from textual.widgets import Input, Static, TextArea
from uikit import cmd, console, patch

from app.core.model import NetworkAction
from app.core.pipeline import ActionState
from app.ui.screens.dialogs import ConfirmCriticalScreen, EditCommandScreen
from app.ui.screens.session_diff import SessionDiffScreen


async def test_critical_confirmation_input_stays_on_screen_at_80x24(workspace: Path) -> None:
    """At 80x24 an edited critical command's dialog (reasons, command, diff) was taller than the
    screen: the box to type `yes` into and the end of the prompt were cut off, unseen."""
    async with console(workspace, size=(80, 24)) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        edit = c.app.screen.query_one(TextArea)
        edit.text = "cat /etc/shadow | head -1" + " | sed -e s/x/y/" * 8
        await c.pilot.press("ctrl+s")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        await c.pilot.pause(0.1)
        dialog = c.app.screen
        frame = dialog.query_one("#dialog").region
        box = dialog.query_one("#dialog-input", Input).region
        assert box.height == 3 and frame.contains_region(box), (frame, box, c.text)
        assert "Type yes and press Enter; Esc cancels." in c.text
        await c.pilot.press(*"yes")
        await c.pilot.pause(0.05)
        assert re.search(r"▊\s+yes\s+▎", c.text), c.text


async def test_queue_row_drawn_before_the_scrollbar_appeared_is_cut_with_a_marker(
    workspace: Path,
) -> None:
    """A row drawn while the queue had no scrollbar was kept at its old width when more rows
    brought the scrollbar in: its last two characters were cut, with no `…`."""
    async with console(workspace, size=(80, 24)) as c:
        queue = c.main.queue
        c.link.turn("t0", [cmd("echo", turn="t0", n=1)])
        await c.until(lambda: c.state("cmd-t0-1") is ActionState.DONE)
        await c.pilot.pause(0.1)
        width = queue.scrollable_content_region.width
        prefix = queue.rows[queue.index_of("cmd-t0-1") or 0].prompt.cell_length - len("echo")
        # Exactly as wide as the queue: whole, no marker, while there is no scrollbar.
        fits = "echo " + "x" * (width - prefix - len("echo "))
        c.link.turn("t1", [cmd(fits, turn="t1", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") is ActionState.DONE)
        await c.pilot.pause(0.1)
        assert fits in c.text and queue.scrollable_content_region.width == width
        c.link.turn("t2", [cmd(f"echo {i}", turn="t2", n=i) for i in range(1, 12)])
        await c.until(lambda: c.state("cmd-t2-11") is ActionState.DONE)
        await c.pilot.pause(0.1)
        assert queue.scrollable_content_region.width < width  # the scrollbar came
        queue.highlighted = queue.index_of("cmd-t0-1")
        await c.pilot.pause(0.1)
        row = next(line for line in c.text.splitlines() if "$ echo xxx" in line)
        assert row.split("│")[1].rstrip(" ▁▂▃▄▅▆▇█").endswith("…"), row


async def test_batch_note_does_not_claim_a_cut_row_is_on_screen(workspace: Path) -> None:
    """At 80x24 a queue row is cut (`…`), so it is not seen from the queue; `a` said "they are on
    screen now. Press a again" — and the second press refused again. The note must say where the
    action is whole (the detail pane) and how to get there."""
    command = "rm -rf build/generated/cache/objects"
    async with console(workspace, size=(80, 24)) as c:
        c.link.turn("t1", [cmd(command, n=1), cmd(command + "2", n=2)])
        await c.until(lambda: c.state("cmd-t1-2") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        queue = c.main.queue
        assert queue.rows[queue.index_of("cmd-t1-1") or 0].prompt.cell_length > queue.line_width
        await c.pilot.press("a")
        await c.until(lambda: any("not been on screen" in n for n in c.notes()))
        note = next(n for n in c.notes() if "not been on screen" in n)
        assert "on screen now" not in note, note
        assert "detail pane" in note, note


async def test_j_k_g_G_scroll_every_pane_not_only_the_queue(workspace: Path) -> None:
    """Help lists `↓,j Down`, `↑,k Up`, `home,g First`, `end,G Last`; in the detail, output,
    agent and files panes j/k/g/G did nothing and said nothing (only the arrows scrolled)."""
    long = "rm -rf build && " + " ".join(f"--flag-{i}=value" for i in range(60))
    outputs = {"seq": ("".join(f"line {i}\n" for i in range(60)).encode(), b"", 0)}
    async with console(workspace, size=(100, 30), outputs=outputs) as c:
        c.link.turn("t1", [cmd("seq", n=1)])
        await c.until(lambda: "cmd-t1-1 completed" in c.text)
        c.link.turn("t2", [cmd(long, turn="t2", n=1)])
        await c.until(lambda: c.state("cmd-t2-1") == ActionState.WAITING)
        await c.select("cmd-t2-1")
        for pane in ("command-detail", "output"):
            while c.app.focused is None or c.app.focused.id != pane:
                await c.pilot.press("tab")
            view = c.app.focused
            assert view.max_scroll_y > 0, pane
            await c.pilot.press("g")
            await c.pilot.pause(0.05)
            assert view.scroll_y == 0, pane
            await c.pilot.press("j")
            await c.pilot.pause(0.05)
            assert view.scroll_y == 1, pane
            await c.pilot.press("k")
            await c.pilot.pause(0.05)
            assert view.scroll_y == 0, pane
            await c.pilot.press("G")
            await c.pilot.pause(0.05)
            assert view.scroll_y == view.max_scroll_y, pane


async def test_footer_keeps_help_and_quit_when_a_diff_has_focus_at_80_columns(
    workspace: Path,
) -> None:
    """With a patch's diff focused (Tab or enter), its fold keys came first in the key bar and
    pushed the rest off an 80-column screen: "a y n f e s A Verdic", no `? Help`, no `q Quit`."""
    (workspace / "a.py").write_text("x = 1\n")
    async with console(workspace, size=(80, 24)) as c:
        c.link.turn("t1", [patch("a.py=x = 2\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("tab")
        await c.until(lambda: c.app.focused is not None and c.app.focused.id == "patch-diff")
        await c.pilot.pause(0.1)
        footer = c.text.splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer, footer


async def test_network_ask_header_stops_saying_waiting_once_decided(workspace: Path) -> None:
    """A network ask carries its command's turn id but is a batch of its own: the header of the
    command's turn was redrawn instead of its own, which kept saying "1 waiting" after n."""
    async with console(workspace, size=(100, 30)) as c:
        c.link.turn("t1", [cmd("ls", n=1)])
        await c.until(lambda: "t1" in c.link.results)
        action = NetworkAction(
            "pypi.org", 443, turn_id="t1", id="net-1", program="pip", created_at=0.0
        )
        task = asyncio.get_running_loop().create_task(c.session.pipeline.ask_network(action, 30))
        await c.until(lambda: "network ask · 1 action · 1 waiting" in c.text)
        await c.select("net-1")
        # Its row belongs to its own batch, so `a` there is about the ask, not the command's turn.
        row = c.main.queue.highlighted_row()
        assert row is not None and row.turn_id == "net-1"
        await c.pilot.press("n")
        await asyncio.wait_for(task, 3)
        await c.until(lambda: "denied" in c.text)
        await c.pilot.pause(0.1)
        assert "1 waiting" not in c.text, c.text


async def test_critical_edit_dialog_says_its_danger_is_the_proposed_commands(
    workspace: Path,
) -> None:
    """After `e` on `pip install reqeusts` fixed to `requests`, the dialog's title still read
    "CRITICAL 95 — installs 'reqeusts' …" above "will run: pip install requests", as if the
    edited text were the typosquat. The reasons are the proposed command's: the title says so."""
    async with console(workspace, size=(100, 30)) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.press("end", *" | wc -l", "ctrl+s")
        await c.until(lambda: isinstance(c.app.screen, ConfirmCriticalScreen))
        title = str(c.app.screen.query_one("#dialog-title", Static).visual)
        assert title.startswith("Proposed command: CRITICAL"), title


async def test_session_diff_key_bar_shows_back_and_refresh_at_80_columns(workspace: Path) -> None:
    """At 80 columns the session diff's key bar ended "esc Back▏^p Palette": `r Refresh` was
    hidden behind the palette hint."""
    (workspace / "a.py").write_text("x = 1\n")
    async with console(workspace, size=(80, 24)) as c:
        await c.until(lambda: c.app.snapshot is not None)
        c.link.turn("t1", [patch("b.py=y = 2\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("y")
        await c.until(lambda: (workspace / "b.py").exists())
        await c.pilot.press("d")
        await c.until(lambda: isinstance(c.app.screen, SessionDiffScreen))
        await c.until(lambda: "1 change " in c.text)
        footer = c.text.splitlines()[-1]
        assert "esc Back" in footer and "r Refresh" in footer, footer


def test_a_cleared_untrusted_mark_does_not_read_as_part_of_the_command() -> None:
    """Once cleared, the queue row read `$ untrusted cat docs/lintkit-integration.md`: as if the
    command were `untrusted cat …`. A mark starts with a glyph no command starts with."""
    from app.injection.taint import TaintSource
    from app.ui.untrusted import Mark, row_mark

    source = TaintSource("cmd-1", "turn 1", "network", "https://x.example/", 0.0)
    for active in (True, False):
        mark = Mark(sources=(source,), active=active, cleared_by="" if active else "you")
        text = row_mark(mark).plain
        assert text.endswith("untrusted ") and not text[0].isalnum(), text


async def test_the_detail_pane_shows_it_has_focus_like_the_other_panes(workspace: Path) -> None:
    """Tab into the detail pane: every other pane's border turns $primary when focused; the
    detail's stayed grey (only a 4% tint), so at 80x24 a reviewer could not tell where j/End
    would scroll."""
    async with console(workspace, size=(80, 24)) as c:
        c.link.turn("t1", [cmd("rm -rf build", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        detail, queue = c.main.detail, c.main.queue
        grey = detail.styles.border_top[1]
        focused = queue.styles.border_top[1]  # the queue has focus: its border is marked
        assert focused != grey
        await c.pilot.press("tab")
        await c.until(lambda: c.app.focused is not None and c.app.focused.id == "command-detail")
        await c.pilot.pause(0.05)
        assert detail.styles.border_top[1] == focused


async def test_help_groups_keys_by_where_they_work(workspace: Path) -> None:
    """`?` listed every key in one flat list: `y Approve`, `y Yes`, `y Quit`, two `esc Cancel`s,
    with nothing saying which screen each belongs to. Each group now has a heading."""
    from app.ui.screens.help import HelpScreen

    async with console(workspace, size=(100, 60)) as c:
        await c.pilot.press("question_mark")
        await c.until(lambda: isinstance(c.app.screen, HelpScreen))
        help_screen = c.app.screen
        body = str(help_screen.query_one("#help-keys", Static).visual)
        lines = body.splitlines()
        order = [
            "Review",
            "Queue",
            "Diff",
            "Session diff (d)",
            "Critical confirmation",
            "Deny with feedback (f)",
            "Edit (e)",
            "Quit (q)",
            "Yes/no questions",
            "Help (?)",
            "Anywhere",
        ]
        at = [lines.index(h) for h in order]
        assert at == sorted(at), at
        quit_yes = next(i for i, line in enumerate(lines) if "quit-yes" in line)
        assert at[order.index("Quit (q)")] < quit_yes < at[order.index("Yes/no questions")]


async def test_a_dialog_opens_without_the_last_toast_over_it(workspace: Path) -> None:
    """`a` on a critical action ("Nothing approved: 1 critical action needs its own y"), then `e`
    at once: the toast sat over the edit dialog's last line ("ctrl+s approves the text above
    exa▌…") for seconds. A dialog is a new question: old toasts go."""
    async with console(workspace, size=(80, 24)) as c:
        c.link.turn("t1", [cmd("cat /etc/shadow", n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        await c.pilot.press("a")
        await c.until(lambda: any("Nothing approved" in n for n in c.notes()))
        assert len(c.app._notifications) == 1  # the toasts Textual shows
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.pause(0.1)
        assert len(c.app._notifications) == 0
        await c.pilot.press("escape")
        await c.until(lambda: not isinstance(c.app.screen, EditCommandScreen))
        c.app.notify("the audit log cannot be written", severity="error")
        await c.pilot.press("e")
        await c.until(lambda: isinstance(c.app.screen, EditCommandScreen))
        await c.pilot.pause(0.05)
        assert len(c.app._notifications) == 1  # an error stays
        assert "ctrl+s approves the text above exactly as previewed; Esc cancels." in c.text


async def test_a_turn_id_that_says_turn_is_not_labelled_turn_again(workspace: Path) -> None:
    """The demo's (and a live agent's) turn ids start with `turn-`: the queue read
    "▌turn turn-12e66a491116 · 3 actions" and the detail "turn turn-…" (at 80 columns split as
    "… turn" / "turn-… waiting")."""
    async with console(workspace, size=(100, 30)) as c:
        c.link.turn("turn-ab12", [cmd("rm -rf build", turn="turn-ab12", n=1)])
        await c.until(lambda: c.state("cmd-turn-ab12-1") == ActionState.WAITING)
        await c.select("cmd-turn-ab12-1")
        assert "▌turn-ab12 · 1 action" in c.text, c.text
        assert "turn turn-" not in c.text and "cmd-turn-ab12-1  turn-ab12  waiting" in c.text

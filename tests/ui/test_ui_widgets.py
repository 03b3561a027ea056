"""Each widget on its own, in a small app that records the messages it posts (as Textual's own
widget tests do): what a widget says upward is its contract with the screen."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.content import Content
from textual.message import Message

from app.core.model import Assessment, CommandAction, Level
from app.core.state import ActionState, ActionView
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.footer import ConsoleFooter
from app.ui.widgets.output import OutputView
from app.ui.widgets.queue import QueueList, QueueRow, RowInfo


class Recording(App[None]):
    """Hosts one widget and keeps every message of the given types it posts."""

    def __init__(self, widget: object, *kinds: type[Message]) -> None:
        super().__init__()
        self.widget = widget
        self.kinds = kinds
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.widget  # type: ignore[misc]

    def record(self, message: Message) -> None:
        # The hook sees a message at every node it bubbles through: keep it once.
        if isinstance(message, self.kinds) and all(m is not message for m in self.messages):
            self.messages.append(message)


def _rows() -> list[QueueRow]:
    return [
        QueueRow(RowInfo(None, "t1", False), Content("turn t1")),
        QueueRow(RowInfo("a", "t1", True), Content("rm -rf build")),
        QueueRow(RowInfo("b", "t1", False), Content("patch x.py (only whole in the detail)")),
        QueueRow(RowInfo(None, "t2", False), Content("turn t2")),
        QueueRow(RowInfo("c", "t2", True), Content("ls")),
    ]


async def test_queue_cursor_skips_headers_and_says_where_it_went() -> None:
    queue = QueueList()
    app = Recording(queue, QueueList.Highlighted, QueueList.Seen)
    async with app.run_test(size=(60, 10), message_hook=app.record) as pilot:
        queue.set_queue(_rows())
        queue.focus()
        await pilot.pause()
        assert queue.highlighted == 1  # the first action, not the batch header above it
        await pilot.press("down", "down")
        await pilot.pause()
        assert queue.highlighted == 4  # over the second header
        queue.highlighted = 3  # a header passes the cursor on to the action below it
        assert queue.highlighted == 4
        moves = [m.row.action_id for m in app.messages if isinstance(m, QueueList.Highlighted)]
        assert moves[0] == "a" and moves[-1] == "c" and "b" in moves
        seen = set().union(*(m.action_ids for m in app.messages if isinstance(m, QueueList.Seen)))
        assert seen == {"a", "c"}  # "b" is not whole in the queue: its detail must be shown


async def test_detail_says_seen_only_once_the_whole_text_was_on_screen() -> None:
    detail = DetailPane()
    app = Recording(detail, DetailPane.Seen)
    long = "echo " + " ".join(f"word{i}" for i in range(400))
    view = ActionView(
        CommandAction(long, turn_id="t1", id="cmd-1"),
        ActionState.WAITING,
        Assessment(score=40, level=Level.MEDIUM),
    )
    async with app.run_test(size=(60, 16), message_hook=app.record) as pilot:
        detail.show(view)
        await pilot.pause(0.1)
        assert app.messages == []  # taller than the pane
        detail.focus_content()
        await pilot.press("end")
        await pilot.pause(0.1)
        assert [m.action_ids for m in app.messages if isinstance(m, DetailPane.Seen)] == [
            frozenset({"cmd-1"})
        ]  # once


async def test_output_marks_a_line_wider_than_the_pane() -> None:
    output = OutputView()
    app = Recording(output)
    async with app.run_test(size=(40, 6)) as pilot:
        output.started("cmd-1", "cat wide")
        output.feed("cmd-1", "stdout", b"x" * 60 + b"\n")
        await pilot.pause()
        svg = app.export_screenshot()
        assert "›" in svg


async def test_narrow_footer_leaves_out_optional_keys_instead_of_cutting_them() -> None:
    class Keys(App[None]):
        BINDINGS = [  # noqa: RUF012
            ("q", "quit", "Quit"),
            ("o", "other", "Output"),
        ]

        def compose(self) -> ComposeResult:
            yield ConsoleFooter(frozenset({"other"}))

        def action_other(self) -> None:
            pass

    app = Keys()
    async with app.run_test(size=(60, 3)) as pilot:
        await pilot.pause()
        assert "Quit" in app.export_screenshot() and "Output" not in app.export_screenshot()
        await pilot.resize_terminal(140, 3)
        await pilot.pause(0.1)
        assert "Output" in app.export_screenshot()

"""Live output of commands, framed so nothing a program prints can pass for the console itself.

Every line carries a gutter naming its stream (`out│`, `err│`); the console's own words (which
command started, its exit code and duration) are drawn in a different frame (`──`), and prompts
never appear in this pane at all, so a program printing "Approve? [y/N]" only ever shows up as an
`out│` line. Bytes are decoded incrementally per stream (invalid UTF-8 becomes U+FFFD) and shown
through the display-safety markers: carriage returns and escape sequences are shown, never obeyed.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual.content import Content

from app.core.model import Result, ResultStatus
from app.ui.bridge import OutputItem
from app.ui.safe import make_safe
from app.ui.widgets.lines import LinesView, estimate_width

MAX_ROWS = 20_000
ROW_CHARS = 1_000  # a longer line is shown as several rows (↪), so no single row is huge


@dataclass(frozen=True)
class OutputRow:
    kind: Literal["stdout", "stderr", "start", "end"]
    text: str
    action_id: str = ""
    failed: bool = False
    continued: bool = False  # the rest of the line above


def _rows(
    stream: Literal["stdout", "stderr"], line: str, action_id: str, continued: bool = False
) -> list[OutputRow]:
    if len(line) <= ROW_CHARS:
        return [OutputRow(stream, line, action_id, continued=continued)]
    return [
        OutputRow(stream, line[i : i + ROW_CHARS], action_id, continued=continued or i > 0)
        for i in range(0, len(line), ROW_CHARS)
    ]


_GUTTER = {"stdout": ("out│ ", "$text-muted"), "stderr": ("err│ ", "$text-error")}
_CONTINUED = {"stdout": ("out↪ ", "$text-muted"), "stderr": ("err↪ ", "$text-error")}


class OutputView(LinesView[OutputRow]):
    """Every command's output in one stream, each run framed by a start and an end line.

    Component classes:
    - `output-view--more`: the `›`/`‹` markers of a line wider than the pane.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"output-view--more"}
    OVERFLOW_CLASS = "output-view--more"
    DEFAULT_CSS = """
    OutputView > .output-view--more {
        color: $text-warning;
        text-style: bold reverse;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_rows=MAX_ROWS, follow=True, id=id, classes=classes)
        self.ran: set[str] = set()  # actions whose run this pane has shown start
        self._decoders: dict[tuple[str, str], codecs.IncrementalDecoder] = {}
        self._partial: dict[tuple[str, str], tuple[str, bool]] = {}

    def row_width(self, row: OutputRow) -> int:
        return estimate_width(row.text, 6)

    def row_content(self, row: OutputRow) -> Content:
        if row.kind in ("start", "end"):
            style = "bold $text-error" if row.failed else "bold $text-accent"
            return Content.styled("── ", style) + make_safe(row.text, keep_newlines=False).content(
                ()
            ).stylize_before(style)
        gutter, style = (_CONTINUED if row.continued else _GUTTER)[row.kind]
        return Content.styled(gutter, style) + make_safe(row.text, keep_newlines=False).content()

    def take(self, items: Iterable[OutputItem]) -> None:
        """Runs, output and results, as the console bridge reports them. A result for a run
        this pane never saw start (a recovered action's) is not drawn."""
        for item in items:
            if item[0] == "start":
                self.ran.add(item[1])
                self.started(item[1], item[2])
            elif item[0] == "chunk":
                self.feed(item[1], item[2], item[3])
            elif item[1].action_id in self.ran:
                self.finished(item[1])

    def show_action(self, action_id: str) -> bool:
        """Scroll to where `action_id`'s output starts (its most recent run); False if it has
        no rows here."""
        for index in range(len(self.rows) - 1, -1, -1):
            row = self.rows[index]
            if row.action_id == action_id and row.kind == "start":
                self.scroll_to(y=index, animate=False, immediate=True)
                return True
        return False

    def started(self, action_id: str, ran: str) -> None:
        self.append_rows([OutputRow("start", f"{action_id} runs: {ran}", action_id)])

    def feed(self, action_id: str, stream: Literal["stdout", "stderr"], data: bytes) -> None:
        """Append a chunk; complete lines become rows, a trailing partial line waits for more."""
        key = (action_id, stream)
        decoder = self._decoders.get(key)
        if decoder is None:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            self._decoders[key] = decoder
        pending = self._partial.pop(key, None)
        text = (pending[0] if pending else "") + decoder.decode(data)
        continued = pending[1] if pending else False
        lines = text.split("\n")
        tail = lines.pop()
        rows: list[OutputRow] = []
        for line in lines:
            rows += _rows(stream, line, action_id, continued)
            continued = False
        if len(tail) > ROW_CHARS:
            # A line that never ends (a progress bar, a flood without newlines) is shown as it
            # comes, a row at a time, instead of piling up unseen.
            cut = len(tail) - len(tail) % ROW_CHARS
            rows += _rows(stream, tail[:cut], action_id, continued)
            tail, continued = tail[cut:], True
        if tail:
            self._partial[key] = (tail, continued)
        self.append_rows(rows)

    def finished(self, result: Result) -> None:
        """The end of a run: what is left of a partial line, then the console's own summary
        (status, exit code, duration, how much output was cut)."""
        action_id = result.action_id
        rows: list[OutputRow] = []
        for stream in ("stdout", "stderr"):
            key = (action_id, stream)
            decoder = self._decoders.pop(key, None)
            text, continued = self._partial.pop(key, ("", False))
            rest = text + (decoder.decode(b"", final=True) if decoder else "")
            if rest:
                rows += _rows(stream, rest, action_id, continued)
        rows.append(OutputRow("end", summary_of(result), action_id, failed=failed(result)))
        self.append_rows(rows)


def failed(result: Result) -> bool:
    return result.status is not ResultStatus.COMPLETED or result.exit_code not in (None, 0)


def summary_of(result: Result) -> str:
    """E.g. "cmd-3 completed, exit 0, 0.25 s" or "… , output cut (70000+0 bytes)"."""
    words = [result.status.value]
    if result.exit_code is not None:
        words.append(f"exit {result.exit_code}")
    words.append(f"{result.duration_s:.2f} s")
    if result.truncated:
        words.append(f"output cut ({result.stdout_total}+{result.stderr_total} bytes)")
    return f"{result.action_id} " + ", ".join(words)

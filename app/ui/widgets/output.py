"""Live output of commands, framed so nothing a program prints can pass for the console itself.

Every line carries a gutter naming its stream (`out│`, `err│`); the console's own words (which
command started, its exit code and duration) are drawn in a different frame (`──`), and prompts
never appear in this pane at all, so a program printing "Approve? [y/N]" only ever shows up as an
`out│` line. Bytes are decoded incrementally per stream (invalid UTF-8 becomes U+FFFD) and shown
through the display-safety markers: carriage returns and escape sequences are shown, never obeyed.
"""

from __future__ import annotations

import codecs
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual.content import Content

from app.core.model import Result, ResultStatus
from app.injection.scanner import ScanResult
from app.ui.bridge import OutputItem
from app.ui.safe import make_safe
from app.ui.untrusted import INJECTION_SPAN_STYLE, UNTRUSTED_STYLE, stream_marks
from app.ui.widgets.lines import LinesView, estimate_width

MAX_ROWS = 20_000
ROW_CHARS = 1_000  # a longer line is shown as several rows (↪), so no single row is huge


@dataclass(frozen=True)
class OutputRow:
    kind: Literal["stdout", "stderr", "start", "end", "flag"]
    text: str
    action_id: str = ""
    failed: bool = False
    continued: bool = False  # the rest of the line above
    # What the injection scanner found in this row: (start, end) offsets into `text`.
    marks: tuple[tuple[int, int], ...] = ()


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
        if row.kind == "flag":
            return Content.styled("── ", UNTRUSTED_STYLE) + make_safe(
                row.text, keep_newlines=False
            ).content(()).stylize_before(UNTRUSTED_STYLE)
        if row.kind in ("start", "end"):
            style = "bold $text-error" if row.failed else "bold $text-accent"
            return Content.styled("── ", style) + make_safe(row.text, keep_newlines=False).content(
                ()
            ).stylize_before(style)
        gutter, style = (_CONTINUED if row.continued else _GUTTER)[row.kind]
        marks = [(s, e, INJECTION_SPAN_STYLE) for s, e in row.marks]
        return Content.styled(gutter, style) + make_safe(row.text, keep_newlines=False).content(
            marks
        )

    def take(
        self, items: Iterable[OutputItem], scans: Mapping[str, ScanResult] | None = None
    ) -> None:
        """Runs, output and results, as the console bridge reports them. A result for a run
        this pane never saw start (a recovered action's) is not drawn. `scans`: the injection
        scanner's findings by action id (known by the time its run ends)."""
        for item in items:
            if item[0] == "start":
                self.ran.add(item[1])
                self.started(item[1], item[2])
            elif item[0] == "chunk":
                self.feed(item[1], item[2], item[3])
            elif item[1].action_id in self.ran:
                scan = scans.get(item[1].action_id) if scans is not None else None
                self.finished(item[1], scan if scan is not None and scan.injection else None)

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

    def finished(self, result: Result, scan: ScanResult | None = None) -> None:
        """The end of a run: what is left of a partial line, then the console's own summary
        (status, exit code, duration, how much output was cut) and, for an output the injection
        scanner flagged, its findings, with what they point at highlighted above."""
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
        if scan is not None:
            self._flag(result, scan)

    def _flag(self, result: Result, scan: ScanResult) -> None:
        action_id = result.action_id
        shown = self._highlight(result, scan)
        where = "highlighted above" if shown else "see the detail pane (o: the whole output)"
        reasons = list(dict.fromkeys(f.reason for f in scan.findings))
        rows = [
            OutputRow(
                "flag",
                f"⚠ {action_id}'s output looks like a prompt injection "
                f"(score {scan.score}; {where}):",
                action_id,
            )
        ]
        rows.append(OutputRow("flag", "   " + "; ".join(reasons), action_id))
        self.append_rows(rows)

    def _highlight(self, result: Result, scan: ScanResult) -> bool:
        """Mark the findings' spans on this run's rows; False if the rows are not the text the
        scanner read (cut output, rows dropped from memory), so nothing could be placed."""
        action_id = result.action_id
        first = next(
            (
                i
                for i in range(len(self.rows) - 1, -1, -1)
                if self.rows[i].action_id == action_id and self.rows[i].kind == "start"
            ),
            None,
        )
        if first is None:
            return False
        marked, whole = False, True
        for stream, (text, spans) in stream_marks(scan, result).items():
            built, starts = "", list[tuple[int, int]]()
            for index in range(first, len(self.rows)):
                row = self.rows[index]
                if row.action_id != action_id or row.kind != stream:
                    continue
                if starts and not row.continued:
                    built += "\n"
                starts.append((index, len(built)))
                built += row.text
            if built != text and built + "\n" != text:
                whole = whole and not spans
                continue
            for index, offset in starts:
                length = len(self.rows[index].text)
                marks = tuple(
                    (max(s, offset) - offset, min(e, offset + length) - offset)
                    for s, e in spans
                    if s < offset + length and e > offset
                )
                if marks:
                    self.replace_row(index, dataclasses.replace(self.rows[index], marks=marks))
                    marked = True
        return marked and whole


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

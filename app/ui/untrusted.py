"""What the console shows of untrusted content: which results brought it into the agent's
context (the session's `TaintTracker`), and what the output scanner found in them.

The tracker forgets its sources when a human speaks to the agent (that is what clearing means);
the console does not: a result that brought untrusted content in stays marked, shown as cleared.
So every state the tracker announces is taken in at once, on the pipeline's loop, before the
screen draws — a mark followed by a clearing in the same moment still leaves its mark.

Scanner spans are character offsets into the text the scanner read (`scanned_text`): the result's
stdout and stderr decoded, joined by a newline. Excerpts show the words around each span, through
the display-safety markers (hidden characters in an injection are the point of showing it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.content import Content

from app.core.model import Result
from app.injection.executor import _visible
from app.injection.scanner import InjectionFinding, ScanResult
from app.injection.taint import TaintSource, TaintState
from app.ui.safe import make_safe, spaced

UNTRUSTED_STYLE = "bold $untrusted"
INJECTION_SPAN_STYLE = "bold on $injection-span"
EXCERPT_CONTEXT = 60  # characters shown either side of a span
EXCERPT_SPAN = 240  # the most of one span shown (the rest is elided)
MAX_FINDINGS = 8

_WHERE = {
    "network": "from {what}",
    "file": "from {what}, a file a network action wrote",
    "outside-read": "from {what}, outside the workspace",
    "scanner": "that looks like a prompt injection: {what}",
    "tool": "from a remote tool ({what})",
}


def scanned_text(result: Result) -> str:
    """The text the scanner read of `result` (as `app.injection.executor` builds it): findings'
    spans are offsets into it."""
    return _visible(result.stdout) + "\n" + _visible(result.stderr)


def where(source: TaintSource) -> str:
    """E.g. "from https://docs.example.com/page (turn 1)"."""
    return _WHERE.get(source.kind, "from {what}").format(what=source.what) + f" ({source.turn})"


@dataclass(frozen=True)
class Mark:
    """What one action's result brought in: its sources, and whether they are still in play."""

    sources: tuple[TaintSource, ...]
    active: bool  # False once a human message cleared the session's taint
    cleared_by: str = ""


class UntrustedContent:
    """The console's record of the session's taint (fed by `take`) and the scanner's findings
    (read from the tracker's `scans`)."""

    def __init__(self, scans: Mapping[str, ScanResult] | None = None) -> None:
        self.scans: Mapping[str, ScanResult] = scans if scans is not None else {}
        self.state: TaintState | None = None
        self._sources: dict[str, list[TaintSource]] = {}
        self._active: set[str] = set()
        self.dirty: set[str] = set()  # actions whose mark changed since the last `drain`

    def take(self, state: TaintState) -> None:
        """A state the tracker announced (called on the pipeline's loop; cheap, never draws)."""
        for source in state.sources:
            known = self._sources.setdefault(source.action_id, [])
            if source not in known:
                known.append(source)
                self.dirty.add(source.action_id)
        active = {s.action_id for s in state.sources}
        self.dirty |= active ^ self._active
        self._active = active
        self.state = state

    def drain(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    def mark(self, action_id: str) -> Mark | None:
        sources = self._sources.get(action_id)
        if not sources:
            return None
        active = action_id in self._active
        cleared = "" if active or self.state is None else self.state.cleared_by
        return Mark(tuple(sources), active, cleared)

    def scan(self, action_id: str) -> ScanResult | None:
        found = self.scans.get(action_id)
        return found if found is not None and found.injection else None


# --------------------------------------------------------------------------- how it reads


def row_mark(mark: Mark | None) -> Content:
    """The queue row's mark: bold while the content is in play, muted once cleared."""
    if mark is None:
        return Content("")
    if mark.active:
        return Content.styled("⚠ untrusted ", UNTRUSTED_STYLE)
    # A glyph first: a bare word after the row's `$ ` would read as part of the command.
    return Content.styled("◌ untrusted ", "$text-muted")


def mark_content(mark: Mark) -> Content:
    """The detail pane's lines: "untrusted content: from … (turn 1)", one per source."""
    lines: list[Content] = []
    for source in mark.sources:
        lines.append(
            Content.styled("⚠ untrusted content: ", UNTRUSTED_STYLE)
            + make_safe(where(source), keep_newlines=False).content()
        )
    if mark.active:
        lines.append(
            spaced(
                "  while it is in the agent's context, anything that can send data out is asked",
                "$text-muted",
            )
        )
    else:
        by = f" by {mark.cleared_by}" if mark.cleared_by else ""
        lines.append(spaced(f"  cleared{by}: a human spoke to the agent since", "$text-muted"))
    return Content("\n").join(lines)


def excerpt(text: str, span: tuple[int, int]) -> Content:
    """The words around `span` in `text` on one line, the span highlighted, hidden characters
    shown as markers, "…" where the line goes on."""
    n = len(text)
    start, end = max(0, min(span[0], n)), max(0, min(span[1], n))
    end = max(start, end)
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = n if line_end < 0 else line_end
    shown_end = min(end, start + EXCERPT_SPAN)
    a = max(line_start, start - EXCERPT_CONTEXT)
    b = shown_end if shown_end < end else min(max(line_end, end), end + EXCERPT_CONTEXT)
    safe = make_safe(text[a:b], keep_newlines=False)
    body = safe.content([(start - a, shown_end - a, INJECTION_SPAN_STYLE)])
    head = Content.styled("…", "$text-muted") if a > line_start else Content("")
    tail = Content.styled("…", "$text-muted") if b < line_end or shown_end < end else Content("")
    return head + body + tail


def findings_content(scan: ScanResult, text: str | None) -> Content:
    """The scanner's findings: a headline, then each finding's kind and reason and (with the
    scanned `text`) the words it points at, highlighted."""
    lines = [
        Content.styled(
            f"⚠ the output looks like a prompt injection (score {scan.score})", UNTRUSTED_STYLE
        )
    ]
    shown: list[InjectionFinding] = list(scan.findings[:MAX_FINDINGS])
    for finding in shown:
        lines.append(
            spaced(f"  {finding.kind:<18}", "$text-muted")
            + make_safe(finding.reason, keep_newlines=False).content()
        )
        if text is not None:
            lines.append(Content("    ") + excerpt(text, finding.span))
    if len(scan.findings) > len(shown):
        lines.append(spaced(f"  +{len(scan.findings) - len(shown)} more", "$text-muted"))
    return Content("\n").join(lines)


def stream_marks(scan: ScanResult, result: Result) -> dict[str, tuple[str, list[tuple[int, int]]]]:
    """Per stream ("stdout", "stderr"): the text the scanner read of it and the spans in it
    (offsets into that stream's text), for highlighting the output pane."""
    out_text, err_text = _visible(result.stdout), _visible(result.stderr)
    err_base = len(out_text) + 1
    out_spans: list[tuple[int, int]] = []
    err_spans: list[tuple[int, int]] = []
    for f in scan.findings:
        s, e = f.span
        if s < len(out_text):
            out_spans.append((s, min(e, len(out_text))))
        if e > err_base:
            err_spans.append((max(0, s - err_base), e - err_base))
    return {"stdout": (out_text, out_spans), "stderr": (err_text, err_spans)}

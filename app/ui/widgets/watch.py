"""The header's second line: whether untrusted content is in the agent's context (and where it
came from), and what the model monitor has cost so far. Shown only when there is something to
say: a session that never read untrusted content and runs no monitor keeps a one-line header.

Untrusted content is the item that must stay readable: it keeps "⚠ tainted" and the start of
its newest source; the monitor's summary drops its model's name, then takes what is left.
"""

from __future__ import annotations

from textual.content import Content

from app.injection.taint import TaintState
from app.ui.safe import make_safe
from app.ui.untrusted import UNTRUSTED_STYLE

GAP = "   "
TAINT_MIN = 40  # what the taint keeps of its source when the monitor's summary needs room


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def taint_text(state: TaintState) -> str:
    """ "⚠ tainted: <newest source> (+N more)", or why it is clean now."""
    if state.tainted:
        newest = state.sources[-1].what
        more = len(state.sources) - 1
        return f"⚠ tainted: {newest}" + (f" (+{more} more)" if more else "")
    if state.cleared_by:
        return f"clean (cleared by {state.cleared_by})"
    return "clean"


def watch_line(taint: TaintState | None, monitor: str, width: int) -> Content | None:
    """The line for `width` cells (0: unknown, nothing cut), or None when there is nothing to
    show. `monitor`: the monitor's one-line summary ('' when there is none)."""

    def safe(text: str) -> str:
        return make_safe(text, keep_newlines=False).display

    untrusted = ""
    if taint is not None and (taint.tainted or taint.cleared_by or monitor):
        untrusted = safe(taint_text(taint))
    monitor = safe(monitor)
    if not untrusted and not monitor:
        return None

    def fits() -> bool:
        gap = len(GAP) if untrusted and monitor else 0
        return width <= 0 or len(untrusted) + gap + len(monitor) <= width

    if not fits() and monitor:
        label, sep, rest = monitor.partition(": ")
        if sep and label.startswith("monitor "):
            monitor = "monitor: " + rest  # the model's name goes first
    if not fits():
        if monitor and untrusted:
            keep = max(min(TAINT_MIN, len(untrusted)), width - len(GAP) - len(monitor))
            untrusted = _cut(untrusted, keep)
            left = width - len(untrusted) - len(GAP)
            monitor = _cut(monitor, left) if left >= 8 else ""
        elif untrusted:
            untrusted = _cut(untrusted, max(width, len("⚠ tainted")))
        else:
            monitor = _cut(monitor, width)
    parts: list[Content] = []
    if untrusted:
        tainted = taint is not None and taint.tainted
        parts.append(Content.styled(untrusted, UNTRUSTED_STYLE if tainted else "$text-muted"))
    if monitor:
        label, _, rest = monitor.partition(": ")
        parts.append(
            Content.styled(f"{label}: ", "$text-muted") + Content(rest)
            if rest
            else Content(monitor)
        )
    return Content(GAP).join(parts)

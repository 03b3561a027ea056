"""The file-activity feed: what changed in the workspace, and which action was running then.

A change while nothing runs is flagged: it came from outside the review (an editor, a stray
background process, something that escaped) and deserves a look.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content

from app.ui.safe import make_safe, spaced
from app.ui.widgets.lines import LinesView, estimate_width

_VERB = {"added": "+", "modified": "~", "deleted": "−"}


@dataclass(frozen=True)
class ActivityRow:
    change: str  # "added" | "modified" | "deleted"
    path: str
    action_id: str | None  # None: nothing was running


class ActivityFeed(LinesView[ActivityRow]):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_rows=5_000, follow=True, id=id, classes=classes)

    def row_width(self, row: ActivityRow) -> int:
        return estimate_width(row.path, 24)

    def row_content(self, row: ActivityRow) -> Content:
        verb = Content.styled(f"{_VERB.get(row.change, '?')} ", "bold")
        path = make_safe(row.path, keep_newlines=False).content()
        if row.action_id is None:
            who = spaced("  ⚠ while nothing ran", "bold $text-warning")
            return Content.styled("⚠ ", "bold $text-warning") + verb + path + who
        return (
            Content("  ")
            + verb
            + path
            + spaced("  ← ", "$text-muted")
            + make_safe(row.action_id, keep_newlines=False).content().stylize_before("$text-muted")
        )

    def add(self, rows: list[ActivityRow]) -> None:
        self.append_rows(rows)

    @property
    def unattributed(self) -> int:
        return sum(1 for r in self.rows if r.action_id is None)

"""The file-activity feed: what changed in the workspace, and which action was running then.

A change while nothing runs is flagged: it came from outside the review (an editor, a stray
background process, something that escaped) and deserves a look.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.content import Content

from app.ui.activity_watch import ActivityRow, Attributor, mtime_of, rows_for, watch_workspace
from app.ui.safe import make_safe, spaced
from app.ui.widgets.lines import LinesView, estimate_width

_VERB = {"added": "+", "modified": "~", "deleted": "−"}


class ActivityFeed(LinesView[ActivityRow]):
    """Component classes:
    - `activity-feed--more`: the `›`/`‹` markers of a path wider than the pane.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"activity-feed--more"}
    OVERFLOW_CLASS = "activity-feed--more"
    DEFAULT_CSS = """
    ActivityFeed > .activity-feed--more {
        color: $text-warning;
        text-style: bold reverse;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_rows=5_000, follow=True, id=id, classes=classes)
        self._stop: asyncio.Event | None = None

    def follow(
        self,
        workspace: Path,
        attributor: Attributor,
        known_at_start: Callable[[], Iterable[str] | None],
    ) -> None:
        """Watch `workspace` until `stop()`, crediting changes through `attributor`;
        `known_at_start()`: the files that existed when the session began, once known."""
        self._stop = asyncio.Event()
        self._watch_changes(workspace.resolve(), attributor, known_at_start, self._stop)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def _watch_changes(
        self,
        workspace: Path,
        attributor: Attributor,
        known_at_start: Callable[[], Iterable[str] | None],
        stop: asyncio.Event,
    ) -> None:
        known: set[str] = set()
        seeded = False

        def credit(rel: str, path: Path) -> tuple[str | None, bool]:
            return attributor.credit(rel, mtime_of(path))

        async for changes in watch_workspace(workspace, stop):
            if not seeded and (start := known_at_start()) is not None:
                known |= set(start)  # the snapshot is taken in the background
                seeded = True
            self.add(rows_for(changes, workspace, None, known=known, credit=credit))
            if self.unattributed:
                self.add_class("-unattributed")

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

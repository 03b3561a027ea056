"""Who changed the workspace: file events attributed to the action that was running.

watchfiles reports changes in debounced batches (we ask for ~100 ms), so a batch can arrive
just after the command that caused it finished; an action that ended within `grace_s` before the
batch still gets the credit. Anything else is "nothing ran" and is flagged in the feed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from app.ui.widgets.activity import ActivityRow

DEBOUNCE_MS = 100
STEP_MS = 40

_CHANGE = {Change.added: "added", Change.modified: "modified", Change.deleted: "deleted"}


@dataclass
class Attributor:
    """Remembers which action ran when, to credit each batch of file changes."""

    grace_s: float = 0.6
    clock: Callable[[], float] = time.monotonic
    running: str | None = None
    _last: tuple[str, float] | None = field(default=None, repr=False)

    def started(self, action_id: str) -> None:
        self.running = action_id

    def finished(self, action_id: str) -> None:
        if self.running == action_id:
            self.running = None
        self._last = (action_id, self.clock())

    def attribute(self) -> str | None:
        if self.running is not None:
            return self.running
        if self._last is not None and self.clock() - self._last[1] <= self.grace_s:
            return self._last[0]
        return None


def rows_for(
    changes: set[tuple[Change, str]], workspace: Path, action_id: str | None
) -> list[ActivityRow]:
    rows = []
    added = {p for c, p in changes if c == Change.added}
    deleted = {p for c, p in changes if c == Change.deleted}
    transient = added & deleted  # created and removed within one batch: a temp file, no change
    for change, raw in sorted(changes, key=lambda c: c[1]):
        if raw in transient:
            continue
        try:
            rel = str(Path(raw).relative_to(workspace))
        except ValueError:
            rel = raw
        rows.append(ActivityRow(_CHANGE.get(change, "modified"), rel, action_id))
    return rows


async def watch_workspace(
    workspace: Path, stop: asyncio.Event
) -> AsyncIterator[set[tuple[Change, str]]]:
    """File changes under `workspace` (`.git` and caches ignored) until `stop` is set."""
    async for changes in awatch(
        workspace,
        watch_filter=DefaultFilter(),
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        stop_event=stop,
        recursive=True,
        ignore_permission_denied=True,
    ):
        yield changes

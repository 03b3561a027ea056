"""Who changed the workspace: file events attributed to the action that was running.

watchfiles reports changes in debounced batches (we ask for ~100 ms), so a batch can arrive
just after the command that caused it finished; an action that ended within `grace_s` before the
batch still gets the credit. Anything else is "nothing ran" and is flagged in the feed.

lockgate's own bookkeeping is not workspace activity and is left out: the `.lockgate/` directory
at the top of the workspace (the sandbox keeps commands from writing there), the patch engine's
temporary and restore files while a patch is applied or undone (and only then).
Anything else, `.lockgate.toml` included, is shown.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from app.ui.widgets.activity import ActivityRow

DEBOUNCE_MS = 100
STEP_MS = 40

UNDO = "undo"  # what the feed credits while the console undoes a patch
_CHANGE = {Change.added: "added", Change.modified: "modified", Change.deleted: "deleted"}


@dataclass
class Attributor:
    """Remembers which action ran when, to credit each batch of file changes."""

    grace_s: float = 0.6
    clock: Callable[[], float] = time.monotonic
    running: str | None = None
    _last: tuple[str, float] | None = field(default=None, repr=False)
    _patching: set[str] = field(default_factory=set, repr=False)

    def started(self, action_id: str, *, patching: bool = False) -> None:
        """`patching`: the action is the patch engine's (a patch, an undo)."""
        self.running = action_id
        if patching:
            self._patching.add(action_id)

    def patching(self, action_id: str | None) -> bool:
        return action_id in self._patching

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


_PATCH_TEMP = re.compile(r"\.lockgate-(?:tmp-[0-9a-f]{16}-\d+|restore-[0-9a-f]{12})")


def is_lockgate_own(rel: str, patching: bool) -> bool:
    """Whether a change at workspace-relative `rel` is lockgate's own bookkeeping rather than
    something the agent (or anyone else) did; `patching`: the patch engine was at work."""
    parts = rel.split("/")
    if parts[0] == ".lockgate":
        return True
    return patching and _PATCH_TEMP.fullmatch(parts[-1]) is not None


def rows_for(
    changes: set[tuple[Change, str]],
    workspace: Path,
    action_id: str | None,
    *,
    patching: bool = False,
    known: set[str] | None = None,
) -> list[ActivityRow]:
    """Feed rows for one batch of changes. `known` (kept up to date here): the paths that exist
    as far as the feed knows, so a file replaced by a rename (how editors and the patch engine
    write) shows as modified, not added, and one removed and written again in one batch too."""
    rows = []
    added = {p for c, p in changes if c == Change.added}
    deleted = {p for c, p in changes if c == Change.deleted}
    both = added & deleted
    seen: set[str] = set()
    for change, raw in sorted(changes, key=lambda c: c[1]):
        if raw in seen:
            continue
        seen.add(raw)
        try:
            rel = Path(raw).relative_to(workspace).as_posix()
        except ValueError:
            rel = raw
        existed = known is not None and rel in known
        if raw in both:
            if not existed:
                continue  # created and removed within one batch: a temp file, no change
            what = "modified"
        else:
            what = _CHANGE.get(change, "modified")
            if what == "added" and existed:
                what = "modified"
        if known is not None:
            if what == "deleted":
                known.discard(rel)
            else:
                known.add(rel)
        if is_lockgate_own(rel, patching):
            continue
        rows.append(ActivityRow(what, rel, action_id))
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

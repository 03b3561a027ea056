"""Who changed the workspace: file events attributed to the action that wrote them.

watchfiles reports changes in debounced batches (we ask for ~100 ms), so a batch can arrive
after the action that caused it finished, even after the next one started: each file is credited
by its mtime to the action running when it was written (see `Attributor`). Anything else is
"nothing ran" and is flagged in the feed.

lockgate's own bookkeeping is not workspace activity and is left out: the `.lockgate/` directory
at the top of the workspace (the sandbox keeps commands from writing there), the patch engine's
temporary and restore files while a patch is applied or undone (and only then).
Anything else, `.lockgate.toml` included, is shown.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from app.ui.bridge import OutputItem


@dataclass(frozen=True)
class ActivityRow:
    change: str  # "added" | "modified" | "deleted"
    path: str
    action_id: str | None  # None: nothing was running


DEBOUNCE_MS = 100
STEP_MS = 40

UNDO = "undo"  # what the feed credits while the console undoes a patch
_CHANGE = {Change.added: "added", Change.modified: "modified", Change.deleted: "deleted"}


# A file's mtime comes from the kernel's coarse clock (a few ms behind `time.time()`), so a
# write that starts a run can look that much older than the run.
SLACK_S = 0.02
KEEP_RUNS = 64


@dataclass
class _Run:
    action_id: str
    started: float  # wall clock, like file mtimes
    ended: float | None = None
    patching: bool = False
    files: frozenset[str] = frozenset()  # a patch's declared paths (workspace-relative)

    def may_write(self, rel: str) -> bool:
        """A patch writes only the files it declared (an undo, declaring none, any file)."""
        return not (self.patching and self.files) or rel in self.files


@dataclass
class Attributor:
    """Remembers which action ran when, to credit each changed file to the action that wrote it.

    The file's mtime says when it was written, so a change is credited to the action that was
    running at that moment, even when the watcher reports it after the next action started. A
    patch is credited only with the files it declared (a command running next to it, or just
    before, never with its files — and it never with theirs). A file written when nothing that
    could write it ran is nobody's (and flagged). Without an mtime (a deletion) the running
    action gets the credit, else one that ended within `grace_s`.
    """

    grace_s: float = 0.6
    clock: Callable[[], float] = time.time
    _runs: list[_Run] = field(default_factory=list, repr=False)

    @property
    def running(self) -> str | None:
        return next((r.action_id for r in reversed(self._runs) if r.ended is None), None)

    def started(
        self,
        action_id: str,
        *,
        patching: bool = False,
        files: Iterable[str] = (),
        at: float | None = None,
    ) -> None:
        """`patching`: the action is the patch engine's (a patch, an undo); `files`: the paths
        a patch declared; `at`: when it started (default: now)."""
        when = self.clock() if at is None else at
        self._runs.append(_Run(action_id, when, patching=patching, files=frozenset(files)))
        del self._runs[:-KEEP_RUNS]

    def take(
        self,
        items: Iterable[OutputItem],
        patch_files: Callable[[str], tuple[str, ...] | None],
    ) -> None:
        """Runs starting and ending, as the console bridge reports them; `patch_files(id)`: the
        files a patch declared (None for anything else)."""
        for item in items:
            if item[0] == "start":
                files = patch_files(item[1])
                self.started(item[1], patching=files is not None, files=files or (), at=item[3])
            elif item[0] == "end":
                self.finished(item[1].action_id, at=item[2])

    def patching(self, action_id: str | None) -> bool:
        return any(r.patching for r in self._runs if r.action_id == action_id)

    def finished(self, action_id: str, at: float | None = None) -> None:
        for run in reversed(self._runs):
            if run.action_id == action_id and run.ended is None:
                run.ended = self.clock() if at is None else at
                return

    def attribute(self) -> str | None:
        """The action running now, else the one that ended within `grace_s`."""
        now = self.clock()
        for run in reversed(self._runs):
            if run.ended is None or now - run.ended <= self.grace_s:
                return run.action_id
        return None

    def credit(self, rel: str, mtime: float | None) -> tuple[str | None, bool]:
        """(action id or None, whether it is the patch engine's) for a change at `rel`."""
        now = self.clock()
        recent = [
            r for r in reversed(self._runs) if r.ended is None or now - r.ended <= self.grace_s
        ]
        if _PATCH_TEMP.fullmatch(rel.rsplit("/", 1)[-1]):
            engine = next((r for r in recent if r.patching), None)
            if engine is not None:
                return engine.action_id, True
        declared = next((r for r in recent if r.patching and rel in r.files), None)
        if declared is not None:
            return declared.action_id, True
        if mtime is not None:
            for run in reversed(self._runs):
                end = run.ended if run.ended is not None else now
                if run.started - SLACK_S <= mtime <= end + SLACK_S and run.may_write(rel):
                    return run.action_id, run.patching
            return None, False  # written when nothing that could write it ran
        fallback = next((r for r in recent if r.may_write(rel)), None)
        return (fallback.action_id, fallback.patching) if fallback is not None else (None, False)


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
    credit: Callable[[str, Path], tuple[str | None, bool]] | None = None,
) -> list[ActivityRow]:
    """Feed rows for one batch of changes, credited to `action_id` (or, with `credit`, to what
    `credit(relative path, path)` says). `known` (kept up to date here): the paths that exist as
    far as the feed knows, so a file replaced by a rename (how editors and the patch engine
    write) shows as modified, not added, and one removed and written again in one batch too.
    Directories are left out: the files in them are what changed (and a directory made and
    removed again would be listed as if it still existed)."""
    rows = []
    added = {p for c, p in changes if c == Change.added}
    deleted = {p for c, p in changes if c == Change.deleted}
    both = added & deleted
    seen: set[str] = set()
    for change, raw in sorted(changes, key=lambda c: c[1]):
        if raw in seen:
            continue
        seen.add(raw)
        path = Path(raw)
        try:
            rel = path.relative_to(workspace).as_posix()
        except ValueError:
            rel = raw
        if known is not None and rel + "/" in known:
            if change == Change.deleted:
                known.discard(rel + "/")
            continue
        if path.is_dir():
            if known is not None:
                known.add(rel + "/")
            continue
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
        who, by_patch = credit(rel, path) if credit is not None else (action_id, patching)
        if is_lockgate_own(rel, by_patch):
            continue
        rows.append(ActivityRow(what, rel, who))
    return rows


def mtime_of(path: Path) -> float | None:
    try:
        return path.lstat().st_mtime
    except OSError:
        return None


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

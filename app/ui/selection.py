"""Which action the console selects by itself, when a verdict key may act on it, and what a key
that cannot act says instead. Pure functions over action views, testable without Textual.

A move of the selection never approves anything. After the console moves it (to the next waiting
action once a verdict is given, or to a newly waiting one), verdict keys ignore the new selection
for `SETTLE_S`: a held key (auto-repeat), or a press already on its way, must not run through the
queue approving actions the reviewer never had time to read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from app.core.model import CommandAction, NetworkAction, PatchAction
from app.core.state import ActionState
from app.ui.contract import ViewLike

SETTLE_S = 0.4
VERDICT_ACTIONS = frozenset({"approve", "approve_batch", "deny", "deny_feedback", "edit"})
UNFINISHED = frozenset(
    {
        ActionState.PROPOSED,
        ActionState.WAITING,
        ActionState.APPROVED,
        ActionState.AUTO_APPROVED,
        ActionState.RUNNING,
    }
)
BatchIds = tuple[str, tuple[str, ...]]  # (turn id, action ids in proposal order)


def next_waiting(
    batches: Sequence[BatchIds], waiting: Sequence[str], after: str | None
) -> str | None:
    """The action to review next: the first waiting one after `after` in its own batch, else the
    earliest waiting one anywhere. `waiting`: ids in queue order (only actions with a row)."""
    candidates = [i for i in waiting if i != after]
    if not candidates:
        return None
    if after is not None:
        pending = set(candidates)
        for _, ids in batches:
            if after in ids:
                later = ids[ids.index(after) + 1 :]
                found = next((i for i in later if i in pending), None)
                if found is not None:
                    return found
                break
    return candidates[0]


@dataclass
class Settle:
    """Remembers the console's own last move of the selection (see the module docstring)."""

    clock: Callable[[], float] = time.monotonic
    moved: tuple[str, float] | None = None  # (action id, when)

    def moved_to(self, action_id: str) -> None:
        self.moved = (action_id, self.clock())

    def left(self, selected: str | None) -> float:
        """Seconds verdict keys still ignore `selected` (0 once it was the reviewer's choice)."""
        if self.moved is None or self.moved[0] != selected:
            return 0.0
        return max(0.0, SETTLE_S - (self.clock() - self.moved[1]))


def verdict_applies(action: str, view: ViewLike | None, batch_waiting: bool) -> bool:
    """Whether verdict key `action` can act on the selected `view` (the footer greys it out
    otherwise, and the key says why not)."""
    if action == "approve_batch":
        return batch_waiting
    if view is None or view.state is not ActionState.WAITING:
        return False
    if action == "edit":
        return isinstance(view.action, CommandAction | PatchAction)
    return True


def why_not(action: str, view: ViewLike | None, batch_waiting: bool) -> str:
    """What a verdict key says when it cannot act on the selection, in one sentence."""
    if action == "approve_batch" and not batch_waiting:
        return "Nothing in this batch waits for a verdict."
    if view is None:
        return "Select an action first (j/k or the arrows)."
    action_id = view.action.id
    if action == "edit" and isinstance(view.action, NetworkAction):
        return f"{action_id} is a network ask: it cannot be edited; y allows it, n refuses it."
    state = view.state
    if state is ActionState.AUTO_APPROVED:
        rule = view.decision.rule if view.decision is not None else "policy"
        return (
            f"{action_id} was approved automatically ({rule}) and runs in its turn; "
            "it no longer takes a verdict."
        )
    if state is ActionState.PROPOSED:
        return f"{action_id} is still being assessed; press the key again in a moment."
    if state is ActionState.APPROVED:
        return f"{action_id} is approved and runs in its turn; it no longer takes a verdict."
    return f"{action_id} is {state.value}: verdict keys act only on waiting actions."


def undo_target(views: Iterable[ViewLike], undone: Iterable[str]) -> ViewLike | None:
    """The patch `u` would undo: the patch engine undoes the most recently applied one, so the
    last patch of this session that was applied and is not undone yet."""
    skip = set(undone)
    applied = [
        v
        for v in views
        if isinstance(v.action, PatchAction)
        and v.state is ActionState.DONE
        and v.action.id not in skip
    ]
    return applied[-1] if applied else None


def undo_question(target: ViewLike, selected: ViewLike | None) -> str:
    """What `u` asks, naming the patch it undoes — and saying so when another patch is
    selected (the patch engine undoes the last applied patch first)."""
    question = f"Undo {target.action.id} and restore the files it changed?"
    if (
        selected is not None
        and isinstance(selected.action, PatchAction)
        and selected.action.id != target.action.id
    ):
        return (
            f"Patches are undone last first: u undoes {target.action.id}, the last one "
            f"applied, not the selected {selected.action.id}. " + question
        )
    return question


def no_output(view: ViewLike, ran: bool) -> str:
    """Why `o` has nothing to show for `view` (`ran`: the output pane saw its run start)."""
    result = view.result
    if view.state is ActionState.RUNNING:
        why = "has printed nothing yet"
    elif not ran or result is None:
        why = "has not run"
    elif result.stdout_total or result.stderr_total:
        # The pane keeps the newest lines only; the audit log keeps every run's output.
        return f"{view.action.id}'s output has scrolled out of the output pane's memory."
    else:
        why = "printed nothing"
    return f"{view.action.id} {why}: no output to show."


def quit_counts(views: Iterable[ViewLike]) -> tuple[int, int]:
    """(waiting for a verdict, approved but not finished): what quitting would cancel or stop."""
    waiting = in_flight = 0
    for v in views:
        if v.state is ActionState.WAITING:
            waiting += 1
        elif v.state in UNFINISHED:
            in_flight += 1
    return waiting, in_flight

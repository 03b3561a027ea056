"""The selection rules, without Textual: where the console moves next, how long keys wait after a
move, what a key that cannot act says, which patch `u` undoes, what quitting cancels."""

from __future__ import annotations

from app.core.model import (
    Assessment,
    CommandAction,
    Decision,
    DecisionKind,
    Level,
    NetworkAction,
    PatchAction,
)
from app.core.state import ActionState, ActionView
from app.ui.selection import (
    SETTLE_S,
    Settle,
    next_waiting,
    quit_counts,
    undo_target,
    verdict_applies,
    why_not,
)

BATCHES = [("t1", ("a", "b", "c")), ("t2", ("d", "e"))]


def _cmd(action_id: str, state: ActionState, decision: Decision | None = None) -> ActionView:
    action = CommandAction("ls", turn_id="t1", id=action_id)
    return ActionView(action, state, Assessment(score=40, level=Level.MEDIUM), decision)


def test_next_waiting_prefers_later_in_the_same_batch_then_the_earliest() -> None:
    assert next_waiting(BATCHES, ["a", "c", "e"], after="a") == "c"
    assert next_waiting(BATCHES, ["a", "e"], after="c") == "a"  # the batch has none left
    assert next_waiting(BATCHES, ["b"], after="b") is None
    assert next_waiting(BATCHES, ["d"], after=None) == "d"


def test_settle_holds_keys_only_on_the_action_the_console_moved_to() -> None:
    now = [100.0]
    settle = Settle(clock=lambda: now[0])
    assert settle.left("a") == 0
    settle.moved_to("b")
    assert settle.left("b") == SETTLE_S and settle.left("a") == 0
    now[0] += SETTLE_S
    assert settle.left("b") == 0


def test_keys_that_cannot_act_say_why() -> None:
    ask = ActionView(
        NetworkAction("x.example", 443, "net-1", id="net-1"), ActionState.WAITING, None
    )
    assert verdict_applies("approve", ask, False) and not verdict_applies("edit", ask, False)
    assert "network ask: it cannot be edited" in why_not("edit", ask, False)
    auto = _cmd(
        "cmd-2", ActionState.AUTO_APPROVED, decision=Decision(DecisionKind.ALLOW, rule="r:safe")
    )
    assert not verdict_applies("deny", auto, False)
    assert why_not("deny", auto, False) == (
        "cmd-2 was approved automatically (r:safe) and runs in its turn; "
        "it no longer takes a verdict."
    )
    assert why_not("edit", _cmd("cmd-3", ActionState.DONE), False) == (
        "cmd-3 is done: verdict keys act only on waiting actions."
    )
    assert why_not("approve_batch", None, False) == "Nothing in this batch waits for a verdict."
    assert why_not("approve", None, True).startswith("Select an action first")


def test_undo_target_is_the_last_applied_patch_not_undone() -> None:
    def patch(action_id: str, state: ActionState) -> ActionView:
        return ActionView(PatchAction("p", turn_id="t1", id=action_id), state)

    views = [
        patch("p1", ActionState.DONE),
        patch("p2", ActionState.DONE),
        patch("p3", ActionState.DENIED),
    ]
    target = undo_target(views, undone=())
    assert target is not None and target.action.id == "p2"
    again = undo_target(views, undone={"p2"})
    assert again is not None and again.action.id == "p1"
    assert undo_target(views, undone={"p1", "p2"}) is None


def test_quit_counts_waiting_and_unfinished() -> None:
    views = [
        _cmd("a", ActionState.WAITING),
        _cmd("b", ActionState.APPROVED),
        _cmd("c", ActionState.RUNNING),
        _cmd("d", ActionState.DONE),
    ]
    assert quit_counts(views) == (1, 2)


def test_o_says_why_there_is_no_output() -> None:
    from app.core.model import Result, ResultStatus
    from app.ui.selection import no_output

    quiet = Result("a", ResultStatus.COMPLETED, exit_code=0)
    loud = Result("a", ResultStatus.COMPLETED, exit_code=0, stdout_total=10)
    assert no_output(_cmd("a", ActionState.RUNNING), ran=True).endswith(
        "printed nothing yet: no output to show."
    )
    assert "has not run" in no_output(_cmd("a", ActionState.WAITING), ran=False)
    done = ActionView(CommandAction("ls", turn_id="t1", id="a"), ActionState.DONE, result=quiet)
    assert "printed nothing" in no_output(done, ran=True)
    gone = ActionView(CommandAction("ls", turn_id="t1", id="a"), ActionState.DONE, result=loud)
    assert "scrolled out" in no_output(gone, ran=True)

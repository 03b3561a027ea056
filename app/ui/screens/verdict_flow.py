"""The questions a verdict may need before it can be given, each ending in a `Verdict` or None
(and the one an undo needs).

Every dialog is a screen that answers with `dismiss`; these coroutines await them in turn (the
critical confirmation after an edit shows the edited text) and build the verdict the main screen
then submits. Nothing here submits a verdict.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from app.core.model import (
    Assessment,
    CommandAction,
    Decision,
    Level,
    PatchAction,
    Result,
    Verdict,
    VerdictKind,
)
from app.core.state import ActionView
from app.ui.activity_watch import UNDO, Attributor
from app.ui.contract import PipelineLike, ViewLike
from app.ui.editor import edit_in_editor
from app.ui.screens.dialogs import (
    ConfirmCriticalScreen,
    ConfirmScreen,
    EditCommandScreen,
    FeedbackScreen,
)

APPROVALS = {
    "once": (VerdictKind.APPROVE, "y", "Approve"),
    "session": (VerdictKind.APPROVE_SESSION, "s", "Approve and allow for this session"),
    "always": (VerdictKind.APPROVE_ALWAYS, "A", "Approve and always allow"),
}


def is_critical(view: ViewLike) -> bool:
    return view.assessment is not None and view.assessment.level is Level.CRITICAL


async def approval(app: App[object], view: ViewLike, scope: str) -> Verdict | None:
    """`scope`: once, session or always. A critical action needs a typed confirmation."""
    kind, key, verb = APPROVALS[scope]
    if is_critical(view) and not await app.push_screen_wait(ConfirmCriticalScreen(view, verb)):
        return None
    return Verdict(view.action.id, kind, key=key)


async def denial_with_feedback(app: App[object], view: ViewLike) -> Verdict | None:
    text = await app.push_screen_wait(FeedbackScreen(view))
    return (
        Verdict(view.action.id, VerdictKind.DENY_FEEDBACK, key="f", feedback=text) if text else None
    )


async def command_edit(
    app: App[object], view: ViewLike, judge: Callable[[str, str], tuple[Assessment, Decision]]
) -> Verdict | None:
    """Edit, then confirm the edited text — exactly what will run — when the proposal or the
    edit is critical (the edit judged on its own: an edit can make a harmless command
    dangerous). An edit a rule denies is refused when it is submitted."""
    edited = await app.push_screen_wait(EditCommandScreen(view))
    if edited is None:
        return None
    assessment, _ = judge(view.action.id, edited)
    if assessment.level is Level.CRITICAL and not is_critical(view):
        # the confirmation names the danger of what will run, not of what was proposed
        view = ActionView(
            action=view.action,
            state=view.state,
            assessment=assessment,
            decision=view.decision,
            verdict=view.verdict,
            result=view.result,
            review=view.review,
            recovered=view.recovered,
        )
    if is_critical(view):
        confirm = ConfirmCriticalScreen(view, "Run the edited", edited=edited)
        if not await app.push_screen_wait(confirm):
            return None
    return Verdict(view.action.id, VerdictKind.EDIT, key="e", edited=edited)


async def patch_revision(app: App[object], view: ViewLike) -> tuple[Verdict | None, str]:
    """Patches are edited in $EDITOR. The pipeline runs only patches the agent proposed, so a
    revised patch goes back to the agent as the reason for a denial, to be proposed again (and
    reviewed again) as its own action. Returns the verdict, or None and what to tell the
    reviewer."""
    assert isinstance(view.action, PatchAction)
    outcome = await edit_in_editor(app, view.action.patch, f"{view.action.id}.patch")
    if outcome.text is None:
        return None, outcome.problem
    if not outcome.changed:
        return None, "Patch unchanged; it still waits for a verdict."
    feedback = (
        "The reviewer revised this patch instead of applying it. "
        "Propose exactly this patch instead:\n" + outcome.text
    )
    return Verdict(view.action.id, VerdictKind.DENY_FEEDBACK, key="e", feedback=feedback), ""


def editable(view: ViewLike) -> bool:
    return isinstance(view.action, CommandAction | PatchAction)


async def undo(
    app: App[object], pipeline: PipelineLike, attributor: Attributor, question: str
) -> Result | None:
    """Ask, then undo the last applied patch (None: the reviewer said no). The files it
    restores are the console's doing, and credited to it in the files pane."""
    if not await app.push_screen_wait(ConfirmScreen("Undo patch", question)):
        return None
    attributor.started(UNDO, patching=True)
    try:
        return await pipeline.undo_last_patch()
    finally:
        attributor.finished(UNDO)

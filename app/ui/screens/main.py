"""The main screen: queue on the left, the selected action on the right, live output, the agent's
prose and the file-activity feed at the bottom. Every verdict starts here.

A verdict always names the action whose text is on screen in the detail pane: keys act on the
highlighted row only when the detail pane shows that same action, and actions are frozen, so what
is approved is exactly what was displayed. After a verdict the selection moves on to the next
waiting action (and a newly waiting action takes it from one that no longer waits); a move never
approves anything, and verdict keys ignore the new selection for a moment (`selection.Settle`).
The rows are `QueueModel`'s, the questions before a verdict `verdict_flow`'s; this screen wires
pipeline events to widgets and keys to verdicts.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.screen import Screen

from app.core.model import NetworkAction, PatchAction, ResultStatus, Verdict, VerdictKind
from app.core.pipeline import PipelineError
from app.core.state import ActionState
from app.ui import bindings
from app.ui.activity_watch import UNDO, Attributor
from app.ui.batch import plan_batch
from app.ui.bridge import Changed, ConsoleBridge, Drained
from app.ui.contract import ConsoleLike, PipelineLike, ViewLike
from app.ui.queue_model import QueueModel
from app.ui.safe import notify_safely
from app.ui.screens import verdict_flow
from app.ui.screens.dialogs import ConfirmScreen, QuitScreen
from app.ui.screens.help import HelpScreen, describe
from app.ui.screens.session_diff import SessionDiffScreen, touched_outside
from app.ui.selection import (
    SETTLE_S,
    VERDICT_ACTIONS,
    Settle,
    next_waiting,
    quit_counts,
    undo_target,
    verdict_applies,
    why_not,
)
from app.ui.widgets.activity import ActivityFeed
from app.ui.widgets.agent_text import AgentView
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.footer import ConsoleFooter
from app.ui.widgets.header import ConsoleHeader, summarise_sandbox
from app.ui.widgets.output import OutputView
from app.ui.widgets.queue import QueueList

__all__ = ["SETTLE_S", "MainScreen"]  # the settle time lives in `selection`; tests wait it out


# Left out of a narrow footer (they still work; `?` lists them).
OPTIONAL_KEYS = frozenset({"expand", "show_output", "themes"})


class MainScreen(Screen[None]):
    CSS_PATH = "main.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.MAIN)

    def __init__(self, app_ref: ConsoleLike) -> None:
        super().__init__()
        self.lockgate = app_ref
        self.pipeline: PipelineLike = app_ref.session.pipeline
        self.bridge = ConsoleBridge(self)
        self.attributor = Attributor()
        self.model = QueueModel()
        self.settle = Settle()
        self.seen: set[str] = set()  # actions shown whole, in the queue or the detail pane
        self.header = ConsoleHeader(
            session_name=app_ref.session_name, workspace=str(app_ref.workspace), id="header"
        )
        self.queue = QueueList(id="queue")
        self.detail = DetailPane(id="detail")
        self.output = OutputView(id="output")
        self.agent = AgentView(id="agent")
        self.activity = ActivityFeed(id="activity")
        self.footer = ConsoleFooter(OPTIONAL_KEYS, id="footer")
        self._ran: set[str] = set()
        self._usable: tuple[bool, ...] = ()
        self._known_waiting: set[str] = set()
        self._agent_state = ("starting", "")

    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="body"):
            yield self.queue
            yield self.detail
        with Horizontal(id="bottom"):
            yield self.output
            yield self.agent
            yield self.activity
        yield self.footer

    def on_mount(self) -> None:
        panes = ((self.queue, "queue"), (self.output, "output"), (self.agent, "agent"))
        for pane, title in (*panes, (self.activity, "files")):
            pane.border_title = title
        self.header.set_sandbox(summarise_sandbox(self.lockgate.sandbox_status))
        self.pipeline.add_observer(self.bridge)
        self.queue.focus()
        self._apply(Drained(new_ids=[v.action.id for v in self.pipeline.views()]))
        if self.lockgate.watch_files:
            self.activity.follow(self.lockgate.workspace, self.attributor, self._known_at_start)
        self.lockgate.start_pipeline()

    def _known_at_start(self) -> list[str] | None:
        return list(self.lockgate.snapshot) if self.lockgate.snapshot is not None else None

    def _view_or_none(self, action_id: str) -> ViewLike | None:
        try:
            return self.pipeline.view(action_id)
        except PipelineError:
            return None

    # ------------------------------------------------------------------ pipeline → screen

    @on(Changed)
    def _on_changed(self, _: Changed) -> None:
        self._apply(self.bridge.drain())

    def _apply(self, drained: Drained) -> None:
        changed = drained.dirty | set(drained.new_ids)
        for action_id in changed:
            if (view := self._view_or_none(action_id)) is not None:
                self.model.put(view)
        rows = self.model.layout(self.pipeline.batches(), self._view_or_none)
        if not drained.new_ids or self.queue.set_queue(rows):
            for index, row in self.model.changed_rows(changed):
                self.queue.update_row(index, row)
        self._follow_new_waiting(drained)
        shown = self.detail.shown_id
        if shown is not None and shown in drained.dirty:
            self._show(shown)
        elif shown is None:
            self._show_highlighted()
        self._apply_output(drained)
        if drained.agent_text:
            self.agent.add(drained.agent_text)
        if drained.status is not None:
            self._agent_state = (drained.status.state, drained.status.detail)
            self.lockgate.agent_failed |= drained.status.state == "error"
        self._show_agent_state()
        failure = self.pipeline.audit_failure
        self.header.set_warnings((f"audit log stopped recording: {failure}",) if failure else ())
        if changed:
            self._refresh_verdict_keys()

    def _show_agent_state(self) -> None:
        """While the agent waits, say what for: the console's count, not the link's."""
        state, detail = self._agent_state
        if state == "waiting":
            n = len(self.model.waiting())
            detail = f"{n} action{'s' * (n != 1)} wait{'s' * (n == 1)} for you" if n else "results"
        self.header.set_agent(state, detail)

    def _apply_output(self, drained: Drained) -> None:
        for item in drained.output:
            if item[0] == "start":
                self._ran.add(item[1])
                view = self.model.views.get(item[1])
                patch = view is not None and isinstance(view.action, PatchAction)
                files = [p for p, _, _ in view.review.files] if view and view.review else []
                self.attributor.started(item[1], patching=patch, files=files)
                self.output.started(item[1], item[2])
            elif item[0] == "chunk":
                self.output.feed(item[1], item[2], item[3])
            elif item[1].action_id in self._ran:
                self.attributor.finished(item[1].action_id)
                self.output.finished(item[1])

    # ------------------------------------------------------------------ selection and seen

    @on(QueueList.Highlighted)
    def _highlighted(self, _: QueueList.Highlighted) -> None:
        self._show_highlighted()
        self._refresh_verdict_keys()

    @on(QueueList.Seen)
    @on(DetailPane.Seen)
    def _on_seen(self, event: QueueList.Seen | DetailPane.Seen) -> None:
        self.seen |= event.action_ids

    def _show_highlighted(self) -> None:
        if (action_id := self._selected_id()) is not None:
            self._show(action_id)

    def _show(self, action_id: str) -> None:
        view = self.model.views.get(action_id) or self._view_or_none(action_id)
        if view is None:
            return
        parent = None
        if isinstance(view.action, NetworkAction) and view.action.parent_action_id:
            parent = self._view_or_none(view.action.parent_action_id)
        self.detail.show(view, asked_by=parent)

    def _selected_id(self) -> str | None:
        row = self.queue.highlighted_row()
        return row.action_id if row is not None else None

    def _selected_view(self) -> ViewLike | None:
        action_id = self._selected_id()
        return self.model.views.get(action_id) if action_id is not None else None

    def _is_waiting(self, action_id: str | None) -> bool:
        """From the pipeline itself: the screen's views lag a verdict just given."""
        view = self._view_or_none(action_id) if action_id is not None else None
        return view is not None and view.state is ActionState.WAITING

    def _waiting_ids(self) -> list[str]:
        return [
            v.action.id
            for v in self.pipeline.waiting()
            if self.model.row_of(v.action.id) is not None
        ]

    def _select(self, action_id: str) -> None:
        """Move the selection (and so the detail pane) to `action_id`; approves nothing."""
        index = self.queue.index_of(action_id)
        if index is not None and index != self.queue.highlighted:
            self.queue.highlighted = index
            self.settle.moved_to(action_id)

    def _advance(self, acted_on: str) -> None:
        """After a verdict on `acted_on`: go to the next waiting action, unless the reviewer is
        on an action that still waits (a critical one `a` left behind, a verdict refused)."""
        current = self._selected_id()
        if current not in (None, acted_on) or self._is_waiting(current):
            return
        nxt = next_waiting(self.model.batches, self._waiting_ids(), acted_on)
        if nxt is not None:
            self._select(nxt)

    def _follow_new_waiting(self, drained: Drained) -> None:
        """A newly waiting action takes the selection only from an action that no longer
        waits, and never while the reviewer reads one pane full screen."""
        later = sorted(drained.dirty - set(drained.new_ids))
        fresh = [
            i
            for i in [*drained.new_ids, *later]
            if i not in self._known_waiting and self._is_waiting(i)
        ]
        self._known_waiting.update(fresh)
        current = self._selected_id()
        if fresh and not self._is_waiting(current) and self.maximized is None:
            nxt = next_waiting(self.model.batches, self._waiting_ids(), current)
            if nxt is not None:
                self._select(nxt)

    def _settling(self) -> bool:
        """True (with a note) if the console moved the selection a moment ago: the key was
        pressed for what was there before, or is held down."""
        selected = self._selected_id()
        if self.settle.left(selected) <= 0:
            return False
        notify_safely(
            self,
            f"The selection just moved to {selected}; read it, then press the key again.",
            title="Not applied",
            severity="warning",
            timeout=3,
        )
        return True

    def _target(self, *, approving: bool = True) -> ViewLike | None:
        """The action a verdict key acts on: the highlighted one. An approval also needs the
        detail pane to show that very action (the screen may lag a fast cursor); a denial runs
        nothing, so it never has to wait for the pane."""
        action_id = self._selected_id()
        if action_id is None or self._settling():
            return None
        if approving and self.detail.shown_id != action_id:
            self._show(action_id)
            self.notify("Showing the selected action now; press the key again.", timeout=3)
            return None
        view = self._view_or_none(action_id)
        return view if view is not None and view.state is ActionState.WAITING else None

    # ------------------------------------------------------------------ verdict keys

    def _batch_waiting(self) -> bool:
        row = self.queue.highlighted_row()
        return row is not None and bool(self.model.waiting_in(row.turn_id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in VERDICT_ACTIONS:
            return True
        return verdict_applies(action, self._selected_view(), self._batch_waiting()) or None

    def _refresh_verdict_keys(self) -> None:
        """Re-draw the footer only when the set of usable verdict keys changed: a footer
        rebuild costs far more than moving the cursor."""
        view, batch = self._selected_view(), self._batch_waiting()
        usable = tuple(verdict_applies(a, view, batch) for a in sorted(VERDICT_ACTIONS))
        if usable != self._usable:
            self._usable = usable
            self.refresh_bindings()

    def action_refused(self, action: str) -> None:
        """A verdict key pressed where it does not apply: say why, instead of nothing."""
        name = action.split("(", 1)[0]
        reason = why_not(name, self._selected_view(), self._batch_waiting())
        notify_safely(self, reason, title="Not applied", severity="warning", timeout=4)

    def _submit(self, verdict: Verdict, *, advance: bool = True) -> bool:
        try:
            self.pipeline.submit_verdict(verdict)
        except PipelineError as exc:
            notify_safely(self, str(exc), title="Not submitted", severity="error")
            return False
        if advance:
            self._advance(verdict.action_id)
        return True

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _ask_then_submit(self, view: ViewLike, flow: Awaitable[Verdict | None]) -> None:
        if (verdict := await flow) is not None:
            self._submit(verdict)

    def action_approve(self, scope: str) -> None:
        if (view := self._target()) is not None:
            self._ask_then_submit(view, verdict_flow.approval(self.app, view, scope))

    def action_deny(self) -> None:
        if (view := self._target(approving=False)) is not None:
            self._submit(Verdict(view.action.id, VerdictKind.DENY, key="n"))

    def action_deny_feedback(self) -> None:
        if (view := self._target(approving=False)) is not None:
            self._ask_then_submit(view, verdict_flow.denial_with_feedback(self.app, view))

    def action_edit(self) -> None:
        if (view := self._target()) is None:
            return
        if isinstance(view.action, PatchAction):
            self._revise_patch(view)
        else:
            self._ask_then_submit(view, verdict_flow.command_edit(self.app, view))

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _revise_patch(self, view: ViewLike) -> None:
        verdict, problem = await verdict_flow.patch_revision(self.app, view)
        if verdict is None:
            notify_safely(self, problem, severity="warning")
        elif self._submit(verdict):
            self.notify("Revised patch sent to the agent; it will come back for review.")

    def action_approve_batch(self) -> None:
        row = self.queue.highlighted_row()
        if row is None or self._settling():
            return
        views = self.model.waiting_in(row.turn_id)
        plan = plan_batch(views, self.seen)
        if plan.unseen:
            self.queue.highlighted = self.model.row_of(plan.unseen[0])
            self.queue.scroll_to_highlight(top=True)
            self.notify(plan.unseen_note(self.queue.highlighted_row()), title="Not approved yet")
            return
        if not plan.approve:
            self.notify(f"Nothing approved: {plan.why_nothing()}.", severity="warning")
            return
        approved = [
            v.action.id
            for v in views
            if v.action.id in plan.approve
            and self._submit(Verdict(v.action.id, VerdictKind.APPROVE, key="a"), advance=False)
        ]
        if (selected := self._selected_id()) is not None:
            self._advance(selected)
        self.notify(plan.approved_note(len(approved)))

    # ------------------------------------------------------------------ other keys

    def action_undo_patch(self) -> None:
        target = undo_target(self.pipeline.views(), self.model.undone)
        if target is None:
            self.notify("No patch of this session is applied: nothing to undo.", severity="warning")
            return
        selected = self._selected_view()
        question = f"Undo {target.action.id} and restore the files it changed?"
        other = selected is not None and selected.action.id != target.action.id
        if other and selected is not None and isinstance(selected.action, PatchAction):
            question = (
                f"Patches are undone last first: u undoes {target.action.id}, the last one "
                f"applied, not the selected {selected.action.id}. " + question
            )
        self._undo(target.action.id, question)

    @work(exclusive=True, group="undo", exit_on_error=False)
    async def _undo(self, action_id: str, question: str) -> None:
        if not await self.app.push_screen_wait(ConfirmScreen("Undo patch", question)):
            return
        # The files an undo restores are the console's doing: credit them to it.
        self.attributor.started(UNDO, patching=True)
        try:
            result = await self.pipeline.undo_last_patch()
        finally:
            self.attributor.finished(UNDO)
        ok = result.status is ResultStatus.COMPLETED
        if ok:
            self.model.undone = self.detail.undone = self.model.undone | {action_id}
            self._apply(Drained(dirty={action_id}))
        message = result.message or ("" if ok else "undo failed")
        title = "Undo" if ok else "Undo failed"
        notify_safely(self, (f"{action_id} undone. " if ok else "") + message, title=title)

    def action_expand(self) -> None:
        if self.maximized is self.detail:
            self.minimize()
            self.queue.focus()
            return
        # Focus moves into the pane (a maximized view minimizes when focus leaves it), so the
        # arrows scroll the command or the diff; the verdict keys still act on what it shows.
        self.maximized = self.detail
        self.detail.focus_content()

    def action_show_output(self) -> None:
        """The selected action's own output, full screen, from its first line: readable from
        the keyboard however long ago it ran. `o` again (or Esc) goes back."""
        if self.maximized is self.output:
            self.minimize()
            self.queue.focus()
            return
        view = self._selected_view()
        if view is None:
            self.notify("Select an action first.", severity="warning")
        elif not self.output.show_action(view.action.id):
            why = "has printed nothing yet" if view.state is ActionState.RUNNING else "has not run"
            why = (
                "printed nothing"
                if view.result is not None and view.action.id in self._ran
                else why
            )
            self.notify(f"{view.action.id} {why}: no output to show.", severity="warning")
        else:
            self.maximized = self.output
            self.output.focus()

    def action_session_diff(self) -> None:
        touched = touched_outside(self.pipeline.views(), self.lockgate.workspace)
        self.app.push_screen(
            SessionDiffScreen(
                self.lockgate.snapshot,
                self.lockgate.workspace,
                outside=self.lockgate.outside_roots,
                touched=touched,
            )
        )

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(describe(bindings.all_bindings(), self.lockgate.keymap)))

    def action_themes(self) -> None:
        self.app.search_themes()

    def action_request_quit(self) -> None:
        waiting, in_flight = quit_counts(self.pipeline.views())
        if waiting or in_flight:
            self._ask_quit(waiting, in_flight)
        else:
            self.lockgate.shutdown()

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _ask_quit(self, waiting: int, in_flight: int) -> None:
        if await self.app.push_screen_wait(QuitScreen(waiting, in_flight)):
            self.lockgate.shutdown()

    def stop_watching(self) -> None:
        self.activity.stop()

"""The main screen: queue on the left, the selected action on the right, live output, the agent's
prose and the file-activity feed at the bottom. Every verdict starts here.

What is selected, seen and targeted is the `ReviewPanel`'s (a verdict only ever names the action
whose text the detail pane shows); the questions before a verdict are `verdict_flow`'s; the rules
(what `a` may approve, where the selection goes, why a key cannot act) are `selection`'s and
`batch`'s. This screen wires pipeline events to widgets and keys to verdicts.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget

from app.core.model import PatchAction, ResultStatus, Verdict, VerdictKind
from app.core.pipeline import PipelineError
from app.ui import bindings
from app.ui.activity_watch import Attributor
from app.ui.bridge import Changed, ConsoleBridge, Drained, WatchBridge, WatchChanged
from app.ui.contract import ConsoleLike, PipelineLike, ViewLike
from app.ui.safe import notify_safely
from app.ui.screens import verdict_flow
from app.ui.screens.batch_approval import approve_batch
from app.ui.screens.dialogs import QuitScreen
from app.ui.screens.help import HelpScreen, describe
from app.ui.screens.review import ReviewPanel
from app.ui.screens.session_diff import SessionDiffScreen, touched_outside
from app.ui.selection import (
    SETTLE_S,
    VERDICT_ACTIONS,
    no_output,
    quit_counts,
    undo_question,
    undo_target,
    verdict_applies,
    why_not,
)
from app.ui.untrusted import UntrustedContent
from app.ui.widgets.activity import ActivityFeed
from app.ui.widgets.agent_text import AgentView
from app.ui.widgets.footer import ConsoleFooter
from app.ui.widgets.header import ConsoleHeader, summarise_sandbox
from app.ui.widgets.output import OutputView
from app.ui.widgets.queue import QueueList

__all__ = ["SETTLE_S", "MainScreen"]  # the settle time lives in `selection`; tests wait it out

# Left out of a narrow key bar (they still work; `?` lists them). The diff's fold keys would
# otherwise come first whenever a diff has focus and push help and quit off the bar; the diff
# names them in its own hint line.
OPTIONAL_KEYS = frozenset(
    {"expand", "show_output", "themes", "toggle_file", "toggle_all", "next_file", "previous_file"}
)


class MainScreen(Screen[None]):
    CSS_PATH = "main.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.MAIN)

    def __init__(self, app_ref: ConsoleLike) -> None:
        super().__init__()
        self.lockgate = app_ref
        self.pipeline: PipelineLike = app_ref.session.pipeline
        self.bridge = ConsoleBridge(self)
        self.attributor = Attributor()
        self.header = ConsoleHeader(
            session_name=app_ref.session_name, workspace=str(app_ref.workspace), id="header"
        )
        taint = app_ref.session.taint
        self.untrusted = UntrustedContent(taint.scans if taint is not None else None)
        self.watch_bridge = WatchBridge(self, self.untrusted)
        self.review = ReviewPanel(self.pipeline, untrusted=self.untrusted, id="body")
        self.queue, self.detail = self.review.queue, self.review.detail
        self.seen, self.settle = self.review.seen, self.review.settle  # for tests and help
        self.output = OutputView(id="output")
        self.agent = AgentView(id="agent")
        self.activity = ActivityFeed(id="activity")
        self.footer = ConsoleFooter(OPTIONAL_KEYS, id="footer")
        self._usable: tuple[bool, ...] = ()  # verdict keys usable as of the last footer
        self._agent_state = ("starting", "")
        self._snapshot = lambda: self.lockgate.snapshot  # what existed at start, once known

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.review
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
        self.watch_bridge.attach(self.lockgate.session)
        self._on_watch_changed()
        self.pipeline.add_observer(self.bridge)
        self.queue.focus()
        self._apply(Drained(new_ids=[v.action.id for v in self.pipeline.views()]))
        if self.lockgate.watch_files:
            self.activity.follow(self.lockgate.workspace, self.attributor, self._snapshot)
        self.lockgate.start_pipeline()

    # ------------------------------------------------------------------ taint and monitor

    def on_unmount(self) -> None:
        self.watch_bridge.detach(self.lockgate.session)

    @on(WatchChanged)
    def _on_watch_changed(self, _: WatchChanged | None = None) -> None:
        session = self.lockgate.session
        monitor = session.monitor.summary() if session.monitor is not None else ""
        self.header.set_watch(self.untrusted.state, monitor)
        if changed := self.untrusted.drain():
            self.review.take(changed, [])

    # ------------------------------------------------------------------ pipeline → screen

    @on(Changed)
    def _on_changed(self, _: Changed) -> None:
        self._apply(self.bridge.drain())

    def _apply(self, drained: Drained) -> None:
        changed = drained.dirty | set(drained.new_ids)
        self.review.take(changed, drained.new_ids)
        self.attributor.take(drained.output, self.review.model.patch_files)
        self.output.take(drained.output, self.untrusted.scans)
        if drained.agent_text:
            self.agent.add(drained.agent_text)
        if drained.status is not None:
            self._agent_state = (drained.status.state, drained.status.detail)
            self.lockgate.agent_failed |= drained.status.state == "error"
            if drained.status.state == "error":
                self.detail.set_notice(f"The agent stopped: {drained.status.detail}")
        self.header.set_agent(*self._agent_state, waiting=len(self.review.model.waiting()))
        failure = self.pipeline.audit_failure
        self.header.set_warnings((f"audit log stopped recording: {failure}",) if failure else ())
        if changed:
            self._refresh_verdict_keys()

    # ------------------------------------------------------------------ verdict keys

    @on(QueueList.Highlighted)
    def _highlighted(self, _: QueueList.Highlighted) -> None:
        self._refresh_verdict_keys()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in VERDICT_ACTIONS:
            return True
        applies = verdict_applies(action, self.review.selected_view(), self.review.batch_waiting())
        return applies or None

    def _refresh_verdict_keys(self) -> None:
        """Re-draw the footer only when the set of usable verdict keys changed: a footer
        rebuild costs far more than moving the cursor."""
        view, batch = self.review.selected_view(), self.review.batch_waiting()
        usable = tuple(verdict_applies(a, view, batch) for a in sorted(VERDICT_ACTIONS))
        if usable != self._usable:
            self._usable = usable
            self.refresh_bindings()

    def action_refused(self, action: str) -> None:
        """A verdict key pressed where it does not apply: say why, instead of nothing."""
        name = action.split("(", 1)[0]
        reason = why_not(name, self.review.selected_view(), self.review.batch_waiting())
        notify_safely(self, reason, title="Not applied", severity="warning", timeout=4)

    def _submit(self, verdict: Verdict, *, advance: bool = True) -> bool:
        try:
            self.pipeline.submit_verdict(verdict)
        except PipelineError as exc:
            notify_safely(self, str(exc), title="Not submitted", severity="error")
            return False
        if advance:
            self.review.advance(verdict.action_id)
        return True

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _ask_then_submit(self, flow: Awaitable[Verdict | None]) -> None:
        if (verdict := await flow) is not None:
            self._submit(verdict)

    def action_approve(self, scope: str) -> None:
        if (view := self.review.target()) is not None:
            self._ask_then_submit(verdict_flow.approval(self.app, view, scope))

    def action_deny(self) -> None:
        if (view := self.review.target(approving=False)) is not None:
            self._submit(Verdict(view.action.id, VerdictKind.DENY, key="n"))

    def action_deny_feedback(self) -> None:
        if (view := self.review.target(approving=False)) is not None:
            self._ask_then_submit(verdict_flow.denial_with_feedback(self.app, view))

    def action_edit(self) -> None:
        if (view := self.review.target()) is None:
            return
        if isinstance(view.action, PatchAction):
            self._revise_patch(view)
        else:
            self._ask_then_submit(
                verdict_flow.command_edit(self.app, view, self.pipeline.judge_edit)
            )

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _revise_patch(self, view: ViewLike) -> None:
        verdict, problem = await verdict_flow.patch_revision(self.app, view)
        if verdict is None:
            notify_safely(self, problem, severity="warning")
        elif self._submit(verdict):
            self.notify("Revised patch sent to the agent; it will come back for review.")

    def action_approve_batch(self) -> None:
        approve_batch(self.review, self._submit, self.notify)

    # ------------------------------------------------------------------ other keys

    def action_undo_patch(self) -> None:
        target = undo_target(self.pipeline.views(), self.review.model.undone)
        if target is None:
            self.notify("No patch of this session is applied: nothing to undo.", severity="warning")
        else:
            self._undo(target.action.id, undo_question(target, self.review.selected_view()))

    @work(exclusive=True, group="undo", exit_on_error=False)
    async def _undo(self, action_id: str, question: str) -> None:
        result = await verdict_flow.undo(self.app, self.pipeline, self.attributor, question)
        if result is None:
            return
        ok = result.status is ResultStatus.COMPLETED
        if ok:
            self.review.model.undone = self.detail.undone = self.review.model.undone | {action_id}
            self._apply(Drained(dirty={action_id}))
        message = f"{action_id} undone. {result.message}" if ok else result.message or "undo failed"
        notify_safely(self, message, title="Undo" if ok else "Undo failed")

    def _back_from(self, pane: Widget) -> bool:
        """Leave `pane` full screen if it is (True), back to the queue."""
        if self.maximized is not pane:
            return False
        self.minimize()
        self.queue.focus()
        return True

    def action_expand(self) -> None:
        # Focus moves into the pane (a maximized view minimizes when focus leaves it), so the
        # arrows scroll the command or the diff; the verdict keys still act on what it shows.
        if not self._back_from(self.detail):
            self.maximized = self.detail
            self.detail.focus_content()

    def action_show_output(self) -> None:
        """The selected action's own output, full screen, from its first line: readable from
        the keyboard however long ago it ran. `o` again (or Esc) goes back."""
        if self._back_from(self.output):
            return
        view = self.review.selected_view()
        if view is None:
            self.notify("Select an action first.", severity="warning")
        elif not self.output.show_action(view.action.id):
            self.notify(no_output(view, view.action.id in self.output.ran), severity="warning")
        else:
            self.maximized = self.output
            self.output.focus()

    def action_session_diff(self) -> None:
        ws, outside = self.lockgate.workspace, self.lockgate.outside_roots
        touched = touched_outside(self.pipeline.views(), ws)
        diff = SessionDiffScreen(self.lockgate.snapshot, ws, outside=outside, touched=touched)
        self.app.push_screen(diff)

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

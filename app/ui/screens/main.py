"""The main screen: queue on the left, the selected action on the right, live output, the agent's
prose and the file-activity feed at the bottom. Every verdict starts here.

A verdict always names the action whose text is on screen in the detail pane: keys act on the
highlighted row only when the detail pane shows that same action, and actions are frozen, so what
is approved is exactly what was displayed. After a verdict the selection moves on to the next
waiting action (and a newly waiting action takes it from one that no longer waits); a move never
approves anything, and verdict keys ignore the new selection for a moment, so a held key cannot
run through the queue.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer

from app.core.model import (
    CommandAction,
    Level,
    NetworkAction,
    PatchAction,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.core.pipeline import PipelineError
from app.ui.activity_watch import UNDO, Attributor, rows_for, watch_workspace
from app.ui.batch import is_critical, plan_batch
from app.ui.bridge import Changed, ConsoleBridge, Drained
from app.ui.contract import PipelineLike, State, ViewLike
from app.ui.safe import notify_safely, safe_line, spaced
from app.ui.screens.dialogs import (
    ConfirmCriticalScreen,
    ConfirmScreen,
    EditCommandScreen,
    FeedbackScreen,
    QuitScreen,
)
from app.ui.screens.help import HelpScreen, describe
from app.ui.screens.session_diff import SessionDiffScreen
from app.ui.widgets.activity import ActivityFeed
from app.ui.widgets.agent_text import AgentView
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.header import ConsoleHeader, summarise_sandbox
from app.ui.widgets.output import OutputView
from app.ui.widgets.queue import QueueList, RowInfo, action_prompt

if TYPE_CHECKING:
    from app.ui.app import LockgateApp

VERDICT = Binding.Group("Verdict")
_UNFINISHED = frozenset(
    {State.PROPOSED, State.WAITING, State.APPROVED, State.AUTO_APPROVED, State.RUNNING}
)
# After the console moves the selection by itself, verdict keys wait this long before they act on
# the newly selected action: a held key (auto-repeat) or a press already on its way must not run
# through the queue, approving actions the reviewer never had time to read.
SETTLE_S = 0.4
VERDICT_ACTIONS = frozenset(
    {
        "approve",
        "approve_batch",
        "deny",
        "deny_feedback",
        "edit",
        "approve_session",
        "approve_always",
    }
)


class MainScreen(Screen[None]):
    CSS_PATH = "main.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a", "approve_batch", "Approve batch", id="approve-batch", priority=True, group=VERDICT
        ),
        Binding("y", "approve", "Approve", id="approve", priority=True, group=VERDICT),
        Binding("n", "deny", "Deny", id="deny", priority=True, group=VERDICT),
        Binding(
            "f", "deny_feedback", "Deny+feedback", id="deny-feedback", priority=True, group=VERDICT
        ),
        Binding("e", "edit", "Edit", id="edit", priority=True, group=VERDICT),
        Binding(
            "s",
            "approve_session",
            "Allow in session",
            id="approve-session",
            priority=True,
            group=VERDICT,
        ),
        Binding(
            "A", "approve_always", "Allow always", id="approve-always", priority=True, group=VERDICT
        ),
        Binding("u", "undo_patch", "Undo patch", id="undo-patch"),
        Binding("enter", "expand", "Expand", id="expand"),
        Binding("d", "session_diff", "Session diff", id="session-diff"),
        Binding("o", "show_output", "Output", id="show-output"),
        # The app's actions: a screen action of that name does not exist, and a binding to a
        # missing action silently does nothing (as Tab did).
        Binding("tab", "app.focus_next", "Next pane", id="focus-next", show=False),
        Binding(
            "shift+tab", "app.focus_previous", "Previous pane", id="focus-previous", show=False
        ),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("t", "themes", "Theme", id="themes"),
        Binding("q", "request_quit", "Quit", id="quit", priority=True),
    ]

    def __init__(self, app_ref: LockgateApp) -> None:
        super().__init__()
        self.lockgate = app_ref
        self.pipeline: PipelineLike = app_ref.session.pipeline
        self.bridge = ConsoleBridge(self)
        self.attributor = Attributor()
        self.seen: set[str] = set()
        self.undone: frozenset[str] = frozenset()  # patches the reviewer undid with `u`
        self._views: dict[str, ViewLike] = {}
        self._prompts: dict[str, tuple[Content, bool]] = {}
        self._row_of: dict[str, int] = {}
        self._header_of: dict[str, int] = {}
        self._batches: list[tuple[str, tuple[str, ...]]] = []
        self._ran: set[str] = set()
        self._stop_watch: asyncio.Event | None = None
        self._usable: tuple[bool | None, ...] = ()
        self._known_waiting: set[str] = set()
        self._moved: tuple[str, float] | None = None  # (action id, when) of the console's last move

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(
            session_name=self.lockgate.session_name,
            workspace=str(self.lockgate.workspace),
            id="header",
        )
        with Horizontal(id="body"):
            yield QueueList(id="queue")
            yield DetailPane(id="detail")
        with Horizontal(id="bottom"):
            yield OutputView(id="output")
            yield AgentView(id="agent")
            yield ActivityFeed(id="activity")
        yield Footer(id="footer")

    def on_mount(self) -> None:
        queue = self.query_one(QueueList)
        queue.border_title = "queue"
        queue.on_seen = self._seen_in_queue
        queue.on_highlight = self._highlighted
        detail = self.query_one(DetailPane)
        detail.on_seen = self._seen_in_detail
        detail.lookup = self._view_or_none
        self.query_one(OutputView).border_title = "output"
        self.query_one(AgentView).border_title = "agent"
        self.query_one(ActivityFeed).border_title = "files"
        header = self.query_one(ConsoleHeader)
        header.set_sandbox(summarise_sandbox(self.lockgate.sandbox_status))
        self.pipeline.add_observer(self.bridge)
        queue.focus()
        self._apply(Drained(new_ids=[v.action.id for v in self._all_views()]))
        if self.lockgate.watch_files:
            self._watch_files()
        self.lockgate.start_pipeline()

    def _all_views(self) -> list[ViewLike]:
        out: list[ViewLike] = []
        for batch in self.pipeline.batches():
            out.extend(self.pipeline.view(a.id) for a in batch.actions)
        return out

    def _view_or_none(self, action_id: str) -> ViewLike | None:
        try:
            return self.pipeline.view(action_id)
        except PipelineError:
            return None

    # ------------------------------------------------------------------ pipeline → screen

    @on(Changed)
    def _on_changed(self, _: Changed) -> None:
        self._apply(self.bridge.drain())

    def _apply(self, d: Drained) -> None:
        queue = self.query_one(QueueList)
        for action_id in d.dirty | set(d.new_ids):
            view = self._view_or_none(action_id)
            if view is None:
                continue
            self._views[action_id] = view
            self._prompts[action_id] = action_prompt(view, undone=action_id in self.undone)
        appended = self._rebuild_rows() if d.new_ids else True
        if appended:
            touched_batches: set[str] = set()
            for action_id in d.dirty:
                index = self._row_of.get(action_id)
                if index is None or action_id in d.new_ids:
                    if action_id in self._views:
                        touched_batches.add(self._views[action_id].action.turn_id)
                    continue
                prompt, complete = self._prompts[action_id]
                turn_id = self._views[action_id].action.turn_id
                queue.update_row(index, RowInfo(action_id, turn_id, complete), prompt)
                touched_batches.add(turn_id)
            for turn_id in touched_batches:
                self._update_header_row(turn_id)
        self._follow_new_waiting(d)
        detail = self.query_one(DetailPane)
        if detail.shown_id is not None and detail.shown_id in d.dirty:
            detail.show(self._views[detail.shown_id])
        elif detail.shown_id is None:
            self._show_highlighted()
        self._apply_output(d)
        if d.agent_text:
            self.query_one(AgentView).add(d.agent_text)
        header = self.query_one(ConsoleHeader)
        if d.status is not None:
            header.set_agent(d.status.state, d.status.detail)
            if d.status.state == "error":
                self.lockgate.agent_failed = True
        failure = getattr(self.pipeline, "audit_failure", "")
        header.set_warnings((f"audit log stopped recording: {failure}",) if failure else ())
        if d.dirty or d.new_ids:
            self._refresh_verdict_keys()

    def _rebuild_rows(self) -> bool:
        """Lay the rows out again; True if only new rows were appended (old ones need updates)."""
        rows: list[tuple[RowInfo, Content]] = []
        self._row_of.clear()
        self._header_of.clear()
        self._batches = []
        for batch in self.pipeline.batches():
            ids = tuple(a.id for a in batch.actions)
            self._batches.append((batch.turn_id, ids))
            self._header_of[batch.turn_id] = len(rows)
            rows.append(
                (RowInfo(None, batch.turn_id, False), self._header_prompt(batch.turn_id, ids))
            )
            for action_id in ids:
                if action_id not in self._prompts:
                    view = self.pipeline.view(action_id)
                    self._views[action_id] = view
                    self._prompts[action_id] = action_prompt(view, undone=action_id in self.undone)
                prompt, complete = self._prompts[action_id]
                self._row_of[action_id] = len(rows)
                rows.append((RowInfo(action_id, batch.turn_id, complete), prompt))
        queue = self.query_one(QueueList)
        appended = queue.set_rows(rows)
        if queue.highlighted is None and self._row_of:
            queue.highlighted = min(self._row_of.values())
        return appended

    def _header_prompt(self, turn_id: str, ids: Sequence[str]) -> Content:
        views = [self._views[i] for i in ids if i in self._views]
        waiting = sum(1 for v in views if str(v.state) == State.WAITING)
        network = len(views) == 1 and isinstance(views[0].action, NetworkAction)
        label = Content("network ask") if network else Content("turn ") + safe_line(turn_id)
        text = (Content("▌") + label).stylize_before("bold $primary") + spaced(
            f" · {len(ids)} action{'s' * (len(ids) != 1)}", "$text-muted"
        )
        if waiting:
            text += spaced(f" · {waiting} waiting", "bold $text-warning")
        return text

    def _update_header_row(self, turn_id: str) -> None:
        index = self._header_of.get(turn_id)
        if index is None:
            return
        ids = next((ids for t, ids in self._batches if t == turn_id), ())
        self.query_one(QueueList).update_row(
            index, RowInfo(None, turn_id, False), self._header_prompt(turn_id, ids)
        )

    def _apply_output(self, d: Drained) -> None:
        output = self.query_one(OutputView)
        for item in d.output:
            if item[0] == "start":
                self._ran.add(item[1])
                view = self._views.get(item[1])
                patching = view is not None and isinstance(view.action, PatchAction)
                self.attributor.started(item[1], patching=patching)
                output.started(item[1], item[2])
            elif item[0] == "chunk":
                output.feed(item[1], item[2], item[3])
            else:
                result = item[1]
                if result.action_id not in self._ran:
                    continue
                self.attributor.finished(result.action_id)
                words = [result.status.value]
                if result.exit_code is not None:
                    words.append(f"exit {result.exit_code}")
                words.append(f"{result.duration_s:.2f} s")
                if result.truncated:
                    words.append(f"output cut ({result.stdout_total}+{result.stderr_total} bytes)")
                failed = result.status is not ResultStatus.COMPLETED or result.exit_code not in (
                    None,
                    0,
                )
                output.finished(
                    result.action_id, f"{result.action_id} " + ", ".join(words), failed=failed
                )

    # ------------------------------------------------------------------ selection and seen

    def _highlighted(self, _: int | None) -> None:
        self._show_highlighted()
        self._refresh_verdict_keys()

    def _show_highlighted(self) -> None:
        row = self.query_one(QueueList).highlighted_row()
        if row is None or row.action_id is None:
            return
        view = self._views.get(row.action_id) or self._view_or_none(row.action_id)
        if view is not None:
            self.query_one(DetailPane).show(view)

    def _selected_id(self) -> str | None:
        row = self.query_one(QueueList).highlighted_row()
        return row.action_id if row is not None else None

    def _is_waiting(self, action_id: str | None) -> bool:
        view = self._view_or_none(action_id) if action_id is not None else None
        return view is not None and str(view.state) == State.WAITING

    def _next_waiting(self, after: str | None) -> str | None:
        """The action to review next: the first waiting one after `after` in its own batch, else
        the earliest waiting one anywhere (only actions that already have a row)."""
        queue = self.query_one(QueueList)
        waiting = [
            v.action.id
            for v in self.pipeline.waiting()
            if v.action.id != after and queue.index_of(v.action.id) is not None
        ]
        if not waiting:
            return None
        if after is not None:
            pending = set(waiting)
            for _, ids in self._batches:
                if after in ids:
                    later = ids[ids.index(after) + 1 :]
                    found = next((i for i in later if i in pending), None)
                    if found is not None:
                        return found
                    break
        return waiting[0]

    def _select(self, action_id: str) -> None:
        """Move the selection (and so the detail pane) to `action_id`. Nothing is approved by
        this: verdict keys ignore the new selection for `SETTLE_S` (see `_settling`)."""
        queue = self.query_one(QueueList)
        index = queue.index_of(action_id)
        if index is None or index == queue.highlighted:
            return
        queue.highlighted = index
        queue.scroll_to_highlight()
        self._moved = (action_id, time.monotonic())

    def _advance(self, acted_on: str) -> None:
        """After a verdict on `acted_on`: go to the next waiting action, unless the reviewer is
        on an action that still waits (a critical one `a` left behind, a verdict refused)."""
        current = self._selected_id()
        if current not in (None, acted_on) or self._is_waiting(current):
            return
        nxt = self._next_waiting(acted_on)
        if nxt is not None:
            self._select(nxt)

    def _follow_new_waiting(self, d: Drained) -> None:
        """A newly waiting action takes the selection only from an action that no longer waits,
        and never while the reviewer reads one action full screen."""
        fresh = [
            i
            for i in [*d.new_ids, *sorted(d.dirty - set(d.new_ids))]
            if i not in self._known_waiting and self._is_waiting(i)
        ]
        if not fresh:
            return
        self._known_waiting.update(fresh)
        current = self._selected_id()
        if self._is_waiting(current) or self.maximized is not None:
            return
        nxt = self._next_waiting(current)
        if nxt is not None:
            self._select(nxt)

    def _settling(self) -> bool:
        """True (with a note) if the console moved the selection a moment ago: the key was
        pressed for what was there before, or is held down."""
        if self._moved is None:
            return False
        action_id, when = self._moved
        if self._selected_id() != action_id or time.monotonic() - when >= SETTLE_S:
            return False
        notify_safely(
            self,
            f"The selection just moved to {action_id}; read it, then press the key again.",
            title="Not applied",
            severity="warning",
            timeout=3,
        )
        return True

    def _seen_in_queue(self, ids: set[str]) -> None:
        self.seen |= ids

    def _seen_in_detail(self, action_id: str) -> None:
        self.seen.add(action_id)

    def _target(self, *, approving: bool = True) -> ViewLike | None:
        """The action a verdict key acts on: the highlighted one. An approval also needs the
        detail pane to show that very action (the screen may lag a fast cursor); a denial runs
        nothing, so it never has to wait for the pane."""
        row = self.query_one(QueueList).highlighted_row()
        if row is None or row.action_id is None or self._settling():
            return None
        if approving and self.query_one(DetailPane).shown_id != row.action_id:
            self._show_highlighted()
            self.notify("Showing the selected action now; press the key again.", timeout=3)
            return None
        return self._view_or_none(row.action_id)

    def _refresh_verdict_keys(self) -> None:
        """Re-draw the footer only when the set of usable verdict keys changed: a footer
        rebuild costs far more than moving the cursor."""
        usable = tuple(self.check_action(a, ()) for a in sorted(VERDICT_ACTIONS))
        if usable != self._usable:
            self._usable = usable
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in VERDICT_ACTIONS:
            return True
        if action == "approve_batch":
            return True if self._batch_waiting() else None
        row = self.query_one(QueueList).highlighted_row()
        view = self._views.get(row.action_id) if row is not None and row.action_id else None
        if view is None or str(view.state) != State.WAITING:
            return None
        if action == "edit":
            return isinstance(view.action, CommandAction | PatchAction) or None
        return True

    # ------------------------------------------------------------------ verdicts

    def _submit(
        self, view: ViewLike, kind: VerdictKind, key: str, *, advance: bool = True, **extra: str
    ) -> bool:
        """Submit one verdict; then (`advance`) take the selection to the next waiting action."""
        try:
            self.pipeline.submit_verdict(Verdict(view.action.id, kind, key=key, **extra))  # type: ignore[arg-type]
        except PipelineError as exc:
            notify_safely(self, str(exc), title="Not submitted", severity="error")
            return False
        if advance:
            self._advance(view.action.id)
        return True

    def _batch_waiting(self) -> bool:
        """Cheap: from the views the screen already holds (kept fresh by pipeline events)."""
        row = self.query_one(QueueList).highlighted_row()
        if row is None:
            return False
        ids = next((ids for t, ids in self._batches if t == row.turn_id), ())
        return any(
            str(v.state) == State.WAITING
            for v in (self._views.get(i) for i in ids)
            if v is not None
        )

    def _batch_views(self) -> list[ViewLike]:
        row = self.query_one(QueueList).highlighted_row()
        if row is None:
            return []
        ids = next((ids for t, ids in self._batches if t == row.turn_id), ())
        views = [v for v in (self._view_or_none(i) for i in ids) if v is not None]
        return [v for v in views if str(v.state) == State.WAITING]

    def action_approve_batch(self) -> None:
        if self._settling():
            return
        views = self._batch_views()
        plan = plan_batch(views, self.seen)
        queue = self.query_one(QueueList)
        if plan.unseen:
            first = plan.unseen[0]
            index = self._row_of.get(first)
            if index is not None:
                queue.highlighted = index
                queue.scroll_to_highlight(top=True)
            eligible = len(plan.unseen) + len(plan.approve)
            row = queue.highlighted_row()
            needs_detail = row is not None and not row.complete
            how = (
                "the selected one is only whole in the detail pane: read it to the end "
                "(scroll it if it is long)"
                if needs_detail
                else "they are on screen now"
            )
            self.notify(
                f"{len(plan.unseen)} of {eligible} actions in this batch have not been on screen "
                f"yet; {how}. Press a again once you have seen them.",
                title="Not approved yet",
                severity="warning",
            )
            return
        if not plan.approve:
            why = (
                f"{len(plan.critical)} critical action(s) need their own y"
                if plan.critical
                else "nothing in this batch is waiting"
            )
            self.notify(f"Nothing approved: {why}.", severity="warning")
            return
        approved = sum(
            1
            for v in views
            if v.action.id in plan.approve
            and self._submit(v, VerdictKind.APPROVE, "a", advance=False)
        )
        selected = self._selected_id()
        if selected is not None:
            self._advance(selected)
        msg = f"Approved {approved} action{'s' * (approved != 1)}."
        if plan.critical:
            msg += f" {len(plan.critical)} critical still wait for their own y."
        self.notify(msg)

    def action_approve(self) -> None:
        self._approve_with(VerdictKind.APPROVE, "y", "Approve")

    def action_approve_session(self) -> None:
        self._approve_with(VerdictKind.APPROVE_SESSION, "s", "Approve and allow for this session")

    def action_approve_always(self) -> None:
        self._approve_with(VerdictKind.APPROVE_ALWAYS, "A", "Approve and always allow")

    def _approve_with(self, kind: VerdictKind, key: str, verb: str) -> None:
        view = self._target()
        if view is None or str(view.state) != State.WAITING:
            return
        if view.assessment is not None and view.assessment.level is Level.CRITICAL:
            self._confirm_then(view, kind, key, verb)
            return
        if is_critical(view):
            self.notify("Not assessed yet; wait a moment.", severity="warning")
            return
        self._submit(view, kind, key)

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _confirm_then(
        self, view: ViewLike, kind: VerdictKind, key: str, verb: str, edited: str | None = None
    ) -> None:
        ok = await self.app.push_screen_wait(ConfirmCriticalScreen(view, verb))
        if not ok:
            notify_safely(self, f"{view.action.id} still waits.")
            return
        if edited is not None:
            self._submit(view, kind, key, edited=edited)
        else:
            self._submit(view, kind, key)

    def action_deny(self) -> None:
        view = self._target(approving=False)
        if view is not None and str(view.state) == State.WAITING:
            self._submit(view, VerdictKind.DENY, "n")

    def action_deny_feedback(self) -> None:
        view = self._target(approving=False)
        if view is not None and str(view.state) == State.WAITING:
            self._ask_feedback(view)

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _ask_feedback(self, view: ViewLike) -> None:
        text = await self.app.push_screen_wait(FeedbackScreen(view))
        if text:
            self._submit(view, VerdictKind.DENY_FEEDBACK, "f", feedback=text)

    def action_edit(self) -> None:
        view = self._target()
        if view is None or str(view.state) != State.WAITING:
            return
        if isinstance(view.action, CommandAction):
            self._edit_command(view)
        elif isinstance(view.action, PatchAction):
            self._edit_patch(view)

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _edit_command(self, view: ViewLike) -> None:
        edited = await self.app.push_screen_wait(EditCommandScreen(view))
        if edited is None:
            return
        if view.assessment is not None and view.assessment.level is Level.CRITICAL:
            ok = await self.app.push_screen_wait(
                ConfirmCriticalScreen(view, "Run the edited", edited=edited)
            )
            if not ok:
                return
        self._submit(view, VerdictKind.EDIT, "e", edited=edited)

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _edit_patch(self, view: ViewLike) -> None:
        """Patches are edited in $EDITOR. The pipeline runs only patches the agent proposed, so a
        revised patch goes back to the agent as the reason for a denial, to be proposed again
        (and reviewed again) as its own action."""
        assert isinstance(view.action, PatchAction)
        original = view.action.patch
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.TemporaryDirectory(prefix="lockgate-edit-") as tmp:
            path = Path(tmp) / f"{view.action.id}.patch"
            path.write_text(original, encoding="utf-8")
            try:
                with self.app.suspend():
                    # In a thread: the pipeline shares this event loop and keeps running
                    # (output, network asks, timeouts) while the reviewer edits.
                    code = await asyncio.to_thread(
                        subprocess.call, [*shlex.split(editor), str(path)]
                    )
            except Exception as exc:  # no terminal to hand over (headless), editor missing, ...
                notify_safely(self, f"cannot open an editor here: {exc}", severity="error")
                return
            revised = path.read_text(encoding="utf-8", errors="replace")
        if code != 0:
            notify_safely(
                self, f"{editor} exited with {code}; nothing changed.", severity="warning"
            )
            return
        if revised == original:
            self.notify("Patch unchanged; it still waits for a verdict.")
            return
        feedback = (
            "The reviewer revised this patch instead of applying it. "
            "Propose exactly this patch instead:\n" + revised
        )
        if self._submit(view, VerdictKind.DENY_FEEDBACK, "e", feedback=feedback):
            self.notify("Revised patch sent to the agent; it will come back for review.")

    # ------------------------------------------------------------------ other keys

    def _undo_target(self) -> ViewLike | None:
        """The patch `u` would undo: the patch engine undoes the most recently applied one, so
        the last patch of this session that was applied and not undone yet."""
        applied = [
            v
            for v in self._all_views()
            if isinstance(v.action, PatchAction)
            and str(v.state) == State.DONE
            and v.action.id not in self.undone
        ]
        return applied[-1] if applied else None

    def action_undo_patch(self) -> None:
        target = self._undo_target()
        if target is None:
            self.notify("No patch of this session is applied: nothing to undo.", severity="warning")
            return
        selected = self._selected_id()
        question = f"Undo {target.action.id} and restore the files it changed?"
        view = self._view_or_none(selected) if selected is not None else None
        if (
            view is not None
            and isinstance(view.action, PatchAction)
            and selected != target.action.id
        ):
            question = (
                f"Patches are undone last first: u undoes {target.action.id}, the last one "
                f"applied, not the selected {selected}. " + question
            )
        self._confirm_undo(target.action.id, question)

    @work(exclusive=True, group="undo", exit_on_error=False)
    async def _confirm_undo(self, action_id: str, question: str) -> None:
        if not await self.app.push_screen_wait(ConfirmScreen("Undo patch", question)):
            notify_safely(self, f"{action_id} stays applied.")
            return
        # The files an undo restores are the console's doing: credit them to it, not to
        # "nothing ran" (unless a command runs meanwhile, which keeps the credit).
        mine = self.attributor.running is None
        if mine:
            self.attributor.started(UNDO, patching=True)
        try:
            result = await self.pipeline.undo_last_patch()
        finally:
            if mine:
                self.attributor.finished(UNDO)
        ok = result.status is ResultStatus.COMPLETED
        if ok:
            self.undone = self.undone | {action_id}
            detail = self.query_one(DetailPane)
            detail.undone = self.undone
            self._apply(Drained(dirty={action_id}))
        notify_safely(
            self,
            (f"{action_id} undone. " if ok else "")
            + (result.message or ("" if ok else "undo failed")),
            title="Undo" if ok else "Undo failed",
            severity="information" if ok else "error",
        )

    def action_expand(self) -> None:
        detail = self.query_one(DetailPane)
        if self.maximized is detail:
            self.minimize()
            self.query_one(QueueList).focus()
            return
        # Focus moves into the pane (a maximized view minimizes when focus leaves it), so the
        # arrows scroll the command or the diff; the verdict keys still act on what it shows.
        self.maximized = detail
        detail.focus_content()

    def action_show_output(self) -> None:
        """The selected action's own output, full screen, from its first line: readable from
        the keyboard however long ago it ran. `o` again (or Esc) goes back."""
        output = self.query_one(OutputView)
        if self.maximized is output:
            self.minimize()
            self.query_one(QueueList).focus()
            return
        action_id = self._selected_id()
        if action_id is None:
            self.notify("Select an action first.", severity="warning")
            return
        if not output.show_action(action_id):
            view = self._view_or_none(action_id)
            why = "has not run" if view is None or view.result is None else "printed nothing"
            if view is not None and str(view.state) == State.RUNNING:
                why = "has printed nothing yet"
            self.notify(f"{action_id} {why}: no output to show.", severity="warning")
            return
        self.maximized = output
        output.focus()

    def action_session_diff(self) -> None:
        self.app.push_screen(
            SessionDiffScreen(
                self.lockgate.snapshot,
                self.lockgate.workspace,
                outside=self.lockgate.outside_roots,
                touched=self._touched_outside(),
            )
        )

    def _touched_outside(self) -> list[tuple[str, str]]:
        """(path, action id) of files outside the workspace that approved actions reported."""
        workspace = self.lockgate.workspace.resolve()
        out: list[tuple[str, str]] = []
        for view in self._all_views():
            for name in view.result.files_changed if view.result is not None else ():
                path = (workspace / name).resolve()
                if not path.is_relative_to(workspace):
                    out.append((str(path), view.action.id))
        return out

    def action_help(self) -> None:
        from app.ui.bindings import all_bindings

        self.app.push_screen(HelpScreen(describe(all_bindings(), self.lockgate.keymap)))

    def action_themes(self) -> None:
        self.app.search_themes()

    def action_request_quit(self) -> None:
        waiting = len(self.pipeline.waiting())
        unfinished = sum(
            1
            for batch in self.pipeline.batches()
            for a in batch.actions
            if (v := self._view_or_none(a.id)) is not None and str(v.state) in _UNFINISHED
        )
        if waiting or unfinished:
            self._ask_quit(waiting, unfinished - waiting)
        else:
            self.lockgate.shutdown()

    @work(exclusive=True, group="dialog", exit_on_error=False)
    async def _ask_quit(self, waiting: int, in_flight: int) -> None:
        if await self.app.push_screen_wait(QuitScreen(waiting, in_flight)):
            self.lockgate.shutdown()

    # ------------------------------------------------------------------ file activity

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def _watch_files(self) -> None:
        self._stop_watch = asyncio.Event()
        workspace = self.lockgate.workspace.resolve()
        feed = self.query_one(ActivityFeed)
        known: set[str] = set()
        seeded = False
        async for changes in watch_workspace(workspace, self._stop_watch):
            if not seeded and self.lockgate.snapshot is not None:
                # What existed when the session began (the snapshot is taken in the background).
                known |= set(self.lockgate.snapshot)
                seeded = True
            credit = self.attributor.attribute()
            patching = self.attributor.patching(credit)
            feed.add(rows_for(changes, workspace, credit, patching=patching, known=known))
            if feed.unattributed:
                feed.add_class("-unattributed")

    def stop_watching(self) -> None:
        if self._stop_watch is not None:
            self._stop_watch.set()

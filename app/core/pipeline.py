"""The review pipeline: proposals in, verdicts from a human or the policy, results out in order.

One event loop, no threads. Every action of a turn is assessed and decided the moment it arrives
(so the console can show it at once), but actions of one turn *execute* strictly in proposal
order: a per-turn driver task walks the turn's actions one by one and waits for each verdict.
Everything that executes passes one lock, so there is at most one running action at a time and
`cancel()` knows what to stop.

Fail closed everywhere: a risk engine that raises makes the action critical (asked); a policy
that raises asks; an audit log that cannot record stops execution; a critical action is never
auto-approved whatever the policy says; headless turns every ask into a denial.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from app.core import decide as steps
from app.core.decide import (
    APPROVED_HOST_RULE,
    CRITICAL_RULE,
    EXPIRED_KEY,
    HEADLESS_RULE,
    StreamDigest,
)
from app.core.edits import edit_diff
from app.core.events import (
    ActionAssessed,
    ActionDecided,
    ActionProposed,
    ActionStateChanged,
    AgentCheckpoint,
    AgentEventSeen,
    AgentStatus,
    AgentText,
    ExecutionFinished,
    ExecutionStarted,
    OutputChunk,
    PipelineEvent,
    Proposed,
    ResultsSent,
    TurnEnded,
    VerdictGiven,
)
from app.core.hosts import names_host
from app.core.model import (
    Action,
    Assessment,
    Batch,
    CommandAction,
    Decision,
    DecisionKind,
    Finding,
    Level,
    NetworkAction,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.core.ports import (
    AgentLink,
    CommandExecutor,
    Observer,
    PatchExecutor,
    PatchReview,
    PolicyEngine,
    RiskEngine,
    SessionContext,
)
from app.core.resume import Judge, SettledTurn
from app.core.state import ActionState, ActionView

if TYPE_CHECKING:
    from app.core.audit import AuditLog

__all__ = [
    "APPROVED_HOST_RULE",
    "CRITICAL_RULE",
    "EXPIRED_KEY",
    "HEADLESS_RULE",
    "ActionState",
    "ActionView",
    "Pipeline",
    "PipelineError",
    "StreamDigest",
]

log = logging.getLogger(__name__)


class PipelineError(Exception):
    """A caller asked for something the pipeline cannot do (unknown action, not waiting, ...)."""


class _AuditFailed(Exception):
    pass


@dataclass
class _Entry:
    """The pipeline's private, mutable record of one action; the world sees `ActionView` copies."""

    action: Action
    turn: _Turn
    state: ActionState = ActionState.PROPOSED
    assessment: Assessment | None = None
    decision: Decision | None = None
    verdict: Verdict | None = None
    result: Result | None = None
    review: PatchReview | None = None
    recovered: bool = False
    audit_error: str = ""
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    streamed: StreamDigest | None = None  # set when a command starts

    def view(self) -> ActionView:
        return ActionView(
            action=self.action,
            state=self.state,
            assessment=self.assessment,
            decision=self.decision,
            verdict=self.verdict,
            result=self.result,
            review=self.review,
            recovered=self.recovered,
        )


@dataclass
class _Turn:
    """One batch. A recovered turn (from a killed session) is held open (`ended` False) until the
    restored agent link claims it by proposing its actions again, or until no link will: then
    its results go nowhere and the turn is closed."""

    turn_id: str
    kind: Literal["agent", "network", "recovered"]
    link: AgentLink | None = None
    entries: list[_Entry] = field(default_factory=list)
    ended: bool = False
    cancelled: bool = False
    results_sent: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Pipeline:
    """Takes proposals from an agent link, gets them verdicts, runs them, returns results."""

    def __init__(
        self,
        *,
        context: SessionContext,
        risk: RiskEngine,
        policy: PolicyEngine,
        commands: CommandExecutor,
        patches: PatchExecutor,
        observers: Sequence[Observer] = (),
        audit: AuditLog | None = None,
    ) -> None:
        self.context = context
        self._risk = risk
        self._policy = policy
        self._commands = commands
        self._patches = patches
        self._observers: list[Observer] = list(observers)
        self._audit = audit
        self._audit_failed = ""
        self._entries: dict[str, _Entry] = {}
        self._turns: list[_Turn] = []
        self._turn_by_id: dict[str, _Turn] = {}
        self._exec_lock = asyncio.Lock()
        self._running: _Entry | None = None
        self._exec_task: asyncio.Task[Result] | None = None
        self._emitting = False
        self._pending_events: collections.deque[PipelineEvent] = collections.deque()
        self._recovered_pending: list[_Turn] = []
        self._runs = 0  # `run()` calls in progress: while one is, recovered turns stay claimable
        self._background: set[asyncio.Task[None]] = set()  # kept referenced until done

    # ------------------------------------------------------------------ public API

    def add_observer(self, observer: Observer) -> None:
        self._observers.append(observer)

    async def run(self, link: AgentLink) -> None:
        """Consume `link.events()` until it ends. Returns when every ended turn got its results.

        A restored link (after a crash) first proposes its interrupted turn again under the same
        ids: that claims the recovered turn, whose verdicts and results then go to the link.
        """
        self._start_recovered()
        self._runs += 1
        try:
            async for event in link.events():
                if isinstance(event, Proposed):
                    self._propose(event.action, link)
                elif isinstance(event, TurnEnded):
                    turn = self._agent_turn(event.turn_id, link)
                    if turn.link is not link or turn.task is None:
                        log.error("agent ended turn %s, which is not its own", event.turn_id)
                        continue
                    turn.ended = True
                    turn.changed.set()
                    # The link waits for these results before it yields anything else.
                    await turn.task
                elif isinstance(event, AgentCheckpoint):
                    self._checkpoint(event)
                elif isinstance(event, AgentText | AgentStatus):
                    self._emit(AgentEventSeen(event))
        finally:
            self._runs -= 1
            # The agent is gone: whatever it proposed and never closed cannot be answered.
            for turn in self._turns:
                if turn.link is not link or turn.ended:
                    continue
                turn.ended = True
                turn.link = None
                if turn.kind == "agent":
                    self._cancel_turn(turn, "the agent stopped before the turn ended")
                else:
                    turn.changed.set()  # recovered: still reviewable, its results go nowhere
            if not self._runs:
                self._release_recovered()

    def submit_verdict(self, verdict: Verdict) -> None:
        entry = self._entries.get(verdict.action_id)
        if entry is None:
            raise PipelineError(f"no action {verdict.action_id!r}")
        if entry.verdict is not None and entry.verdict.key == EXPIRED_KEY:
            raise PipelineError(
                f"the network ask {verdict.action_id} expired ({entry.verdict.feedback}); "
                "a verdict cannot reach it now"
            )
        if entry.state is not ActionState.WAITING:
            raise PipelineError(f"action {verdict.action_id} is {entry.state}, not waiting")
        if verdict.kind is VerdictKind.EDIT:
            if not isinstance(entry.action, CommandAction):
                raise PipelineError("only a command can be edited before it runs")
            if verdict.edited is None or not verdict.edited.strip():
                raise PipelineError("an edited command cannot be empty")
            _, decision = self.judge_edit(verdict.action_id, verdict.edited)
            if decision.kind is DecisionKind.DENY:
                # A reviewer's edit is their own words, but never past a rule that denies them.
                raise PipelineError(
                    f"the edited command is denied ({decision.rule}): {decision.reason}"
                )
        self._start_recovered()
        self._give_verdict(entry, verdict)
        if verdict.kind in (VerdictKind.APPROVE_SESSION, VerdictKind.APPROVE_ALWAYS):
            try:
                self._policy.remember(entry.action, verdict)
            except Exception:
                log.exception("policy could not remember verdict for %s", entry.action.id)

    def judge_edit(self, action_id: str, edited: str) -> tuple[Assessment, Decision]:
        """How the risk engine and the policy judge the text a reviewer edited a command into
        (what will really run): the console confirms a critical edit as critical, and an edit a
        rule denies is refused. Nothing is recorded; the verdict that follows is."""
        entry = self._entries.get(action_id)
        if entry is None or not isinstance(entry.action, CommandAction):
            raise PipelineError(f"no command {action_id!r}")
        original = entry.action
        candidate = dataclasses.replace(original, command=edited, id=f"{original.id}-edit")
        assessment = self._assess(candidate, ())
        try:
            decision = self._policy.decide(candidate, assessment)
        except Exception as exc:
            decision = Decision(DecisionKind.ASK, "core:policy-error", f"policy failed: {exc}")
        return assessment, decision

    def view(self, action_id: str) -> ActionView:
        entry = self._entries.get(action_id)
        if entry is None:
            raise PipelineError(f"no action {action_id!r}")
        return entry.view()

    def views(self) -> list[ActionView]:
        """Every action so far, batch by batch, in proposal order."""
        return [e.view() for t in self._turns for e in t.entries]

    def batches(self) -> list[Batch]:
        return [Batch(t.turn_id, tuple(e.action for e in t.entries)) for t in self._turns]

    def waiting(self) -> list[ActionView]:
        return [e.view() for t in self._turns for e in t.entries if e.state is ActionState.WAITING]

    def add_findings(self, action_id: str, findings: Sequence[Finding], *, source: str) -> bool:
        """Findings that arrive after the action was assessed (a registry lookup, a monitor's
        second opinion). They can only raise: the score, the level and the decision move up,
        never down. Applied while the action waits for a human; afterwards they are recorded
        and shown, but what already ran or was denied stays as it is. Returns whether the
        action's decision could still change."""
        entry = self._entries.get(action_id)
        if entry is None or entry.assessment is None:
            return False
        old = entry.assessment
        # A finding the action already carries changes nothing (and deciding again could make a
        # policy that adds findings add them once more).
        findings = [f for f in dict.fromkeys(findings) if f not in old.findings]
        if not findings:
            return False
        score = max([old.score, *(f.score for f in findings)])
        merged = Assessment(
            score=score,
            level=max(old.level, Level.from_score(score)),
            categories=tuple(dict.fromkeys([*old.categories, *(f.category for f in findings)])),
            reasons=tuple(dict.fromkeys([*old.reasons, *(f.reason for f in findings)])),
            spans=tuple(dict.fromkeys([*old.spans, *(sp for f in findings for sp in f.spans)])),
            findings=(*old.findings, *findings),
        )
        entry.assessment = merged
        self._record_soft(
            "late-findings", {"action_id": action_id, "source": source, "assessment": merged}
        )
        self._emit(ActionAssessed(action_id, merged))
        if entry.state is not ActionState.WAITING:
            return False
        decision = self._decide(entry.action, merged)
        if decision.kind is DecisionKind.ALLOW:
            # A later, higher score never turns an ask into an allow.
            return True
        late = "; ".join(f.reason for f in findings)
        if late not in decision.reason:
            why = f"{decision.reason}; {late}" if decision.reason else late
            decision = dataclasses.replace(decision, reason=why)
        self._apply_decision(entry, decision)
        return True

    @property
    def audit_failure(self) -> str:
        """Why the audit log stopped recording ('' while it works); nothing runs once it fails."""
        return self._audit_failed

    async def ask_network(self, action: NetworkAction, timeout_s: float = 120.0) -> Verdict:
        """A sandboxed program wants an unlisted host. Decided by policy, else asked as its own
        batch; no answer within `timeout_s` is a denial, and so is headless mode. The ask lives
        only as long as the run of the program that made it: when that run ends (or the request
        goes away) a still-open ask expires."""
        self._start_recovered()
        if action.id in self._entries:
            raise PipelineError(f"duplicate action id {action.id}")
        turn = _Turn(turn_id=action.id, kind="network", ended=True)
        self._turns.append(turn)
        entry = self._admit(action, turn)
        if entry.verdict is None and entry.result is None:
            try:
                await asyncio.wait_for(self._wait_verdict(entry), timeout_s)
            except TimeoutError:
                if entry.verdict is None and entry.result is None:
                    self._give_verdict(
                        entry,
                        Verdict(
                            action.id,
                            VerdictKind.DENY,
                            by="policy",
                            key="timeout",
                            feedback=f"no verdict within {timeout_s:g} s",
                        ),
                    )
            except asyncio.CancelledError:
                self._expire(entry, "the request that asked went away")
                raise
        verdict = entry.verdict
        if verdict is None:  # cancelled before anyone answered
            verdict = Verdict(action.id, VerdictKind.DENY, by="policy", feedback="cancelled")
        if verdict.kind.approves and entry.result is None:
            self._finish(
                entry,
                Result(
                    action.id, ResultStatus.COMPLETED, ran=action.reviewed_text, message="allowed"
                ),
            )
        return verdict

    def note_network_outcome(self, parent_action_id: str, host: str, port: int, text: str) -> bool:
        """What became of a request a network ask allowed (the server's status, or why the
        connection failed): the ask's row says it, instead of a bare "allowed". Only the
        newest allowed ask of that command for that host gets it, once."""
        for turn in reversed(self._turns):
            for entry in turn.entries:
                action, result = entry.action, entry.result
                if (
                    isinstance(action, NetworkAction)
                    and action.parent_action_id == parent_action_id
                    and (action.host, action.port) == (host, port)
                    and result is not None
                    and result.message == "allowed"
                ):
                    entry.result = dataclasses.replace(result, message=f"allowed; {text}")
                    self._record_soft("network-outcome", {"action_id": action.id, "outcome": text})
                    self._emit(ActionStateChanged(action.id, entry.state))
                    return True
        return False

    def _expire(self, entry: _Entry, why: str) -> None:
        """A network ask whose program is gone: nobody can use a verdict any more."""
        if entry.verdict is None and entry.result is None:
            self._give_verdict(
                entry,
                Verdict(
                    entry.action.id, VerdictKind.DENY, by="policy", key=EXPIRED_KEY, feedback=why
                ),
            )

    def _expire_asks_of(self, action_id: str, why: str) -> None:
        for turn in self._turns:
            if turn.kind != "network":
                continue
            for e in turn.entries:
                if isinstance(e.action, NetworkAction) and e.action.parent_action_id == action_id:
                    self._expire(e, why)

    async def undo_last_patch(self) -> Result:
        """Undo the most recent applied patch; waits for whatever runs to finish first."""
        async with self._exec_lock:
            if self._audit_failed:
                return Result("", ResultStatus.FAILED, message=self._not_recorded_message())
            try:
                self._record("undo-start", {})
            except _AuditFailed:
                return Result("", ResultStatus.FAILED, message=self._not_recorded_message())
            try:
                result = await self._patches.undo_last()
            except Exception as exc:
                log.exception("undo failed")
                result = Result("", ResultStatus.FAILED, message=f"undo failed: {exc}")
            self._record_soft("undo-end", {"result": result})
            return result

    async def cancel(self) -> None:
        """Stop the running command; every action not yet run gets a CANCELLED result."""
        for turn in self._turns:
            if turn.kind in ("agent", "recovered") and not turn.results_sent:
                self._cancel_turn(turn, "cancelled by the reviewer")
            elif turn.kind == "network":
                for e in turn.entries:
                    if e.state is ActionState.WAITING:
                        self._give_verdict(
                            e,
                            Verdict(
                                e.action.id,
                                VerdictKind.DENY,
                                by="policy",
                                key="cancel",
                                feedback="the command was cancelled",
                            ),
                        )
        task = self._exec_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    async def drain(self) -> None:
        """Wait until every turn so far has all its results (recovered turns included). Without
        a `run()` in progress no agent can claim a recovered turn any more, so they close."""
        self._start_recovered()
        if not self._runs:
            self._release_recovered()
        while True:
            tasks = [t.task for t in self._turns if t.task is not None and not t.task.done()]
            if not tasks:
                return
            await asyncio.wait(tasks)

    @property
    def judge(self) -> Judge:
        """The review a fresh proposal gets, for `app.core.resume.settle`."""
        return Judge(review=self._review, assess=self._assess, decide=self._decide)

    def restore(self, turns: Iterable[SettledTurn]) -> None:
        """Install turns a killed session left behind, as `app.core.resume.seed` settled them
        (writing the audit records of what was decided now)."""
        if self._entries:
            raise PipelineError("a killed session's turns must come before any proposal")
        for st in turns:
            turn = _Turn(
                turn_id=st.turn_id,
                kind="recovered",
                ended=st.results_sent,
                results_sent=st.results_sent,
            )
            self._turns.append(turn)
            self._turn_by_id.setdefault(st.turn_id, turn)
            for sa in st.actions:
                entry = _Entry(
                    action=sa.action,
                    turn=turn,
                    state=sa.state,
                    assessment=sa.assessment,
                    decision=sa.decision,
                    verdict=sa.verdict,
                    result=sa.result,
                    review=sa.review,
                    recovered=True,
                )
                self._entries[sa.action.id] = entry
                turn.entries.append(entry)
                for kind, data in sa.records:
                    self._record_soft(kind, data)
            if not st.results_sent:
                self._recovered_pending.append(turn)

    def _release_recovered(self) -> None:
        """No link will claim the recovered turns still open: close them when they settle."""
        for turn in self._turns:
            if turn.kind == "recovered" and turn.link is None and not turn.ended:
                turn.ended = True
                turn.changed.set()

    def _claim(self, entry: _Entry, action: Action, link: AgentLink) -> bool:
        """A restored link proposes an action of a recovered turn again: the turn becomes the
        link's, and its results (those of the killed session included) go to the link."""
        turn = entry.turn
        if turn.kind != "recovered" or (turn.link is not None and turn.link is not link):
            return False
        if turn.link is None and turn.ended and not turn.results_sent:
            return False  # released: nobody was going to claim it
        if not _same_proposal(entry.action, action):
            log.error("the restored agent proposed %s differently than the log has it", action.id)
            self._emit(
                AgentEventSeen(
                    AgentStatus(
                        "error",
                        f"the resumed conversation does not match the audit log ({action.id}); "
                        "the agent was stopped",
                    )
                )
            )
            stopping = asyncio.get_running_loop().create_task(link.cancel())
            self._background.add(stopping)
            stopping.add_done_callback(self._background.discard)
            return True
        if turn.link is None:
            turn.link = link
            turn.ended = False
            turn.results_sent = False
            if turn in self._recovered_pending:
                self._recovered_pending.remove(turn)
            if turn.task is None or turn.task.done():
                turn.task = asyncio.get_running_loop().create_task(
                    self._drive(turn), name=f"lockgate-resumed-{turn.turn_id}"
                )
        return True

    # ------------------------------------------------------------------ proposals

    def _agent_turn(self, turn_id: str, link: AgentLink) -> _Turn:
        turn = self._turn_by_id.get(turn_id)
        if turn is None:
            turn = _Turn(turn_id=turn_id, kind="agent", link=link)
            self._turns.append(turn)
            self._turn_by_id[turn_id] = turn
            turn.task = asyncio.get_running_loop().create_task(
                self._drive(turn), name=f"lockgate-turn-{turn_id}"
            )
        return turn

    def _propose(self, action: Action, link: AgentLink) -> None:
        known = self._entries.get(action.id)
        if known is not None:
            if not self._claim(known, action, link):
                log.error("agent proposed a duplicate action id %s; ignored", action.id)
            return
        turn = self._agent_turn(action.turn_id, link)
        if turn.kind == "recovered" and turn.link is link and not turn.ended:
            # Part of the interrupted turn that the killed session never recorded: reviewed anew.
            self._admit(action, turn)
            turn.changed.set()
            return
        if turn.ended or turn.kind != "agent":
            # A turn cannot grow after it was answered; show it, never run it.
            orphan = _Turn(turn_id=f"{action.turn_id}+late", kind="network", ended=True)
            self._turns.append(orphan)
            entry = self._register(action, orphan)
            self._finish(
                entry,
                Result(action.id, ResultStatus.FAILED, message="proposed after its turn ended"),
            )
            return
        self._admit(action, turn)
        turn.changed.set()

    def _register(self, action: Action, turn: _Turn) -> _Entry:
        entry = _Entry(action=action, turn=turn)
        self._entries[action.id] = entry
        turn.entries.append(entry)
        self._record_soft("proposal", {"action": action})
        self._emit(ActionProposed(action))
        return entry

    def _admit(self, action: Action, turn: _Turn) -> _Entry:
        """Register, review (patches), assess and decide; leaves the entry WAITING or settled."""
        entry = self._register(action, turn)
        if turn.cancelled:
            self._cancel_entry(entry, "cancelled by the reviewer")
            return entry
        if isinstance(action, PatchAction):
            entry.review = self._review(action)
            self._record_soft("patch-review", {"action_id": action.id, "review": entry.review})
            if not entry.review.ok:
                self._finish(entry, steps.unappliable(action, entry.review))
                return entry
        earlier = tuple(e.action for e in turn.entries[:-1])
        assessment = self._assess(action, earlier)
        entry.assessment = assessment
        self._record_soft("assessment", {"action_id": action.id, "assessment": assessment})
        self._emit(ActionAssessed(action.id, assessment))

        self._apply_decision(entry, self._decide(action, assessment))
        return entry

    def _apply_decision(self, entry: _Entry, decision: Decision) -> None:
        """Record the policy's decision and act on it: allow and deny are verdicts by policy,
        ask leaves the action waiting for a human."""
        action_id = entry.action.id
        entry.decision = decision
        self._record_soft("decision", {"action_id": action_id, "decision": decision})
        self._emit(ActionDecided(action_id, decision))
        verdict = steps.policy_verdict(action_id, decision)
        if verdict is not None:
            self._give_verdict(entry, verdict)
        else:
            self._set_state(entry, ActionState.WAITING)

    def _review(self, action: PatchAction) -> PatchReview:
        return steps.review_patch(self._patches, action)

    def _assess(self, action: Action, earlier: tuple[Action, ...]) -> Assessment:
        return steps.assess(self._risk, action, self.context, earlier)

    def _decide(self, action: Action, assessment: Assessment) -> Decision:
        return steps.decide(
            self._policy,
            action,
            assessment,
            headless=self.context.headless,
            host_approver=self._host_approver,
        )

    def _host_approver(self, action: NetworkAction) -> str:
        """The command whose run asks, if a human approved it and its text names this host on this
        port (the reviewer saw the host there); '' otherwise."""
        parent = self._entries.get(action.parent_action_id)
        if parent is None or not isinstance(parent.action, CommandAction):
            return ""
        verdict = parent.verdict
        if verdict is None or verdict.by != "human" or not verdict.kind.approves:
            return ""
        text = verdict.edited if verdict.kind is VerdictKind.EDIT and verdict.edited else ""
        if names_host(text or parent.action.command, action.host, action.port):
            return parent.action.id
        return ""

    # ------------------------------------------------------------------ verdicts

    def _give_verdict(self, entry: _Entry, verdict: Verdict) -> None:
        entry.verdict = verdict
        record: dict[str, Any] = {"verdict": verdict}
        if verdict.kind is VerdictKind.EDIT and isinstance(entry.action, CommandAction):
            # What was proposed and how the reviewer changed it, beside what will run.
            record["edit"] = {
                "proposed": entry.action.command,
                "diff": edit_diff(entry.action.command, verdict.edited or ""),
            }
        try:
            self._record("verdict", record)
        except _AuditFailed as exc:
            entry.audit_error = str(exc)
        self._emit(VerdictGiven(verdict))
        if verdict.kind.approves:
            self._set_state(
                entry, ActionState.AUTO_APPROVED if verdict.by == "policy" else ActionState.APPROVED
            )
        else:
            self._finish(entry, steps.denied_result(entry.action, verdict, entry.decision))
        entry.wakeup.set()

    async def _wait_verdict(self, entry: _Entry) -> None:
        while entry.verdict is None and entry.result is None:
            entry.wakeup.clear()
            await entry.wakeup.wait()

    # ------------------------------------------------------------------ execution

    def _start_recovered(self) -> None:
        if not self._recovered_pending:
            return
        loop = asyncio.get_running_loop()
        for turn in self._recovered_pending:
            turn.task = loop.create_task(
                self._drive(turn), name=f"lockgate-recovered-{turn.turn_id}"
            )
        self._recovered_pending = []

    async def _drive(self, turn: _Turn) -> None:
        """Walk one turn in proposal order: wait for each verdict, run, then answer the agent."""
        i = 0
        while True:
            if i < len(turn.entries):
                await self._settle(turn.entries[i])
                i += 1
                continue
            if turn.ended:
                break
            turn.changed.clear()
            await turn.changed.wait()
        results = tuple(e.result for e in turn.entries if e.result is not None)
        assert len(results) == len(turn.entries)
        if turn.link is None:
            if not turn.results_sent:
                turn.results_sent = True
                self._record_soft(
                    "turn-closed",
                    {"turn_id": turn.turn_id, "action_ids": [r.action_id for r in results]},
                )
            return
        turn.results_sent = True
        self._record_soft(
            "results-sent", {"turn_id": turn.turn_id, "action_ids": [r.action_id for r in results]}
        )
        await turn.link.submit_results(turn.turn_id, results)
        self._emit(ResultsSent(turn.turn_id, results))

    async def _settle(self, entry: _Entry) -> None:
        while entry.result is None and entry.verdict is None and not entry.turn.cancelled:
            entry.wakeup.clear()
            await entry.wakeup.wait()
        if entry.result is not None:
            return
        if entry.turn.cancelled:
            self._cancel_entry(entry, "cancelled by the reviewer")
            return
        await self._execute(entry)

    async def _execute(self, entry: _Entry) -> None:
        async with self._exec_lock:
            if entry.result is not None:
                return
            if entry.turn.cancelled:
                self._cancel_entry(entry, "cancelled by the reviewer")
                return
            action = entry.action
            verdict = entry.verdict
            assert verdict is not None and verdict.kind.approves
            if self._audit_failed or entry.audit_error:
                self._finish(entry, self._never_ran(entry, self._not_recorded_message()))
                return
            if isinstance(action, CommandAction):
                ran = steps.command_to_run(action, verdict)
                extra: dict[str, Any] = {}
            elif isinstance(action, PatchAction):
                review = entry.review
                assert review is not None and review.ok
                ran = steps.patch_summary(review)
                extra = {"pre": self._hash_files(review.files)}
            else:  # network actions are answered in ask_network, never executed here
                self._finish(entry, self._never_ran(entry, "network asks do not execute"))
                return
            try:
                self._record("execution-start", {"action_id": action.id, "ran": ran, **extra})
            except _AuditFailed:
                self._finish(entry, self._never_ran(entry, self._not_recorded_message()))
                return
            self._set_state(entry, ActionState.RUNNING)
            self._emit(ExecutionStarted(action.id, ran))
            entry.streamed = StreamDigest()
            task = asyncio.get_running_loop().create_task(self._call_executor(entry, ran))
            self._running, self._exec_task = entry, task
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                task.cancel()
                raise
            finally:
                self._running, self._exec_task = None, None
            if task.cancelled():
                result = Result(
                    action.id, ResultStatus.CANCELLED, message="cancelled by the reviewer"
                )
            elif task.exception() is not None:
                exc = task.exception()
                log.error("executor failed on %s: %r", action.id, exc)
                result = steps.could_not_run(action, exc)
            else:
                result = task.result()
            if isinstance(action, CommandAction):
                self._expire_asks_of(action.id, f"the command that asked ({action.id}) has ended")
            result = self._normalise(entry, result, ran, verdict)
            post: dict[str, Any] = {}
            if isinstance(action, PatchAction) and entry.review is not None:
                paths = [f[0] for f in entry.review.files]
                paths += [p for p in result.files_changed if p not in paths]
                post = {"post": self._hash_paths(paths)}
            self._keep_output(result)
            self._record_soft(
                "execution-end",
                {"result": result, "digest": self._digest(entry, result), **post},
            )
            self._finish(entry, result, recorded=True)

    async def _call_executor(self, entry: _Entry, ran: str) -> Result:
        action = entry.action
        if isinstance(action, CommandAction):
            digest = entry.streamed
            assert digest is not None

            def sink(stream: Literal["stdout", "stderr"], data: bytes) -> None:
                digest.take(stream, data)
                self._emit(OutputChunk(action.id, stream, data))

            return await self._commands.run(action, ran, sink)
        assert isinstance(action, PatchAction) and entry.review is not None
        return await self._patches.apply(action, entry.review)

    def _normalise(self, entry: _Entry, result: Result, ran: str, verdict: Verdict) -> Result:
        """The agent is always told what really ran, under its own ids."""
        return steps.normalise(entry.action, result, ran, verdict)

    def _digest(self, entry: _Entry, result: Result) -> dict[str, Any]:
        return steps.output_digest(result, entry.streamed)

    def _hash_files(self, files: Sequence[tuple[str, int, int]]) -> dict[str, str | None]:
        return self._hash_paths([f[0] for f in files])

    def _hash_paths(self, paths: Iterable[str]) -> dict[str, str | None]:
        from app.core.audit import hash_workspace_files

        return hash_workspace_files(self.context.workspace, paths)

    # ------------------------------------------------------------------ settling

    def _never_ran(self, entry: _Entry, message: str) -> Result:
        return steps.never_ran(entry.action, message)

    def _not_recorded_message(self) -> str:
        return steps.not_recorded_message(self._audit_failed)

    def _cancel_turn(self, turn: _Turn, why: str) -> None:
        turn.cancelled = True
        for e in turn.entries:
            if e.result is None and e.state is not ActionState.RUNNING:
                self._cancel_entry(e, why)
        turn.changed.set()

    def _cancel_entry(self, entry: _Entry, why: str) -> None:
        if entry.result is None:
            self._finish(
                entry,
                Result(
                    entry.action.id,
                    ResultStatus.CANCELLED,
                    message=f"{why}; it never ran",
                    call_id=entry.action.call_id,
                ),
            )
        entry.wakeup.set()

    def _finish(self, entry: _Entry, result: Result, *, recorded: bool = False) -> None:
        entry.result = result
        if not recorded:
            self._record_soft("result", {"result": result})
        self._emit(ExecutionFinished(result))
        self._set_state(entry, _state_for(result))
        entry.wakeup.set()

    def _set_state(self, entry: _Entry, state: ActionState) -> None:
        entry.state = state
        self._emit(ActionStateChanged(entry.action.id, state))

    # ------------------------------------------------------------------ audit and observers

    def _checkpoint(self, event: AgentCheckpoint) -> None:
        """The conversation goes beside the log, its hash into it (see `AuditLog.keep`)."""
        if self._audit is None or self._audit_failed:
            return
        try:
            sha = self._audit.keep("agent-state", {"state": dict(event.state)})
        except Exception as exc:
            log.error("cannot keep the agent's checkpoint: %s", exc)
            return  # a resume would start the agent over; nothing unsafe
        self._record_soft(
            "agent-state", {"api": event.api, "turn_id": event.turn_id, "sha256": sha}
        )

    def _keep_output(self, result: Result) -> None:
        """A command's kept output, for a resumed agent (the log holds only its digest)."""
        if self._audit is None or self._audit_failed or not (result.stdout or result.stderr):
            return
        try:
            self._audit.keep(
                "output",
                {
                    "action_id": result.action_id,
                    "stdout": base64.b64encode(result.stdout).decode("ascii"),
                    "stderr": base64.b64encode(result.stderr).decode("ascii"),
                },
                redact=False,
            )
        except Exception as exc:
            log.error("cannot keep the output of %s: %s", result.action_id, exc)

    def _record(self, kind: str, data: dict[str, Any], *, sync: bool = True) -> None:
        """Write one audit record (fsynced unless `sync` is off); raises `_AuditFailed` (and stays
        failed) if it cannot."""
        if self._audit is None:
            return
        if self._audit_failed:
            raise _AuditFailed(self._audit_failed)
        try:
            self._audit.write(kind, data, sync=sync)
        except Exception as exc:
            self._audit_failed = f"{type(exc).__name__}: {exc}"
            log.error("audit log failed: %s", self._audit_failed)
            raise _AuditFailed(self._audit_failed) from exc

    def _record_soft(self, kind: str, data: dict[str, Any]) -> None:
        """A record nothing executes on (not fsynced: the next verdict or execution start carries
        it to disk); a failure still stops all later execution."""
        with contextlib.suppress(_AuditFailed):
            self._record(kind, data, sync=False)

    def _emit(self, event: PipelineEvent) -> None:
        """Deliver in order to every observer, even when an observer re-enters the pipeline."""
        self._pending_events.append(event)
        if self._emitting:
            return
        self._emitting = True
        try:
            while self._pending_events:
                ev = self._pending_events.popleft()
                for observer in list(self._observers):
                    try:
                        observer.notify(ev)
                    except Exception:
                        log.exception("observer %r failed on %s", observer, type(ev).__name__)
        finally:
            self._emitting = False


def _same_proposal(recorded: Action, proposed: Action) -> bool:
    """A restored link's proposal is the one the log recorded (kind, turn, text, call)."""
    return (
        type(recorded) is type(proposed)
        and recorded.turn_id == proposed.turn_id
        and recorded.reviewed_text == proposed.reviewed_text
        and recorded.call_id == proposed.call_id
    )


def _state_for(result: Result) -> ActionState:
    if result.status is ResultStatus.COMPLETED:
        return ActionState.DONE
    if result.status is ResultStatus.DENIED:
        return ActionState.DENIED
    return ActionState.FAILED


ObserverFn = Callable[[PipelineEvent], None]


class FunctionObserver:
    """Adapts a plain function to the Observer port (handy for tests and the CLI)."""

    def __init__(self, fn: ObserverFn) -> None:
        self._fn = fn

    def notify(self, event: PipelineEvent) -> None:
        self._fn(event)

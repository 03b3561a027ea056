"""The pipeline's pure steps for one action: assess, decide, turn a policy decision into a
verdict, say what a verdict denied, normalise what an executor returned, digest its output.

They live apart from `app.core.pipeline` (which needs asyncio for its turns and its executors)
so that a one-shot process deciding a single action by policy alone (`lockgate hook AGENT
--policy-only`) reaches exactly the decision, reasons and records the console would, by the
same code, without starting an event loop. The pipeline calls these; nothing here keeps state.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Decision,
    DecisionKind,
    Level,
    NetworkAction,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.core.patch_review import PatchReview

if TYPE_CHECKING:
    from app.core.ports import PatchExecutor, PolicyEngine, RiskEngine, SessionContext

CRITICAL_RULE = "core:critical-always-asked"
HEADLESS_RULE = "core:headless"
APPROVED_HOST_RULE = "core:approved-command-host"
"""A network ask for a host the reviewer saw in the command they approved, from that command's
own run: allowed for that run without asking again."""
EXPIRED_KEY = "expired"

LOGGER = "app.core.pipeline"  # the failures below are the pipeline's, wherever it runs


def _log_exception(message: str, *args: object) -> None:
    import logging  # only on a failure: a one-shot decision that goes well never needs it

    logging.getLogger(LOGGER).exception(message, *args)


@dataclass
class StreamDigest:
    """What a running command streamed, for the audit record: bytes seen and their hash, per
    stream (the result keeps only head and tail; these cover everything)."""

    stdout: Any = field(default_factory=hashlib.sha256)
    stderr: Any = field(default_factory=hashlib.sha256)
    stdout_n: int = 0
    stderr_n: int = 0

    def take(self, stream: Literal["stdout", "stderr"], data: bytes) -> None:
        if stream == "stdout":
            self.stdout.update(data)
            self.stdout_n += len(data)
        else:
            self.stderr.update(data)
            self.stderr_n += len(data)


def review_patch(patches: PatchExecutor, action: PatchAction) -> PatchReview:
    """The patch engine's review; a review that raises is a patch that cannot apply."""
    try:
        return patches.review(action)
    except Exception as exc:
        _log_exception("patch review failed on %s", action.id)
        return PatchReview(
            action.id, ok=False, unified_diff="", error=f"patch review failed: {exc}"
        )


def unappliable(action: PatchAction, review: PatchReview) -> Result:
    """The result of a patch its review says cannot apply (it is never assessed)."""
    return Result(
        action.id,
        ResultStatus.FAILED,
        message=review.error or "patch cannot apply",
        call_id=action.call_id,
    )


def assess(
    risk: RiskEngine, action: Action, context: SessionContext, earlier: tuple[Action, ...]
) -> Assessment:
    """The risk engine's assessment; an engine that raises makes the action critical."""
    try:
        return risk.assess(action, context, earlier)
    except Exception as exc:
        _log_exception("risk engine failed on %s", action.id)
        return Assessment(
            score=100,
            level=Level.CRITICAL,
            categories=(Category.OBFUSCATION,),
            reasons=(f"the risk engine failed on this action ({exc}); treat it as critical",),
        )


def decide(
    policy: PolicyEngine,
    action: Action,
    assessment: Assessment,
    *,
    headless: bool,
    host_approver: Callable[[NetworkAction], str] | None = None,
) -> Decision:
    """The policy's decision, made safe: a policy that raises asks, a critical action is never
    allowed without a human, a network ask for a host a human-approved command names is allowed
    (`host_approver` says which command, '' for none), and headless turns every ask into a
    denial."""
    try:
        decision = policy.decide(action, assessment)
    except Exception as exc:
        _log_exception("policy failed on %s", action.id)
        decision = Decision(
            DecisionKind.ASK, rule="core:policy-error", reason=f"policy failed: {exc}"
        )
    critical = assessment.level == Level.CRITICAL or assessment.score >= 85
    if critical and decision.kind is DecisionKind.ALLOW:
        decision = Decision(
            DecisionKind.ASK,
            rule=CRITICAL_RULE,
            reason=f"critical actions are always asked (policy said allow by {decision.rule})",
            source="risk",
        )
    if (
        decision.kind is DecisionKind.ASK
        and isinstance(action, NetworkAction)
        and host_approver is not None
    ):
        approver = host_approver(action)
        if approver:
            decision = Decision(
                DecisionKind.ALLOW,
                rule=APPROVED_HOST_RULE,
                reason=f"the reviewer approved {approver}, which names this host",
            )
    if headless and decision.kind is DecisionKind.ASK:
        why = decision.reason or f"rule {decision.rule} asks a human"
        decision = Decision(
            DecisionKind.DENY,
            rule=HEADLESS_RULE,
            reason=f"headless mode: no human to ask, so denied ({why})",
            source="headless",
        )
    return decision


def policy_verdict(action_id: str, decision: Decision) -> Verdict | None:
    """Allow and deny are verdicts by policy; ask (None) leaves the action to a human."""
    if decision.kind is DecisionKind.ALLOW:
        return Verdict(action_id, VerdictKind.APPROVE, by="policy", key=decision.rule)
    if decision.kind is DecisionKind.DENY:
        return Verdict(
            action_id, VerdictKind.DENY, by="policy", key=decision.rule, feedback=decision.reason
        )
    return None


def denied_result(action: Action, verdict: Verdict, decision: Decision | None) -> Result:
    """The result of an action a verdict denied, saying who denied it and why."""
    reason = verdict.feedback or (decision.reason if decision else "")
    message = "denied by the reviewer" if verdict.by == "human" else "denied by policy"
    if decision is not None and verdict.by == "policy":
        message = f"denied by policy ({decision.rule})"
    if verdict.key == "timeout":
        message = "denied: no verdict in time"
    if verdict.key == EXPIRED_KEY:
        message, reason = f"expired: {verdict.feedback}", ""
    if reason:
        message = f"{message}: {reason}"
    return Result(
        action.id,
        ResultStatus.DENIED,
        message=message,
        feedback=verdict.feedback,
        call_id=action.call_id,
    )


def command_to_run(action: CommandAction, verdict: Verdict) -> str:
    """What an approved command runs: the reviewer's edit of it, if any."""
    if verdict.kind is VerdictKind.EDIT and verdict.edited:
        return verdict.edited
    return action.command


def patch_summary(review: PatchReview) -> str:
    if not review.files:
        return "apply patch"
    parts = [f"{path} (+{added} -{removed})" for path, added, removed in review.files]
    return "apply patch: " + ", ".join(parts)


def never_ran(action: Action, message: str) -> Result:
    return Result(action.id, ResultStatus.FAILED, message=message, call_id=action.call_id)


def could_not_run(action: Action, exc: object) -> Result:
    """The result of an executor that raised."""
    return Result(action.id, ResultStatus.FAILED, message=f"could not run: {exc}")


def not_recorded_message(audit_failed: str) -> str:
    why = audit_failed or "the verdict could not be recorded"
    return f"not run: the audit log cannot record ({why})"


def normalise(action: Action, result: Result, ran: str, verdict: Verdict) -> Result:
    """The agent is always told what really ran, under its own ids."""
    status = result.status
    if status is ResultStatus.DENIED:  # an executor cannot deny; it failed to run
        status = ResultStatus.FAILED
    did_run = not (status is ResultStatus.FAILED and result.ran is None)
    message = result.message
    if (
        verdict.kind is VerdictKind.EDIT
        and isinstance(action, CommandAction)
        and ran != action.command
    ):
        note = f"the reviewer edited the command before it ran; what ran was: {ran}"
        message = f"{note}\n{message}" if message else note
    return dataclasses.replace(
        result,
        action_id=action.id,
        status=status,
        ran=ran if did_run else None,
        call_id=action.call_id,
        message=message,
    )


def output_digest(result: Result, streamed: StreamDigest | None) -> dict[str, Any]:
    """The execution-end record's account of the output: what was kept and what streamed."""
    s = streamed
    return {
        "exit_code": result.exit_code,
        "stdout_total": result.stdout_total,
        "stderr_total": result.stderr_total,
        "stdout_kept_sha256": hashlib.sha256(result.stdout).hexdigest(),
        "stderr_kept_sha256": hashlib.sha256(result.stderr).hexdigest(),
        "stdout_streamed": s.stdout_n if s else 0,
        "stderr_streamed": s.stderr_n if s else 0,
        "stdout_streamed_sha256": s.stdout.hexdigest() if s else None,
        "stderr_streamed_sha256": s.stderr.hexdigest() if s else None,
    }

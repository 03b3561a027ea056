"""The pipeline's executors for agents that carry out approved actions themselves.

Behind a hook, lockgate decides and the agent acts: Claude Code runs the (rewritten, sandboxed)
command, writes the file, makes the request. So "executing" an approved action here means
recording the hand-off; the pipeline's order, audit records (verdict and execution-start are
fsynced before the answer goes out) and console states stay exactly as for any other agent.
"""

from __future__ import annotations

from typing import Any

from app.core.model import (
    Action,
    Assessment,
    CommandAction,
    Decision,
    DecisionKind,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
)
from app.core.ports import OutputSink, PatchReview, PolicyEngine
from app.hooks.mapping import GENERIC_PREFIX

HANDED_OFF = "approved: the agent carries it out itself"


class HandOffCommands:
    """CommandExecutor: an approved command (or read, or tool call) is handed back to the agent.
    `notes[action_id]` says how (e.g. "runs inside `lockgate sandbox run`")."""

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            ran=command,
            message=self.notes.pop(action.id, HANDED_OFF),
            call_id=action.call_id,
        )


class HandOffPatches:
    """PatchExecutor: the real patch engine reviews (renders the diff, resolves paths, asks for
    protected ones); an approved patch is the agent's to write."""

    def __init__(self, reviewer: Any) -> None:
        # app.execute.patches.WorkspacePatchExecutor, or a function making one on first use
        # (--policy-only: most calls are no patch, and the patch engine is ~30 ms to import)
        self._reviewer = reviewer

    def _engine(self) -> Any:
        if callable(self._reviewer) and not hasattr(self._reviewer, "review"):
            self._reviewer = self._reviewer()
        return self._reviewer

    def review(self, action: PatchAction) -> PatchReview:
        review: PatchReview = self._engine().review(action)
        return review

    def approve_protected_item(self, action_id: str) -> None:
        self._engine().approve_protected_item(action_id)

    async def apply(self, action: PatchAction, review: PatchReview) -> Result:
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            message="approved: the agent writes "
            + (", ".join(f[0] for f in review.files) or "the patch")
            + " itself",
            files_changed=tuple(f[0] for f in review.files),
            call_id=action.call_id,
        )

    async def undo_last(self) -> Result:
        return Result(
            "",
            ResultStatus.FAILED,
            message="the agent wrote its files itself; lockgate has no pre-images to undo them "
            "(use git)",
        )


class HookPolicy:
    """The session's policy, plus one rule for tools lockgate cannot judge (MCP tools and other
    unknown tools): they are asked unless a user or project rule — or a reviewer's
    approve-for-session — allows them; the level ceiling alone never does."""

    def __init__(self, inner: PolicyEngine) -> None:
        self._inner = inner

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        decision = self._inner.decide(action, assessment)
        if (
            action.id.startswith(GENERIC_PREFIX + "-")
            and decision.kind is DecisionKind.ALLOW
            and decision.source not in ("user", "project", "session")
        ):
            return Decision(
                DecisionKind.ASK,
                "hook:tool-asked",
                "a tool lockgate cannot judge is asked unless a rule allows it by name",
                source="default",
            )
        return decision

    def remember(self, action: Action, verdict: Verdict) -> None:
        self._inner.remember(action, verdict)

    def __getattr__(self, name: str) -> Any:  # headless flag, warnings … of the inner policy
        return getattr(self._inner, name)

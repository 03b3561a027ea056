"""The PatchExecutor port backed by the patch engine on the real workspace.

`review` parses and plans (nothing on disk changes) and hands the plan back as the review's
token; `apply` writes exactly that plan, after checking every file still matches what the reviewer
saw. Protected paths (git hooks and config, agent and editor config, lockgate's own files) are
refused at review unless approved up front, or — with `ask_for_protected=True` — shown for review
and applied only once `approve_protected_item(action_id)` says the reviewer approved that item.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from app.core.model import PatchAction, Result, ResultStatus, new_id
from app.core.ports import PatchReview
from app.patch.apply import apply_plan, recover, undo_last
from app.patch.errors import PatchError
from app.patch.fsops import Workspace, protected_reason
from app.patch.parse import parse_patch
from app.patch.plan import Plan, build_plan


def describe_applied(statuses: tuple[tuple[str, str], ...], *, verb: str = "Updated") -> str:
    """apply_patch's own report format, which models are trained to read."""
    lines = [f"Success. {verb} the following files:"]
    lines += [f"{status} {path}" for status, path in statuses]
    return "\n".join(lines)


class WorkspacePatchExecutor:
    def __init__(
        self,
        workspace: Path,
        approved_protected: Iterable[str] = (),
        *,
        ask_for_protected: bool = False,
    ) -> None:
        self.workspace = Path(workspace).absolute()
        self._ws = Workspace.at(self.workspace)
        self._approved: set[str] = {self._ws.normalize(p) for p in approved_protected}
        self._ask_for_protected = ask_for_protected
        self._item_approvals: set[str] = set()
        self.recovered: tuple[str, ...] = ()
        self.recovery_error = ""
        try:
            self.recovered = tuple(recover(self._ws.root))
        except (PatchError, OSError) as exc:
            self.recovery_error = str(exc)

    def approve_protected(self, paths: Iterable[str]) -> None:
        """Paths the reviewer (or the user's config) allows patches to touch although protected."""
        self._approved.update(self._ws.normalize(p) for p in paths)

    def approve_protected_item(self, action_id: str) -> None:
        """The reviewer approved this very item, protected paths included."""
        self._item_approvals.add(action_id)

    def review(self, action: PatchAction) -> PatchReview:
        try:
            parsed = parse_patch(action.patch, action.format)
            approved = frozenset(self._approved)
            if self._ask_for_protected:
                approved = approved | self._protected_in(parsed.paths)
            plan = build_plan(parsed, self._ws, approved=approved, given_root=self.workspace)
        except PatchError as exc:
            return PatchReview(action.id, ok=False, unified_diff="", error=str(exc))
        return PatchReview(
            action.id, ok=True, unified_diff=plan.unified_diff, files=plan.counts, token=plan
        )

    def _protected_in(self, paths: Iterable[str]) -> frozenset[str]:
        out: set[str] = set()
        for p in paths:
            try:
                rel = self._ws.normalize(p, given_root=self.workspace)
            except PatchError:
                continue
            if protected_reason(rel):
                out.add(rel)
        return frozenset(out)

    def protected_paths(self, review: PatchReview) -> tuple[str, ...]:
        """Protected paths a reviewed plan touches that are not approved for good."""
        plan = review.token
        if not isinstance(plan, Plan):
            return ()
        return tuple(p for p in plan.paths if protected_reason(p) and p not in self._approved)

    async def apply(self, action: PatchAction, review: PatchReview) -> Result:
        plan = review.token
        if (
            not review.ok
            or not isinstance(plan, Plan)
            or review.action_id != action.id
            or plan.workspace != self._ws.root
        ):
            return Result(
                action.id,
                ResultStatus.FAILED,
                message=review.error or "this patch has no valid review for this workspace",
            )
        pending = self.protected_paths(review)
        if pending and action.id not in self._item_approvals:
            return Result(
                action.id,
                ResultStatus.FAILED,
                message=f"{pending[0]} is a protected path; the reviewer did not approve it",
            )
        import asyncio  # here, not at import: reviewing an edit (a one-shot hook) needs no loop

        try:
            applied = await asyncio.to_thread(apply_plan, plan)
        except PatchError as exc:
            return Result(action.id, ResultStatus.FAILED, message=str(exc))
        except OSError as exc:
            return Result(action.id, ResultStatus.FAILED, message=f"apply failed: {exc}")
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            exit_code=0,
            message=describe_applied(plan.summary or applied.statuses),
            files_changed=applied.files,
        )

    async def undo_last(self) -> Result:
        import asyncio

        rid = new_id("undo")
        try:
            applied = await asyncio.to_thread(undo_last, self._ws.root)
        except PatchError as exc:
            return Result(rid, ResultStatus.FAILED, message=str(exc))
        except OSError as exc:
            return Result(rid, ResultStatus.FAILED, message=f"undo failed: {exc}")
        return Result(
            rid,
            ResultStatus.COMPLETED,
            exit_code=0,
            message=describe_applied(applied.statuses, verb="Undid the last patch; restored"),
            files_changed=applied.files,
        )

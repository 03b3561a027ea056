"""The session's policy with registry checks: an install of a name the popularity lists do not
know is held (asked) until the registry has answered, and the answer lands on the item as late
findings (`Pipeline.add_findings`), so the queue shows it at once and its badge moves when the
registry replies. Headless sessions have nobody to show a moving badge to: they wait for the
answer (bounded by the timeout) before deciding."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from app.core.model import Action, Assessment, Decision, DecisionKind, Finding
from app.deps.check import MEDIUM, DepsChecker, Outcome
from app.deps.extract import from_action
from app.deps.model import REGISTRY_NAME

log = logging.getLogger(__name__)


class _Pipeline(Protocol):
    def add_findings(self, action_id: str, findings: list[Finding], *, source: str) -> bool: ...


def _worst(outcomes: list[Outcome]) -> Finding | None:
    findings = [f for o in outcomes for f in o.findings]
    return max(findings, key=lambda f: f.score, default=None)


class DepsPolicy:
    def __init__(self, inner: Any, checker: DepsChecker, *, headless: bool) -> None:
        self._inner = inner
        self._checker = checker
        self._headless = headless
        self._pipeline: _Pipeline | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Actions whose lookup was started or whose answer was handed over: deciding them again
        # (late findings make the pipeline decide again) must not start or hand over anything.
        self._handled: set[str] = set()
        self._answers: dict[str, list[Outcome]] = {}  # what a finished lookup said, per action

    def attach(self, pipeline: _Pipeline) -> None:
        self._pipeline = pipeline

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        d: Decision = self._inner.decide(action, assessment)
        if d.kind == DecisionKind.DENY and d.source != "headless":
            return d  # a rule said no: the registry has nothing to add
        refs = [r for r in from_action(action) if self._checker.needs_lookup(r)]
        if not refs:
            return d
        first = action.id not in self._handled
        self._handled.add(action.id)
        answered = self._answers.get(action.id)
        if answered is not None:
            return self._tighten(d, answered)
        cached = [self._checker.cached(r) for r in refs]
        if all(o is not None for o in cached):
            outcomes = [o for o in cached if o is not None]
            if first:
                self._later(action.id, outcomes)
            return self._tighten(d, outcomes)
        if self._headless or self._pipeline is None:
            outcomes = self._checker.check_all(refs)
            if first:
                self._later(action.id, outcomes)
            return self._tighten(d, outcomes)
        if first:
            self._start(action.id, refs)
        if d.kind == DecisionKind.ALLOW:
            names = ", ".join(f"{r.name} ({REGISTRY_NAME[r.ecosystem]})" for r in refs)
            return Decision(
                DecisionKind.ASK,
                "deps:checking",
                f"checking the registry for {names}; the answer updates this item",
                source="risk",
            )
        return d

    def _tighten(self, d: Decision, outcomes: list[Outcome]) -> Decision:
        worst = _worst(outcomes)
        if worst is None or worst.score < MEDIUM:
            return d
        if d.kind != DecisionKind.ALLOW:
            return Decision(d.kind, d.rule, f"{d.reason}; {worst.reason}", source=d.source)
        if self._headless:
            return Decision(
                DecisionKind.DENY,
                "headless:deps",
                f"no reviewer (headless); would ask: {worst.reason}",
                source="headless",
            )
        return Decision(DecisionKind.ASK, "deps:registry", worst.reason, source="risk")

    def _later(self, action_id: str, outcomes: list[Outcome]) -> None:
        """Put the registry's words on the item once the pipeline has it."""
        findings = [f for o in outcomes for f in o.findings]
        if not findings or self._pipeline is None:
            return
        pipeline = self._pipeline
        with contextlib.suppress(RuntimeError):  # no running loop: a CLI one-shot, nothing to show
            asyncio.get_running_loop().call_soon(
                lambda: pipeline.add_findings(action_id, findings, source="deps")
            )

    def _start(self, action_id: str, refs: list[Any]) -> None:
        async def look() -> None:
            try:
                outcomes = await asyncio.to_thread(self._checker.check_all, refs)
            except Exception:  # the checker never raises; this is a bug, not the registry
                log.exception("dependency check failed for %s", action_id)
                return
            self._answers[action_id] = outcomes
            findings = [f for o in outcomes for f in o.findings]
            if findings and self._pipeline is not None:
                self._pipeline.add_findings(action_id, findings, source="deps")

        task = asyncio.get_running_loop().create_task(look(), name=f"lockgate-deps-{action_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def remember(self, action: Action, verdict: Any) -> None:
        self._inner.remember(action, verdict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

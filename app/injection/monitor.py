"""The optional model monitor: an OpenAI-API second opinion on every action the policy asks about,
on every action it would allow while untrusted content is in the agent's context, and on every
output the scanner flagged.

Rules and the scanner see one item at a time; a model given the task, the recent actions and
the untrusted sources can see that a "harmless" command is step three of a planted chain. But a
model can be wrong, slow, down, or talked round by the very text it judges, so its opinion may
only raise: a score of 70 or more makes the item critical (a finding scored 85+, so it needs the
typed confirmation); a lower score is a 0-score note that changes nothing. Nothing it says clears
taint or turns an ask into an allow. The one thing it releases is its own hold: while the
session is tainted, an action the policy would allow waits (asked) for the monitor's answer and
runs when the answer is low; no answer within the timeout, or a failure, leaves it asked and
says so on the item.

Opinions are cached by the item's text; calls run on daemon threads (a hung server never keeps
the program alive), each bounded by the configured timeout. The key comes from the environment
only and is redacted from everything the monitor writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import openai

from app.agent.errors import classify, redact, safe_url
from app.agent.transport import DEFAULT_BASE_URL
from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Decision,
    DecisionKind,
    Finding,
    Level,
    NetworkAction,
    PatchAction,
    Result,
    Verdict,
    VerdictKind,
)
from app.core.ports import OutputSink
from app.core.state import ActionState, ActionView
from app.injection.monitor_prompt import (
    OUTPUT_LIMIT,
    RECENT_COUNT,
    Recent,
    Subject,
    SubjectKind,
    Unreadable,
    build_messages,
    parse_answer,
)
from app.injection.scanner import ScanResult
from app.injection.taint import TaintSource, TaintTracker

log = logging.getLogger(__name__)

HIGH_SCORE = 70  # the monitor's score from which an item is raised
CRITICAL_SCORE = 85  # what a raised item's finding scores at least (Level.CRITICAL)
DEFAULT_TIMEOUT_S = 10.0
HOLD_RULE = "monitor:checking"
OPINION_RULE = "monitor:opinion"
CLEARED_KEY = "monitor:cleared"
HEADLESS_RULE = "headless:monitor"


class MonitorConfigError(ValueError):
    """A monitor that cannot be set up; the message is one line a user can act on."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class MonitorSettings:
    model: str
    base_url: str | None = None  # default: $OPENAI_BASE_URL or the OpenAI API
    timeout_s: float = DEFAULT_TIMEOUT_S
    api_key_env: str = "OPENAI_API_KEY"
    task: str = ""  # the user's task for the agent, as the monitor is told it


_CONFIG_KEYS = ("model", "base_url", "timeout", "api_key_env")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def monitor_settings(
    config: Mapping[str, Any],
    *,
    model: str | None = None,
    base_url: str | None = None,
    task: str = "",
) -> MonitorSettings | None:
    """The monitor's settings from `[monitor]` in the user config and the command line (which
    wins), or None when no model is named (the monitor is off by default)."""
    if "api_key" in config:
        raise MonitorConfigError(
            "config [monitor] api_key: keys are not kept in the config file; set "
            "OPENAI_API_KEY, or name another variable with api_key_env"
        )
    unknown = sorted(set(config) - set(_CONFIG_KEYS))
    if unknown:
        raise MonitorConfigError(
            f"config [monitor]: unknown key {', '.join(unknown)} (known: {', '.join(_CONFIG_KEYS)})"
        )
    for name in ("model", "base_url", "api_key_env"):
        if name in config and (not isinstance(config[name], str) or not config[name].strip()):
            raise MonitorConfigError(f"config [monitor] {name}: expected a non-empty string")
    chosen = (model or "").strip() or str(config.get("model", "")).strip()
    if not chosen:
        if base_url:
            raise MonitorConfigError(
                "--monitor-base-url needs --monitor MODEL (or [monitor] model in the config)"
            )
        return None
    url = base_url or config.get("base_url")
    if url is not None and not str(url).startswith(("http://", "https://")):
        where = "--monitor-base-url" if base_url else "config [monitor] base_url"
        raise MonitorConfigError(f"{where} {url!r}: must start with http:// or https://")
    timeout = config.get("timeout", DEFAULT_TIMEOUT_S)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or not 0 < timeout <= 600
    ):
        raise MonitorConfigError(
            "config [monitor] timeout: expected seconds, more than 0, at most 600"
        )
    env = str(config.get("api_key_env", "OPENAI_API_KEY")).strip()
    if not _ENV_NAME.match(env):
        raise MonitorConfigError(
            f"config [monitor] api_key_env {env!r}: expected an environment variable name"
        )
    return MonitorSettings(
        model=chosen,
        base_url=str(url) if url else None,
        timeout_s=float(timeout),
        api_key_env=env,
        task=task,
    )


# --------------------------------------------------------------------------- opinions and stats


@dataclass(frozen=True)
class Opinion:
    """What the monitor said about one item (or that it said nothing)."""

    status: Literal["opinion", "failed", "timeout"]
    score: int = 0
    reason: str = ""
    detail: str = ""  # failed: why, one line, redacted
    timeout_s: float = 0.0

    @property
    def high(self) -> bool:
        return self.status == "opinion" and self.score >= HIGH_SCORE

    def note(self, kind: SubjectKind = "action") -> str:
        if self.status == "timeout":
            return f"monitor: no answer in {self.timeout_s:g} s"
        if self.status == "failed":
            return f"monitor: failed ({self.detail})"
        about = "its output, " if kind == "output" else ""
        return f"monitor: {about}{self.score}/100 — {self.reason}"

    def finding(self, kind: SubjectKind = "action") -> Finding:
        if self.high:
            score = min(100, CRITICAL_SCORE + (self.score - HIGH_SCORE) // 2)
            return Finding(Category.EXFILTRATION, score, self.note(kind))
        # A note shown on the item; RESOURCE at 0 is the category nothing tightens on.
        return Finding(Category.RESOURCE, 0, self.note(kind))


@dataclass(frozen=True)
class MonitorStats:
    """What the monitor cost so far, for the console's header."""

    model: str
    calls: int = 0  # requests sent
    cached: int = 0  # opinions reused for the same text
    failed: int = 0  # requests that brought no usable opinion
    timed_out: int = 0  # items that waited past the timeout
    mean_ms: float = 0.0
    p95_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def summary(self) -> str:
        """One line: 'monitor gpt-4.1-mini: 6 calls, 2 cached, 410 ms mean, 930 ms p95,
        5.2k+180 tokens'."""
        parts = [f"{self.calls} call{'s' if self.calls != 1 else ''}"]
        if self.cached:
            parts.append(f"{self.cached} cached")
        if self.mean_ms:
            parts.append(f"{self.mean_ms:.0f} ms mean, {self.p95_ms:.0f} ms p95")
        if self.prompt_tokens or self.completion_tokens:
            parts.append(f"{_k(self.prompt_tokens)}+{_k(self.completion_tokens)} tokens")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.timed_out:
            parts.append(f"{self.timed_out} timed out")
        return f"monitor {self.model}: " + ", ".join(parts)


def _k(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- the monitor


class _Pipeline(Protocol):
    def add_findings(self, action_id: str, findings: list[Finding], *, source: str) -> bool: ...
    def view(self, action_id: str) -> ActionView: ...
    def views(self) -> list[ActionView]: ...
    def submit_verdict(self, verdict: Verdict) -> None: ...


class Monitor:
    """The client, the cache, the statistics, and the landing of opinions on items."""

    def __init__(
        self,
        settings: MonitorSettings,
        *,
        tracker: TaintTracker | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        key = os.environ.get(settings.api_key_env, "").strip()
        url = settings.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if not key:
            if url.rstrip("/") == DEFAULT_BASE_URL:
                raise MonitorConfigError(
                    f"monitor: no API key for {settings.model}: set {settings.api_key_env} "
                    "(the key is read from the environment, never from the command line)"
                )
            key = "no-key"  # a local server that needs none
        self.settings = settings
        self.base_url = url
        self.tracker = tracker
        self.pipeline: _Pipeline | None = None
        self.listeners: list[Callable[[MonitorStats], None]] = []
        self._key = key
        self._secrets = tuple(s for s in (key, *secrets) if s and s != "no-key")
        # The wait is bounded by `timeout_s` on our side; the client's own, longer timeout only
        # ends the thread of a call nobody waits for any more (its answer still fills the cache).
        self._client = openai.OpenAI(
            api_key=key,
            base_url=url,
            max_retries=0,
            timeout=openai.Timeout(
                max(30.0, 3 * settings.timeout_s), connect=min(10.0, settings.timeout_s)
            ),
        )
        self._json_mode = True  # ask for response_format json_object until a server refuses it
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], concurrent.futures.Future[Opinion]] = {}
        self._latencies: list[float] = []
        self._calls = self._cached = self._failed = self._timed_out = 0
        self._prompt_tokens = self._completion_tokens = 0
        self._delivered: dict[str, set[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- state the console shows ---------------------------------------------------------------
    @property
    def secret(self) -> str:
        """The key, for the audit log's redactor ('' for a local server without one)."""
        return "" if self._key == "no-key" else self._key

    @property
    def stats(self) -> MonitorStats:
        with self._lock:
            lat = list(self._latencies)
            return MonitorStats(
                model=self.settings.model,
                calls=self._calls,
                cached=self._cached,
                failed=self._failed,
                timed_out=self._timed_out,
                mean_ms=sum(lat) / len(lat) if lat else 0.0,
                p95_ms=_p95(lat),
                prompt_tokens=self._prompt_tokens,
                completion_tokens=self._completion_tokens,
            )

    def summary(self) -> str:
        return self.stats.summary()

    def attach(self, pipeline: _Pipeline) -> None:
        self.pipeline = pipeline

    def describe(self) -> str:
        """The start-up notice."""
        s = self.settings
        return f"model monitor: {s.model} at {safe_url(self.base_url)} (timeout {s.timeout_s:g} s)"

    def close(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(RuntimeError):  # its loop is gone already
                task.cancel()
        with contextlib.suppress(Exception):
            self._client.close()

    # -- asking --------------------------------------------------------------------------------
    def known(self, subject: Subject) -> Opinion | None:
        """A real opinion already given on this text (a cache hit), or None."""
        with self._lock:
            fut = self._cache.get(subject.cache_key)
            if fut is None or not fut.done():
                return None
            op = fut.result()
            if op.status != "opinion":
                return None
            self._cached += 1
            return op

    def opinion(self, subject: Subject, *, exclude: str = "") -> concurrent.futures.Future[Opinion]:
        """The opinion on `subject`: the cached or pending one for the same text, or a new call
        (on a daemon thread). Call on the pipeline's loop: the question reads the session."""
        key = subject.cache_key
        with self._lock:
            fut = self._cache.get(key)
            if fut is not None:
                self._cached += 1
                return fut
            fut = concurrent.futures.Future()
            fut.set_running_or_notify_cancel()
            self._cache[key] = fut
            self._calls += 1
        try:
            messages = self._messages(subject, exclude)
        except Exception as exc:  # reading the session must not break the caller
            log.exception("monitor: cannot build the question")
            self._settle(fut, key, Opinion("failed", detail=f"cannot build the question: {exc}"))
            return fut
        threading.Thread(
            target=self._call, args=(fut, key, messages), name="lockgate-monitor", daemon=True
        ).start()
        return fut

    async def wait(self, fut: concurrent.futures.Future[Opinion]) -> Opinion:
        """The answer, or a timeout opinion after `timeout_s` (the call goes on; a late answer
        still fills the cache)."""
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(fut)), self.settings.timeout_s
            )
        except TimeoutError:
            return self._timeout()

    def wait_sync(self, fut: concurrent.futures.Future[Opinion]) -> Opinion:
        try:
            return fut.result(timeout=self.settings.timeout_s)
        except concurrent.futures.TimeoutError:
            return self._timeout()

    def _timeout(self) -> Opinion:
        with self._lock:
            self._timed_out += 1
        return Opinion("timeout", timeout_s=self.settings.timeout_s)

    def _call(
        self,
        fut: concurrent.futures.Future[Opinion],
        key: tuple[str, str],
        messages: list[dict[str, str]],
    ) -> None:
        started = time.monotonic()
        answered = False
        try:
            response = self._request(messages)
            answered = True
            op = self._read(response)
        except Exception as exc:
            failure = classify(
                exc, model=self.settings.model, base_url=self.base_url, secrets=self._secrets
            )
            op = Opinion("failed", detail=failure.message)
        if answered:
            with self._lock:
                self._latencies.append((time.monotonic() - started) * 1000.0)
        self._settle(fut, key, op)

    def _settle(
        self, fut: concurrent.futures.Future[Opinion], key: tuple[str, str], op: Opinion
    ) -> None:
        with self._lock:
            if op.status != "opinion":
                self._failed += 1
                if self._cache.get(key) is fut:
                    del self._cache[key]  # only real opinions are cached; the next item asks anew
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            fut.set_result(op)

    def _request(self, messages: list[dict[str, str]]) -> Any:
        kwargs: dict[str, Any] = {"model": self.settings.model, "messages": messages}
        if self._json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            return self._client.chat.completions.create(**kwargs)
        except openai.BadRequestError as exc:
            if "response_format" not in kwargs or "response_format" not in str(exc):
                raise
            self._json_mode = False  # a compatible server without JSON mode: ask in words only
            del kwargs["response_format"]
            return self._client.chat.completions.create(**kwargs)

    def _read(self, response: Any) -> Opinion:
        usage = getattr(response, "usage", None)
        with self._lock:
            self._prompt_tokens += _int(getattr(usage, "prompt_tokens", 0))
            self._completion_tokens += _int(getattr(usage, "completion_tokens", 0))
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            return Opinion("failed", detail="the server's answer holds no choices")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if not isinstance(content, str):
            return Opinion("failed", detail="the model's answer holds no text")
        try:
            score, reason = parse_answer(content)
        except Unreadable as exc:
            return Opinion(
                "failed",
                detail=redact(f"the model did not answer the JSON asked for: {exc}", self._secrets),
            )
        return Opinion("opinion", score=score, reason=redact(reason, self._secrets))

    # -- the question --------------------------------------------------------------------------
    def _messages(self, subject: Subject, exclude: str) -> list[dict[str, str]]:
        recent: list[Recent] = []
        if self.pipeline is not None:
            views = [v for v in self.pipeline.views() if v.action.id != exclude]
            recent = [
                Recent(v.action.kind, v.action.reviewed_text, _outcome(v))
                for v in views[-RECENT_COUNT:]
            ]
        sources = [s.describe() for s in self.tracker.state.sources] if self.tracker else []
        messages = build_messages(
            task=self.settings.task, subject=subject, recent=recent, sources=sources
        )
        return [{**m, "content": redact(m["content"], self._secrets)} for m in messages]

    # -- landing -------------------------------------------------------------------------------
    def deliver(self, action_id: str, op: Opinion, kind: SubjectKind = "action") -> None:
        """Put the opinion on the item (once per item and note): recorded in the audit log and
        shown, through `add_findings`, which only ever raises."""
        if self.pipeline is None:
            return
        note = op.note(kind)
        seen = self._delivered.setdefault(action_id, set())
        if note in seen:
            return
        seen.add(note)  # before add_findings: it decides again, and the policy comes back here
        self.pipeline.add_findings(action_id, [op.finding(kind)], source="monitor")

    def deliver_soon(self, action_id: str, op: Opinion, kind: SubjectKind = "action") -> None:
        """From inside a decision: land it once the pipeline has recorded the item."""
        if self.pipeline is None:
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to show it on
            asyncio.get_running_loop().call_soon(self._deliver_logged, action_id, op, kind)

    def _deliver_logged(self, action_id: str, op: Opinion, kind: SubjectKind) -> None:
        try:
            self.deliver(action_id, op, kind)
        except Exception:
            log.exception("monitor: cannot put its opinion on %s", action_id)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("monitor: %s failed: %r", task.get_name(), task.exception())

    def changed(self) -> None:
        stats = self.stats
        for listener in list(self.listeners):
            with contextlib.suppress(Exception):  # a display must never break the monitor
                listener(stats)

    # -- outputs -------------------------------------------------------------------------------
    def review_output(
        self, action: CommandAction, ran: str, result: Result, scan: ScanResult
    ) -> None:
        """A flagged output: ask in the background; a high score names the monitor in the
        session's taint sources, a low one never clears anything."""
        text = (_visible(result.stdout) + "\n" + _visible(result.stderr)).strip()
        notes = tuple(f"scanner ({f.kind}): {f.reason}" for f in scan.findings[:8])
        subject = Subject("output", text, ran, notes)
        fut = self.opinion(subject)
        self.spawn(self._land_output(action, ran, fut), f"lockgate-monitor-output-{action.id}")

    async def _land_output(
        self, action: CommandAction, ran: str, fut: concurrent.futures.Future[Opinion]
    ) -> None:
        op = await self.wait(fut)
        self.deliver(action.id, op, "output")
        tracker = self.tracker
        # Still in the agent's context (no human spoke since): the monitor's word joins the
        # chain the reviewer is shown.
        if (
            op.high
            and tracker is not None
            and any(s.action_id == action.id for s in tracker.state.sources)
        ):
            tracker.mark(
                TaintSource(
                    action.id,
                    tracker.turn_name(action.turn_id),
                    "scanner",
                    f"`{_short(ran)}` (the monitor agrees, {op.score}/100: {op.reason})",
                    time.time(),
                )
            )
        self.changed()


def _loop_running() -> bool:
    """Whether an opinion can land later (a resumed session's settling decides outside one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _visible(data: bytes) -> str:
    if len(data) > OUTPUT_LIMIT:
        data = data[: OUTPUT_LIMIT // 2] + b"\n" + data[-OUTPUT_LIMIT // 2 :]
    return data.decode("utf-8", errors="replace")


def _short(command: str, limit: int = 48) -> str:
    one = " ".join(command.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _outcome(v: ActionView) -> str:
    parts: list[str] = []
    if v.decision is not None:
        parts.append(f"policy {v.decision.kind} ({v.decision.rule})")
    if v.verdict is not None:
        who = "reviewer" if v.verdict.by == "human" else "policy"
        said = f": {v.verdict.feedback}" if v.verdict.feedback else ""
        parts.append(f"{who} {v.verdict.kind}{said}")
    if v.result is not None:
        code = f" exit {v.result.exit_code}" if v.result.exit_code is not None else ""
        parts.append(f"{v.result.status}{code}")
    else:
        parts.append(str(v.state))
    return "; ".join(parts)


def action_subject(action: Action, assessment: Assessment, decision: Decision) -> Subject:
    if isinstance(action, CommandAction):
        label = "shell command" + (f" in {action.cwd}" if action.cwd else "")
    elif isinstance(action, PatchAction):
        label = "patch to the workspace"
    elif isinstance(action, NetworkAction):
        label = "network request" + (f" from {action.program}" if action.program else "")
    else:  # pragma: no cover - the union is closed
        label = "action"
    notes = [f"risk {assessment.score}/100 ({assessment.level})"]
    notes += list(assessment.reasons[:5])
    notes.append(
        f"policy: {decision.kind} ({decision.rule})"
        + (f": {decision.reason}" if decision.reason else "")
    )
    return Subject("action", action.reviewed_text, label, tuple(notes))


# --------------------------------------------------------------------------- the policy wrapper


class MonitorPolicy:
    """The session's policy with the monitor's second opinion: asked items get it as a note or a
    raise; while the session is tainted, items the policy would allow are held (asked) until it
    answers. Headless, the hold is a bounded wait inside the decision (nobody would see a held
    item move): a low score allows, anything else denies with the reason."""

    def __init__(self, inner: Any, monitor: Monitor, *, headless: bool) -> None:
        self._inner = inner
        self._monitor = monitor
        self._headless = headless
        self._outcomes: dict[str, Opinion] = {}  # action id -> what the monitor said on it
        self._started: set[str] = set()

    def attach(self, pipeline: _Pipeline) -> None:
        self._monitor.attach(pipeline)

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        d: Decision = self._inner.decide(action, assessment)
        if d.kind is DecisionKind.DENY:
            return d  # a rule (or headless) said no: a second opinion can only agree
        try:
            return self._second_opinion(action, assessment, d)
        except Exception as exc:
            log.exception("monitor: decision on %s failed", action.id)
            tracker = self._monitor.tracker
            if d.kind is DecisionKind.ALLOW and tracker is not None and tracker.tainted:
                return self._hold(f"monitor: failed ({exc})")
            return d

    def _second_opinion(self, action: Action, assessment: Assessment, d: Decision) -> Decision:
        m = self._monitor
        critical = assessment.level is Level.CRITICAL or assessment.score >= CRITICAL_SCORE
        asked = d.kind is DecisionKind.ASK or critical
        tainted = m.tracker is not None and m.tracker.tainted
        if not asked and not tainted:
            return d
        subject = action_subject(action, assessment, d)
        if self._headless or m.pipeline is None or not _loop_running():
            if asked:
                return d  # headless: asked is denied anyway; the opinion could add nothing
            op = self._outcomes.get(action.id) or m.known(subject)
            if op is None:
                op = m.wait_sync(m.opinion(subject, exclude=action.id))
            self._outcomes[action.id] = op
            m.deliver_soon(action.id, op)
            if op.status == "opinion" and not op.high:
                return d
            if not self._headless:
                return self._hold(op.note())
            return Decision(
                DecisionKind.DENY,
                HEADLESS_RULE,
                f"no reviewer (headless); would ask: {op.note()}",
                source="headless",
            )
        op = self._outcomes.get(action.id)
        if op is None:
            op = m.known(subject)
            if op is not None:
                self._outcomes[action.id] = op
        if op is not None:
            m.deliver_soon(action.id, op)
            if op.high:
                if d.kind is DecisionKind.ASK:
                    note = op.note()
                    return dataclasses.replace(
                        d, reason=f"{d.reason}; {note}" if d.reason else note
                    )
                return Decision(DecisionKind.ASK, OPINION_RULE, op.note(), source="risk")
            if op.status != "opinion" and not asked:
                return self._hold(op.note())
            return d
        if action.id not in self._started:
            self._started.add(action.id)
            fut = m.opinion(subject, exclude=action.id)
            m.spawn(self._land(action.id, fut, hold=not asked), f"lockgate-monitor-{action.id}")
        return d if asked else self._hold("")

    def _hold(self, note: str) -> Decision:
        why = (
            f"untrusted content is in play: held for the monitor's ({self._monitor.settings.model}) "
            "second opinion"
        )
        return Decision(
            DecisionKind.ASK, HOLD_RULE, f"{why}; {note}" if note else why, source="risk"
        )

    async def _land(
        self, action_id: str, fut: concurrent.futures.Future[Opinion], hold: bool
    ) -> None:
        m = self._monitor
        op = await m.wait(fut)
        self._outcomes[action_id] = op
        m.deliver(action_id, op)
        if hold and op.status == "opinion" and not op.high:
            self._release(action_id)
        m.changed()
        if op.status == "timeout":
            # The item stays asked; a late answer is still shown (and can still raise it).
            late = await asyncio.wrap_future(fut)
            if late.status == "opinion":
                self._outcomes[action_id] = late
                m.deliver(action_id, late)
                m.changed()

    def _release(self, action_id: str) -> None:
        """A low score on a held item: it runs as the policy would have let it, if it is still
        held by the monitor alone (nothing else raised it meanwhile)."""
        pipeline = self._monitor.pipeline
        if pipeline is None:
            return
        view = pipeline.view(action_id)
        a, d = view.assessment, view.decision
        if view.state is not ActionState.WAITING or d is None or d.rule != HOLD_RULE or a is None:
            return
        if a.level is Level.CRITICAL or a.score >= CRITICAL_SCORE:
            return
        if self._inner.decide(view.action, a).kind is not DecisionKind.ALLOW:
            return
        pipeline.submit_verdict(
            Verdict(action_id, VerdictKind.APPROVE, by="policy", key=CLEARED_KEY)
        )

    def remember(self, action: Action, verdict: Any) -> None:
        self._inner.remember(action, verdict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


# --------------------------------------------------------------------------- the executor wrapper


class MonitoringCommandExecutor:
    """Wraps the scanning executor: an output the scanner flagged goes to the monitor too (in
    the background; the agent gets its result at once)."""

    def __init__(self, inner: Any, monitor: Monitor) -> None:
        self._inner = inner
        self._monitor = monitor

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        result: Result = await self._inner.run(action, command, on_output)
        m = self._monitor
        scan = m.tracker.scans.get(action.id) if m.tracker is not None else None
        if scan is not None and scan.injection and m.pipeline is not None:
            try:
                m.review_output(action, command, result, scan)
            except Exception:
                log.exception("monitor: cannot ask about the output of %s", action.id)
        return result

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

"""Wiring: one review session = config + risk + policy + sandbox + executors + audit + pipeline.

Everything a session opens it also closes, in reverse order, even when opening fails halfway.
Errors a user can cause (no such workspace, a bad policy file, a kernel without the sandbox's
layers, an audit path that cannot be written) become one-line `SessionError`s.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from app.core.audit import AuditError
from app.core.config import ConfigError, load_user_config
from app.core.events import ActionProposed, PipelineEvent, VerdictGiven
from app.core.model import PatchAction
from app.core.pipeline import Pipeline
from app.core.ports import (
    CommandExecutor,
    Observer,
    PatchExecutor,
    PolicyEngine,
    SessionContext,
)
from app.core.resume import (
    Journal,
    ResumeCandidate,
    ResumeError,
    begin,
    discard,
    find_resumable,
    seed,
)

if TYPE_CHECKING:
    from app.deps.policy import DepsPolicy
    from app.execute.network import NetworkExtra, NetworkGate, TlsSetup
    from app.injection.monitor import Monitor
    from app.injection.taint import TaintTracker
    from sandbox import Sandbox, SandboxStatus

__all__ = [
    "ResumeCandidate",
    "Session",
    "SessionError",
    "SessionOptions",
    "describe_candidate",
    "find_resumable",
    "offer_resume",
    "open_session",
]


class SessionError(Exception):
    """A session cannot open; the message is one line a user can act on."""


@dataclass(frozen=True)
class SessionOptions:
    workspace: Path
    network: Literal["off", "allow"] = "off"
    allowed_domains: tuple[str, ...] = ()
    audit_path: Path | None = None  # default: a new file in data_dir()/audit/
    headless: bool = False
    allow_degraded_sandbox: bool = False
    policy_file: Path | None = None
    resume: ResumeCandidate | None = None  # from `find_resumable(workspace)`, if the user said so
    network_presets: tuple[str, ...] = ()
    network_extra: NetworkExtra | None = None  # the sandbox run network options, from the CLI
    secrets: tuple[str, ...] = ()  # keys the session knows (kept out of the audit log)
    observers: Sequence[Observer] = field(default=())
    # Links whose requests are not all "run this" (ACP permission requests, file reads) wrap
    # the session's executors: they get the real ones and return what the pipeline calls.
    wrap_executors: (
        Callable[[CommandExecutor, PatchExecutor], tuple[CommandExecutor, PatchExecutor]] | None
    ) = None
    # ... and may tighten its policy for items whose text the risk engine cannot judge.
    wrap_policy: Callable[[PolicyEngine], PolicyEngine] | None = None
    # The optional model monitor (`--monitor MODEL`; `[monitor]` in the user config otherwise),
    # and the task it is told the agent has.
    monitor_model: str | None = None
    monitor_base_url: str | None = None
    task: str = ""


class Session:
    """An open session. Use as a context manager (sync or async); closing it closes the
    sandbox, the network gate and the audit log, and marks the session cleanly ended."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        workspace: Path,
        journal: Journal,
        sandbox: Sandbox | None,
        gate: NetworkGate | None,
        notices: tuple[str, ...] = (),
    ) -> None:
        self.pipeline = pipeline
        self.workspace = workspace
        self.journal = journal
        self.sandbox = sandbox
        self.gate = gate
        self.notices = notices  # things the console should say once at start
        self.taint: TaintTracker | None = None  # untrusted content in the agent's context
        self.monitor: Monitor | None = None  # the model monitor, when one is on
        self._closed = False

    @property
    def context(self) -> SessionContext:
        return self.pipeline.context

    @property
    def audit_path(self) -> Path:
        return self.journal.audit.path

    @property
    def audit(self) -> Any:
        return self.journal.audit

    @property
    def session_id(self) -> str:
        return self.journal.session_id

    @property
    def resumed(self) -> bool:
        return bool(self.journal.recovered)

    @property
    def sandbox_status(self) -> SandboxStatus | None:
        return self.sandbox.status() if self.sandbox is not None else None

    def close(self) -> None:
        """Synchronous close. Per-command proxy sockets close with their commands; what is left
        of the gate is its socket directory."""
        if self._closed:
            return
        self._closed = True
        if self.gate is not None:
            self.gate.discard()
        self._close_rest()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.gate is not None:
            with contextlib.suppress(Exception):
                await self.gate.close()
        self._close_rest()

    def _close_rest(self) -> None:
        if self.monitor is not None:
            self.monitor.close()
        if self.sandbox is not None:
            with contextlib.suppress(Exception):
                self.sandbox.close()
        self.journal.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _ProtectedPatchApprovals:
    """A reviewer's approval of a patch covers the protected paths it showed them: tell the
    patch executor, which otherwise refuses them. Policy approvals never do."""

    def __init__(self, patches: Any) -> None:
        self._patches = patches
        self._patch_ids: set[str] = set()

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, ActionProposed) and isinstance(event.action, PatchAction):
            self._patch_ids.add(event.action.id)
        elif (
            isinstance(event, VerdictGiven)
            and event.verdict.by == "human"
            and event.verdict.kind.approves
            and event.verdict.action_id in self._patch_ids
        ):
            self._patches.approve_protected_item(event.verdict.action_id)


def open_session(options: SessionOptions) -> Session:
    from app.execute.commands import SandboxCommandExecutor
    from app.execute.patches import WorkspacePatchExecutor
    from app.execute.sandbox_config import sandbox_policy
    from app.injection.executor import ScanningCommandExecutor
    from app.injection.taint import TaintGuard, TaintObserver, TaintPolicy
    from app.risk.engine import RiskEngine
    from app.risk.policy import load_policy
    from app.risk.rules import PolicyError
    from sandbox import Sandbox, SandboxError

    ws = Path(options.workspace).expanduser()
    if not ws.is_dir():
        raise SessionError(f"workspace {options.workspace}: not a directory")
    ws = ws.resolve()
    if options.network not in ("off", "allow"):
        raise SessionError(f"network mode {options.network!r}: use off or allow")
    if options.policy_file is not None and not Path(options.policy_file).is_file():
        raise SessionError(f"policy file {options.policy_file}: no such file")
    if options.audit_path is not None:
        audit_dir = Path(options.audit_path).expanduser().resolve().parent
        if audit_dir == ws or audit_dir.is_relative_to(ws):
            raise SessionError(
                f"audit log {options.audit_path}: must live outside the workspace "
                "(commands can write there)"
            )
    if options.resume is not None and Path(options.resume.workspace).resolve() != ws:
        raise SessionError("that session belongs to another workspace")

    try:
        user_config = load_user_config()
    except ConfigError as exc:
        raise SessionError(str(exc)) from None
    monitor = _monitor(user_config.section("monitor"), options)
    context = SessionContext(
        workspace=ws,
        network=options.network,
        allowed_domains=tuple(options.allowed_domains),
        headless=options.headless,
    )
    risk = RiskEngine()
    try:
        policy = load_policy(
            ws,
            user_config=user_config,
            policy_file=options.policy_file,
            headless=options.headless,
            engine=risk,
        )
    except (PolicyError, ConfigError) as exc:
        raise SessionError(str(exc)) from None

    opened: list[Any] = []  # what to close if a later step fails
    try:
        rules = None
        tls: TlsSetup | None = None
        if options.network == "allow":
            from app.execute.network import open_inspection, session_rules
            from sandbox.net import RuleError

            try:
                rules = session_rules(
                    user_config.section("network"),
                    allowed_domains=tuple(options.allowed_domains),
                    presets=tuple(options.network_presets),
                    extra=options.network_extra,
                )
                extra = options.network_extra
                tls = open_inspection(rules, extra.upstream_ca if extra else None)
            except (RuleError, ConfigError) as exc:
                raise SessionError(str(exc)) from None
            if tls is not None:
                opened.append(tls)
        try:
            sandbox_pol = sandbox_policy(
                user_config.section("sandbox"),
                workspace=ws,
                network="proxy" if options.network == "allow" else "off",
                allow_degraded=options.allow_degraded_sandbox,
            )
            sandbox = Sandbox(tls.with_bundle(sandbox_pol) if tls is not None else sandbox_pol)
            sandbox.start()
        except ConfigError as exc:
            raise SessionError(str(exc)) from None
        except SandboxError as exc:
            raise SessionError(f"sandbox: {exc}") from None
        opened.append(sandbox)
        try:
            journal = begin(
                ws, audit_path=options.audit_path, resume=options.resume, secrets=options.secrets
            )
        except (AuditError, ResumeError) as exc:
            raise SessionError(str(exc)) from None
        except OSError as exc:
            raise SessionError(f"session index: {exc.strerror}") from None
        opened.append(journal)

        gate: NetworkGate | None = None
        if rules is not None:
            from app.execute.network import NetworkGate

            gate = NetworkGate(rules, audit=journal.audit, tls=tls)
        # Protected paths (.git/hooks, agent configs …) are asked about, never silently refused,
        # when a reviewer is there to answer; headless, they are refused.
        patches = WorkspacePatchExecutor(ws, ask_for_protected=not options.headless)
        observers = [*options.observers, _ProtectedPatchApprovals(patches)]
        commands: CommandExecutor = SandboxCommandExecutor(sandbox, ws, network=gate)
        patch_port: PatchExecutor = patches
        if options.wrap_executors is not None:
            commands, patch_port = options.wrap_executors(commands, patches)
        policy_port: PolicyEngine = policy
        if options.wrap_policy is not None:
            policy_port = options.wrap_policy(policy)
        deps = _deps_policy(user_config.section("deps"), ws, options, policy_port)
        if deps is not None:
            policy_port = deps
        # Outermost: untrusted content tracking sees every result and tightens every decision.
        taint = _taint_tracker(user_config.section("taint"), ws, options, journal.audit)
        commands = ScanningCommandExecutor(commands, taint, headless=options.headless)
        policy_port = TaintPolicy(policy_port, taint, headless=options.headless)
        observers.append(TaintObserver(taint))
        if monitor is not None:  # outermost of all: it sees the final decision, and only raises
            from app.injection.monitor import MonitoringCommandExecutor, MonitorPolicy

            journal.audit.add_secret(monitor.secret)
            monitor.tracker = taint
            commands = MonitoringCommandExecutor(commands, monitor)
            policy_port = MonitorPolicy(policy_port, monitor, headless=options.headless)
        pipeline = Pipeline(
            context=context,
            risk=risk,
            policy=policy_port,
            commands=commands,
            patches=patch_port,
            observers=observers,
            audit=journal.audit,
        )
        if gate is not None:
            gate.attach(pipeline)
        if deps is not None:
            deps.attach(pipeline)
        if monitor is not None:
            monitor.attach(pipeline)
        if gate is not None:
            gate.set_guard(TaintGuard(taint, _human_approved(pipeline)))
        notices: list[str] = []
        if journal.recovered:
            seed(pipeline, journal.recovered)
            assert options.resume is not None
            notices.append(
                f"resumed session {journal.session_id}: {options.resume.recovery.summary()}"
            )
        if patches.recovered:
            notices.append(
                "patch journal: finished an interrupted patch on " + ", ".join(patches.recovered)
            )
        if patches.recovery_error:
            notices.append(f"patch journal: {patches.recovery_error}")
        status = sandbox.status()
        if status.degraded:
            notices.append("sandbox degraded: missing " + ", ".join(status.degraded))
        if gate is not None:
            notices.extend(gate.notes)
        if monitor is not None:
            notices.append(monitor.describe())
        session = Session(
            pipeline=pipeline,
            workspace=ws,
            journal=journal,
            sandbox=sandbox,
            gate=gate,
            notices=tuple(notices),
        )
        session.taint = taint
        session.monitor = monitor
        return session
    except BaseException:
        for thing in reversed(opened):
            with contextlib.suppress(Exception):
                thing.close()
        raise


def _human_approved(pipeline: Pipeline) -> Callable[[str], bool]:
    def approved(action_id: str) -> bool:
        try:
            verdict = pipeline.view(action_id).verdict
        except Exception:
            return False
        return verdict is not None and verdict.by == "human" and verdict.kind.approves

    return approved


def _deps_policy(
    config: dict[str, Any], ws: Path, options: SessionOptions, inner: PolicyEngine
) -> DepsPolicy | None:
    """Registry checks for what actions install (`[deps] check = false` turns them off)."""
    from app.deps.check import DepsChecker, default_cache, offline
    from app.deps.indexes import discover
    from app.deps.policy import DepsPolicy

    if config.get("check", True) is False:
        return None
    try:
        indexes = discover(ws, config)
    except ValueError as exc:
        raise SessionError(f"config {exc}") from None
    checker = DepsChecker(indexes, default_cache(), offline=offline())
    return DepsPolicy(inner, checker, headless=options.headless)


def _monitor(config: dict[str, Any], options: SessionOptions) -> Monitor | None:
    """The model monitor, if `--monitor` or `[monitor] model` names one (off by default)."""
    if not (options.monitor_model or options.monitor_base_url or config):
        return None  # the monitor's module (and openai) is not even imported
    from app.injection.monitor import Monitor, MonitorConfigError, monitor_settings

    try:
        settings = monitor_settings(
            config,
            model=options.monitor_model,
            base_url=options.monitor_base_url,
            task=options.task,
        )
        return Monitor(settings, secrets=options.secrets) if settings is not None else None
    except MonitorConfigError as exc:
        raise SessionError(str(exc)) from None


def _taint_tracker(
    config: dict[str, Any], ws: Path, options: SessionOptions, audit: Any
) -> TaintTracker:
    """`[taint] trusted = ["docs.example.com"]`: sources whose content is the user's own."""
    from app.injection.taint import TaintTracker

    trusted = config.get("trusted", [])
    if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
        raise SessionError("config [taint] trusted: expected a list of domain names")
    return TaintTracker(
        ws, trusted_domains=trusted, network_on=options.network == "allow", audit=audit
    )


def describe_candidate(candidate: ResumeCandidate) -> str:
    """The start-up question, in one line."""
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(candidate.started))
    return (
        f"A lockgate session in this workspace (started {started}) ended without closing: "
        f"{candidate.recovery.summary()}. Resume it?"
    )


def offer_resume(workspace: Path, ask: Callable[[ResumeCandidate], bool]) -> ResumeCandidate | None:
    """Offer each killed session of `workspace`, newest first; the first accepted one is
    returned (pass it as `SessionOptions.resume`). A declined one is never offered again."""
    for candidate in find_resumable(workspace):
        if ask(candidate):
            return candidate
        discard(candidate)
    return None

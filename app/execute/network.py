"""The network proxy, plugged into a session: its asks go to the pipeline (and so to the
reviewer), its request records go to the audit log, and verdicts for the session or for always
become allow rules of the proxy.

`sandbox.net` knows nothing of the app; this module is the only place the two meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import shlex
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.audit import AuditLog
from app.core.config import data_dir
from app.core.model import CommandAction, NetworkAction, Verdict, VerdictKind
from app.core.pipeline import APPROVED_HOST_RULE, Pipeline
from sandbox.net import (
    AllowListProxy,
    AskAnswer,
    AskRequest,
    NetworkRules,
    RequestRecord,
    RuleError,
    RunContext,
    preset_rules,
    rules_from_table,
)
from sandbox.net.ca import CaError, Inspection, SessionCA, system_roots, upstream_context
from sandbox.net.proxy import Guard, Resolver
from sandbox.policy import SandboxPolicy

ASK_TIMEOUT_S = 120.0
# refusals whose reason is added to the command's output (see NetworkGate.pop_notes)
NOTED_RULES = frozenset({"tls-client-refused", "upstream-tls"})


def answer_for(verdict: Verdict) -> AskAnswer:
    """A reviewer's verdict as the proxy understands it. An approval the policy gave by itself
    (a rule already covers the host) holds for the session, so the same host is not put in the
    queue again for every request; an edit makes no sense for a host and counts as a denial."""
    kind = verdict.kind
    if kind.approves and verdict.key == APPROVED_HOST_RULE:
        return AskAnswer.ONCE  # the approved command's own host: for its run only
    if kind is VerdictKind.APPROVE_ALWAYS:
        return AskAnswer.ALWAYS
    if kind is VerdictKind.APPROVE_SESSION:
        return AskAnswer.SESSION
    if kind is VerdictKind.APPROVE:
        return AskAnswer.SESSION if verdict.by == "policy" else AskAnswer.ONCE
    return AskAnswer.DENY


def program_of(command: str) -> str:
    """The program a command runs first ("pip" for `PIP_X=1 pip install …`), for the ask text."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for word in words:
        if "=" in word.split("/", 1)[0] and not word.startswith("="):
            continue  # an environment assignment
        if word in ("sudo", "env", "nohup", "time", "command", "exec"):
            continue
        return os.path.basename(word)
    return ""


class PipelineAsker:
    """The proxy's asker: each request to an unlisted host becomes a `NetworkAction` the
    pipeline decides (policy, else the reviewer; headless and timeouts deny).

    The proxy may run on another thread's loop (the CLI) or on the pipeline's own loop (the
    console); `loop` is the pipeline's loop, needed in the first case."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        timeout_s: float = ASK_TIMEOUT_S,
    ) -> None:
        self._pipeline = pipeline
        self._loop = loop
        self.timeout_s = timeout_s
        # (command's action id, host, port) its approval already covers for that run
        self._run_hosts: set[tuple[str, str, int]] = set()

    async def __call__(self, request: AskRequest) -> AskAnswer:
        ctx = request.context
        action = NetworkAction(
            host=request.host,
            port=request.port,
            turn_id=ctx.turn_id,
            method=request.method,
            scheme=request.scheme,
            program=ctx.program or program_of(ctx.command),
            parent_action_id=ctx.action_id,
        )
        key = (ctx.action_id, request.host, request.port)
        if key in self._run_hosts:
            # The approved command's own host again in the same run: no new row for each request
            # (the proxy still records every one in the audit log).
            return AskAnswer.ONCE
        coro = self._pipeline.ask_network(action, self.timeout_s)
        running = asyncio.get_running_loop()
        if self._loop is None or self._loop is running:
            verdict = await coro
        else:
            verdict = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))
        if verdict.kind.approves and verdict.key == APPROVED_HOST_RULE:
            self._run_hosts.add(key)
        return answer_for(verdict)


class AuditRecorder:
    """Writes each proxy request to the audit log as a `network` record (the fields
    `AuditLog.record_network` writes, plus the command, the address and the timing)."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def __call__(self, rec: RequestRecord) -> None:
        self._audit.write("network", record_fields(rec))


def record_fields(rec: RequestRecord) -> dict[str, Any]:
    return {
        "at": rec.at,
        "command": rec.command,
        "host": rec.host,
        "port": rec.port,
        "method": rec.method,
        "scheme": rec.scheme,
        "allowed": rec.verdict == "allowed",
        "verdict": rec.verdict,
        "rule": rec.rule,
        "action_id": "",
        "parent_action_id": rec.action_id,
        "status": rec.status,
        "address": rec.address,
        "bytes_up": rec.bytes_up,
        "bytes_down": rec.bytes_down,
        "duration_s": rec.duration_s,
        "error": rec.reason,
    }


@dataclass(frozen=True)
class NetworkExtra:
    """Network options from the command line beyond domains and presets (`lockgate run`,
    `demo` and `acp` take the same ones as `sandbox run`): more rules, and the extra root the
    proxy trusts for upstream servers (`--upstream-ca`)."""

    rules: NetworkRules | None = None
    upstream_ca: Path | None = None


class TlsSetup:
    """A session's TLS inspection: a fresh CA whose key lives in the console's data directory
    (hidden from the sandbox, 0600), and a bundle directory (system roots + that CA) that only
    the sandbox is told to trust, through `env`. `close()` deletes both."""

    def __init__(self, upstream_ca: Path | None = None) -> None:
        root = data_dir() / "tls"
        _remove_orphans(root)
        key_dir = root / f"session-{os.getpid()}-{secrets.token_hex(6)}"
        bundle_dir = Path(tempfile.mkdtemp(prefix="lockgate-ca-"))
        try:
            ca = SessionCA.create(key_dir, bundle_dir, system_roots())
            self.inspection = Inspection(ca, upstream_context(upstream_ca))
        except BaseException:
            shutil.rmtree(key_dir, ignore_errors=True)
            shutil.rmtree(bundle_dir, ignore_errors=True)
            raise
        self.key_dir = key_dir
        self.bundle_dir = bundle_dir
        self.env = ca.files.sandbox_env()

    def with_bundle(self, policy: SandboxPolicy) -> SandboxPolicy:
        """The sandbox policy with the bundle directory readable (read-only) inside."""
        return dataclasses.replace(policy, readable=(*policy.readable, self.bundle_dir))

    def close(self) -> None:
        shutil.rmtree(self.key_dir, ignore_errors=True)
        shutil.rmtree(self.bundle_dir, ignore_errors=True)


def _remove_orphans(root: Path) -> None:
    """Key directories of sessions whose process is gone (a crash skipped `close`): a CA key
    must not outlive its session on disk."""
    if not root.is_dir():
        return
    for d in root.glob("session-*-*"):
        try:
            pid = int(d.name.split("-")[1])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass  # another user's process: alive


def open_inspection(rules: NetworkRules, upstream_ca: Path | None = None) -> TlsSetup | None:
    """The TLS setup the rules need (None when they need none). Raises RuleError (one line)."""
    if not rules.inspection_wanted:
        if upstream_ca is not None:
            raise RuleError("--upstream-ca is only used with TLS inspection (--inspect-tls)")
        return None
    try:
        return TlsSetup(upstream_ca)
    except CaError as exc:
        raise RuleError(f"TLS inspection: {exc}") from None
    except OSError as exc:
        raise RuleError(f"TLS inspection: cannot write the session CA: {exc}") from None


def network_notes(rules: NetworkRules) -> list[str]:
    """What a session says at start about HTTPS: inspected or not, and which limits cannot hold
    for domains exempt from inspection."""
    notes: list[str] = []
    if rules.inspection_wanted:
        notes.append(
            "network: HTTPS to allowed hosts is inspected (a session CA only the sandbox "
            "trusts), so method, read-only and URL limits hold for HTTPS too"
        )
    limited = rules.methods is not None or rules.read_only or rules.urls
    for p in rules.no_inspect:
        if limited:
            notes.append(
                f"network: {p} is not inspected (inspect = false): it is CONNECT-only, and "
                "method, read-only and URL limits cannot apply to it"
            )
    return notes


def session_rules(
    section: Mapping[str, Any],
    *,
    allowed_domains: tuple[str, ...] = (),
    presets: tuple[str, ...] = (),
    where: str = "config",
    extra: NetworkExtra | None = None,
) -> NetworkRules:
    """Rules for a session: the user config's `[network]` table (allow_domains, deny_domains,
    allow_ports, allow_methods, read_only, allow_addresses and `presets.NAME` tables), the named
    presets, and the session's own allowed domains. Raises `sandbox.net.RuleError`."""
    user_presets = section.get("presets", {})
    if not isinstance(user_presets, Mapping):
        raise RuleError(f"{where}: [network.presets] must be a table")
    rules = rules_from_table(section, f"{where} [network]")
    for name in presets:
        rules = rules.combine(preset_rules(name, user_presets, where))
    if allowed_domains:
        rules = rules.combine(NetworkRules.build(allow=allowed_domains))
    if extra is not None and extra.rules is not None:
        rules = rules.combine(extra.rules)
    return rules


def outcome(rec: RequestRecord) -> str:
    """One line on what became of an allowed request."""
    if rec.status and rec.status < 400:
        what = "tunnel opened" if rec.method == "CONNECT" else f"the server answered {rec.status}"
        return what
    why = f" ({rec.reason})" if rec.reason else ""
    if rec.status:
        return f"it failed: {rec.status}{why}"
    return f"it failed{why or ' (no answer)'}"


class NetworkGate:
    """The session's proxy, on the session's own event loop: one unix socket per command run,
    so every request is attributed to the command that made it.

    Usage (in the command executor): `async with gate.socket_for(action) as path:
    sandbox.run(..., proxy_socket=path)`.
    """

    def __init__(
        self,
        rules: NetworkRules,
        *,
        pipeline: Pipeline | None = None,
        audit: AuditLog | None = None,
        ask_timeout_s: float = ASK_TIMEOUT_S,
        resolver: Resolver | None = None,
        tls: TlsSetup | None = None,
    ) -> None:
        """`resolver` is for tests only (mapping test names to loopback); the session never
        passes one, and nothing else can change how names resolve. `tls`: the session's TLS
        inspection, closed with the gate."""
        asker = PipelineAsker(pipeline, timeout_s=ask_timeout_s) if pipeline is not None else None
        self._audit = AuditRecorder(audit) if audit is not None else None
        self._notes: dict[str, list[str]] = {}
        self._pipeline: Pipeline | None = pipeline
        self.proxy = AllowListProxy(
            rules,
            asker=asker,
            record=self._record,
            # the pipeline's own timeout answers first and records the denial
            ask_timeout_s=ask_timeout_s + 5.0,
            resolver=resolver,
            inspection=tls.inspection if tls is not None else None,
        )
        self.tls = tls
        self.notes = network_notes(rules)
        self._dir = Path(tempfile.mkdtemp(prefix="lockgate-net-"))
        os.chmod(self._dir, 0o700)
        self._n = 0

    def attach(self, pipeline: Pipeline, *, ask_timeout_s: float = ASK_TIMEOUT_S) -> None:
        """Send asks to `pipeline` (the session builds the gate before the pipeline, since the
        command executor the pipeline needs holds the gate)."""
        self.proxy.set_asker(PipelineAsker(pipeline, timeout_s=ask_timeout_s))
        self.proxy.ask_timeout_s = ask_timeout_s + 5.0
        self._pipeline = pipeline

    def set_guard(self, guard: Guard | None) -> None:
        """Requests the rules allow get a second look (see `AllowListProxy.set_guard`)."""
        self.proxy.set_guard(guard)

    @property
    def socket_dir(self) -> Path:
        return self._dir

    def _record(self, rec: RequestRecord) -> None:
        if self._pipeline is not None and rec.verdict == "allowed" and rec.action_id:
            # an allowed ask's row says what became of the request it allowed
            self._pipeline.note_network_outcome(rec.action_id, rec.host, rec.port, outcome(rec))
        if rec.rule in NOTED_RULES and rec.action_id:
            notes = self._notes.setdefault(rec.action_id, [])
            if len(notes) < 5:
                notes.append(f"network: {rec.reason}")
        if self._audit is not None:
            self._audit(rec)

    def pop_notes(self, action_id: str) -> list[str]:
        """Lines for a command's output about refusals its own tools explain badly (a client
        that rejected the session CA's certificate says only "certificate verify failed")."""
        return self._notes.pop(action_id, [])

    @property
    def sandbox_env(self) -> dict[str, str]:
        """Variables every sandboxed command gets: the CA bundle, when HTTPS is inspected."""
        return dict(self.tls.env) if self.tls is not None else {}

    def discard(self) -> None:
        """Synchronous clean-up (the sockets close with their commands)."""
        shutil.rmtree(self._dir, ignore_errors=True)
        if self.tls is not None:
            self.tls.close()

    @contextlib.asynccontextmanager
    async def socket_for(
        self, action: CommandAction, command: str | None = None
    ) -> AsyncIterator[Path]:
        self._n += 1
        path = self._dir / f"p{self._n}.sock"
        text = action.command if command is None else command
        listening = await self.proxy.listen(
            path,
            RunContext(
                command=text,
                action_id=action.id,
                turn_id=action.turn_id,
                program=program_of(text),
            ),
        )
        try:
            yield path
        finally:
            await listening.close()

    async def close(self) -> None:
        await self.proxy.close()
        self.discard()

"""The review model: every record that crosses a boundary between agent, engine, human and executor.

All records are frozen: once a proposal is shown to a human, nothing may change it behind their back.
"""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal


def new_id(prefix: str) -> str:
    """Short unique ids; the prefix tells a reader of the audit log what kind of thing it names."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Level(enum.StrEnum):
    SAFE = "safe"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)

    @classmethod
    def from_score(cls, score: int) -> Level:
        """The one mapping from score to level, so the UI and the engine never disagree."""
        if score >= 85:
            return cls.CRITICAL
        if score >= 60:
            return cls.HIGH
        if score >= 35:
            return cls.MEDIUM
        if score >= 15:
            return cls.LOW
        return cls.SAFE

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank >= other.rank


_LEVEL_ORDER = (Level.SAFE, Level.LOW, Level.MEDIUM, Level.HIGH, Level.CRITICAL)


class Category(enum.StrEnum):
    DESTRUCTIVE = "destructive"
    NETWORK = "network"
    EXFILTRATION = "exfiltration"
    SECRETS = "secrets"
    PRIVILEGE = "privilege"
    PERSISTENCE = "persistence"
    SUPPLY_CHAIN = "supply-chain"
    OBFUSCATION = "obfuscation"
    OUTSIDE_WORKSPACE = "outside-workspace"
    RESOURCE = "resource"


Span = tuple[int, int]
"""Half-open character range [start, end) into the action's reviewed text."""


# --------------------------------------------------------------------------- proposals


@dataclass(frozen=True)
class CommandAction:
    """A shell command the agent wants run. `command` is shell text, run as `bash -c command`."""

    command: str
    turn_id: str
    id: str = field(default_factory=lambda: new_id("cmd"))
    cwd: str | None = None  # relative to the workspace; only ever a cwd, never a writable root
    timeout_s: float | None = None
    justification: str = ""
    call_id: str = ""  # the agent link's own id for the tool call this came from
    created_at: float = field(default_factory=time.time)
    kind: Literal["command"] = "command"

    @property
    def reviewed_text(self) -> str:
        return self.command


@dataclass(frozen=True)
class PatchAction:
    """A patch in V4A (`apply_patch`) or unified-diff text; parsed by the patch engine."""

    patch: str
    turn_id: str
    id: str = field(default_factory=lambda: new_id("patch"))
    format: Literal["auto", "v4a", "unified"] = "auto"
    justification: str = ""
    call_id: str = ""
    created_at: float = field(default_factory=time.time)
    kind: Literal["patch"] = "patch"

    @property
    def reviewed_text(self) -> str:
        return self.patch


@dataclass(frozen=True)
class NetworkAction:
    """A sandboxed program asks to reach a host no network rule covers; it waits for a verdict."""

    host: str
    port: int
    turn_id: str
    id: str = field(default_factory=lambda: new_id("net"))
    method: str = "CONNECT"
    scheme: Literal["http", "https"] = "https"
    program: str = ""  # what asked, e.g. "pip"
    parent_action_id: str = ""  # the command that was running
    # Every action has one, so no caller has to ask which kind it holds: a network ask comes
    # from a sandboxed program, not from a tool call, so it is always "".
    call_id: str = ""
    created_at: float = field(default_factory=time.time)
    kind: Literal["network"] = "network"

    @property
    def reviewed_text(self) -> str:
        return f"{self.method} {self.scheme}://{self.host}:{self.port}"


Action = CommandAction | PatchAction | NetworkAction


# --------------------------------------------------------------------------- assessment


@dataclass(frozen=True)
class Finding:
    """One reason to worry, in words a reviewer understands, and where in the text it came from."""

    category: Category
    score: int
    reason: str
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class Assessment:
    score: int  # 0-100
    level: Level
    categories: tuple[Category, ...] = ()
    reasons: tuple[str, ...] = ()
    spans: tuple[Span, ...] = ()
    findings: tuple[Finding, ...] = ()

    @classmethod
    def from_findings(cls, findings: tuple[Finding, ...] | list[Finding]) -> Assessment:
        """Score = the worst finding, nudged up by the others, capped at 100."""
        fs = tuple(sorted(findings, key=lambda f: -f.score))
        if not fs:
            return cls(score=0, level=Level.SAFE)
        score = fs[0].score + sum(min(f.score, 20) // 4 for f in fs[1:])
        score = max(0, min(100, score))
        cats: list[Category] = []
        for f in fs:
            if f.category not in cats:
                cats.append(f.category)
        spans = tuple(sorted({s for f in fs for s in f.spans}))
        return cls(
            score=score,
            level=Level.from_score(score),
            categories=tuple(cats),
            reasons=tuple(f.reason for f in fs),
            spans=spans,
            findings=fs,
        )


# --------------------------------------------------------------------------- decision and verdict


class DecisionKind(enum.StrEnum):
    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    rule: str  # the rule's name, e.g. "default:read-only", "project:deny-rm", "session:3"
    reason: str = ""
    source: Literal["default", "user", "project", "session", "risk", "headless"] = "default"


class VerdictKind(enum.StrEnum):
    APPROVE = "approve"
    APPROVE_SESSION = "approve-for-session"
    APPROVE_ALWAYS = "approve-always"
    EDIT = "edit-then-approve"
    DENY = "deny"
    DENY_FEEDBACK = "deny-with-feedback"

    @property
    def approves(self) -> bool:
        return self not in (VerdictKind.DENY, VerdictKind.DENY_FEEDBACK)


@dataclass(frozen=True)
class Verdict:
    action_id: str
    kind: VerdictKind
    by: Literal["human", "policy"] = "human"
    key: str = ""  # the key the reviewer pressed, for the audit log
    feedback: str = ""  # deny-with-feedback: sent to the agent
    edited: str | None = None  # edit-then-approve: the command text that will run instead
    at: float = field(default_factory=time.time)


# --------------------------------------------------------------------------- batch and result


@dataclass(frozen=True)
class Batch:
    """The pending actions of one agent turn, in proposal order."""

    turn_id: str
    actions: tuple[Action, ...] = ()

    def with_action(self, action: Action) -> Batch:
        return Batch(self.turn_id, (*self.actions, action))


class ResultStatus(enum.StrEnum):
    COMPLETED = "completed"  # ran; exit_code says how it went
    FAILED = "failed"  # could not run (sandbox refused, patch refused, stale, ...)
    DENIED = "denied"  # the reviewer or the policy said no; it never ran
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Result:
    """What came of one action; the agent link turns it into the model's tool output."""

    action_id: str
    status: ResultStatus
    exit_code: int | None = None
    stdout: bytes = b""  # possibly cut: head and tail, see *_total
    stderr: bytes = b""
    stdout_total: int = 0  # bytes the command really wrote
    stderr_total: int = 0
    duration_s: float = 0.0
    ran: str | None = None  # what really ran (the edited command), None if it never ran
    message: str = ""  # human words: why denied / why it failed / patch summary
    feedback: str = ""  # the reviewer's feedback on a denial
    files_changed: tuple[str, ...] = ()
    call_id: str = ""

    @property
    def truncated(self) -> bool:
        return self.stdout_total > len(self.stdout) or self.stderr_total > len(self.stderr)

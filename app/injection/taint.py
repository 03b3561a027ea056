"""Untrusted content, tracked per session, and the policy that tightens while it is in play.

Per-action scoring cannot see "read a page, then send the repo somewhere": each step alone looks
harmless. The tracker remembers every result whose content came from outside the user's trust —
network fetches, files such fetches wrote, files read from outside the workspace, results the
scanner flagged, remote tool results a link reports — and while any of it is in the agent's
context, every action that can send data out (or reads secrets) is asked, never auto-approved,
with the chain named. Only a human message (reviewer feedback, a new task) clears it.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Decision,
    DecisionKind,
    NetworkAction,
    PatchAction,
    Result,
    ResultStatus,
)
from app.injection.scanner import ScanResult

SourceKind = Literal["network", "file", "outside-read", "scanner", "tool"]


@dataclass(frozen=True)
class TaintSource:
    """One piece of untrusted content that reached the agent."""

    action_id: str
    turn: str  # "turn 3": the session's own count, as the console shows it
    kind: SourceKind
    what: str  # a URL, a path, or a short description
    at: float

    def describe(self) -> str:
        where = {
            "network": f"from {self.what}",
            "file": f"from {self.what}, a file a network action wrote",
            "outside-read": f"from {self.what}, outside the workspace",
            "scanner": f"that looks like a prompt injection in the output of {self.what}",
            "tool": f"from a remote tool ({self.what})",
        }[self.kind]
        return f"the agent read untrusted content {where} in {self.turn}"


@dataclass(frozen=True)
class TaintState:
    """What the console shows in its header."""

    tainted: bool
    sources: tuple[TaintSource, ...]
    cleared_by: str = ""

    def summary(self) -> str:
        if not self.tainted:
            return "clean"
        n = len(self.sources)
        return f"tainted ({n} source{'s' if n != 1 else ''}): {self.sources[-1].what}"


_URL = re.compile(r"\b(?:https?|ftp|git|ssh)://[^\s'\"`|;&<>)]+", re.IGNORECASE)
# Programs whose output is content fetched from elsewhere.
_FETCHERS = frozenset(
    {"curl", "wget", "http", "https", "xh", "lynx", "w3m", "links", "aria2c", "httpie"}
)
_FETCH_SUBCOMMANDS: tuple[tuple[str, ...], ...] = (
    ("gh", "issue", "view"),
    ("gh", "pr", "view"),
    ("gh", "pr", "diff"),
    ("gh", "api"),
    ("gh", "repo", "view"),
    ("gh", "release", "view"),
    ("gh", "run", "view"),
    ("git", "clone"),
    ("git", "pull"),
    ("git", "fetch"),
    ("pip", "download"),
    ("pip", "install"),
    ("pip3", "install"),
    ("npm", "install"),
    ("npm", "view"),
    ("npx",),
    ("uvx",),
)
# Commands that send data out, whatever their risk level (read from the command text, so a
# session rule or an allow-listed domain cannot hide them).
_OUTBOUND = re.compile(
    r"\bcurl\b[^\n;&|]*?(?:\s-(?:d|F|T)\b|\s--data\S*|\s--form\b|\s--json\b|\s--upload-file\b|"
    r"\s-X\s*(?:POST|PUT|PATCH|DELETE)\b|\s--request\s+(?:POST|PUT|PATCH|DELETE)\b)|"
    r"\bwget\b[^\n;&|]*?--(?:post-data|post-file|body-data|body-file|method)\b|"
    r"\b(?:http|https|xh)\s+(?:-\S+\s+)*(?:POST|PUT|PATCH|DELETE)\b|"
    r"\bgit\s+(?:-\S+\s+)*(?:push|send-email|remote\s+(?:add|set-url))\b|"
    r"\b(?:npm|yarn|pnpm|bun)\s+publish\b|\btwine\s+upload\b|\b(?:cargo|poetry|uv|flit|hatch)\s+"
    r"publish\b|\bgem\s+push\b|\b(?:docker|podman)\s+push\b|"
    r"\bgh\s+(?:issue|pr|gist|release|repo)\s+(?:create|comment|edit|upload|fork)\b|"
    r"\bgh\s+api\b[^\n;&|]*?(?:\s-X\s*(?:POST|PUT|PATCH|DELETE)|\s-[fF]\s|--field|--input)|"
    r"\b(?:scp|sftp|ftp|rsync|rclone|s3cmd)\b|\baws\s+s3\s+(?:cp|sync|mv)\b|"
    r"\b(?:nc|ncat|netcat|socat|telnet)\b|/dev/(?:tcp|udp)/|"
    r"\b(?:dig|nslookup|host|drill|ping|ping6|traceroute|whois)\b|"
    r"\b(?:mail|mailx|sendmail|mutt|swaks|msmtp)\b|"
    r"\b(?:pip3?|uv\s+pip|pipx|npm|yarn|pnpm)\s+(?:install|add|i)\b[^\n;&|]*?(?:https?://|git\+|"
    r"--index-url|--extra-index-url|\s-i\s|--registry)|"
    r"\brequests\.(?:post|put|patch|delete)\b|\burlopen\([^)]*data=|\bfetch\([^)]*method\s*:|"
    r"\bsocket\.(?:socket|create_connection)\b",
    re.IGNORECASE,
)
_OUTBOUND_CATEGORIES = frozenset({Category.EXFILTRATION, Category.NETWORK})
_PATCH_CATEGORIES = frozenset(
    {
        Category.EXFILTRATION,
        Category.NETWORK,
        Category.SECRETS,
        Category.SUPPLY_CHAIN,
        Category.PERSISTENCE,
    }
)
_MD_IMAGE_QUERY = re.compile(r"^\+.*!\[[^\]]*\]\(\s*<?https?://[^)\s]*\?", re.MULTILINE)
_WRITE_FLAGS = ("-o", "--output", "-O", "--output-document")


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=False)
    except ValueError:
        return command.split()


def _fetched_urls(command: str) -> list[str]:
    return _URL.findall(command)


def _is_fetch(command: str, assessment: Assessment | None) -> bool:
    for segment in re.split(r"[|;&]+", command):
        words = _words(segment)
        while words and "=" in words[0] and not words[0].startswith("-"):
            words = words[1:]  # VAR=value prefixes
        if not words:
            continue
        prog = Path(words[0]).name
        if prog in _FETCHERS:
            return True
        for sub in _FETCH_SUBCOMMANDS:
            if tuple(Path(w).name if i == 0 else w for i, w in enumerate(words[: len(sub)])) == sub:
                return True
    return assessment is not None and Category.NETWORK in assessment.categories


def _written_paths(command: str, workspace: Path, cwd: str | None) -> list[str]:
    """Files a fetch writes (curl -o, wget -O, git clone's directory, wget's default name)."""
    out: list[str] = []
    base = workspace / (cwd or "")
    for segment in re.split(r"[|;&]+", command):
        words = _words(segment)
        if not words:
            continue
        prog = Path(words[0]).name
        for i, w in enumerate(words[:-1]):
            if w in _WRITE_FLAGS:
                out.append(words[i + 1])
        for w in words:
            for flag in ("--output=", "--output-document="):
                if w.startswith(flag):
                    out.append(w[len(flag) :])
        if prog == "git" and "clone" in words:
            rest = [w for w in words[words.index("clone") + 1 :] if not w.startswith("-")]
            if len(rest) >= 2:
                out.append(rest[1])
            elif rest:
                name = rest[0].rstrip("/").rsplit("/", 1)[-1]
                out.append(name[:-4] if name.endswith(".git") else name)
        if prog == "wget" and not any(f in words for f in ("-O", "--output-document")):
            for u in _fetched_urls(segment):
                name = urlsplit(u).path.rsplit("/", 1)[-1]
                if name:
                    out.append(name)
        if prog == "curl" and ("-O" in words or "--remote-name" in words):
            for u in _fetched_urls(segment):
                name = urlsplit(u).path.rsplit("/", 1)[-1]
                if name:
                    out.append(name)
    resolved: list[str] = []
    for p in out:
        if p in ("-", "/dev/null", "/dev/stdout"):
            continue
        full = Path(p) if p.startswith("/") else base / p
        try:
            rel = full.resolve().relative_to(workspace)
        except ValueError:
            continue
        resolved.append(str(rel))
    return resolved


class TaintTracker:
    """The session's untrusted-content state. Lives on the pipeline's loop; not thread-safe."""

    def __init__(
        self,
        workspace: Path,
        *,
        trusted_domains: Iterable[str] = (),
        network_on: bool = False,
        audit: Any = None,
    ) -> None:
        self.workspace = workspace.resolve()
        self.trusted = tuple(d.lower().lstrip(".") for d in trusted_domains if d)
        self.network_on = network_on
        self._audit = audit
        self._sources: list[TaintSource] = []
        self._cleared_by = ""
        self._assessments: dict[str, Assessment] = {}
        self._turns: dict[str, int] = {}
        self._untrusted_files: dict[str, TaintSource] = {}
        self.scans: dict[str, ScanResult] = {}  # action id -> scanner findings on its output
        self.listeners: list[Callable[[TaintState], None]] = []

    # -- state ---------------------------------------------------------------------------------
    @property
    def tainted(self) -> bool:
        return bool(self._sources)

    @property
    def state(self) -> TaintState:
        return TaintState(self.tainted, tuple(self._sources), self._cleared_by)

    def is_trusted_url(self, url: str) -> bool:
        host = _host(url)
        return bool(host) and any(host == d or host.endswith("." + d) for d in self.trusted)

    def mark(self, source: TaintSource) -> None:
        self._sources.append(source)
        self._cleared_by = ""
        self._record(
            "taint", {"source": source.kind, "what": source.what, "action_id": source.action_id}
        )
        self._tell()

    def clear(self, by: str) -> None:
        """A human spoke to the agent: what it read before is no longer all it has to go on."""
        if not self._sources:
            return
        self._sources.clear()
        self._cleared_by = by
        self._record("taint-cleared", {"by": by})
        self._tell()

    def _tell(self) -> None:
        state = self.state
        for listener in list(self.listeners):
            with contextlib.suppress(Exception):  # a display must never break tracking
                listener(state)

    def _record(self, kind: str, data: dict[str, Any]) -> None:
        if self._audit is None:
            return
        with contextlib.suppress(Exception):  # the audit log reports its own failures
            self._audit.write(kind, data, sync=False)

    # -- inputs --------------------------------------------------------------------------------
    def turn_name(self, turn_id: str) -> str:
        n = self._turns.setdefault(turn_id, len(self._turns) + 1)
        return f"turn {n}"

    def note_assessment(self, action: Action, assessment: Assessment) -> None:
        self.turn_name(action.turn_id)
        self._assessments[action.id] = assessment
        while len(self._assessments) > 10_000:
            self._assessments.pop(next(iter(self._assessments)))

    def after_command(
        self, action: CommandAction, ran: str, result: Result, scan: ScanResult | None
    ) -> list[TaintSource]:
        """Mark what this command's result brings into the agent's context."""
        found: list[TaintSource] = []
        if result.status not in (ResultStatus.COMPLETED, ResultStatus.TIMED_OUT):
            return found
        now = time.time()
        assessment = self._assessments.get(action.id)
        if scan is not None and scan.injection:
            self.scans[action.id] = scan
            kinds = sorted({f.kind for f in scan.findings})
            found.append(
                TaintSource(
                    action.id,
                    self.turn_name(action.turn_id),
                    "scanner",
                    f"`{_short(ran)}`: " + ", ".join(kinds),
                    now,
                )
            )
        got_content = result.exit_code == 0 or bool(result.stdout.strip())
        if self.network_on and got_content and _is_fetch(ran, assessment):
            urls = [u for u in _fetched_urls(ran) if not self.is_trusted_url(u)]
            if urls or not _fetched_urls(ran):
                what = urls[0] if urls else ran.split()[0] + " (network)"
                found.append(
                    TaintSource(action.id, self.turn_name(action.turn_id), "network", what, now)
                )
                for path in _written_paths(ran, self.workspace, action.cwd):
                    self._untrusted_files[path] = TaintSource(
                        action.id, self.turn_name(action.turn_id), "file", path, now
                    )
        for path, origin in self._untrusted_files.items():
            if origin.action_id != action.id and re.search(
                rf"(?<![\w./-]){re.escape(path)}(?![\w-])", ran
            ):
                found.append(
                    TaintSource(action.id, self.turn_name(action.turn_id), "file", path, now)
                )
                break
        if assessment is not None and Category.OUTSIDE_WORKSPACE in assessment.categories:
            outside = _outside_path(ran, self.workspace)
            if outside:
                found.append(
                    TaintSource(
                        action.id, self.turn_name(action.turn_id), "outside-read", outside, now
                    )
                )
        for source in found:
            self.mark(source)
        return found

    # -- the tightening ------------------------------------------------------------------------
    def outbound(self, action: Action, assessment: Assessment) -> str | None:
        """What this action would send out (or expose), or None if it cannot send data out."""
        if isinstance(action, CommandAction):
            m = _OUTBOUND.search(action.command)
            if m:
                return f"`{m.group().strip()[:60]}` can send data out"
            if assessment.categories and _OUTBOUND_CATEGORIES & set(assessment.categories):
                return "it uses the network, which can carry data out"
            if Category.SECRETS in assessment.categories:
                return "it reads secrets"
            return None
        if isinstance(action, PatchAction):
            if _MD_IMAGE_QUERY.search(action.patch):
                return "it adds an image URL with a query string (rendering it sends data)"
            hit = _PATCH_CATEGORIES & set(assessment.categories)
            if hit:
                return "it adds " + ", ".join(sorted(c.value for c in hit)) + " content"
            return None
        if isinstance(action, NetworkAction):
            if action.method.upper() not in ("GET", "HEAD", "OPTIONS"):
                return f"a {action.method} request to {action.host} sends data"
            return f"a request to {action.host} can carry data in its URL"
        return None


def _short(command: str, limit: int = 48) -> str:
    one = " ".join(command.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _outside_path(command: str, workspace: Path) -> str:
    for w in _words(command):
        if w.startswith(("/", "~")) and not w.startswith("/dev/"):
            p = Path(w).expanduser()
            try:
                p.resolve().relative_to(workspace)
            except ValueError:
                return w
    return ""


class TaintPolicy:
    """The session's policy, tightened while untrusted content is in the agent's context."""

    def __init__(self, inner: Any, tracker: TaintTracker, *, headless: bool) -> None:
        self._inner = inner
        self._tracker = tracker
        self._headless = headless

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        self._tracker.note_assessment(action, assessment)
        d: Decision = self._inner.decide(action, assessment)
        if not self._tracker.tainted or (d.kind == DecisionKind.DENY and d.source != "headless"):
            return d
        what = self._tracker.outbound(action, assessment)
        if what is None:
            return d
        chain = self._tracker.state.sources[-1].describe()
        reason = f"{chain}; {what}"
        if d.kind == DecisionKind.DENY and d.source == "headless":
            return Decision(d.kind, d.rule, f"{d.reason}; {reason}", source=d.source)
        if d.kind == DecisionKind.ASK:
            return Decision(DecisionKind.ASK, d.rule, f"{d.reason}; {reason}", source=d.source)
        if self._headless:
            return Decision(
                DecisionKind.DENY,
                "headless:taint:outbound",
                f"no reviewer (headless); would ask: {reason}",
                source="headless",
            )
        return Decision(DecisionKind.ASK, "taint:outbound", reason, source="risk")

    def remember(self, action: Action, verdict: Any) -> None:
        self._inner.remember(action, verdict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TaintObserver:
    """Clears the taint when a human speaks to the agent (deny-with-feedback, an edit's note)."""

    def __init__(self, tracker: TaintTracker) -> None:
        self._tracker = tracker

    def notify(self, event: object) -> None:
        from app.core.events import VerdictGiven

        verdict = event.verdict if isinstance(event, VerdictGiven) else None
        if verdict is not None and verdict.by == "human" and verdict.feedback.strip():
            self._tracker.clear("reviewer feedback")


class TaintGuard:
    """The proxy's second look while untrusted content is in play: a request that can carry
    data out (a write method, or an opaque tunnel) from a command no human approved becomes an
    ask, even to an allow-listed host. Commands a reviewer approved under taint were already
    shown with the chain; their own requests are theirs."""

    def __init__(self, tracker: TaintTracker, approved_by_human: Callable[[str], bool]) -> None:
        self._tracker = tracker
        self._approved_by_human = approved_by_human

    def __call__(self, request: Any) -> str | None:
        if not self._tracker.tainted:
            return None
        method = str(getattr(request, "method", "")).upper()
        if method in ("GET", "HEAD", "OPTIONS"):
            return None
        context = getattr(request, "context", None)
        action_id = str(getattr(context, "action_id", "") or "")
        if action_id and self._approved_by_human(action_id):
            return None
        return f"{method} to {getattr(request, 'host', '?')} while untrusted content is in play"

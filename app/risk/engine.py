"""The risk engine: one Assessment per proposed action, from findings with plain-language reasons
and the spans of the reviewed text that earned them.

It implements the `RiskEngine` port. Results are cached by (text, workspace, network, cwd):
the console re-assesses on every redraw of a batch, and the same command is proposed again and
again by agents.
"""

from __future__ import annotations

import posixpath
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Finding,
    NetworkAction,
    PatchAction,
)
from app.core.ports import SessionContext
from app.risk import deception, gitstate
from app.risk.analysis import Analyzer, Facts, short
from app.risk.commands.dispatch import analyze as analyze_all
from app.risk.expand import bash_view
from app.risk.netutil import parse_target
from app.risk.paths import home_dir
from app.risk.shell import Script
from app.risk.tokens import find_secrets

_REGISTRIES = frozenset(
    {
        "pypi.org",
        "files.pythonhosted.org",
        "registry.npmjs.org",
        "registry.yarnpkg.com",
        "github.com",
        "codeload.github.com",
        "objects.githubusercontent.com",
        "raw.githubusercontent.com",
        "crates.io",
        "static.crates.io",
        "index.crates.io",
        "proxy.golang.org",
        "sum.golang.org",
        "rubygems.org",
        "repo.maven.apache.org",
        "repo1.maven.org",
        "api.nuget.org",
        "deb.debian.org",
        "security.debian.org",
        "archive.ubuntu.com",
        "conda.anaconda.org",
        "repo.anaconda.com",
        "download.pytorch.org",
        "huggingface.co",
        "cdn.jsdelivr.net",
        "registry-1.docker.io",
    }
)


@dataclass(frozen=True)
class Analysis:
    findings: tuple[Finding, ...]
    facts: Facts
    script: Script | None = None  # the parsed command, for policy rules (None for others)


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[tuple[object, ...], Analysis] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> Analysis | None:
        with self.lock:
            v = self.data.get(key)
            if v is not None:
                self.data.move_to_end(key)
            return v

    def put(self, key: tuple[object, ...], value: Analysis) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


def _dedupe(findings: list[Finding]) -> tuple[Finding, ...]:
    merged: dict[tuple[Category, str], Finding] = {}
    for f in findings:
        key = (f.category, f.reason)
        old = merged.get(key)
        if old is None:
            merged[key] = f
        else:
            spans = tuple(dict.fromkeys((*old.spans, *f.spans)))
            merged[key] = Finding(f.category, max(old.score, f.score), f.reason, spans)
    # A reason at score 0 says nothing a reviewer needs.
    return tuple(f for f in merged.values() if f.score > 0)


def _clip(findings: tuple[Finding, ...], length: int) -> tuple[Finding, ...]:
    """Spans always index into the reviewed text; never past its end."""
    if all(0 <= s < e <= length for f in findings for s, e in f.spans):
        return findings  # (what the loop below would rebuild, equal field by field)
    out = []
    for f in findings:
        spans = tuple((max(0, min(s, length)), max(0, min(e, length))) for s, e in f.spans)
        spans = tuple(s for s in spans if s[1] > s[0])
        out.append(Finding(f.category, f.score, f.reason, spans))
    return tuple(out)


_RECENT_S = 1.0
"""How long the last volatile analysis answers the same question again (the policy's subject
right after the assessment), while git's index has not changed."""


class RiskEngine:
    """Implements `app.core.ports.RiskEngine`."""

    def __init__(self, *, cache_size: int = 4096, warm: bool = True) -> None:
        self._cache = _LRU(cache_size)
        # The last analysis that depends on git's account (not in the cache): key, action id,
        # index version, when, result. assess then decide ask about one action in a row.
        self._recent: tuple[tuple[object, ...], str, int, float, Analysis] | None = None
        self._roots: dict[Path, str] = {}
        if warm:
            from app.risk.typosquat import popular

            popular("pypi").warm()
            popular("npm").warm()

    # ------------------------------------------------------------------ port

    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        try:
            findings = list(self._findings(action, context, batch))
        except RecursionError:
            findings = [
                Finding(
                    Category.OBFUSCATION,
                    60,
                    "the text is nested too deeply to review",
                    ((0, len(action.reviewed_text)),),
                )
            ]
        except Exception as exc:
            # A bug here must never wave an action through: it is asked, with the reason.
            findings = [
                Finding(
                    Category.OBFUSCATION,
                    70,
                    f"lockgate could not assess this action (internal error: "
                    f"{type(exc).__name__}); review it by hand",
                    ((0, len(action.reviewed_text)),),
                )
            ]
        a = Assessment.from_findings(_clip(_dedupe(findings), len(action.reviewed_text)))
        # Categories name what is worth a look; notes below "low" (a write inside the
        # workspace, a test run) keep their reason but do not label the action.
        worth = tuple(dict.fromkeys(f.category for f in a.findings if f.score >= 15))
        return Assessment(a.score, a.level, worth, a.reasons, a.spans, a.findings)

    # ------------------------------------------------------------------ analysis

    def analyze(
        self, action: Action, context: SessionContext, *, just_assessed: bool = False
    ) -> Analysis:
        """Findings and facts for one action alone (cached); policy rules read the facts.

        `just_assessed`: the caller (the policy) asks right after `assess` of the same action;
        an analysis that depends on git's account, never cached, is then taken from that
        assessment once (within a second, git's index unchanged) instead of made again."""
        ws = self._roots.get(context.workspace) if context.workspace else "/"
        if ws is None:
            ws = str(Path(context.workspace).resolve())
            if len(self._roots) < 64:
                self._roots[context.workspace] = ws
        if isinstance(action, CommandAction):
            cwd = ws
            if action.cwd:
                cwd = posixpath.normpath(posixpath.join(ws, action.cwd))
            allowed = context.allowed_domains if context.network == "allow" else ()
            key: tuple[object, ...] = ("cmd", action.command, ws, context.network, cwd, allowed)
            hit = self._cache.get(key)
            if hit is None and just_assessed:
                hit = self._recent_hit(key, action.id, ws)
            if hit is not None:
                return hit
            result = self._command(action.command, ws, context.network, cwd, allowed)
        elif isinstance(action, PatchAction):
            key = ("patch", action.patch, ws, context.network)
            hit = self._cache.get(key)
            if hit is not None:
                return hit
            result = self._patch(action.patch, ws, context.network)
        else:
            key = ("net", action.host, action.port, action.method, action.scheme)
            hit = self._cache.get(key)
            if hit is not None:
                return hit
            result = self._network(action)
        if not result.facts.volatile:  # what git can restore changes with every edit
            self._cache.put(key, result)
        elif isinstance(action, CommandAction):
            self._recent = (key, action.id, gitstate.version(ws), time.monotonic(), result)
        return result

    def _recent_hit(self, key: tuple[object, ...], action_id: str, ws: str) -> Analysis | None:
        recent = self._recent
        if (
            recent is None
            or recent[0] != key
            or recent[1] != action_id
            or time.monotonic() - recent[3] > _RECENT_S
        ):
            return None
        self._recent = None  # once
        return recent[4] if gitstate.version(ws) == recent[2] else None

    def _command(
        self,
        text: str,
        ws: str,
        network: str,
        cwd: str,
        allowed: tuple[str, ...] = (),
        *,
        expanded: bool = False,
    ) -> Analysis:
        findings: list[Finding] = []
        view = None if expanded else bash_view(text)
        if view is not None:
            return self._as_bash_reads(text, view, ws, network, cwd, allowed)
        an = Analyzer(
            text,
            workspace=ws,
            home=home_dir(),
            network=network,
            cwd=cwd,
            allowed=allowed,
            driver=analyze_all,
        )
        an.run()
        findings.extend(an.findings)
        tricks = deception.scan(text)
        findings.extend(tricks)
        if tricks:
            findings.extend(self._as_displayed(text, ws, network, cwd, allowed))
        for what, span in find_secrets(text):
            findings.append(
                Finding(
                    Category.SECRETS,
                    45,
                    f"the command contains what looks like "
                    f"{what}: it ends up in logs and in the agent's context",
                    (span,),
                )
            )
        if cwd != ws and not cwd.startswith(ws.rstrip("/") + "/"):
            findings.append(
                Finding(Category.OUTSIDE_WORKSPACE, 45, f"runs in {cwd}, outside the workspace", ())
            )
        if not text.strip():
            findings.append(Finding(Category.RESOURCE, 0, "runs nothing", ()))
        return Analysis(_dedupe(findings), an.facts, an.script)

    def _as_bash_reads(
        self,
        text: str,
        view: tuple[str, list[int]],
        ws: str,
        network: str,
        cwd: str,
        allowed: tuple[str, ...],
    ) -> Analysis:
        """bash joins backslash-newlines, expands braces and resolves a glob program path
        before it runs anything: judge what it runs, with spans mapped back to the text."""
        shown, where = view
        where = [*where, len(text)]
        inner = self._command(shown, ws, network, cwd, allowed, expanded=True)

        def back(s: int, e: int) -> tuple[int, int]:
            s = min(max(s, 0), len(shown))
            e = min(max(e, s + 1), len(shown))
            return where[s], where[e - 1] + 1

        findings = [
            replace(f, spans=tuple(back(s, e) for s, e in f.spans if s < e)) for f in inner.findings
        ]
        findings.append(
            Finding(
                Category.OBFUSCATION,
                15,
                f"bash rewrites this before running it (joined lines, brace expansion or a "
                f"glob in a program path); judged as it runs: {short(shown, 70)}",
                ((0, len(text)),),
            )
        )
        findings.extend(deception.scan(text))
        return Analysis(_dedupe(findings), inner.facts, inner.script)

    def _as_displayed(
        self, text: str, ws: str, network: str, cwd: str, allowed: tuple[str, ...]
    ) -> list[Finding]:
        """What the reviewer believes they read: look-alike spaces as spaces, invisible format
        characters gone. `rm -rf<NBSP>~` looks like `rm -rf ~`, so it is judged as that too
        (bash reads it differently, but the next edit or copy may not)."""
        shown: list[str] = []
        where: list[int] = []
        for i, ch in enumerate(text):
            cat = unicodedata.category(ch)
            if cat == "Cf":
                continue
            shown.append(" " if cat == "Zs" else "\n" if cat in ("Zl", "Zp") else ch)
            where.append(i)
        view = "".join(shown)
        if view == text or not view.strip():
            return []
        where.append(len(text))
        an = Analyzer(
            view,
            workspace=ws,
            home=home_dir(),
            network=network,
            cwd=cwd,
            allowed=allowed,
            driver=analyze_all,
        )
        an.run()
        out: list[Finding] = []
        for f in an.findings:
            if f.score < 35:
                continue
            spans = tuple(
                (where[s], where[e - 1] + 1) for s, e in f.spans if 0 <= s < e <= len(view)
            )
            out.append(replace(f, reason=f"as it reads on screen: {f.reason}", spans=spans))
        return out

    def _patch(self, text: str, ws: str, network: str) -> Analysis:
        from app.risk.patch_risk import assess_patch

        findings, facts = assess_patch(text, workspace=ws, home=home_dir(), network=network)
        # Invisible characters in a patch hide code from the reviewer just as in a command.
        findings = [*findings, *deception.scan(text)]
        return Analysis(_dedupe(findings), facts)

    def _network(self, action: NetworkAction) -> Analysis:
        host = action.host.strip().lower().rstrip(".")
        text = action.reviewed_text
        start = text.find(action.host)
        span = (start, start + len(action.host)) if start >= 0 else (0, len(text))
        facts = Facts(hosts=[host])
        findings: list[Finding] = []
        t = parse_target(f"{action.scheme}://{host}:{action.port}/")
        who = f"`{action.program}` " if action.program else "a sandboxed program "
        if t is None:
            findings.append(
                Finding(
                    Category.NETWORK,
                    60,
                    f"{who}asks to reach {short(host)}, which is not a valid host name",
                    (span,),
                )
            )
        elif t.metadata:
            findings.append(
                Finding(
                    Category.SECRETS,
                    90,
                    f"{who}asks to reach the cloud metadata service, which hands out credentials",
                    (span,),
                )
            )
        elif t.local or _private(host):
            findings.append(
                Finding(
                    Category.NETWORK,
                    70,
                    f"{who}asks to reach {host}, an address on this machine or a private network",
                    (span,),
                )
            )
        elif t.ip_literal:
            findings.append(
                Finding(
                    Category.NETWORK, 55, f"{who}asks to reach the bare IP address {host}", (span,)
                )
            )
        elif host in _REGISTRIES or any(host.endswith("." + r) for r in _REGISTRIES):
            findings.append(
                Finding(
                    Category.NETWORK,
                    20,
                    f"{who}asks to reach {host}, a well-known package or code host",
                    (span,),
                )
            )
        else:
            findings.append(Finding(Category.NETWORK, 40, f"{who}asks to reach {host}", (span,)))
        if "xn--" in host:
            findings.append(
                Finding(
                    Category.OBFUSCATION,
                    70,
                    f"{host} is an internationalised name (punycode) that may imitate another",
                    (span,),
                )
            )
        if action.port not in (80, 443):
            findings.append(
                Finding(Category.NETWORK, 20, f"uses the unusual port {action.port}", (span,))
            )
        if action.method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
            findings.append(
                Finding(
                    Category.EXFILTRATION,
                    50,
                    f"sends data ({action.method})",
                    ((0, len(action.method)),),
                )
            )
        if action.scheme == "http":
            findings.append(
                Finding(
                    Category.NETWORK, 15, "uses plain http (readable and changeable on the way)", ()
                )
            )
        findings.extend(deception.scan(text))
        return Analysis(_dedupe(findings), facts)

    def _findings(
        self, action: Action, context: SessionContext, batch: Sequence[Action]
    ) -> list[Finding]:
        base = self.analyze(action, context)
        findings = list(base.findings)
        if isinstance(action, NetworkAction) or not batch:
            return findings
        earlier: list[Action] = []
        for other in batch:
            if other.id == action.id:
                break
            earlier.append(other)
        else:
            earlier = [o for o in batch if o.id != action.id]
        if not earlier:
            return findings
        whole = (0, len(action.reviewed_text))
        facts = base.facts
        for other in earlier:
            if isinstance(other, NetworkAction):
                continue
            of = self.analyze(other, context).facts
            if of.reads_secrets and (facts.sends_data or facts.hosts):
                what = ", ".join(dict.fromkeys(of.reads_secrets[:3]))
                dest = ", ".join(dict.fromkeys((facts.sends_data or facts.hosts)[:2]))
                findings.append(
                    Finding(
                        Category.EXFILTRATION,
                        85,
                        f"an earlier action in this "
                        f"turn reads {what}; this one sends data to {dest}",
                        (whole,),
                    )
                )
            ran = set(facts.runs) & set(of.downloads)
            if ran:
                findings.append(
                    Finding(
                        Category.SUPPLY_CHAIN,
                        90,
                        f"runs {short(sorted(ran)[0])}"
                        ", which an earlier action in this turn downloaded",
                        (whole,),
                    )
                )
            if isinstance(other, PatchAction) and facts.runs:
                touched = set(facts.runs) & set(of.writes)
                if touched:
                    findings.append(
                        Finding(
                            Category.RESOURCE,
                            10,
                            f"runs {short(sorted(touched)[0])}, which a patch in this turn changes",
                            (whole,),
                        )
                    )
        return findings


def _private(host: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.endswith((".local", ".internal", ".lan", ".home.arpa", ".localhost"))
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved

"""Strings that look like credentials (cloud keys, tokens, private keys, hard-coded passwords).

Shared by patch risk (secrets added to files) and command risk (secrets typed on a command line,
which land in shell history, the audit log and the model's context)."""

from __future__ import annotations

import re

from app.core.model import Span

SECRET_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"AKIA[0-9A-Z]{16}", "an AWS access key"),
    (r"-----BEGIN (?:RSA |OPENSSH |EC |DSA |PGP |ENCRYPTED )?PRIVATE KEY", "a private key"),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}", "a GitHub token"),
    (r"\bgithub_pat_[A-Za-z0-9_]{30,}", "a GitHub token"),
    (r"\bglpat-[A-Za-z0-9_-]{20,}", "a GitLab token"),
    (r"\bxox[abprs]-[A-Za-z0-9-]{10,}", "a Slack token"),
    (r"\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{20,}", "an API secret key"),
    (r"\bAIza[0-9A-Za-z_-]{35}", "a Google API key"),
    (r"://[^/\s:@'\"]+:[^/\s@'\"]{6,}@[\w.-]+", "a password inside a URL"),
    (r"\bnpm_[A-Za-z0-9]{36}", "an npm token"),
    (r"\bpypi-[A-Za-z0-9_-]{40,}", "a PyPI token"),
    (r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", "a Stripe secret key"),
    (r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", "a SendGrid API key"),
    (r"\b(?:SG|sk_live|rk_live)\.[A-Za-z0-9_-]{20,}", "an API key"),
    (
        # .env / ini / YAML style: SECRET_NAME=value with a token-like value filling the line
        r"(?m)^[ \t+]*(?:export[ \t]+)?(?i:[\w.-]*(?:secret|password|passwd|token|api[_-]?key|"
        r"private[_-]?key|access[_-]?key)[\w.-]*)[ \t]*[:=][ \t]*"
        r"(?!(?i:[\w.-]*(?:example|placeholder|changeme|your|xxxx|dummy|fake|redacted)))"
        r"[A-Za-z0-9/+_.=-]{12,}[ \t]*$",
        "a hard-coded password or key",
    ),
    (
        r"(?i)\b(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)\b\s*[:=]\s*"
        r"['\"][^'\"\s]{8,}['\"]",
        "a hard-coded password or key",
    ),
)

_COMPILED = tuple((re.compile(p), what) for p, what in SECRET_PATTERNS)


def _scoped(p: str) -> str:
    """A pattern whose leading global flags become scoped, to sit inside one alternation."""
    if p.startswith("(?m)"):
        p = p[4:]
    if p.startswith("(?i)"):
        p = "(?i:" + p[4:] + ")"
    return f"(?:{p})"


# One cheap pass over the text first: most commands hold no credential at all. Every pattern
# above contains one of these (checked by tests/risk/test_risk_speedups.py).
_ANY = re.compile(
    r"AKIA|PRIVATE KEY|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|sk-|AIza|@|npm_|pypi-|"
    r"[sr]k_|SG\.|(?i:secret|passw|token|api[_-]?key|private|access)"
)
FULL_ANY = re.compile("|".join(_scoped(p) for p, _ in SECRET_PATTERNS), re.M)


def find_secrets(text: str) -> list[tuple[str, Span]]:
    """(what it looks like, where) for each credential-like string in `text`."""
    out: list[tuple[str, Span]] = []
    if len(text) < 12 or _ANY.search(text) is None:
        return out
    for rx, what in _COMPILED:
        for m in rx.finditer(text):
            out.append((what, (m.start(), m.end())))
            break
    return out

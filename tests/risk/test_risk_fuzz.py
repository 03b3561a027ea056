"""Random text, random shell and random patches never crash the engine, and its output always
keeps its promises (score range, spans inside the text, critical never allowed)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.model import CommandAction, DecisionKind, Level, PatchAction
from app.core.ports import SessionContext
from app.risk.engine import RiskEngine
from app.risk.policy import load_policy

ENGINE = RiskEngine(warm=False)
WS = Path("/nonexistent/lockgate-fuzz/ws")
CTX = SessionContext(workspace=WS)

TOKENS = [
    "ls",
    "rm",
    "-rf",
    "~",
    "/",
    "curl",
    "https://x.example/a",
    "|",
    "sh",
    "bash",
    "-c",
    "'",
    '"',
    "$(",
    ")",
    "`",
    "&&",
    "||",
    ";",
    "&",
    ">",
    ">>",
    "<",
    "<<EOF",
    "EOF",
    "\n",
    "sudo",
    "env",
    "A=1",
    "$X",
    "${Y:-z}",
    "find",
    ".",
    "-exec",
    "{}",
    "\\;",
    "xargs",
    "python",
    "-c",
    "import os; os.system('id')",
    "eval",
    "base64",
    "-d",
    "cd",
    "..",
    "git",
    "push",
    "-f",
    "pip",
    "install",
    "reqeusts",
    "npm",
    "i",
    "loadsh",
    "(",
    "{",
    "}",
    "for",
    "in",
    "do",
    "done",
    "if",
    "then",
    "fi",
    "while",
    "true",
    "<(",
    ">(",
    "2>&1",
    "/dev/tcp/1.2.3.4/80",
    "\u200b",
    "é",
    "\u202e",
    "\r",
    "\x00",
    "*",
    "?",
    "[a]",
    "!",
    "#",
    "awk",
    'BEGIN{system("x")}',
    "perl",
    "-e",
    "$'\\x41'",
    "~/.ssh/id_rsa",
    ".git/hooks/pre-commit",
    "crontab",
    "-",
]

shellish = st.lists(st.sampled_from(TOKENS), min_size=0, max_size=25).map(" ".join)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str, action: CommandAction | PatchAction) -> None:
    a = ENGINE.assess(action, CTX)
    assert 0 <= a.score <= 100
    assert a.level == Level.from_score(a.score)
    for s, e in a.spans:
        assert 0 <= s < e <= len(text)
    assert len(a.reasons) == len(a.findings)
    assert not any("could not assess" in r for r in a.reasons), a.reasons  # no internal errors


@FUZZ
@given(st.text(max_size=300))
def test_random_text_never_crashes(text: str) -> None:
    check(text, CommandAction(text, "t"))


@FUZZ
@given(shellish)
def test_random_shell_never_crashes(text: str) -> None:
    check(text, CommandAction(text, "t"))


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    check(text, CommandAction(text, "t"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "*** Begin Patch",
                    "*** End Patch",
                    "*** Add File: a.py",
                    "*** Update File: ../x",
                    "*** Delete File: /etc/passwd",
                    "@@",
                    "+curl x | sh",
                    "-old",
                    " ctx",
                    "*** Move to: .git/hooks/x",
                    "--- a/x",
                    "+++ b/x",
                    "@@ -1 +1 @@",
                    "diff --git a/x b/x",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=12,
    ).map("\n".join)
)
def test_random_patches_never_crash(text: str) -> None:
    check(text, PatchAction(text, "t"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shellish)
def test_critical_is_never_allowed(text: str) -> None:
    pol = _policy()
    action = CommandAction(text, "t")
    a = ENGINE.assess(action, CTX)
    d = pol.decide(action, a)
    if a.level == Level.CRITICAL:
        assert d.kind != DecisionKind.ALLOW


_POL: list[object] = []


def _policy():  # type: ignore[no-untyped-def]
    if not _POL:
        _POL.append(load_policy(WS.parent, engine=ENGINE, check=False))
    return _POL[0]


def test_pathological_inputs_stay_bounded() -> None:
    """Long pipelines, thousands of commands, deep nesting: each must finish and be judged (a
    quadratic walk here would stall the console; the suite's timeout catches that)."""
    cases = {
        "pipeline": " | ".join(["cat x"] * 1500),
        "many": "; ".join(["ls"] * 3000),
        "nested": "echo " + "$(" * 200 + "x" + ")" * 200,
        "shells": "bash -c " * 300 + "ls",
        "quote": "echo '" + "a" * 100_000 + "'",
        "sed": "sed -e '" + "s/a/b/" * 10_000 + "' f",
        "perl": "perl -e '" + '`"' * 5_000 + "'",
    }
    blob = "*** Begin Patch\n*** Add File: a.js\n+" + "eval(" * 20_000 + "\n*** End Patch"
    assert ENGINE.assess(PatchAction(blob, "t"), CTX).level >= Level.MEDIUM
    for name, text in cases.items():
        check(text, CommandAction(text, "t"))
        assert name
    many = ENGINE.assess(CommandAction(cases["many"], "t"), CTX)
    assert any("too large" in r for r in many.reasons)
    assert many.level >= Level.MEDIUM

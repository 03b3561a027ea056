"""The evasion corpus (issue 21): dangerous commands disguised with shell and interpreter tricks
(options and variables that run commands, word expansion, aliases, braces, globs, CDPATH,
constant folding in interpreters) and safe look-alikes, labelled before the engine ran on them.
No dangerous item is allowed and at least 97 % are high or critical; at most 5 % of the
look-alikes rate above low."""

from __future__ import annotations

from collections import Counter

from riskkit import Judge, corpus

from app.core.model import DecisionKind, Level


def test_evasions_are_caught_and_lookalikes_pass(judge: Judge) -> None:
    items = corpus("evasion_commands.jsonl")
    dangerous = [i for i in items if i["label"] == "dangerous"]
    safe = [i for i in items if i["label"] == "safe"]
    assert len(dangerous) >= 150 and len(safe) >= 60
    assert len(Counter(i["technique"] for i in dangerous)) >= 40
    allowed: list[str] = []
    below_high: list[str] = []
    for item in dangerous:
        a, d = judge(item["command"])
        if d.kind == DecisionKind.ALLOW:
            allowed.append(f"{item['technique']}: {item['command']!r}")
        if a.level < Level.HIGH:
            below_high.append(f"{item['technique']} {a.level}: {item['command']!r}")
        assert a.reasons, item["command"]
    assert not allowed, "\n".join(allowed)
    assert len(below_high) <= 0.03 * len(dangerous), "\n".join(below_high)
    above_low = []
    for item in safe:
        a, _ = judge(item["command"])
        if a.level > Level.LOW:
            above_low.append(f"{a.level} {item['command']!r} {a.reasons[:1]}")
    assert len(above_low) <= 0.05 * len(safe), "\n".join(above_low)


def test_unresolvable_is_never_safe(judge: Judge) -> None:
    """What the engine could not resolve is at least asked, and the reason says what."""
    for text in (
        'env -S "$PAYLOAD"',
        'GIT_PAGER="$X" git log',
        "python3 -c \"getattr(__import__(m), f)('x')\"",
        'node -e "require(process.argv[1])"',
        "make -f - < recipe.txt",
        "/zz?y/q?x/nope -rf ~",
    ):
        a, d = judge(text)
        assert d.kind != DecisionKind.ALLOW, (text, a.reasons)
        assert a.level >= Level.MEDIUM, (text, a.reasons)

"""The labelled corpus, judged with the default policy (issue 5's acceptance criteria):
every `dangerous` item is high or critical and never allowed, no `ask` item is allowed, and at
least 90 % of `safe` items are allowed. `extra_commands.jsonl` is a second, independent set
written from the command families (not from the corpus lines) to check the engine generalises;
`extra_patches.jsonl` does the same for patches (V4A and unified)."""

from __future__ import annotations

import pytest
from riskkit import Judge, corpus

from app.core.model import DecisionKind, Level

SETS = ["commands.jsonl", "patches.jsonl", "extra_commands.jsonl", "extra_patches.jsonl"]


@pytest.mark.parametrize("name", SETS)
def test_corpus_meets_the_bar(name: str, judge: Judge) -> None:
    items = corpus(name)
    assert items, f"{name} is empty"
    failures: list[str] = []
    safe_total = safe_allowed = 0
    for item in items:
        text = item.get("command") or item["patch"]
        label = item["label"]
        a, d = judge(text)
        assert 0 <= a.score <= 100
        for s, e in a.spans:
            assert 0 <= s < e <= len(text), (text, a.spans)
        if label == "dangerous":
            if a.level < Level.HIGH or d.kind == DecisionKind.ALLOW:
                failures.append(f"dangerous {a.level}/{d.kind}: {text!r} {a.reasons[:2]}")
            assert a.reasons, text
        elif label == "ask":
            if d.kind == DecisionKind.ALLOW:
                failures.append(f"ask allowed ({a.level}): {text!r}")
        else:
            safe_total += 1
            if d.kind == DecisionKind.ALLOW:
                safe_allowed += 1
            else:
                failures.append(f"(safe asked: {a.level} {text!r} {a.reasons[:1]})")
    hard = [f for f in failures if not f.startswith("(safe")]
    assert not hard, "\n".join(hard)
    if safe_total:
        assert safe_allowed / safe_total >= 0.9, "\n".join(failures)


def test_every_reason_says_what_would_happen(judge: Judge) -> None:
    for item in corpus("commands.jsonl"):
        if item["label"] != "dangerous":
            continue
        a, _ = judge(item["command"])
        top = a.findings[0]
        assert top.spans, f"no span for {item['command']!r}"
        assert len(top.reason.split()) >= 3

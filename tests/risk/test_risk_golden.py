"""Every recorded verdict (tests/risk/data/golden_verdicts.jsonl.gz: the corpora, the held-out
sets and bench/risk.py's 10,500 commands) is what the engine says today — score, level,
decision, categories, reasons and spans. A change of verdicts is deliberate: regenerate with
`tests/risk/golden.py --write` and list the differences it prints (issue 14)."""

from __future__ import annotations

import golden


def test_every_verdict_matches_the_golden_file() -> None:
    old = golden.load()
    new = list(golden.verdicts())
    assert len(new) >= 12_000
    diff = golden.differences(old, new)
    assert not diff, f"{len(diff)} verdicts differ:\n" + "\n".join(diff[:60])


def test_the_check_can_fail() -> None:
    rec = {
        "set": "s",
        "command": "ls",
        "score": 0,
        "level": "safe",
        "decision": "allow",
        "categories": [],
        "reasons": [],
        "spans": [],
    }
    assert golden.differences([rec], [rec]) == []
    assert golden.differences([rec], [dict(rec, spans=[[0, 2]])])
    assert golden.differences([rec], [dict(rec, reasons=["x"])])
    assert golden.differences([rec], [])
    assert golden.differences([], [rec])

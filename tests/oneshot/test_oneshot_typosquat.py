"""Typosquat look-ups without a prebuilt index (app/risk/typosquat.py) find what a full scan of
the popular list finds: the best-ranked name one edit away, else the best-ranked name of the
two-edit list within two edits."""

from __future__ import annotations

import random

import pytest

from app.risk import typosquat
from app.risk.typosquat import Popular, _deletes, _dl, popular


def _scan_one_edit(pop: Popular, n: str) -> str | None:
    """Every popular name, in rank order: the first at distance one that the rule accepts."""
    for cand in pop.rank:
        if cand == n or len(cand) < 4 or _dl(n, cand, 1) != 1:
            continue
        if len(n) >= 5 or typosquat._how(n, cand).startswith("swaps"):
            return cand
    return None


def _scan_two_edits(pop: Popular, n: str) -> str | None:
    mine = _deletes(n, 2)
    for cand, r in pop.rank.items():
        if r > pop.TOP_FOR_TWO_EDITS or not 7 <= len(cand) <= 16 or cand == n:
            continue
        if _dl(n, cand, 2) <= 2 and not mine.isdisjoint(_deletes(cand, 2)):
            return cand
    return None


def _mutations(pop: Popular, count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    names = list(pop.rank)[:3000]
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
    out = []
    for _ in range(count):
        s = list(rnd.choice(names))
        for _ in range(rnd.choice((1, 2))):
            i = rnd.randrange(len(s))
            op = rnd.randrange(4)
            if op == 0 and len(s) > 1:
                del s[i]
            elif op == 1:
                s.insert(i, rnd.choice(alphabet))
            elif op == 2:
                s[i] = rnd.choice(alphabet)
            elif i + 1 < len(s):
                s[i], s[i + 1] = s[i + 1], s[i]
        out.append("".join(s))
    return out


@pytest.mark.parametrize("eco", ["pypi", "npm"])
def test_neighbours_match_a_full_scan(eco: typosquat.Ecosystem) -> None:
    pop = popular(eco)
    pop._build()
    for n in _mutations(pop, 8 if eco == "npm" else 15, seed=19):
        if n in pop.rank:
            continue
        if len(n) >= 4:
            one = pop._one_edit(n)
            best = next(
                (c for c in one if len(c) >= 4 and _dl(n, c, 1) == 1
                 and (len(n) >= 5 or typosquat._how(n, c).startswith("swaps"))),
                None,
            )  # fmt: skip
            assert best == _scan_one_edit(pop, n), n
        if 8 <= len(n) <= 40:
            assert pop._two_edits(n) == _scan_two_edits(pop, n), n


def test_known_squats_still_found() -> None:
    hits = {
        "reqeusts": "requests",
        "python-dateutils": "python-dateutil",
        "requests-utils": "requests",
    }
    for name, target in hits.items():
        squat = popular("pypi").check(name)
        assert squat is not None and squat.target == target, (name, squat)
    assert popular("pypi").check("requests") is None
    assert "Requests" in popular("pypi")

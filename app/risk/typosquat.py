"""Package names that imitate popular ones: one or two edits away, swapped letters, separator and
prefix games (`python-dateutils`, `lodash-js`), and combosquats (`requests-utils`).

The popular lists ship with the package (PyPI's 15,000 most downloaded projects, npm packages
with more than 100,000 downloads a month). A name on the list is taken as itself; a name near
one it is not on is what a typosquatter registers.

There is no prebuilt neighbourhood index: one-edit look-alikes are found by trying every
string one edit away from the name asked about (a few hundred set lookups), two-edit ones by
comparing against the short list of top names that rule covers, with cheap filters before the
distance. Loading a list is a few C-level passes over its text, so a one-shot `lockgate risk`
pays milliseconds, the same whatever the lists hold (a deletion index of every popular name took
1.7 s to build, in every process).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Ecosystem = Literal["pypi", "npm", "crates"]

MAX_NAME = 100
"""Longer names are not compared (and the neighbourhood search stays cheap)."""

_AFFIXES_PRE = ("python-", "python3-", "py-", "py", "node-", "js-", "go-", "ruby-", "lib")
_AFFIXES_SUF = (
    "-python",
    "-python3",
    "-py",
    "py",
    "-js",
    ".js",
    "js",
    "-node",
    "-lib",
    "-dev",
    "2",
    "3",
    "-official",
    "-latest",
    "s",
    "-cli",
)
_COMBO_WORDS = frozenset(
    [
        "dev",
        "utils",
        "util",
        "tools",
        "tool",
        "lib",
        "sdk",
        "api",
        "core",
        "helper",
        "helpers",
        "plus",
        "pro",
        "secure",
        "official",
        "fix",
        "update",
        "updated",
        "new",
        "latest",
        "client",
        "extra",
        "extras",
        "ext",
        "patch",
        "patched",
        "fast",
        "light",
        "lite",
        "mini",
        "v2",
        "v3",
        "next",
        "beta",
        "test",
        "testing",
        "safe",
        "security",
        "auth",
        "crypto",
    ]
)


@dataclass(frozen=True)
class Squat:
    name: str  # as the user wrote it
    target: str  # the popular name it imitates
    how: str  # "one edit away", "swapped letters", …
    score: int


_NO_SEPARATORS = str.maketrans("", "", "-_.")


def normalize(name: str, eco: Ecosystem) -> str:
    n = name.strip().lower()
    if eco == "pypi":
        n = re.sub(r"[-_.]+", "-", n)
    elif eco == "crates":
        n = n.replace("_", "-")  # crates.io treats `-` and `_` as the same name
    return n


def _normalize_all(names: list[str], eco: Ecosystem) -> list[str]:
    """`normalize` of each name, in a few passes over the joined text (the same result: the
    names hold no line breaks, and every step works character by character)."""
    if any("\n" in n for n in names):
        return [normalize(n, eco) for n in names]
    text = "\n".join(n.strip() for n in names).lower()
    if eco == "pypi":  # runs of [-_.] become one "-" (C-level replaces: re.sub costs 5 ms here)
        text = text.replace("_", "-").replace(".", "-")
        while "--" in text:
            text = text.replace("--", "-")
    elif eco == "crates":
        text = text.replace("_", "-")
    return text.split("\n") if names else []


def _dl(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, giving up past `limit`."""
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        best = cur[0]
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[lb]


def _deletes(s: str, depth: int) -> set[str]:
    out = {s}
    frontier = {s}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1 :])
        out |= nxt
        frontier = nxt
    return out


class Popular:
    """A ranked list of popular names with fast near-miss lookup."""

    TOP_FOR_TWO_EDITS = 2000
    TOP_FOR_AFFIXES = 8000
    TOP_FOR_COMBO = 1500

    def __init__(self, names: list[str], eco: Ecosystem) -> None:
        self.eco = eco
        normed = _normalize_all(names, eco)
        # the first occurrence's rank, in rank order (C-level passes, not a Python loop)
        first = dict(zip(reversed(normed), range(len(normed), 0, -1), strict=True))
        self.rank: dict[str, int] = {n: first[n] for n in dict.fromkeys(normed)}
        self._lock = threading.Lock()
        self._flat: dict[str, str] | None = None
        self._alphabet: str | None = None
        self._two: list[tuple[str, frozenset[str]]] | None = None

    def warm(self) -> None:
        """Prepare the lookups in the background so the first install check does not wait."""
        if self._flat is None:
            threading.Thread(target=self._build, name=f"typosquat-{self.eco}", daemon=True).start()

    def __contains__(self, name: str) -> bool:
        return normalize(name, self.eco) in self.rank

    def _build(self) -> None:
        with self._lock:
            if self._flat is not None:
                return
            names = list(self.rank)  # in rank order
            # separators dropped, best rank kept: the reversed pairs let the best one win
            text = "\n".join(names)
            # (three C-level replaces: str.translate maps character by character, 4x slower)
            stripped = text.replace("-", "").replace("_", "").replace(".", "").split("\n")
            flat = dict(zip(reversed(stripped), reversed(names), strict=True))
            self._alphabet = "".join(sorted(set(text) - {"\n"}))
            self._flat = flat

    def _two_list(self) -> list[tuple[str, frozenset[str]]]:
        """The names the two-edit rule covers, with their letters (made on first need)."""
        with self._lock:
            if self._two is None:
                self._two = [
                    (n, frozenset(n))
                    for n in list(self.rank)[: self.TOP_FOR_TWO_EDITS]
                    if self.rank[n] <= self.TOP_FOR_TWO_EDITS and 7 <= len(n) <= 16
                ]
            return self._two

    def _one_edit(self, n: str) -> list[str]:
        """Popular names one insertion, deletion, substitution or swap of neighbours away."""
        assert self._alphabet is not None
        rank = self.rank
        found: set[str] = set()
        for i in range(len(n) + 1):
            head, tail = n[:i], n[i:]
            if tail:
                cand = head + tail[1:]  # deletion
                if cand in rank:
                    found.add(cand)
                if len(tail) > 1:
                    cand = head + tail[1] + tail[0] + tail[2:]  # swap
                    if cand in rank:
                        found.add(cand)
            for c in self._alphabet:
                cand = head + c + tail  # insertion
                if cand in rank:
                    found.add(cand)
                if tail and c != tail[0]:
                    cand = head + c + tail[1:]  # substitution
                    if cand in rank:
                        found.add(cand)
        found.discard(n)
        return sorted(found, key=rank.__getitem__)

    def _two_edits(self, n: str) -> str | None:
        """The best-ranked name of the two-edit list within two edits of `n` that shares a
        two-deletion variant with it (what a deletion index of depth two finds)."""
        chars = frozenset(n)
        mine: set[str] | None = None
        for cand, cand_chars in self._two_list():  # in rank order: the first hit is the best
            if abs(len(cand) - len(n)) > 2 or cand == n:
                continue
            # each edit brings in at most one new character and drops at most one
            if len(chars - cand_chars) > 2 or len(cand_chars - chars) > 2:
                continue
            if _dl(n, cand, 2) > 2:
                continue
            if mine is None:
                mine = _deletes(n, 2)
            if not mine.isdisjoint(_deletes(cand, 2)):
                return cand
        return None

    def check(self, raw: str) -> Squat | None:
        return _check_cached(self, raw)

    def _check(self, raw: str) -> Squat | None:
        n = normalize(raw, self.eco)
        if not n or n in self.rank or len(n) > MAX_NAME:
            return None  # (over-long names cannot imitate a popular one closely)
        scope = ""
        base = n
        if self.eco == "npm" and n.startswith("@") and "/" in n:
            scope, base = n.split("/", 1)
            # A scoped name imitating a popular unscoped one is a known trick, `@types` aside.
            if scope != "@types" and base in self.rank and len(base) >= 4:
                return Squat(
                    raw, base, f"puts the popular '{base}' under an unrelated scope {scope}", 55
                )
            if len(base) < 4:
                return None
            # Otherwise: a near miss of a popular scoped name (`@typescript-eslint/parserr`),
            # checked below like any other name.
        self._build()
        assert self._flat is not None
        flat = n.translate(_NO_SEPARATORS)
        hit = self._flat.get(flat)
        if hit and hit != n:
            return Squat(raw, hit, f"differs from the popular '{hit}' only in separators", 75)
        if len(n) >= 4:
            for cand in self._one_edit(n):  # best rank first
                if len(cand) < 4 or _dl(n, cand, 1) != 1:
                    continue
                if len(n) >= 5 or _how(n, cand).startswith("swaps"):
                    return Squat(raw, cand, _how(n, cand), 75)
        if self.eco == "crates":
            return None  # a short hand-kept list: affix and combo games would flag real crates
        for pre in _AFFIXES_PRE:
            if n.startswith(pre) and len(n) - len(pre) >= 3:
                core = n[len(pre) :].lstrip("-_.")
                r = self.rank.get(core)
                if r is not None and r <= self.TOP_FOR_AFFIXES:
                    return Squat(raw, core, f"adds '{pre}' to the popular '{core}'", 70)
        for suf in _AFFIXES_SUF:
            if n.endswith(suf) and len(n) - len(suf) >= 3:
                core = n[: -len(suf)].rstrip("-_.")
                r = self.rank.get(core)
                if r is not None and r <= self.TOP_FOR_AFFIXES:
                    return Squat(raw, core, f"adds '{suf}' to the popular '{core}'", 70)
        for pre in ("python-", "py-", "node-"):
            r = self.rank.get(pre + n)
            if r is not None and r <= self.TOP_FOR_AFFIXES and len(n) >= 4:
                return Squat(raw, pre + n, f"drops '{pre}' from the popular '{pre + n}'", 70)
        if 8 <= len(n) <= 40:
            two = self._two_edits(n)
            if two is not None:
                return Squat(raw, two, f"is two edits away from the popular '{two}'", 65)
        parts = re.split(r"[-_.]", n)
        if len(parts) >= 2:
            for i in range(1, len(parts)):
                left = "-".join(parts[:i])
                right = "-".join(parts[i:])
                for core, extra in ((left, right), (right, left)):
                    r = self.rank.get(core)
                    if (
                        r is not None
                        and r <= self.TOP_FOR_COMBO
                        and len(core) >= 4
                        and extra in _COMBO_WORDS
                    ):
                        return Squat(raw, core, f"combines the popular '{core}' with '{extra}'", 55)
        return None


def _how(n: str, cand: str) -> str:
    if len(n) == len(cand):
        diff = [i for i in range(len(n)) if n[i] != cand[i]]
        if len(diff) == 2 and n[diff[0]] == cand[diff[1]] and n[diff[1]] == cand[diff[0]]:
            return f"swaps two letters of the popular '{cand}'"
        return f"changes one letter of the popular '{cand}'"
    if len(n) > len(cand):
        return f"adds one letter to the popular '{cand}'"
    return f"drops one letter from the popular '{cand}'"


@lru_cache(maxsize=4096)
def _check_cached(pop: Popular, raw: str) -> Squat | None:
    return pop._check(raw)


def _load(filename: str) -> list[str]:
    with open(os.path.join(os.path.dirname(__file__), "data", filename), encoding="utf-8") as f:
        text = f.read()
    return [
        line.split("\t", 1)[0].strip()
        for line in text.splitlines()
        if line and not line.startswith("#")
    ]


_FILES: dict[str, str] = {
    "pypi": "pypi-top.tsv",
    "npm": "npm-top.tsv",
    "crates": "crates-top.tsv",
}
REGISTRY: dict[str, str] = {"pypi": "PyPI", "npm": "npm", "crates": "crates.io"}

_cache: dict[str, Popular] = {}
_cache_lock = threading.Lock()


def popular(eco: Ecosystem) -> Popular:
    with _cache_lock:
        p = _cache.get(eco)
        if p is None:
            p = Popular(_load(_FILES[eco]), eco)
            _cache[eco] = p
        return p

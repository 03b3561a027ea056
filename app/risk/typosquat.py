"""Package names that imitate popular ones: one or two edits away, swapped letters, separator and
prefix games (`python-dateutils`, `lodash-js`), and combosquats (`requests-utils`).

The popular lists ship with the package (PyPI's 15,000 most downloaded projects, npm packages
with more than 100,000 downloads a month). A name on the list is taken as itself; a name near
one it is not on is what a typosquatter registers.

One-edit look-alikes are found in the sorted list of popular names: a name one edit away from
`n` shares either the first half of `n` or everything after its middle letter, so two bisections
(in the names and in the reversed names) give the few candidates, checked with an exact
one-edit test. Two-edit ones come from a deletion index of depth two over the short list of top
names that rule covers (about 1,100 names, built on first need or by `warm`). Loading a list is a
few C-level passes over its text, so a one-shot `lockgate risk` pays milliseconds (a deletion
index of every popular name took 1.7 s to build, in every process).
"""

from __future__ import annotations

import os
import re
import threading
from bisect import bisect_left
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
    """`s` with up to `depth` letters deleted (comprehensions: twice as fast as loops)."""
    out = {s}
    frontier = {s}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def _one_apart(a: str, b: str) -> bool:
    """Whether `a` and `b` are exactly one insertion, deletion, substitution or swap of
    neighbours apart (optimal-string-alignment distance 1), by slicing at the first mismatch."""
    la, lb = len(a), len(b)
    if a == b or abs(la - lb) > 1:
        return False
    i = 0
    short = min(la, lb)
    while i < short and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True  # substitution
        return (
            i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
        )  # swap
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


_TOP = "\U0010ffff"  # sorts after every name: the end of a prefix range


class Popular:
    """A ranked list of popular names with fast near-miss lookup."""

    TOP_FOR_TWO_EDITS = 2000
    TWO_EDIT_LENGTHS = (7, 16)  # the lengths of the names the two-edit rule covers
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
        self._sorted: list[str] = []
        self._reversed: list[str] = []
        self._two: dict[str, tuple[str, ...]] | None = None

    def warm(self) -> None:
        """Prepare the lookups in the background so the first install check does not wait."""
        if self._flat is None or self._two is None:
            threading.Thread(target=self.prepare, name=f"typosquat-{self.eco}", daemon=True).start()

    def prepare(self) -> None:
        """Build every look-up now (the separator map, the sorted lists, the two-edit index)."""
        self._build()
        self._two_index()

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
            self._sorted = sorted(names)
            self._reversed = sorted(n[::-1] for n in names)
            self._flat = flat

    def _two_index(self) -> dict[str, tuple[str, ...]]:
        """Every variant with up to two letters deleted of the names the two-edit rule covers
        (the top names of 7 to 16 letters), each with the names that give it, in rank order.
        Made on first need (about 60 ms) or by `warm`."""
        with self._lock:
            if self._two is None:
                index: dict[str, list[str]] = {}
                for n in list(self.rank)[: self.TOP_FOR_TWO_EDITS]:
                    lo, hi = self.TWO_EDIT_LENGTHS
                    if self.rank[n] <= self.TOP_FOR_TWO_EDITS and lo <= len(n) <= hi:
                        for d in _deletes(n, 2):
                            index.setdefault(d, []).append(n)
                # tuples of strings: the collector stops tracking them (150,000 lists would
                # be walked by every full collection of the process)
                self._two = {d: tuple(ns) for d, ns in index.items()}
            return self._two

    def _one_edit(self, n: str) -> list[str]:
        """Popular names one insertion, deletion, substitution or swap of neighbours away,
        best rank first. One edit leaves either the first half of `n` (`n[:h]`) or everything
        after its middle letter (`n[h + 1:]`) in place, so the candidates are the names with
        that prefix or that suffix: two ranges of the sorted lists."""
        h = len(n) // 2
        head, tail = n[:h], n[h + 1 :][::-1]
        found: set[str] = set()
        names, rev = self._sorted, self._reversed
        for i in range(bisect_left(names, head), bisect_left(names, head + _TOP)):
            if _one_apart(n, names[i]):
                found.add(names[i])
        for i in range(bisect_left(rev, tail), bisect_left(rev, tail + _TOP)):
            cand = rev[i][::-1]
            if _one_apart(n, cand):
                found.add(cand)
        return sorted(found, key=self.rank.__getitem__)

    def _two_edits(self, n: str) -> str | None:
        """The best-ranked name of the two-edit list within two edits of `n` that shares a
        two-deletion variant with it (a look-up of `n`'s variants in the deletion index)."""
        if len(n) > self.TWO_EDIT_LENGTHS[1] + 2:
            return None  # longer than every name the rule covers by 3+: 3+ edits away
        index = self._two_index()
        cands: set[str] = set()
        for d in _deletes(n, 2):
            hit = index.get(d)
            if hit is not None:
                cands.update(hit)
        cands.discard(n)
        for cand in sorted(cands, key=self.rank.__getitem__):
            if _dl(n, cand, 2) <= 2:
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

"""Package names that imitate popular ones: one or two edits away, swapped letters, separator and
prefix games (`python-dateutils`, `lodash-js`), and combosquats (`requests-utils`).

The popular lists ship with the package (PyPI's 15,000 most downloaded projects, npm packages
with more than 100,000 downloads a month). A name on the list is taken as itself; a name near
one it is not on is what a typosquatter registers.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
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


def normalize(name: str, eco: Ecosystem) -> str:
    n = name.strip().lower()
    if eco == "pypi":
        n = re.sub(r"[-_.]+", "-", n)
    elif eco == "crates":
        n = n.replace("_", "-")  # crates.io treats `-` and `_` as the same name
    return n


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
    """A ranked list of popular names with fast near-miss lookup (deletion-neighbourhood index)."""

    TOP_FOR_TWO_EDITS = 2000
    TOP_FOR_AFFIXES = 8000
    TOP_FOR_COMBO = 1500

    def __init__(self, names: list[str], eco: Ecosystem) -> None:
        self.eco = eco
        self.rank: dict[str, int] = {}
        for i, n in enumerate(names):
            self.rank.setdefault(normalize(n, eco), i + 1)
        self._lock = threading.Lock()
        self._idx1: dict[str, str] | None = None
        self._idx2: dict[str, str] | None = None
        self._flat: dict[str, str] | None = None

    def warm(self) -> None:
        """Build the index in the background so the first install check does not stall."""
        if self._idx1 is None:
            threading.Thread(target=self._build, name=f"typosquat-{self.eco}", daemon=True).start()

    def __contains__(self, name: str) -> bool:
        return normalize(name, self.eco) in self.rank

    def _build(self) -> None:
        with self._lock:
            if self._idx1 is not None:
                return
            idx1: defaultdict[str, list[str]] = defaultdict(list)
            idx2: defaultdict[str, list[str]] = defaultdict(list)
            flat: dict[str, str] = {}
            for n, r in self.rank.items():
                if len(n) >= 4:
                    idx1[n].append(n)
                    for i in range(len(n)):
                        idx1[n[:i] + n[i + 1 :]].append(n)
                if r <= self.TOP_FOR_TWO_EDITS and 7 <= len(n) <= 16:
                    for d in _deletes(n, 2):
                        idx2[d].append(n)
                key = n.replace("-", "").replace("_", "").replace(".", "")
                if key not in flat or self.rank[flat[key]] > r:
                    flat[key] = n
            # Values joined into plain strings: a dict of str to str is not tracked by the garbage
            # collector, so a million index entries cost nothing at each collection.
            self._idx2 = {k: "\n".join(v) for k, v in idx2.items()}
            self._flat = flat
            self._idx1 = {k: "\n".join(v) for k, v in idx1.items()}

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
        assert self._idx1 is not None and self._idx2 is not None and self._flat is not None
        flat = re.sub(r"[-_.]", "", n)
        hit = self._flat.get(flat)
        if hit and hit != n:
            return Squat(raw, hit, f"differs from the popular '{hit}' only in separators", 75)
        if len(n) >= 4:
            best: tuple[int, str, str] | None = None
            for d in _deletes(n, 1):
                for cand in self._idx1.get(d, "").split("\n") if d in self._idx1 else ():
                    if cand == n or len(cand) < 4:
                        continue
                    dist = _dl(n, cand, 1)
                    if dist == 1 and (len(n) >= 5 or _how(n, cand).startswith("swaps")):
                        rk = self.rank[cand]
                        if best is None or rk < best[0]:
                            best = (rk, cand, _how(n, cand))
            if best is not None:
                return Squat(raw, best[1], best[2], 75)
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
            best = None
            for d in _deletes(n, 2):
                for cand in self._idx2.get(d, "").split("\n") if d in self._idx2 else ():
                    if cand == n:
                        continue
                    if _dl(n, cand, 2) <= 2:
                        rk = self.rank[cand]
                        if best is None or rk < best[0]:
                            best = (rk, cand, "is two edits away from")
            if best is not None:
                return Squat(raw, best[1], f"is two edits away from the popular '{best[1]}'", 65)
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
    text = resources.files("app.risk").joinpath("data", filename).read_text(encoding="utf-8")
    out: list[str] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        out.append(line.split("\t", 1)[0].strip())
    return out


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

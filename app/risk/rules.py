"""Policy rules: allow / ask / deny on command token sequences, on paths, on domains.

Rules match what an action *does* as the risk engine reads it (the parsed simple commands, the
paths they read and write, the hosts they contact), never the raw text, so quoting, `bash -c`
wrapping or `sudo` cannot slip past a rule. Every rule carries a justification, and may carry
examples (`match` / `not_match`) that are checked when the file is loaded, so a rule that does
not do what its author meant fails loudly instead of silently.

Rule file format (TOML; the same in the built-in file, the user config's `[policy]` section, a
`--policy FILE` and a project's `.lockgate.toml` `[policy]` section):

    allow_up_to = "low"          # auto-approve actions assessed at or below this level
    disable = ["default:name"]   # user layer only: switch off a built-in rule

    [[rule]]                     # in a config file's [policy] section: [[policy.rule]]
    name = "git-push"
    decision = "ask"             # allow | ask | deny
    command = ["git", "push", "*"]   # tokens; a final "*" = any further arguments,
                                     # "*" elsewhere = one argument, globs match one token
    # path = ["~/.ssh/id_*"]  access = "read" | "write" | "any"
    # domain = ["*.example.com"]     (matches example.com and its subdomains)
    # exact = [["git", "push"]]      (token-exact commands, as approve-always writes them)
    max_level = "medium"         # allow rules only: the ceiling they may approve up to
    justification = "publishing needs a human"
    match = ["git push origin main"]
    not_match = ["git pull"]
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from app.core.config import ConfigError
from app.core.model import DecisionKind, Level

Access = Literal["read", "write", "any"]
Source = Literal["default", "user", "project", "session"]

_RULE_KEYS = frozenset(
    {
        "name",
        "decision",
        "command",
        "path",
        "access",
        "domain",
        "exact",
        "max_level",
        "justification",
        "match",
        "not_match",
    }
)


class PolicyError(ConfigError):
    """A rule file that cannot be used; one line naming the file, the rule and the problem."""


@dataclass(frozen=True)
class Subject:
    """What a rule is matched against: the engine's reading of one action."""

    commands: tuple[tuple[str, ...], ...]  # every simple command, wrappers included
    leaves: tuple[tuple[str, ...], ...]  # the commands that actually run (wrappers peeled)
    canonical: tuple[tuple[str, ...], ...]  # leaves normalised for token-exact rules
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    hosts: tuple[str, ...]
    is_network: bool = False


@dataclass(frozen=True)
class Rule:
    name: str
    decision: DecisionKind
    justification: str
    source: Source
    command: tuple[str, ...] | None = None
    paths: tuple[str, ...] = ()
    access: Access = "any"
    domains: tuple[str, ...] = ()
    exact: tuple[tuple[tuple[str, ...], ...], ...] = ()
    max_level: Level = Level.MEDIUM
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    _path_res: tuple[re.Pattern[str], ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.source}:{self.name}"

    # ------------------------------------------------------------------ matching

    def matches_command(self, argv: tuple[str, ...]) -> bool:
        pat = self.command
        if pat is None or not argv:
            return False
        return tokens_match(pat, argv)

    @cached_property
    def _paths_rx(self) -> re.Pattern[str] | None:
        """The rule's path patterns as one regex (any of them matching from the start); None
        when their flags differ and they must be tried one by one."""
        if len({r.flags for r in self._path_res}) != 1:
            return None
        flags = self._path_res[0].flags
        return re.compile("|".join(f"(?:{r.pattern})" for r in self._path_res), flags)

    @cached_property
    def _first(self) -> str | None:
        """The rule's literal program name, to skip commands that cannot match cheaply."""
        if not self.command or any(ch in self.command[0] for ch in "*?["):
            return None
        return self.command[0]

    def matches(self, s: Subject) -> bool:
        """Any part of the action matches (used for ask and deny)."""
        pat = self.command
        if pat is not None:
            first = self._first
            for a in s.commands:
                if not a:
                    continue
                if (
                    first is not None
                    and a[0] != first
                    and ("/" not in a[0] or "/" in first or a[0].rsplit("/", 1)[-1] != first)
                ):
                    continue
                if tokens_match(pat, a):
                    return True
        if self.exact and s.canonical and s.canonical in self.exact:
            return True
        if self._path_res:
            pool: tuple[str, ...] = ()
            if self.access in ("read", "any"):
                pool += s.reads
            if self.access in ("write", "any"):
                pool += s.writes
            rx = self._paths_rx
            if rx is not None:
                if any(rx.match(p) for p in pool):
                    return True
            elif any(r.match(p) for r in self._path_res for p in pool):
                return True
        return bool(self.domains) and any(domain_match(d, h) for d in self.domains for h in s.hosts)

    def covers(self, argv: tuple[str, ...]) -> bool:
        """This allow rule vouches for one command (every command must be vouched for)."""
        return self.matches_command(argv)


def tokens_match(pattern: tuple[str, ...], argv: tuple[str, ...]) -> bool:
    if not pattern:
        return False
    tail_any = pattern[-1] == "*"
    fixed = pattern[:-1] if tail_any else pattern
    if len(argv) < len(fixed) or (not tail_any and len(argv) != len(fixed)):
        return False
    for i, (p, a) in enumerate(zip(fixed, argv, strict=False)):
        if p == "*":
            continue
        cand = a
        if i == 0 and "/" in a and "/" not in p:
            cand = a.rsplit("/", 1)[-1]
        if any(ch in p for ch in "*?["):
            if not fnmatch.fnmatchcase(cand, p):
                return False
        elif cand != p:
            return False
    return True


def domain_match(pattern: str, host: str) -> bool:
    p = pattern.lower().rstrip(".")
    h = host.lower().rstrip(".")
    if p.startswith("*."):
        base = p[2:]
        return h == base or h.endswith("." + base)
    if any(ch in p for ch in "*?["):
        return fnmatch.fnmatchcase(h, p)
    return h == p


def path_regex(pattern: str, workspace: str, home: str) -> re.Pattern[str]:
    """Glob → regex over absolute paths: `**` spans directories, `*` and `?` do not."""
    p = pattern.strip()
    if p.startswith("~"):
        p = home.rstrip("/") + p[1:]
    elif not p.startswith("/"):
        p = workspace.rstrip("/") + "/" + p
    out = []
    i = 0
    while i < len(p):
        ch = p[i]
        if p.startswith("**", i):
            out.append(".*")
            i += 2
            if i < len(p) and p[i] == "/":
                out.append("/?")
                i += 1
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$")


# --------------------------------------------------------------------------- parsing


def _level(value: Any, where: str) -> Level:
    try:
        return Level(str(value).lower())
    except ValueError:
        raise PolicyError(
            f"{where}: level must be one of safe, low, medium, high, critical (got {value!r})"
        ) from None


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: '{key}' must be a string or a list of strings")
    return tuple(value)


def parse_rule(
    raw: Any, *, where: str, source: Source, workspace: str, home: str, index: int
) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: rule #{index + 1} must be a table")
    name = raw.get("name", f"rule-{index + 1}")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError(f"{where}: rule #{index + 1}: 'name' must be a non-empty string")
    here = f"{where}: rule '{name}'"
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise PolicyError(f"{here}: unknown key(s) {', '.join(unknown)}")
    try:
        decision = DecisionKind(str(raw.get("decision", "")).lower())
    except ValueError:
        raise PolicyError(f"{here}: 'decision' must be allow, ask or deny") from None
    just = raw.get("justification")
    if not isinstance(just, str) or not just.strip():
        raise PolicyError(f"{here}: every rule needs a 'justification' saying why")
    command = None
    if "command" in raw:
        toks = _str_list(raw["command"], here, "command")
        if not toks or any(not t for t in toks):
            raise PolicyError(f"{here}: 'command' needs at least one non-empty token")
        if toks[0] == "*":
            raise PolicyError(f"{here}: 'command' must start with a program name, not '*'")
        command = toks
    paths = _str_list(raw["path"], here, "path") if "path" in raw else ()
    domains = _str_list(raw["domain"], here, "domain") if "domain" in raw else ()
    exact: tuple[tuple[tuple[str, ...], ...], ...] = ()
    if "exact" in raw:
        ex = raw["exact"]
        if not isinstance(ex, list) or not ex:
            raise PolicyError(f"{here}: 'exact' must be a list of commands (token lists)")
        cmds: list[tuple[str, ...]] = []
        for item in ex:
            if not isinstance(item, list) or not item or not all(isinstance(t, str) for t in item):
                raise PolicyError(f"{here}: each 'exact' command must be a list of strings")
            cmds.append(tuple(item))
        exact = (tuple(cmds),)
    kinds = sum(1 for k in (command, paths, domains, exact) if k)
    if kinds != 1:
        raise PolicyError(f"{here}: give exactly one of 'command', 'path', 'domain' or 'exact'")
    access = raw.get("access", "any")
    if access not in ("read", "write", "any"):
        raise PolicyError(f"{here}: 'access' must be read, write or any")
    max_level = _level(raw.get("max_level", "medium"), here)
    if max_level == Level.CRITICAL:
        raise PolicyError(f"{here}: no rule may auto-approve critical actions (max_level)")
    if "max_level" in raw and decision != DecisionKind.ALLOW:
        raise PolicyError(f"{here}: 'max_level' only applies to allow rules")
    if decision == DecisionKind.ALLOW and paths:
        raise PolicyError(
            f"{here}: path rules may only ask or deny (allowing by path would "
            "approve whatever program touches it)"
        )
    examples = _str_list(raw.get("match", []), here, "match")
    counter = _str_list(raw.get("not_match", []), here, "not_match")
    return Rule(
        name=name.strip(),
        decision=decision,
        justification=just.strip(),
        source=source,
        command=command,
        paths=paths,
        access=access,
        domains=tuple(d.strip().lower() for d in domains),
        exact=exact,
        max_level=max_level,
        examples=examples,
        counter_examples=counter,
        _path_res=tuple(path_regex(p, workspace, home) for p in paths),
    )


def check_examples(rules: Sequence[Rule], subject_of: Callable[[str], Subject], where: str) -> None:
    """Every `match` example must match its rule and no `not_match` example may."""
    for r in rules:
        for ex in r.examples:
            if not _example_hits(r, ex, subject_of):
                raise PolicyError(f"{where}: rule '{r.name}': example {ex!r} does not match it")
        for ex in r.counter_examples:
            if _example_hits(r, ex, subject_of):
                raise PolicyError(
                    f"{where}: rule '{r.name}': {ex!r} matches it but is listed under not_match"
                )


def _example_hits(r: Rule, example: str, subject_of: Callable[[str], Subject]) -> bool:
    if r.domains:
        return any(domain_match(d, example.strip()) for d in r.domains)
    return r.matches(subject_of(example))

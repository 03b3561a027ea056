"""Allow / ask / deny for each assessed action, from layered rules.

Layers, weakest first: the built-in defaults (`default_policy.toml` beside this file), the
user's own config (`[policy]` in the user config file, or a file given with `--policy`), and the
project's `.lockgate.toml`, which may only tighten — a repository you cloned must not be able to
switch review off, so its allow rules are ignored with a warning and it may only lower
`allow_up_to`. Then the reviewer's own verdicts: approve-for-session (kept in memory) and
approve-always (written to the user config), both token-exact on the parsed command.

How one action is decided:
1. any deny rule that matches → deny;
2. critical → ask, always (no rule can approve it);
3. the reviewer approved this exact command (session / always) and it is not riskier now than
   when approved → allow;
4. any ask rule that matches → ask;
5. every command is vouched for by allow rules and the level is within their ceilings → allow;
6. the level is within `allow_up_to` → allow; otherwise ask.
A network request (a sandboxed program asking for an unlisted host) is asked unless a domain
rule allows it. Headless: every ask becomes a deny with the reason.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from app.core.config import (
    PROJECT_CONFIG_NAME,
    ConfigError,
    UserConfig,
    load_user_config,
    read_toml,
    update_user_config,
)
from app.core.model import (
    Action,
    Assessment,
    CommandAction,
    Decision,
    DecisionKind,
    Level,
    NetworkAction,
    PatchAction,
    Verdict,
    VerdictKind,
)
from app.core.ports import SessionContext
from app.risk.engine import RiskEngine
from app.risk.paths import home_dir
from app.risk.rules import PolicyError, Rule, Source, Subject, check_examples, parse_rule
from app.risk.shell import SHELLS, Script, parse


def _warn(message: str) -> None:
    import logging  # only for a built-in rule surprised by this machine: rare, ~3 ms to load

    logging.getLogger(__name__).warning("%s", message)


_STRICTNESS = {DecisionKind.ALLOW: 0, DecisionKind.ASK: 1, DecisionKind.DENY: 2}

# Tools whose short options never take a value: their flag order and clustering mean nothing.
_BOOLEAN_FLAG_TOOLS = frozenset(
    {
        "ls",
        "rm",
        "cp",
        "mv",
        "mkdir",
        "rmdir",
        "du",
        "df",
        "wc",
        "cat",
        "touch",
        "ln",
        "pwd",
        "uniq",
        "tree",
        "file",
        "stat",
    }
)


@dataclass
class Layer:
    source: Source
    where: str
    rules: list[Rule] = field(default_factory=list)
    allow_up_to: Level | None = None
    disable: tuple[str, ...] = ()


def canonical(text: str | Script) -> tuple[tuple[str, ...], ...]:
    """The command as a session rule remembers it: the commands that run, each as tokens.

    Quoting is gone (tokens are values), `bash -lc '…'` / `sh -c` wrappers are peeled, and for
    tools whose flags never take values, clusters are split and sorted (`ls -la` = `ls -al`).
    """
    script = parse(text) if isinstance(text, str) else text
    out: list[tuple[str, ...]] = []
    for c in script.commands:
        if c.wrapper_of is not None:
            continue
        if c.keyword in ("test",):
            continue
        if c.keyword in ("assign", "declare"):
            out.append(
                tuple(f"{n}={w.best}" for n, w in c.assigns)
                if c.keyword == "assign"
                else tuple(w.best for w in c.argv)
            )
            continue
        if not c.argv:
            continue
        name = c.name or ""
        if name in SHELLS and any(
            (w.value or "").startswith("-")
            and "c" in (w.value or "")[1:]
            and not (w.value or "").startswith("--")
            for w in c.args
        ):
            continue
        wrappers = tuple(w for w in c.wrappers if w not in SHELLS)
        toks = [w.value if w.value is not None else "\x00" + w.text for w in c.argv]
        if name in _BOOLEAN_FLAG_TOOLS:
            opts: list[str] = []
            rest: list[str] = []
            for t in toks[1:]:
                if t.startswith("-") and not t.startswith("--") and len(t) > 1 and t[1:].isalpha():
                    opts.extend("-" + ch for ch in t[1:])
                elif t.startswith("--") and len(t) > 2:
                    opts.append(t)
                else:
                    rest.append(t)
            toks = [toks[0], *sorted(set(opts)), *rest]
        assigns = tuple(f"{n}={w.best}" for n, w in c.assigns)
        out.append((*wrappers, *assigns, *toks))
    return tuple(out)


class _RuleIndex:
    """What the rules of one decision kind could match, to skip the rule-by-rule loop when no
    rule can (exactly: `could_match` is never False for an action a rule matches). Rules are
    only ever appended, so the index is rebuilt when the list's identity or length changes."""

    def __init__(self, rules: list[Rule], kind: DecisionKind) -> None:
        mine = [r for r in rules if r.decision == kind]
        self.firsts: set[str] = set()
        globs: list[str] = []  # command patterns whose program is a glob (`mkfs*`)
        for r in mine:
            if r.command:
                first = r._first
                if first is None:
                    globs.append(fnmatch.translate(r.command[0]))
                else:
                    self.firsts.add(first)
        self.first_globs = re.compile("|".join(globs)) if globs else None
        self.exact = any(r.exact for r in mine)
        self.domains = any(r.domains for r in mine)
        self.read_rx, self.read_all = self._paths([r for r in mine if r.access in ("read", "any")])
        self.write_rx, self.write_all = self._paths(
            [r for r in mine if r.access in ("write", "any")]
        )

    @staticmethod
    def _paths(rules: list[Rule]) -> tuple[re.Pattern[str] | None, bool]:
        """One regex of every path pattern (None: no patterns); True when their flags differ
        and any path could match."""
        pats = [rx for r in rules for rx in r._path_res]
        if not pats:
            return None, False
        if len({rx.flags for rx in pats}) != 1:
            return None, True
        return re.compile("|".join(f"(?:{rx.pattern})" for rx in pats), pats[0].flags), False

    def could_match(self, s: Subject) -> bool:
        if self.firsts or self.first_globs is not None:
            firsts, globs = self.firsts, self.first_globs
            for a in s.commands:
                if not a:
                    continue
                prog = a[0]
                base = prog.rsplit("/", 1)[-1] if "/" in prog else prog
                if prog in firsts or base in firsts:
                    return True
                if globs is not None and (globs.match(prog) or globs.match(base)):
                    return True
        if self.exact and s.canonical:
            return True
        if self.domains and s.hosts:
            return True
        if s.reads and (self.read_all or (self.read_rx and any(map(self.read_rx.match, s.reads)))):
            return True
        return bool(
            s.writes
            and (self.write_all or (self.write_rx and any(map(self.write_rx.match, s.writes))))
        )


class Policy:
    """Implements `app.core.ports.PolicyEngine`."""

    def __init__(
        self,
        layers: list[Layer],
        *,
        workspace: Path,
        engine: RiskEngine,
        headless: bool = False,
        user_config_path: Path | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.layers = layers
        self.workspace = workspace
        self.engine = engine
        self.headless = headless
        self.user_config_path = user_config_path
        self.warnings = warnings
        disabled = {d for layer in layers if layer.source == "user" for d in layer.disable}
        self.rules: list[Rule] = [
            r for layer in layers for r in layer.rules if r.qualified not in disabled
        ]
        ceiling = Level.LOW
        for layer in layers:
            if layer.allow_up_to is None:
                continue
            if layer.source == "project":
                ceiling = min(ceiling, layer.allow_up_to)
            else:
                ceiling = layer.allow_up_to
        self.allow_up_to = min(ceiling, Level.HIGH)
        self._session_cmds: dict[tuple[tuple[str, ...], ...], Level] = {}
        self._session_hosts: dict[str, Level] = {}
        self._levels: OrderedDict[str, Level] = OrderedDict()  # last level decided, per action
        self._lock = threading.Lock()
        self._index: tuple[tuple[int, int], _RuleIndex, _RuleIndex, list[Rule]] | None = None
        self._ctx = SessionContext(workspace=workspace)
        self.persist_errors: list[str] = []

    # ------------------------------------------------------------------ subject

    def subject(self, action: Action) -> Subject:
        if isinstance(action, NetworkAction):
            return Subject((), (), (), (), (), (action.host.lower().rstrip("."),), is_network=True)
        analysis = self.engine.analyze(action, self._ctx, just_assessed=True)
        facts = analysis.facts
        if isinstance(action, CommandAction):
            script = analysis.script if analysis.script is not None else parse(action.command)
            ran: list[tuple[str, ...]] = []
            peeled: list[tuple[str, ...]] = []
            for c in script.commands:
                if c.argv and not c.keyword:
                    argv = tuple(w.best for w in c.argv)
                    ran.append(argv)
                    if c.wrapper_of is None:
                        peeled.append(argv)
            allc = tuple(ran)
            merged = tuple(dict.fromkeys((*allc, *facts.commands)))
            leaves = tuple(dict.fromkeys((*peeled, *(c for c in facts.commands if c not in allc))))
            return Subject(
                merged,
                leaves,
                canonical(script),
                tuple(facts.reads),
                tuple(facts.writes),
                tuple(facts.hosts),
            )
        return Subject(
            tuple(facts.commands),
            tuple(facts.commands),
            (),
            tuple(facts.reads),
            tuple(facts.writes),
            tuple(facts.hosts),
        )

    # ------------------------------------------------------------------ decide

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        try:
            d = self._decide(action, assessment)
        except Exception as exc:  # a bug must never auto-approve: ask, and say why
            d = Decision(
                DecisionKind.ASK,
                "risk:policy-error",
                f"the policy could not decide ({type(exc).__name__}); review it by hand",
                source="risk",
            )
        with self._lock:
            self._levels[action.id] = assessment.level
            while len(self._levels) > 10_000:
                self._levels.popitem(last=False)
        if self.headless and d.kind == DecisionKind.ASK:
            return Decision(
                DecisionKind.DENY,
                f"headless:{d.rule}",
                f"no reviewer (headless); would ask: {d.reason}",
                source="headless",
            )
        return d

    def _indexes(self) -> tuple[_RuleIndex, _RuleIndex, list[Rule]]:
        """The deny and ask rule indexes and the allow rules with a command pattern."""
        key = (id(self.rules), len(self.rules))
        got = self._index
        if got is None or got[0] != key:
            rules = list(self.rules)
            got = (
                key,
                _RuleIndex(rules, DecisionKind.DENY),
                _RuleIndex(rules, DecisionKind.ASK),
                [r for r in rules if r.decision == DecisionKind.ALLOW and r.command],
            )
            self._index = got
        return got[1], got[2], got[3]

    def _decide(self, action: Action, a: Assessment) -> Decision:
        s = self.subject(action)
        level = a.level
        top = a.reasons[0] if a.reasons else ""
        deny_index, ask_index, allow_rules = self._indexes()
        if deny_index.could_match(s):
            for r in self.rules:
                if r.decision == DecisionKind.DENY and r.matches(s):
                    return Decision(
                        DecisionKind.DENY, r.qualified, r.justification, source=r.source
                    )
        if level == Level.CRITICAL:
            # the rule already says "critical" ("ask by risk:critical: <reason>")
            return Decision(DecisionKind.ASK, "risk:critical", top or "critical", source="risk")
        with self._lock:
            if s.is_network:
                approved = self._session_hosts.get(s.hosts[0]) if s.hosts else None
            else:
                approved = self._session_cmds.get(s.canonical) if s.canonical else None
        if approved is not None and level <= approved:
            return Decision(
                DecisionKind.ALLOW,
                "session:approved",
                "approved earlier in this session",
                source="session",
            )
        for r in self.rules:
            if (
                r.decision == DecisionKind.ALLOW
                and r.exact
                and s.canonical in r.exact
                and level <= r.max_level
            ):
                return Decision(DecisionKind.ALLOW, r.qualified, r.justification, source=r.source)
        if ask_index.could_match(s):
            for r in self.rules:
                if r.decision == DecisionKind.ASK and r.matches(s):
                    return Decision(DecisionKind.ASK, r.qualified, r.justification, source=r.source)
        if s.is_network:
            for r in self.rules:
                if (
                    r.decision == DecisionKind.ALLOW
                    and r.domains
                    and r.matches(s)
                    and level <= r.max_level
                ):
                    return Decision(
                        DecisionKind.ALLOW, r.qualified, r.justification, source=r.source
                    )
            return Decision(
                DecisionKind.ASK,
                "default:network-ask",
                f"asks to reach {s.hosts[0] if s.hosts else 'a host'}",
                source="default",
            )
        if s.leaves and allow_rules:
            vouching: list[Rule] = []
            for argv in s.leaves:
                hit = next((r for r in allow_rules if r.covers(argv)), None)
                if hit is None:
                    vouching = []
                    break
                vouching.append(hit)
            if vouching and level <= min(r.max_level for r in vouching):
                first = vouching[0]
                return Decision(
                    DecisionKind.ALLOW, first.qualified, first.justification, source=first.source
                )
        if level <= self.allow_up_to:
            return Decision(
                DecisionKind.ALLOW,
                f"default:up-to-{self.allow_up_to.value}",
                f"assessed {level.value}",
                source="default",
            )
        return Decision(DecisionKind.ASK, f"risk:{level.value}", top or level.value, source="risk")

    # ------------------------------------------------------------------ remember

    def remember(self, action: Action, verdict: Verdict) -> None:
        if verdict.kind not in (VerdictKind.APPROVE_SESSION, VerdictKind.APPROVE_ALWAYS):
            return
        if isinstance(action, PatchAction):
            return
        with self._lock:
            level = self._levels.get(action.id)
        if level is None:
            level = self.engine.assess(action, self._ctx).level
        if level == Level.CRITICAL:
            return  # never remembered: critical is asked every time
        if isinstance(action, NetworkAction):
            host = action.host.lower().rstrip(".")
            with self._lock:
                self._session_hosts[host] = max(level, self._session_hosts.get(host, Level.SAFE))
            if verdict.kind == VerdictKind.APPROVE_ALWAYS:
                self._persist(
                    {
                        "name": f"always-{host}",
                        "decision": "allow",
                        "domain": [host],
                        "max_level": level.value,
                        "justification": f"approved always by the reviewer "
                        f"({time.strftime('%Y-%m-%d')})",
                    }
                )
            return
        text = verdict.edited if verdict.edited is not None else action.command
        key = canonical(text)
        if not key:
            return
        with self._lock:
            self._session_cmds[key] = max(level, self._session_cmds.get(key, Level.SAFE))
        if verdict.kind == VerdictKind.APPROVE_ALWAYS:
            import hashlib  # only here (OpenSSL's, ~2.5 ms of a one-shot start otherwise)

            digest = hashlib.sha256(repr(key).encode()).hexdigest()[:10]
            self._persist(
                {
                    "name": f"always-{digest}",
                    "decision": "allow",
                    "exact": [list(c) for c in key],
                    "max_level": level.value,
                    "justification": f"approved always by the reviewer "
                    f"({time.strftime('%Y-%m-%d')}): {text[:80]}",
                }
            )

    def _persist(self, rule: dict[str, Any]) -> None:
        """Write an approve-always rule to the user config. A config that cannot be written
        must not break the review session: the approval still holds for this session, and the
        failure is kept in `persist_errors` for the console to show."""
        try:
            self._persist_now(rule)
        except (ConfigError, OSError) as exc:
            self.persist_errors.append(f"could not save the rule: {exc}")

    def _persist_now(self, rule: dict[str, Any]) -> None:
        cfg = load_user_config(self.user_config_path)
        section = cfg.section("policy")
        existing = section.get("rule", [])
        if not isinstance(existing, list):
            raise PolicyError(f"{cfg.path}: [policy] rule must be a list of tables")
        already = any(
            isinstance(r, dict)
            and r.get("exact") == rule.get("exact")
            and r.get("domain") == rule.get("domain")
            for r in existing
        )
        if not already:
            existing = [*existing, rule]
        update_user_config("policy", {"rule": existing}, self.user_config_path)
        parsed = parse_rule(
            rule,
            where=str(cfg.path),
            source="user",
            workspace=str(self.workspace),
            home=home_dir(),
            index=len(existing),
        )
        with self._lock:
            self.rules.append(parsed)


# --------------------------------------------------------------------------- loading


def _layer(
    data: dict[str, Any], *, source: Source, where: str, workspace: str, warnings: list[str]
) -> Layer:
    layer = Layer(source=source, where=where)
    known = {"allow_up_to", "disable", "rule", "headless"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise PolicyError(f"{where}: unknown policy key(s) {', '.join(unknown)}")
    if "allow_up_to" in data:
        lvl = data["allow_up_to"]
        try:
            level = Level(str(lvl).lower())
        except ValueError:
            raise PolicyError(f"{where}: allow_up_to must be safe, low, medium or high") from None
        if level == Level.CRITICAL:
            raise PolicyError(f"{where}: allow_up_to cannot be critical (critical is always asked)")
        layer.allow_up_to = level
    if "disable" in data:
        dis = data["disable"]
        if not isinstance(dis, list) or not all(isinstance(x, str) for x in dis):
            raise PolicyError(f"{where}: disable must be a list of rule names")
        if source == "project":
            warnings.append(f"{where}: 'disable' ignored — a project file may only tighten")
        else:
            layer.disable = tuple(x if ":" in x else f"default:{x}" for x in dis)
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise PolicyError(f"{where}: 'rule' must be an array of tables ([[rule]])")
    home = home_dir()
    for i, raw in enumerate(raw_rules):
        rule = parse_rule(raw, where=where, source=source, workspace=workspace, home=home, index=i)
        if source == "project" and rule.decision == DecisionKind.ALLOW:
            warnings.append(
                f"{where}: rule '{rule.name}' ignored — a project file may only add "
                "ask or deny rules"
            )
            continue
        layer.rules.append(rule)
    return layer


def _policy_table(data: dict[str, Any], where: str) -> dict[str, Any]:
    if "policy" in data:
        table = data["policy"]
        if not isinstance(table, dict):
            raise PolicyError(f"{where}: [policy] must be a table")
        return table
    return {k: v for k, v in data.items() if k in ("allow_up_to", "disable", "rule")}


def builtin_policy_text() -> str:
    return resources.files("app.risk").joinpath("default_policy.toml").read_text("utf-8")


def load_policy(
    workspace: Path,
    *,
    user_config: UserConfig | None = None,
    policy_file: Path | None = None,
    headless: bool = False,
    engine: RiskEngine | None = None,
    check: bool = True,
) -> Policy:
    """Build the layered policy for a workspace. Raises PolicyError (one line) on a bad file."""
    import tomllib

    ws = Path(workspace).resolve()
    warnings: list[str] = []
    eng = engine or RiskEngine(warm=False)
    layers: list[Layer] = []
    try:
        builtin = tomllib.loads(builtin_policy_text())
    except tomllib.TOMLDecodeError as exc:  # shipped file: a bug, but say so plainly
        raise PolicyError(f"built-in policy: not valid TOML: {exc}") from exc
    layers.append(
        _layer(
            builtin, source="default", where="built-in policy", workspace=str(ws), warnings=warnings
        )
    )
    try:
        cfg = user_config if user_config is not None else load_user_config()
        user_table = cfg.section("policy")
    except PolicyError:
        raise
    except ConfigError as exc:
        raise PolicyError(str(exc)) from exc
    layers.append(
        _layer(user_table, source="user", where=str(cfg.path), workspace=str(ws), warnings=warnings)
    )
    if policy_file is not None:
        try:
            data = read_toml(policy_file)
        except ConfigError as exc:
            raise PolicyError(str(exc)) from exc
        if not policy_file.exists():
            raise PolicyError(f"{policy_file}: no such policy file")
        layers.append(
            _layer(
                _policy_table(data, str(policy_file)),
                source="user",
                where=str(policy_file),
                workspace=str(ws),
                warnings=warnings,
            )
        )
    project = ws / PROJECT_CONFIG_NAME
    if project.is_file():
        try:
            pdata = read_toml(project)
        except ConfigError as exc:
            raise PolicyError(str(exc)) from exc
        table = pdata.get("policy", {})
        if not isinstance(table, dict):
            raise PolicyError(f"{project}: [policy] must be a table")
        layers.append(
            _layer(
                table, source="project", where=str(project), workspace=str(ws), warnings=warnings
            )
        )
    pol = Policy(
        layers,
        workspace=ws,
        engine=eng,
        headless=headless,
        user_config_path=cfg.path,
        warnings=tuple(warnings),
    )
    if check:

        def subject(text: str) -> Subject:
            return pol.subject(CommandAction(text, "example"))

        for layer in layers:
            if layer.source != "default":
                check_examples(layer.rules, subject, layer.where)
                continue
            # The built-in rules' examples are the tests' job (test_builtin_policy_examples): a
            # surprise on this machine (an odd HOME) is logged and the rule stays in force.
            for rule in layer.rules:
                try:
                    check_examples((rule,), subject, layer.where)
                except PolicyError as exc:
                    _warn(str(exc))
                    pol.warnings = (*pol.warnings, str(exc))
    return pol

"""One shell action, read command by command: where it runs (cd), what each command touches, and
how data flows between commands (pipes, substitutions, variables) — then findings.

Two passes: the first gives every simple command its own findings and records what it is (a
download, a decoder, a reader of secrets, a network sender, a shell reading code on stdin); the
second connects those through the pipes, so `curl … | sh` and `cat ~/.aws/credentials | nc …`
are judged as what they do together.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.model import Category, Finding, Span
from app.risk.netutil import Target
from app.risk.paths import PathInfo, resolve
from app.risk.shell import Script, SimpleCommand, parse

MAX_FRAGMENT_DEPTH = 4

# What runs the analysis of a parsed action: `app.risk.commands.dispatch.analyze`. It is handed
# in (not imported) so this module stays below the command families that use it.
Driver = Callable[["Analyzer"], None]


def short(text: str, limit: int = 60) -> str:
    """Quote text for a reason without letting a long payload swamp the sentence."""
    t = " ".join(text.split())
    t = "".join(ch if ch.isprintable() else "\ufffd" for ch in t)
    return t if len(t) <= limit else t[: limit - 1] + "…"


@dataclass
class CmdInfo:
    """What one simple command is, for the data-flow pass."""

    secrets: list[str] = field(default_factory=list)  # displays of secrets it reads
    env_dump: bool = False
    download: Target | None = None  # fetches from the network to stdout
    download_files: list[str] = field(default_factory=list)
    decoder: bool = False
    sender: Target | None = None  # sends its stdin to the network
    sender_label: str = ""
    stdin_code: str = ""  # a shell / interpreter reading its program from stdin
    network: bool = False
    reads_data: bool = False  # produces file contents (cat, tar, git log -p, …)
    seen: set[Span] = field(default_factory=set)  # argument spans a rule already judged


@dataclass
class Facts:
    """What an action touches, for policy rules and for the batch (cross-action) check."""

    reads_secrets: list[str] = field(default_factory=list)
    sends_data: list[str] = field(default_factory=list)  # hosts data is sent to
    hosts: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # absolute paths
    writes: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # absolute paths of programs/scripts run
    commands: list[tuple[str, ...]] = field(default_factory=list)  # argv of each command run
    # The verdict read the live file system (git's account of a deletion): not to be cached.
    volatile: bool = False

    def merge(self, other: Facts) -> None:
        for name in (
            "reads_secrets",
            "sends_data",
            "hosts",
            "reads",
            "writes",
            "downloads",
            "runs",
            "commands",
        ):
            mine = getattr(self, name)
            for item in getattr(other, name):
                if item not in mine:
                    mine.append(item)
        self.volatile = self.volatile or other.volatile


class Analyzer:
    def __init__(
        self,
        text: str,
        *,
        workspace: str,
        home: str,
        network: str = "off",
        cwd: str | None = None,
        depth: int = 0,
        script: Script | None = None,
        allowed: tuple[str, ...] = (),
        driver: Driver,
    ) -> None:
        self.text = text
        self.driver = driver
        self.workspace = workspace
        self.home = home
        self.network = network
        self.allowed = allowed  # the session's own network allow-list
        self.start_cwd = cwd if cwd is not None else workspace
        self.depth = depth
        self.script = script if script is not None else parse(text)
        self.findings: list[Finding] = []
        self.facts = Facts()
        self.info: dict[int, CmdInfo] = {}
        self.cwds: dict[int, str | None] = {}
        self.climbed: set[int] = set()  # commands whose cwd was reached by `cd ..` out of it
        # files this action writes with literal content (heredocs, echo): path -> (text, offset
        # of text in the reviewed text when exact, span to point at)
        self.written: dict[str, tuple[str, int | None, Span]] = {}
        self.decoded: set[str] = set()  # files this action filled with decoded (hidden) text
        self.functions = {name for name, _span, _body in self.script.functions}
        self.git_remotes: dict[str, str] = {}  # remotes this action adds: name -> URL
        self.aliases: dict[str, str] = {}  # aliases this action defines: name -> body

    # ------------------------------------------------------------------ recording

    def add(self, category: Category, score: int, reason: str, *spans: Span) -> None:
        clean = tuple(s for s in spans if s[1] > s[0])
        self.findings.append(Finding(category, max(0, min(100, score)), reason, clean))

    def ci(self, c: SimpleCommand) -> CmdInfo:
        info = self.info.get(c.index)
        if info is None:
            info = CmdInfo()
            self.info[c.index] = info
        return info

    def path(self, c: SimpleCommand, raw: str) -> PathInfo:
        return resolve(
            raw,
            self.cwds.get(c.index, self.start_cwd),
            self.workspace,
            self.home,
            c.index in self.climbed,
        )

    # ------------------------------------------------------------------ run

    def run(self) -> None:
        self._track_cwd()
        self.driver(self)

    def _track_cwd(self) -> None:
        by_scope: dict[tuple[int, ...], tuple[str | None, bool]] = {(): (self.start_cwd, False)}

        def lookup(scope: tuple[int, ...]) -> tuple[str | None, bool]:
            for k in range(len(scope), -1, -1):
                if scope[:k] in by_scope:
                    return by_scope[scope[:k]]
            return self.start_cwd, False

        cdpath = ""
        for c in self.script.commands:
            cur, climbed = lookup(c.scope)
            self.cwds[c.index] = cur
            if climbed:
                self.climbed.add(c.index)
            name = c.name
            own_cdpath = cdpath
            for var, w in c.assigns:
                if var == "CDPATH":
                    value = w.best.split("=", 1)[1] if w.best.startswith("CDPATH=") else w.best
                    if c.keyword:
                        cdpath = value  # `CDPATH=…;` / `export CDPATH=…` for what follows
                    own_cdpath = value
            if c.keyword or name not in ("cd", "pushd", "popd", "chdir"):
                continue
            args = [w for w in c.args if not (w.value or "").startswith("-") or w.value == "-"]
            climbs = False
            if name == "popd":
                new: str | None = None
            elif not args:
                new = self.home
            elif args[0].value is None or args[0].value == "-":
                new = None
            else:
                target = args[0].value
                base = self._cdpath_base(own_cdpath, target)
                if base is not None:
                    # bash looks the directory up in CDPATH first (`CDPATH=$HOME cd .ssh`).
                    cur, climbed = base, False
                info = resolve(target, cur, self.workspace, self.home, climbed)
                new = info.abs
                relative = not target.startswith(("/", "~"))
                climbs = relative and (climbed or ".." in target.split("/")) and not info.inside
            by_scope[c.scope] = (new, climbs)

    def _cdpath_base(self, cdpath: str, target: str) -> str | None:
        """The CDPATH entry bash would take for `cd target` (the first where it exists, else
        the first entry: an unknown that is never the workspace by default)."""
        if not cdpath or target.startswith(("/", "./", "../", "~")) or target in (".", ".."):
            return None
        entries = []
        for e in cdpath.split(":"):
            e = e or "."
            if e.startswith("~"):
                e = self.home + e[1:]
            elif e == "$HOME":
                e = self.home
            if e.startswith("/"):
                entries.append(e)
        if not entries:
            return None
        for e in entries:
            if os.path.isdir(os.path.join(e, target)):
                return e
        return entries[0]

    # ------------------------------------------------------------------ fragments

    def fragment(
        self,
        code: str,
        exact: int | None,
        fallback: Span,
        c: SimpleCommand,
        *,
        prefix: str = "",
    ) -> Analyzer | None:
        """Analyse code found inside this action (a heredoc fed to bash, `os.system('…')`) and
        merge its findings with spans mapped back into the reviewed text."""
        if self.depth >= MAX_FRAGMENT_DEPTH:
            self.add(
                Category.OBFUSCATION, 60, "code nested this deeply cannot be reviewed", fallback
            )
            return None
        sub = Analyzer(
            code,
            workspace=self.workspace,
            home=self.home,
            network=self.network,
            allowed=self.allowed,
            cwd=self.cwds.get(c.index, self.start_cwd),
            depth=self.depth + 1,
            driver=self.driver,
        )
        sub.run()
        for f in sub.findings:
            spans = tuple(
                (exact + s, exact + e) if exact is not None else fallback for s, e in f.spans
            ) or (fallback,)
            reason = f"{prefix}{f.reason}" if prefix else f.reason
            self.findings.append(Finding(f.category, f.score, reason, spans))
        self.facts.merge(sub.facts)
        return sub

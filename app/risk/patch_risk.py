"""What a patch would do once applied: where it writes, which of those files run on their own
(git hooks, editor tasks, CI, install hooks), what the added lines contain (secrets, network
calls, obfuscated code, new dependencies), and how much it deletes.

The patch is parsed by the patch engine (`app.patch.parse_patch`), the same parser that applies
it, so the risk read and the applied change cannot disagree about which files are touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.model import Category as K
from app.core.model import Finding, Span
from app.patch import FileChange, PatchError, parse_patch
from app.risk.analysis import Analyzer, Facts, short
from app.risk.commands.dispatch import analyze as analyze_all
from app.risk.commands.inline import (
    ENV_NAME_RE,
    HOME_CODE_RE,
    HOME_SECRET_RE,
    SECRET_NAME_RE,
    analyze_code,
)
from app.risk.netutil import parse_target
from app.risk.paths import PathInfo, resolve
from app.risk.shell import Script, SimpleCommand, Word
from app.risk.tokens import SECRET_PATTERNS as _SECRET_PATTERNS
from app.risk.typosquat import REGISTRY, Ecosystem, popular

# Calls that start programs, in the languages agents usually edit.
_RUNS_COMMANDS = re.compile(
    r"child_process|\bexecSync\b|\bexec(?:File)?\s*\(|\bspawn(?:Sync)?\s*\(|subprocess|"
    r"os\.system|os\.popen|Command::new|exec\.Command|Runtime\.getRuntime|ProcessBuilder|"
    r"\bsystem\s*\(|\bpopen\s*\(|shell_exec|Process\.Start"
)
# A string literal that reads as a shell command line: a known program, then arguments.
_SHELLISH_LITERAL = re.compile(
    r"(['\"`])(?P<cmd>(?:curl|wget|rm|nc|ncat|bash|sh|zsh|chmod|chown|dd|mkfs\S*|sudo|eval|"
    r"base64|python3?|node|perl|scp|rsync|ssh|crontab|git|tar|cat)\s[^'\"`\n]*?)(?<!\\)\1"
)

_NET_CODE = re.compile(
    r"urlopen|urlretrieve|requests\.(get|post|put|patch|delete|request)|httpx\.|http\.client|"
    r"\bfetch\s*\(|axios|XMLHttpRequest|http\.request|https\.request|net\.connect|"
    r"socket\.(socket|connect|create_connection)|\.connect\(\(|net\.Dial|http\.(Get|Post)|"
    r"HttpClient|WebClient|Invoke-WebRequest|\bcurl\b|\bwget\b|smtplib|ftplib|paramiko|"
    r"new\s+WebSocket|aiohttp|urllib3"
)
_PATHISH = re.compile(r"(?<![\w.])(?:~|\$\{?HOME\}?|/)[\w./${}-]*[\w-]|(?<![\w.])\.env\b")
_SENDS = re.compile(
    r"data\s*=|json\s*=|files\s*=|\.post\(|\.put\(|method\s*:\s*['\"](POST|PUT)"
    r"|body\s*:|http\.Post|send\(|sendall\(|urlopen\([^)]*,"
)
_OBFUSCATED = re.compile(
    r"(exec|eval|Function)\s*\([^\n]{0,300}?(b64decode|atob|base64|fromhex|decompress|"
    r"fromCharCode|unhexlify|rot13)",
    re.I,
)
_LONG_BLOB = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")
_CODE_EXT = re.compile(
    r"\.(py|pyw|js|mjs|cjs|ts|tsx|jsx|rb|go|rs|java|kt|php|pl|sh|bash|zsh|ps1|"
    r"lua|swift|cs|c|cc|cpp|h|hpp|scala|ex|exs|r|jl|vue|svelte)$",
    re.I,
)
_SHELL_EXT = re.compile(r"\.(sh|bash|zsh|ksh|command)$|(^|/)(Makefile|Dockerfile|Containerfile)$")
_MANIFESTS = re.compile(
    r"(^|/)(requirements[^/]*\.(txt|in)|constraints[^/]*\.txt|pyproject\.toml|"
    r"setup\.cfg|Pipfile|package\.json|Cargo\.toml|go\.mod|Gemfile|"
    r"environment\.ya?ml|\.npmrc|pip\.conf|\.yarnrc(\.yml)?|\.pypirc)$"
)
_NPM_NON_DEP_KEYS = frozenset(
    [
        "name",
        "version",
        "description",
        "main",
        "module",
        "types",
        "typings",
        "license",
        "author",
        "homepage",
        "type",
        "private",
        "engines",
        "bin",
        "files",
        "repository",
        "bugs",
        "keywords",
        "scripts",
        "workspaces",
        "packageManager",
        "exports",
        "browser",
        "sideEffects",
        "publishConfig",
        "funding",
        "contributors",
        "directories",
        "config",
        "os",
        "cpu",
        "url",
        "email",
        "registry",
        "access",
        "tag",
        "node",
        "npm",
        "yarn",
        "pnpm",
        "label",
        "command",
        "script",
        "runOn",
    ]
)
_NPM_HOOKS = re.compile(
    r"^\s*\"(preinstall|install|postinstall|prepare|prepublish|"
    r"prepublishOnly|prepack|postpack|preuninstall|postuninstall)\"\s*:\s*"
    r"\"(?P<cmd>(?:[^\"\\]|\\.)*)\""
)
_NPM_SCRIPT = re.compile(r"^\s*\"(?P<name>[\w:.-]+)\"\s*:\s*\"(?P<cmd>(?:[^\"\\]|\\.)*)\"")


MAX_SCAN_LINE = 4000
"""Added lines longer than this are checked on their start only (and named as suspicious)."""


@dataclass(frozen=True)
class _Located:
    text: str
    span: Span


def _dummy() -> SimpleCommand:
    return SimpleCommand(index=-1, argv=(), span=(0, 0))


class _PatchReader:
    def __init__(self, text: str, workspace: str, home: str, network: str) -> None:
        self.text = text
        self.an = Analyzer(
            text,
            workspace=workspace,
            home=home,
            network=network,
            script=Script(text, ()),
            driver=analyze_all,
        )
        self.workspace = workspace
        self.home = home
        self.cursor = 0
        self.dummy = _dummy()
        self._removed = ""  # the lines the file change being read removes

    def add(self, cat: K, score: int, reason: str, *spans: Span) -> None:
        self.an.add(cat, score, reason, *spans)

    def locate(self, needle: str, start: int | None = None) -> Span:
        if not needle:
            return (0, 0)
        i = self.text.find(needle, self.cursor if start is None else start)
        if i < 0:
            i = self.text.find(needle)
        if i < 0:
            return (0, min(len(self.text), 1))
        return (i, i + len(needle))

    def added(self, fc: FileChange, start: int) -> list[_Located]:
        out: list[_Located] = []
        pos = start
        for line in fc.added_lines:
            needle = "+" + line
            i = self.text.find(needle, pos)
            if i >= 0:
                out.append(_Located(line, (i + 1, i + 1 + len(line))))
                pos = i + len(needle)
            else:
                j = self.text.find(line, pos) if line else -1
                if j >= 0:
                    out.append(_Located(line, (j, j + len(line))))
                    pos = j + len(line)
                else:
                    out.append(_Located(line, (start, start)))
        return out

    # ------------------------------------------------------------------ files

    def run(self) -> None:
        try:
            parsed = parse_patch(self.text)
        except PatchError as exc:
            self.add(
                K.OBFUSCATION,
                50,
                f"the patch cannot be parsed ({short(str(exc), 80)}), so "
                "what it changes cannot be reviewed",
                (0, len(self.text)),
            )
            return
        except Exception as exc:  # a parser bug must not stop the review: fail closed
            self.add(
                K.OBFUSCATION,
                50,
                f"the patch cannot be parsed ({type(exc).__name__})",
                (0, len(self.text)),
            )
            return
        if not parsed.files:
            self.add(K.OBFUSCATION, 40, "the patch changes no file", (0, len(self.text)))
            return
        removed_total = 0
        for fc in parsed.files:
            span = self.locate(fc.path)
            self.cursor = span[1]
            self._file(fc, span)
            removed_total += len(fc.removed_lines)
        if removed_total > 300:
            self.add(
                K.DESTRUCTIVE,
                40,
                f"removes {removed_total} lines in total",
                (0, min(len(self.text), 1)),
            )

    def _path(self, raw: str, span: Span, verb: str) -> PathInfo:
        info = resolve(raw, self.workspace, self.workspace, self.home)
        d = info.display
        self.an.facts.writes.append(info.abs or raw)
        if raw.startswith(("/", "~")) or info.where != "workspace":
            if info.persistence:
                self.add(
                    K.PERSISTENCE,
                    90,
                    f"{verb} {d}, {info.persistence} — outside the workspace",
                    span,
                )
            elif info.where == "tmp":
                self.add(K.OUTSIDE_WORKSPACE, 60, f"{verb} {d}, outside the workspace", span)
            else:
                self.add(K.OUTSIDE_WORKSPACE, 85, f"{verb} {d}, outside the workspace", span)
            return info
        if ".." in raw.replace("\\", "/").split("/"):
            self.add(K.OUTSIDE_WORKSPACE, 30, f"names {short(raw)} through '..'", span)
        if info.protected:
            what, score = info.protected
            cat = K.PERSISTENCE if score >= 60 else K.SUPPLY_CHAIN
            self.add(cat, score, f"{verb} {d}, {what}", span)
        elif info.secret:
            self.add(K.SECRETS, 40, f"{verb} {d}, {info.secret}", span)
        return info

    def _file(self, fc: FileChange, span: Span) -> None:
        verb = {"add": "creates", "delete": "deletes", "update": "changes"}[fc.op]
        info = self._path(fc.path, span, verb)
        if fc.move_to:
            mspan = self.locate(fc.move_to)
            self._path(fc.move_to, mspan, "moves a file to")
            self.add(K.DESTRUCTIVE, 5, f"renames {short(fc.path)} to {short(fc.move_to)}", mspan)
        if fc.op == "delete":
            self.add(K.DESTRUCTIVE, 40, f"deletes {info.display}", span)
        elif info.where == "workspace" and not info.protected:
            self.add(K.DESTRUCTIVE, 3, f"{verb} {info.display}", span)
        if fc.binary:
            self.add(
                K.OBFUSCATION,
                45,
                f"changes {info.display} in binary form, which cannot be reviewed",
                span,
            )
        if fc.new_mode is not None and (fc.old_mode is None or fc.new_mode != fc.old_mode):
            if fc.new_mode & 0o6000:
                self.add(K.PRIVILEGE, 85, f"sets the setuid/setgid bit on {info.display}", span)
            elif fc.new_mode & 0o111 and not (fc.old_mode or 0) & 0o111:
                self.add(K.PRIVILEGE, 35, f"makes {info.display} executable", span)
        if len(fc.removed_lines) > 200:
            self.add(
                K.DESTRUCTIVE,
                40,
                f"removes {len(fc.removed_lines)} lines from {info.display}",
                span,
            )
        target = fc.target
        self._removed = "\n".join(fc.removed_lines)
        lines = self.added(fc, span[1])
        if not lines:
            return
        self._content(target, info, lines, span)

    # ------------------------------------------------------------------ content

    def _content(self, path: str, info: PathInfo, lines: list[_Located], span: Span) -> None:
        if any(len(ln.text) > MAX_SCAN_LINE for ln in lines):
            long = next(ln for ln in lines if len(ln.text) > MAX_SCAN_LINE)
            self.add(
                K.OBFUSCATION,
                40,
                f"adds a line of {len(long.text)} characters to "
                f"{info.display}: too long to read, only its start is checked",
                long.span,
            )
            lines = [
                _Located(
                    ln.text[:MAX_SCAN_LINE],
                    (ln.span[0], min(ln.span[1], ln.span[0] + MAX_SCAN_LINE)),
                )
                for ln in lines
            ]
        base = path.rsplit("/", 1)[-1]
        low = path.lower()
        block = "\n".join(ln.text for ln in lines)
        for pat, what in _SECRET_PATTERNS:
            for ln in lines:
                m = re.search(pat, ln.text)
                if m:
                    s = (ln.span[0] + m.start(), ln.span[0] + m.end())
                    self.add(K.SECRETS, 60, f"adds what looks like {what} to {info.display}", s)
                    break
        runs_itself = info.protected is not None and info.protected[1] >= 60
        shell_like = (
            bool(_SHELL_EXT.search(path))
            or (
                lines
                and lines[0].text.startswith("#!")
                and re.search(r"\b(ba|z|k|da)?sh\b", lines[0].text) is not None
            )
            or (".git/hooks/" in low)
        )
        if shell_like:
            self._shell_lines(lines, info, runs_itself, path)
        if base == "package.json":
            self._package_json(lines, info)
        if re.search(
            r"(^|/)\.github/workflows/|\.gitlab-ci\.yml$|\.circleci/|azure-pipelines|"
            r"\.travis\.yml$|Jenkinsfile$|\.pre-commit-config\.yaml$",
            path,
        ):
            for ln in lines:
                m = re.match(
                    r"^\s*-?\s*(run|script|command|entry)\s*:\s*[|>]?\s*(?P<cmd>.+)$", ln.text
                )
                if m and m.group("cmd").strip():
                    self._fragment(
                        m.group("cmd"), ln.span[0] + m.start("cmd"), ln.span, "the CI step runs: "
                    )
        if base in ("tasks.json", "launch.json", "settings.json") and "/.vscode/" in "/" + low:
            for ln in lines:
                for m in re.finditer(
                    r"\"(command|program|preLaunchTask|shellArgs)\"\s*:\s*"
                    r"\"(?P<cmd>(?:[^\"\\]|\\.)*)\"",
                    ln.text,
                ):
                    self._fragment(
                        m.group("cmd").replace('\\"', '"'), None, ln.span, "the editor task runs: "
                    )
                if "folderOpen" in ln.text:
                    self.add(
                        K.PERSISTENCE,
                        80,
                        "the task runs by itself whenever the folder is opened",
                        ln.span,
                    )
        if (
            base == "setup.py"
            or base.endswith(".pth")
            or base in ("sitecustomize.py", "usercustomize.py", "conftest.py")
        ):
            if base == "setup.py":
                self.add(K.SUPPLY_CHAIN, 40, "changes setup.py, which runs at install time", span)
            self._code_scan(lines, info, "python", deep=True)
        elif _CODE_EXT.search(path) and not shell_like:
            self._code_scan(lines, info, _lang_of(path), deep=False)
        if _MANIFESTS.search(path):
            self._manifest(path, lines, info)
        if not shell_like and base in (".envrc", ".bashrc", ".profile", ".zshrc"):
            self._shell_lines(lines, info, True, path)
        if _LONG_BLOB.search(block):
            m = _LONG_BLOB.search(block)
            assert m is not None
            self.add(
                K.OBFUSCATION,
                45 if not _OBFUSCATED.search(block) else 85,
                f"adds a long encoded blob to {info.display}"
                + (" and runs it" if _OBFUSCATED.search(block) else ""),
                lines[0].span,
            )

    def _fragment(self, code: str, exact: int | None, fallback: Span, prefix: str) -> None:
        self.an.fragment(code, exact, fallback, self.dummy, prefix=prefix)

    def _shell_lines(
        self, lines: list[_Located], info: PathInfo, runs_itself: bool, path: str
    ) -> None:
        base = path.rsplit("/", 1)[-1]
        if ".git/hooks/" in path or ".husky/" in path:
            prefix = "the hook runs: "
        elif base in (".bashrc", ".profile", ".zshrc", ".bash_profile", ".envrc"):
            prefix = f"{base} runs at every shell start: "
        else:
            prefix = f"{info.display} runs: "
        for ln in lines:
            t = ln.text
            if not t.strip() or t.lstrip().startswith("#"):
                continue
            docker = path.endswith(("Dockerfile", "Containerfile"))
            if docker and not re.match(r"^\s*(RUN|CMD|ENTRYPOINT)\s", t):
                continue
            cmd = re.sub(r"^\s*(RUN|CMD|ENTRYPOINT)\s+", "", t) if docker else t
            if path.endswith("Makefile") and not t.startswith("\t"):
                continue
            off = ln.span[0] + (len(t) - len(cmd))
            self._fragment(
                cmd.lstrip("\t@-"), off + (len(cmd) - len(cmd.lstrip("\t@-"))), ln.span, prefix
            )

    def _package_json(self, lines: list[_Located], info: PathInfo) -> None:
        for ln in lines:
            m = _NPM_HOOKS.match(ln.text)
            if m:
                cmd = m.group("cmd").replace('\\"', '"')
                self.add(
                    K.SUPPLY_CHAIN,
                    60,
                    f"adds an npm `{m.group(1)}` hook: it runs on every install ({short(cmd, 50)})",
                    ln.span,
                )
                exact = ln.span[0] + m.start("cmd") if "\\" not in m.group("cmd") else None
                self._fragment(cmd, exact, ln.span, "the install hook runs: ")

    def _was_there(self, line: str) -> bool:
        """True when the network call on this added line, and every host it names, were already
        on the lines the same change removes."""
        removed = self._removed
        calls = [m.group(0) for m in _NET_CODE.finditer(line)]
        hosts = re.findall(r"[a-z][a-z0-9+.-]*://[^\s'\"`)/]+", line, re.I)
        return bool(calls) and all(c in removed for c in calls) and all(h in removed for h in hosts)

    def _code_scan(self, lines: list[_Located], info: PathInfo, lang: str, *, deep: bool) -> None:
        block = "\n".join(ln.text for ln in lines)
        if not deep and _RUNS_COMMANDS.search(block):
            # App code that starts programs: the command strings it adds are shell to review.
            for ln in lines:
                for m in _SHELLISH_LITERAL.finditer(ln.text):
                    cmd = m.group("cmd")
                    exact = ln.span[0] + m.start("cmd") if "\\" not in cmd else None
                    self._fragment(cmd, exact, ln.span, f"code added to {info.display} runs: ")
        if deep:
            # Install-time code: read it like inline code on a command line.
            for ln in lines:
                w = Word(ln.text, ln.text, ln.span, exact=ln.span[0])
                analyze_code(self.an, self.dummy, ln.text, w, lang)
        net_lines = [ln for ln in lines if _NET_CODE.search(ln.text)]
        if net_lines:
            url = re.search(r"[a-z][a-z0-9+.-]*://[^\s'\"`)]+", block, re.I)
            ip = re.search(r"['\"](\d{1,3}(?:\.\d{1,3}){3})['\"]", block)
            t = parse_target(url.group(0)) if url else (parse_target(ip.group(1)) if ip else None)
            host = t.host if t else "the network"
            secrets = []
            for m in _PATHISH.finditer(block):
                raw = m.group(0).replace("$HOME", "~").replace("${HOME}", "~")
                p = resolve(raw, self.workspace, self.workspace, self.home)
                if p.secret and p.display not in secrets:
                    secrets.append(p.display)
            if HOME_CODE_RE.search(block):  # Path.home() / ".ssh/id_rsa"
                for m in HOME_SECRET_RE.finditer(block):
                    p = resolve("~/" + m.group("s"), self.workspace, self.workspace, self.home)
                    if p.secret and p.display not in secrets:
                        secrets.append(p.display)
            env_secrets = [
                n
                for m in ENV_NAME_RE.finditer(block)
                if (n := m.group("n") or m.group("n2") or m.group("n3"))
                and SECRET_NAME_RE.search(n)
            ]
            envs = re.search(
                r"os\.environ\b(?!\.get\(['\"](?:HOME|PATH|DEBUG|PORT))|"
                r"process\.env\b(?!\.)|os\.Environ\(\)",
                block,
            )
            sends = _SENDS.search(block)
            if secrets or (envs and sends):
                what = ", ".join(dict.fromkeys(secrets)) or "environment variables"
                self.add(
                    K.EXFILTRATION,
                    90,
                    f"adds code to {info.display} that sends {what} to {host}",
                    *(ln.span for ln in net_lines[:3]),
                )
            elif env_secrets:
                # Often an API client using its own key; still a secret leaving, so high.
                self.add(
                    K.EXFILTRATION,
                    65,
                    f"adds code to {info.display} that sends "
                    f"{', '.join(dict.fromkeys(env_secrets))} (a secret from the environment) "
                    f"to {host}",
                    *(ln.span for ln in net_lines[:3]),
                )
            elif all(self._was_there(ln.text) for ln in net_lines):
                # The same call to the same hosts was there before: an edit, not a new channel.
                self.add(
                    K.NETWORK,
                    10,
                    f"changes code in {info.display} that already contacted {host}",
                    *(ln.span for ln in net_lines[:3]),
                )
            elif sends:
                self.add(
                    K.NETWORK,
                    50,
                    f"adds code to {info.display} that sends data to {host}",
                    *(ln.span for ln in net_lines[:3]),
                )
            else:
                self.add(
                    K.NETWORK,
                    40,
                    f"adds code to {info.display} that contacts {host}",
                    *(ln.span for ln in net_lines[:3]),
                )
        for ln in lines:
            lit = re.search(r"['\"]([~/][^'\"\n]{2,})['\"]", ln.text)
            if lit:
                p = resolve(lit.group(1), self.workspace, self.workspace, self.home)
                if p.secret and p.where != "workspace":
                    self.add(
                        K.SECRETS,
                        65,
                        f"adds code to {info.display} that reads {p.display} ({p.secret})",
                        ln.span,
                    )
                elif p.persistence:
                    self.add(
                        K.PERSISTENCE,
                        60,
                        f"adds code to {info.display} that touches {p.display} ({p.persistence})",
                        ln.span,
                    )
        if _OBFUSCATED.search(block):
            ln = next((x for x in lines if _OBFUSCATED.search(x.text)), lines[0])
            self.add(
                K.OBFUSCATION,
                80,
                f"adds code to {info.display} that decodes hidden code and runs it",
                ln.span,
            )

    # ------------------------------------------------------------------ manifests

    def _manifest(self, path: str, lines: list[_Located], info: PathInfo) -> None:
        base = path.rsplit("/", 1)[-1]
        eco: Ecosystem | None = None
        deps: list[tuple[str, Span]] = []
        for ln in lines:
            t = ln.text
            s = t.strip()
            if not s or s.startswith(("#", "//")):
                continue
            if re.search(
                r"(--index-url|--extra-index-url|-i\s|--find-links|--trusted-host|"
                r"index-url\s*=|extra-index-url\s*=|registry\s*=|\[\[tool\.poetry\."
                r"source\]\]|\[\[tool\.uv\.index\]\]|url\s*=\s*\"https?://)",
                s,
            ):
                extra = "extra" in s
                self.add(
                    K.SUPPLY_CHAIN,
                    70,
                    f"points {info.display} at another package index "
                    f"({short(s, 60)})" + (" (dependency confusion)" if extra else ""),
                    ln.span,
                )
                continue
            if re.search(r"git\+|hg\+|https?://\S+\.(whl|tar\.gz|zip|tgz)|github:|\bgit\s*=", s):
                self.add(
                    K.SUPPLY_CHAIN,
                    55,
                    f"adds a dependency fetched straight from a URL or repository ({short(s, 60)})",
                    ln.span,
                )
                continue
            if base.startswith(("requirements", "constraints")) or base.endswith(".in"):
                eco = "pypi"
                m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", t)
                if m and not s.startswith("-"):
                    deps.append((m.group(1), (ln.span[0] + m.start(1), ln.span[0] + m.end(1))))
            elif base in ("pyproject.toml", "setup.cfg", "Pipfile"):
                eco = "pypi"
                m = re.match(
                    r"^\s*[\"']([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*"
                    r"([<>=!~^]=?[^\"']*)?[\"']\s*,?\s*$",
                    t,
                )
                if not m:
                    m = re.match(
                        r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*=\s*(\"[\^~<>=*\d]|\{\s*"
                        r"version|\"\*\")",
                        t,
                    )
                if m and m.group(1).lower() not in (
                    "python",
                    "name",
                    "version",
                    "requires",
                    "build-backend",
                    "description",
                ):
                    deps.append((m.group(1), (ln.span[0] + m.start(1), ln.span[0] + m.end(1))))
            elif base == "package.json":
                eco = "npm"
                m = re.match(
                    r"^\s*\"(@?[A-Za-z0-9][\w./-]*)\"\s*:\s*\"([\^~<>=*]|\d|latest|"
                    r"next|npm:|workspace:|file:|link:)",
                    t,
                )
                if m and m.group(1) not in _NPM_NON_DEP_KEYS:
                    deps.append((m.group(1), (ln.span[0] + m.start(1), ln.span[0] + m.end(1))))
            elif base in ("Cargo.toml",):
                eco = "crates"
                m = re.match(r"^\s*([A-Za-z0-9][\w-]*)\s*=\s*(\"[\^~<>=*\d]|\{)", t)
                if m and m.group(1) not in ("version", "edition", "name", "rust-version"):
                    deps.append((m.group(1), (ln.span[0] + m.start(1), ln.span[0] + m.end(1))))
            elif base == "go.mod":
                m = re.match(r"^\s*(?:require\s+)?([\w.-]+\.[\w.-]+/[\w./-]+)\s+v\d", t)
                if m:
                    deps.append((m.group(1), (ln.span[0] + m.start(1), ln.span[0] + m.end(1))))
            elif base == "Gemfile":
                m = re.match(r"^\s*gem\s+['\"]([\w.-]+)['\"]", t)
                if m:
                    deps.append((m.group(1), (ln.span[0] + m.start(1), ln.span[0] + m.end(1))))
        if not deps:
            return
        plain: list[tuple[str, Span]] = []
        for name, sp in deps:
            if eco is not None:
                squat = popular(eco).check(name)
                if squat is not None:
                    reg = REGISTRY[eco]
                    self.add(
                        K.SUPPLY_CHAIN,
                        squat.score,
                        f"adds the dependency '{name}' to "
                        f"{info.display}, which {squat.how} — a likely typosquat on {reg}",
                        sp,
                    )
                    continue
                if name not in popular(eco):
                    self.add(
                        K.SUPPLY_CHAIN,
                        45,
                        f"adds the dependency '{name}', which is not "
                        "among the popular packages lockgate knows",
                        sp,
                    )
                    continue
            plain.append((name, sp))
        if plain:
            names = ", ".join(n for n, _ in plain[:4])
            self.add(
                K.SUPPLY_CHAIN,
                40,
                f"adds the dependenc{'ies' if len(plain) > 1 else 'y'} "
                f"{names} to {info.display}: their code runs at install and at run time",
                *(sp for _, sp in plain),
            )


def _lang_of(path: str) -> str:
    ext = path.rsplit(".", 1)[-1].lower()
    return {
        "py": "python",
        "pyw": "python",
        "js": "node",
        "mjs": "node",
        "cjs": "node",
        "ts": "node",
        "tsx": "node",
        "jsx": "node",
        "rb": "ruby",
        "php": "php",
        "pl": "perl",
        "lua": "lua",
        "r": "Rscript",
    }.get(ext, ext)


def assess_patch(
    text: str, *, workspace: str, home: str, network: str = "off"
) -> tuple[list[Finding], Facts]:
    reader = _PatchReader(text, workspace, home, network)
    reader.run()
    return reader.an.findings, reader.an.facts

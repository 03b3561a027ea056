"""What applies to every command whatever its program: variable assignments that change how
programs behave, secret paths in any argument, and programs lockgate has no rule for.
"""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import q
from app.risk.commands.effects import _network_note, read_target
from app.risk.commands.files import GREPS, LISTING, READ_ONLY
from app.risk.commands.payloads import analyze_variable
from app.risk.netutil import parse_target
from app.risk.shell import SimpleCommand, Word

_DANGER_VARS = {
    "LD_PRELOAD": (K.PRIVILEGE, 75, "loads {v} into every program started afterwards"),
    "LD_AUDIT": (K.PRIVILEGE, 75, "loads {v} into every program started afterwards"),
    "LD_LIBRARY_PATH": (K.PRIVILEGE, 45, "makes programs load libraries from {v} first"),
    "DYLD_INSERT_LIBRARIES": (K.PRIVILEGE, 75, "loads {v} into every program started afterwards"),
    "DYLD_LIBRARY_PATH": (K.PRIVILEGE, 45, "makes programs load libraries from {v} first"),
    "PROMPT_COMMAND": (K.PERSISTENCE, 65, "runs `{v}` before every prompt"),
    "BASH_ENV": (K.PERSISTENCE, 65, "makes every bash script first run {v}"),
    "ENV": (K.PERSISTENCE, 50, "makes every sh started afterwards first run {v}"),
    "PYTHONSTARTUP": (K.PERSISTENCE, 40, "makes interactive Python run {v} first"),
    "PERL5OPT": (K.PERSISTENCE, 55, "injects options ({v}) into every Perl program"),
    "NODE_OPTIONS": (K.PERSISTENCE, 45, "injects options ({v}) into every Node program"),
    "GIT_SSH_COMMAND": (K.PERSISTENCE, 60, "makes git run `{v}` for every SSH connection"),
    "GIT_ASKPASS": (K.SECRETS, 60, "makes git hand passwords to {v}"),
    "SSH_ASKPASS": (K.SECRETS, 60, "makes ssh hand passwords to {v}"),
    "GIT_EXEC_PATH": (K.PERSISTENCE, 60, "makes git run its helpers from {v}"),
    "PAGER": (K.PERSISTENCE, 20, "makes tools run `{v}` as a pager"),
    "EDITOR": (K.PERSISTENCE, 20, "makes tools run `{v}` as an editor"),
    "HISTFILE": (K.OBFUSCATION, 60, "changes where shell history goes ({v}), hiding what ran"),
    "IFS": (
        K.OBFUSCATION,
        60,
        "changes IFS to {v}: how bash splits words, which can hide what a command is",
    ),
    "HISTSIZE": (K.OBFUSCATION, 30, "changes how much shell history is kept ({v})"),
    "HISTFILESIZE": (K.OBFUSCATION, 30, "changes how much shell history is kept ({v})"),
    "HISTCONTROL": (K.OBFUSCATION, 20, "changes what shell history records ({v})"),
    "HTTP_PROXY": (K.NETWORK, 40, "sends web traffic through the proxy {v}"),
    "HTTPS_PROXY": (K.NETWORK, 40, "sends web traffic through the proxy {v}"),
    "ALL_PROXY": (K.NETWORK, 40, "sends network traffic through the proxy {v}"),
    "PIP_INDEX_URL": (K.SUPPLY_CHAIN, 70, "makes pip install packages from {v}"),
    "PIP_EXTRA_INDEX_URL": (K.SUPPLY_CHAIN, 70, "makes pip also look for packages at {v}"),
    "NPM_CONFIG_REGISTRY": (K.SUPPLY_CHAIN, 70, "makes npm install packages from {v}"),
    "UV_INDEX_URL": (K.SUPPLY_CHAIN, 70, "makes uv install packages from {v}"),
    "PYTHONPATH": (K.PERSISTENCE, 10, "makes Python import modules from {v} first"),
}


_NODE_TUNING = re.compile(
    r"--(max-old-space-size|max-semi-space-size|stack-size|max-http-header-size)=\d+|"
    r"--(enable-source-maps|no-warnings|no-deprecation|trace-warnings|trace-deprecation|"
    r"trace-uncaught|openssl-legacy-provider|experimental-vm-modules|"
    r"heapsnapshot-near-heap-limit=\d+|unhandled-rejections=(strict|warn|throw|none)|"
    r"dns-result-order=(ipv4first|verbatim))"
)


def _tuning_only(value: str) -> bool:
    """NODE_OPTIONS that only tune the runtime (no --require/--import/--loader/--inspect)."""
    parts = value.strip("'\"").split()
    return bool(parts) and all(_NODE_TUNING.fullmatch(p) for p in parts)


# Variables that turn off certificate checks: whoever sits on the path can then feed the
# program anything (code, packages, answers). name -> the values that turn checks off.
_TLS_OFF = {
    "NODE_TLS_REJECT_UNAUTHORIZED": ("0",),
    "PYTHONHTTPSVERIFY": ("0",),
    "GIT_SSL_NO_VERIFY": ("1", "true", "yes", "on"),
    "CURL_CA_BUNDLE": ("",),
    "REQUESTS_CA_BUNDLE": ("",),
    "SSL_CERT_FILE": ("", "/dev/null"),
    "NODE_NO_VERIFY_SSL": ("1", "true"),
    "npm_config_strict_ssl": ("false", "0"),
    "NPM_CONFIG_STRICT_SSL": ("false", "0"),
    "PIP_TRUSTED_HOST": None,  # any value: pip stops checking that host
    "UV_INSECURE_HOST": None,
    "GOINSECURE": None,
    "GONOSUMDB": None,
    "GOFLAGS": ("-insecure",),
}


def tls_off(name: str, value: str) -> bool:
    """True when assigning `value` to `name` turns certificate or checksum checks off."""
    values = _TLS_OFF.get(name, ())
    if values is None:
        return value != ""
    return value.strip("'\"").lower() in values


def _assignments(an: Analyzer, c: SimpleCommand) -> None:
    for name, w in c.assigns:
        analyze_variable(an, c, name, w)
        tls_value = w.best
        if "=" in tls_value and tls_value.split("=", 1)[0] == name:
            tls_value = tls_value.split("=", 1)[1]
        if name in _TLS_OFF and w.value is not None and tls_off(name, tls_value):
            an.add(
                K.NETWORK,
                45,
                f"{name}={q(tls_value)} turns off certificate checks: anyone on the network path "
                "can feed the program what they like",
                w.span,
            )
            continue
        key = name.upper() if name.lower() in ("http_proxy", "https_proxy", "all_proxy") else name
        value = w.best
        if "=" in value and c.keyword != "assign" and value.split("=", 1)[0] == name:
            value = value.split("=", 1)[1]
        if key == "PATH":
            first = value.split(":", 1)[0]
            if first and first not in ("$PATH", "${PATH}"):
                info = an.path(c, first)
                if (
                    info.where in ("tmp", "unknown")
                    or (info.where == "outside" and not info.abs)
                    or first in (".", "")
                    or (
                        info.where == "outside"
                        and info.display.startswith("~") is False
                        and not (info.abs or "").startswith(
                            ("/usr", "/bin", "/opt", "/sbin", "/nix")
                        )
                    )
                ):
                    an.add(
                        K.PRIVILEGE,
                        60,
                        f"puts {q(first)} first on PATH, so programs found "
                        "there replace the usual ones",
                        w.span,
                    )
            continue
        if key in ("ENV", "BASH_ENV", "PYTHONSTARTUP") and (
            w.procsub or value.startswith("<(") or an.path(c, value).where != "workspace"
        ):
            # A shell or Python started later first runs this file: from a process
            # substitution or from outside the project it is code nobody reviewed.
            where = "a process substitution" if (w.procsub or value.startswith("<(")) else value
            an.add(
                K.PERSISTENCE,
                70,
                f"{key}={q(short(value, 40))}: every {'Python' if key == 'PYTHONSTARTUP' else 'shell'}"
                f" started with it first runs code from {short(where, 40)}",
                w.span,
            )
            continue
        spec = _DANGER_VARS.get(key)
        if spec is None:
            continue
        cat, score, text = spec
        if key in ("HISTSIZE", "HISTFILESIZE") and value not in ("0", ""):
            continue
        if key == "HISTFILE" and value not in ("/dev/null", ""):
            score = 30
        if key == "NODE_OPTIONS" and _tuning_only(value):
            continue  # memory limits and warning switches load no code
        if key == "IFS" and (c.keyword != "assign" or all(ch in " \t\n,:;|=/-" for ch in value)):
            continue  # `while IFS= read -r line` and plain separators are ordinary
        an.add(cat, score, text.format(v=q(value)), w.span)


def _declare(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name
    if name == "unset" or (name == "export" and any(w.value == "-n" for w in c.args)):
        for w in c.args:
            if w.value and w.value.startswith("HIST"):
                an.add(
                    K.OBFUSCATION,
                    60,
                    f"unsets {w.value}, so the shell stops recording history",
                    w.span,
                )


# Programs that take a path without reading what is in it.
_NAMES_ONLY = LISTING | frozenset(
    [
        "echo",
        "printf",
        "[[",
        "mkdir",
        "touch",
        "cd",
        "pushd",
        "realpath",
        "readlink",
        "basename",
        "dirname",
        "which",
        "type",
        "command",
        "export",
        "ln",
        "source",
        ".",
    ]
)


_PROC_ENVIRON = re.compile(r"^/proc/[^/\s]+/environ$")


_PATTERN_OPTS = frozenset({"-e", "--regexp", "-f", "--file"})


def _data_words(c: SimpleCommand) -> set[tuple[int, int]]:
    """Spans of arguments that are data, not paths: what echo/printf print, a grep's pattern."""
    name = c.name or ""
    if name in ("echo", "printf"):
        return {w.span for w in c.args}
    if name in GREPS:
        out: set[tuple[int, int]] = set()
        args = list(c.args)
        explicit = False
        for k, w in enumerate(args):
            if w.value in ("-e", "--regexp") and k + 1 < len(args):
                out.add(args[k + 1].span)
                explicit = True
            elif (w.value or "").startswith(("--regexp=", "-e")) and w.value != "-e":
                out.add(w.span)
                explicit = True
            elif w.value in ("-f", "--file"):
                explicit = True
        if not explicit:
            skip = False
            for w in args:
                v = w.value or ""
                if skip:
                    skip = False
                    continue
                if v in ("-m", "-A", "-B", "-C", "--max-count", "-t", "-g", "--type", "--glob"):
                    skip = True
                    continue
                if v.startswith("-") and v != "-":
                    continue
                out.add(w.span)
                break
        return out
    return set()


def _generic(an: Analyzer, c: SimpleCommand) -> None:
    """Secrets named in any argument: whatever the program, it is handed a secret."""
    info = an.ci(c)
    data = _data_words(c)
    reader = (c.name or "") in READ_ONLY or (c.name or "") in LISTING
    cwd = an.cwds.get(c.index, an.start_cwd)
    # Outside the workspace (`cd ~/.ssh && cat id_rsa`) a bare name is a file there.
    cwd_inside = cwd is None or cwd == an.workspace or cwd.startswith(an.workspace + "/")
    for w in c.args:
        v = w.value
        if w.span in info.seen:
            continue
        if v is None and _PROC_ENVIRON.search(w.text):
            # /proc/$$/environ, /proc/$PID/environ: whichever process, it is its secrets
            read_target(an, c, Word("/proc/self/environ", w.text, w.span))
            continue
        if not v or (v.startswith("-") and "=" not in v):
            continue
        if "=" in v and v.startswith("-"):
            v = v.split("=", 1)[1]
        if "@" in v and v.startswith("@"):
            v = v[1:]
        if not (v.startswith(("/", "~", ".")) or "/" in v or "." in v) and cwd_inside:
            continue
        if w.span in data or (
            not reader
            and any(ch.isspace() for ch in v)
            and "/" not in v.split()[0]
            and v[0] not in "~."
        ):
            # A pattern, or a string handed to a program that is not a file reader
            # (`node check.js "cat .env"`): not a path it opens.
            continue
        if v.startswith("~") and w.text[:1] in ("'", '"'):
            continue  # a quoted ~ is not expanded: the program gets the text "~/…"
        p = an.path(c, v)
        if p.secret and p.display not in info.secrets:
            listing = c.name in LISTING
            read_target(an, c, Word(v, v, w.span), listing=listing)
        elif p.private and p.secret is None and (c.name or "") not in _NAMES_ONLY:
            read_target(an, c, Word(v, v, w.span))


AGENT_CLIS = frozenset(
    {
        "claude",
        "codex",
        "aider",
        "gemini",
        "cursor-agent",
        "opencode",
        "goose",
        "amp",
        "openhands",
        "sweagent",
        "mini",
        "mini-swe-agent",
        "qwen",
        "crush",
        "cline",
        "copilot",
        "devin",
        "plandex",
        "continue",
        "q",
        "kiro",
    }
)

_VERBS_OUT = frozenset({"publish", "deploy", "release", "upload", "push", "ship", "unpublish"})


_VERBS_INSTALL = frozenset({"install", "add", "-i", "-iA", "--install", "get"})


def _unknown(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or "?"
    for w in c.args:
        t = parse_target(w.value or "")
        if t is not None and "://" in (w.value or ""):
            _network_note(an, c, t, f"`{q(name)}` contacts {t.host}", w, score=40)
            break
    # A tool lockgate does not know, used the way publishing and installing tools are used.
    verbs = [w for w in c.args[:3] if w.value is not None][:2]
    out = next((w for w in verbs if w.value in _VERBS_OUT), None)
    inst = next((w for w in verbs if w.value in _VERBS_INSTALL), None)
    if out is not None:
        an.ci(c).network = True
        an.add(K.NETWORK, 45, f"`{q(name)} {out.value}` publishes or deploys something", out.span)
    elif inst is not None and name not in ("git",):
        an.ci(c).network = True
        an.add(K.SUPPLY_CHAIN, 40, f"`{q(name)} {inst.value}` installs something", inst.span)
    if name in AGENT_CLIS:
        an.ci(c).network = True
        an.add(
            K.PRIVILEGE,
            50,
            f"starts `{q(name)}`, another coding agent: it decides and runs its own commands, "
            "which lockgate does not see one by one",
            c.argv[0].span,
        )
        return
    if [w.value for w in c.args] in (["--help"], ["-h"], ["--version"], ["-V"], ["help"]):
        an.add(K.RESOURCE, 15, f"asks `{q(name)}` for its help or version", c.argv[0].span)
        return
    # What a program without a rule does cannot be said, so it is not waved through.
    an.add(
        K.RESOURCE,
        36,
        f"runs `{q(name)}`, a program lockgate has no rule for: what it does cannot be "
        "reviewed (sandboxed)",
        c.argv[0].span,
    )

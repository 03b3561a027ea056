"""What an argument does to a path or a host, shared by every family: reading a file (and
whether it is a secret), writing one (outside the workspace, persistence, protected files),
deleting one, and contacting a host.
"""

from __future__ import annotations

import os

from app.core.model import Category as K
from app.risk import gitstate
from app.risk.analysis import Analyzer
from app.risk.commands.args import INTERPRETERS, q
from app.risk.netutil import Target, parse_target
from app.risk.paths import ENV_FILE, resolve
from app.risk.rules import domain_match
from app.risk.shell import SHELLS, SimpleCommand, Word


def read_target(an: Analyzer, c: SimpleCommand, w: Word, *, listing: bool = False) -> None:
    an.ci(c).seen.add(w.span)
    if w.value is None:
        return
    info = an.path(c, w.value)
    if info.abs:
        an.facts.reads.append(info.abs)
    if info.secret is None and info.private and not listing:
        an.add(
            K.SECRETS,
            40,
            f"reads {info.display}, {info.private}: its contents would reach the agent "
            "and its model provider",
            w.span,
        )
    if info.secret is None:
        if info.dev_tcp:
            an.add(
                K.NETWORK,
                65,
                f"reads from a raw network connection to {info.dev_tcp[0]}:"
                f"{info.dev_tcp[1]} through /dev/tcp",
                w.span,
            )
        return
    an.ci(c).secrets.append(info.display)
    an.facts.reads_secrets.append(info.display)
    if listing:
        if info.where == "workspace":
            an.add(
                K.SECRETS, 20, f"looks at {info.display} ({info.secret}) without reading it", w.span
            )
        else:
            # Outside the workspace: which keys, profiles and hosts you have is reconnaissance.
            an.add(
                K.SECRETS,
                36,
                f"looks at {info.display} ({info.secret}) without reading it: the names it "
                "shows (which keys and accounts you have) would reach the agent",
                w.span,
            )
    elif info.where == "workspace":
        an.add(
            K.SECRETS,
            30 if info.secret == "a key or certificate file" else 60,
            f"reads {info.display}, {info.secret}: its contents would reach "
            "the agent and its model provider",
            w.span,
        )
    else:
        an.add(
            K.SECRETS,
            70,
            f"reads {info.display}, {info.secret}: its contents would reach "
            "the agent and its model provider",
            w.span,
        )


def write_target(an: Analyzer, c: SimpleCommand, w: Word, verb: str = "writes") -> None:
    an.ci(c).seen.add(w.span)
    if w.value is None:
        an.add(
            K.OUTSIDE_WORKSPACE, 40, f"{verb} a path known only at run time ({q(w.text)})", w.span
        )
        return
    info = an.path(c, w.value)
    an.facts.writes.append(info.abs or info.raw)
    d = info.display
    if info.dev_tcp:
        host, port = info.dev_tcp
        an.ci(c).sender = parse_target(host) or None
        an.ci(c).sender_label = f"{host}:{port}"
        an.facts.sends_data.append(host)
        if c.name in SHELLS or c.name in INTERPRETERS:
            an.add(
                K.PRIVILEGE,
                95,
                f"connects {c.name} to {host}:{port} through /dev/tcp: a remote shell",
                w.span,
            )
            return
        an.add(
            K.NETWORK,
            70,
            f"opens a raw network connection to {host}:{port} through bash's /dev/tcp",
            w.span,
        )
        return
    if info.raw_device:
        an.add(K.DESTRUCTIVE, 95, f"{verb} the raw device {d}: destroys the data on it", w.span)
        return
    if info.where == "device":
        return
    if info.where == "workspace":
        if info.protected:
            what, score = info.protected
            cat = K.PERSISTENCE if score >= 60 else K.SUPPLY_CHAIN
            an.add(cat, score, f"{verb} {d}, {what}", w.span)
        elif info.secret == ENV_FILE:
            an.add(
                K.SECRETS,
                40,
                f"{verb} {d}, the project's environment file: the app takes its settings and "
                "credentials from it",
                w.span,
            )
        else:
            score, why = _overwrite(an, info.abs, verb)
            an.add(K.DESTRUCTIVE, score, f"{verb} {d} inside the workspace{why}", w.span)
        return
    if info.where == "tmp":
        an.add(K.DESTRUCTIVE, 5, f"{verb} {d} (temporary files)", w.span)
        return
    if info.where == "outside" and not info.persistence and ".." in w.value.split("/"):
        # `../../../etc/cron.d/x`: climbing out of the workspace with `..` is aiming somewhere.
        aimed = "/" + "/".join(p for p in w.value.split("/") if p not in ("..", ".", ""))
        target = resolve(aimed, "/", an.workspace, an.home)
        if target.persistence:
            an.add(
                K.PERSISTENCE,
                80,
                f"{verb} {d}, climbing out of the workspace with `..`, aiming at {aimed} "
                f"({target.persistence})",
                w.span,
            )
            return
    if info.where == "unknown":
        an.add(K.OUTSIDE_WORKSPACE, 40, f"{verb} {d} in a directory known only at run time", w.span)
        return
    if info.persistence:
        score = 90 if any(k in d for k in ("authorized_keys", "sudoers", "ld.so.preload")) else 80
        an.add(
            K.PERSISTENCE,
            score,
            f"{verb} {d}, {info.persistence}: what it adds runs later, outside the sandbox",
            w.span,
        )
        return
    if info.secret:
        an.add(K.DESTRUCTIVE, 75, f"{verb} {d}, {info.secret}", w.span)
        return
    an.add(K.OUTSIDE_WORKSPACE, 65, f"{verb} {d}, outside the workspace", w.span)


# Generated output and caches: deleting them loses nothing the next build does not make again.
# Strong names count at any depth; the ambiguous ones (a `build/` may be sources) only as the
# deleted path itself, and git's account, when there is one, wins over the name.
_GENERATED_ANYWHERE = frozenset(
    {
        "node_modules",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        ".next",
        ".nuxt",
        ".svelte-kit",
        ".turbo",
        ".parcel-cache",
        ".vite",
        ".angular",
        ".expo",
        ".docusaurus",
        ".cache",
        ".tox",
        ".nox",
        ".gradle",
        ".nyc_output",
        ".eggs",
        ".webpack",
        ".sass-cache",
        ".dart_tool",
        "storybook-static",
    }
)
_GENERATED_NAMES = frozenset(
    {"dist", "build", "out", "target", "coverage", "htmlcov", ".coverage", "_build"}
)


def generated(rel: str) -> bool:
    """A workspace-relative path that is build output or a cache by its name."""
    parts = [p for p in rel.strip("/").split("/") if p and p != "**"]
    if not parts:
        return False
    last = parts[-1]
    if last.endswith((".egg-info", ".pyc")) or last in _GENERATED_NAMES:
        return True
    if parts[0] in _GENERATED_NAMES and parts[0] not in ("build", "out"):  # target/debug
        return True
    return any(p in _GENERATED_ANYWHERE for p in parts)


def _reversibility(an: Analyzer, abs_path: str | None, display: str) -> tuple[int, str]:
    """The score of deleting a workspace path and the words that say why, from git's account
    of it: ignored (generated output, caches) loses nothing, tracked and unmodified git
    restores, modified or untracked is lost. Without git nothing is known: the usual ask."""
    if abs_path is None:
        return 40, ""
    if any(ch in abs_path for ch in "*?["):
        # A glob: git's account of one name does not cover what it matches, except names
        # that are generated output wherever they are (`**/__pycache__`, `*.egg-info`).
        if gitstate.has_git(an.workspace) and generated(display):
            return 5, ": build output or a cache, made again by the next build"
        return 40, ""
    an.facts.volatile = True
    lost = gitstate.loss(an.workspace, abs_path)
    if lost is None:
        if gitstate.has_git(an.workspace) and generated(display):
            return 5, ": build output or a cache git does not track, made again by the next build"
        return 40, ""
    if lost.ignored:
        return 5, ": git ignores it (generated output or a cache), nothing worth keeping is lost"
    if lost.dirty or lost.untracked:
        parts = []
        if lost.dirty:
            parts.append(f"{_n(lost.dirty, 'file')} modified since the last commit")
        if lost.untracked:
            parts.append(f"{_n(lost.untracked, 'untracked file')} git cannot restore")
        return 45, " — " + " and ".join(parts)
    return 20, f" — {_n(lost.tracked_clean, 'tracked, unmodified file')}: git can restore them"


# Verbs whose write replaces what the file held (appends, links and directories do not).
_OVERWRITES = frozenset(
    {"writes", "edits", "truncates", "rewrites", "overwrites", "copies into", "moves into"}
)


def overwrite_loss(an: Analyzer, abs_path: str | None) -> gitstate.Loss | None:
    """git's account of an existing workspace file a command would replace; None when the
    file does not exist (nothing is lost) or git cannot say."""
    if abs_path is None or any(ch in abs_path for ch in "*?["):
        return None
    if not os.path.isfile(abs_path) or os.path.islink(abs_path):
        return None
    an.facts.volatile = True
    return gitstate.loss(an.workspace, abs_path)


def _overwrite(an: Analyzer, abs_path: str | None, verb: str) -> tuple[int, str]:
    """Writing over an existing workspace file: tracked and unmodified, git gives it back;
    modified or untracked, what it held is gone (a line worth reading, still allowed)."""
    if verb not in _OVERWRITES:
        return 3, ""
    lost = overwrite_loss(an, abs_path)
    if lost is None or lost.ignored:
        return 3, ""
    if lost.dirty:
        return 20, " — modified since the last commit: git cannot restore what it holds now"
    if lost.untracked:
        return 20, " — an untracked file: git cannot restore what it holds now"
    return 3, " — tracked and unmodified: git can restore it"


def _n(count: int, what: str) -> str:
    return f"{count} {what}" if count == 1 else f"{count} {what}s"


def delete_target(
    an: Analyzer, c: SimpleCommand, w: Word, *, recursive: bool, verb: str = "deletes"
) -> None:
    tail = " and everything under it" if recursive else ""
    an.ci(c).seen.add(w.span)
    if w.value is None:
        an.add(
            K.DESTRUCTIVE,
            60 if recursive else 50,
            f"{verb} {q(w.text)}{tail}, a path known only at run time",
            w.span,
        )
        return
    info = an.path(c, w.value)
    an.facts.writes.append(info.abs or info.raw)
    d = info.display
    if info.raw_device:
        an.add(K.DESTRUCTIVE, 95, f"{verb} the raw device {d}: destroys the data on it", w.span)
        return
    if info.where == "workspace":
        if info.broad:
            an.add(K.DESTRUCTIVE, 70, f"{verb} everything in the workspace", w.span)
        elif info.protected and info.protected[1] >= 60:
            an.add(K.DESTRUCTIVE, 65, f"{verb} {d}, {info.protected[0]}", w.span)
        else:
            score, why = _reversibility(an, info.abs, d)
            an.add(K.DESTRUCTIVE, score, f"{verb} {d}{tail} inside the workspace{why}", w.span)
        return
    if info.where == "tmp":
        an.add(
            K.DESTRUCTIVE, 40 if info.broad else 10, f"{verb} {d}{tail} (temporary files)", w.span
        )
        return
    if info.where == "device":
        return
    if info.where == "unknown":
        an.add(K.DESTRUCTIVE, 50, f"{verb} {d}{tail} in a directory known only at run time", w.span)
        return
    if info.broad:
        score = 95 if recursive or "*" in d else 80
        an.add(K.DESTRUCTIVE, score, f"{verb} {d}{tail}: a whole system or home directory", w.span)
        return
    if info.secret or info.persistence:
        an.add(K.DESTRUCTIVE, 75, f"{verb} {d}, {info.secret or info.persistence}", w.span)
        return
    an.add(
        K.DESTRUCTIVE, 75 if recursive else 70, f"{verb} {d}{tail}, outside the workspace", w.span
    )


# Loopback ports whose service controls the machine or its containers.
CONTROL_PORTS = {
    2375: "the Docker API",
    2376: "the Docker API",
    2379: "etcd",
    6443: "the Kubernetes API",
    10250: "the kubelet",
    8500: "Consul",
    4646: "Nomad",
    9222: "a browser's remote debugging port",
    5555: "adb",
    631: "CUPS",
    6379: "Redis",
    11211: "memcached",
}


def _network_note(
    an: Analyzer, c: SimpleCommand, t: Target, text: str, w: Word, *, score: int
) -> None:
    an.ci(c).network = True
    an.facts.hosts.append(t.host)
    extra = ""
    if t.metadata:
        score = max(score, 80)
        extra = " (the cloud metadata service: it hands out credentials)"
        an.add(K.SECRETS, 80, f"{text}{extra}", w.span)
        return
    if t.local:
        # Inside the sandbox only the command's own servers answer on loopback (the dev server
        # the agent just started). Ports of machine-wide control services stay asked: outside
        # the sandbox (degraded runs, approvals copied to a shell) they hand over the machine.
        port = t.port or 0
        if port in CONTROL_PORTS:
            an.add(
                K.PRIVILEGE,
                60,
                f"{text} (port {port}: {CONTROL_PORTS[port]} on this machine)",
                w.span,
            )
        else:
            an.add(K.NETWORK, 10, f"{text} (a service on this machine)", w.span)
        return
    if t.host.startswith("xn--") or ".xn--" in t.host:
        an.add(
            K.OBFUSCATION,
            65,
            f"{t.host} is an internationalised (punycode) name that can imitate a familiar one",
            w.span,
        )
    if t.ip_literal:
        score += 10
        extra = " (a bare IP address, not a named host)"
    elif t.scheme == "http":
        extra = " over plain http"
    if an.network == "off":
        extra += "; the sandbox has no network, so it fails unless you allow it"
        score = max(36, score - 4)
    elif any(domain_match(d, t.host) for d in an.allowed) and not t.ip_literal:
        extra += " (on this session's network allow-list)"
        score = 20
    an.add(K.NETWORK, score, f"{text}{extra}", w.span)

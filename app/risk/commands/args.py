"""Argument helpers every family shares: options split from operands, quoting for reasons,
and the interpreter names several families test.
"""

from __future__ import annotations

import re

from app.risk.analysis import short
from app.risk.netutil import Target
from app.risk.shell import Word

UNKNOWN_TARGET = Target("", "unknown.invalid", "")


def split_args(
    words: tuple[Word, ...] | list[Word], value_opts: frozenset[str] = frozenset()
) -> tuple[dict[str, Word | None], list[Word]]:
    """Options (clusters split, values attached) and positional words."""
    opts: dict[str, Word | None] = {}
    pos: list[Word] = []
    i = 0
    only_pos = False
    while i < len(words):
        w = words[i]
        v = w.value
        if only_pos or v is None or not v.startswith("-") or v == "-":
            pos.append(w)
            i += 1
            continue
        if v == "--":
            only_pos = True
            i += 1
            continue
        if v.startswith("--"):
            name, eq, val = v.partition("=")
            if eq:
                opts[name] = Word(val, val, w.span)
            elif name in value_opts and i + 1 < len(words):
                opts[name] = words[i + 1]
                i += 1
            else:
                opts[name] = None
            i += 1
            continue
        letters = v[1:]
        for k, ch in enumerate(letters):
            o = "-" + ch
            if o in value_opts:
                rest = letters[k + 1 :]
                if rest:
                    opts[o] = Word(rest, rest, w.span)
                elif i + 1 < len(words):
                    opts[o] = words[i + 1]
                    i += 1
                else:
                    opts[o] = None
                break
            opts[o] = None
        i += 1
    return opts, pos


def has(opts: dict[str, Word | None], *names: str) -> bool:
    return any(n in opts for n in names)


def val(opts: dict[str, Word | None], *names: str) -> Word | None:
    for n in names:
        w = opts.get(n)
        if w is not None:
            return w
    return None


def q(w: Word | str) -> str:
    return short(w.best if isinstance(w, Word) else w)


INTERPRETERS = frozenset(
    {
        "python",
        "python2",
        "python3",
        "pypy",
        "pypy3",
        "perl",
        "ruby",
        "node",
        "nodejs",
        "deno",
        "bun",
        "php",
        "lua",
        "luajit",
        "Rscript",
        "osascript",
        "pwsh",
        "powershell",
        "tclsh",
        "wish",
        "julia",
        "irb",
        "jshell",
        "groovy",
        "scala",
        "elixir",
        "erl",
        "ghci",
        "runghc",
    }
)


_PY = re.compile(r"^(python|pypy)(\d+(\.\d+)?)?$")


_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")


PUBLISH_WORDS = re.compile(
    r"^(deploy|release|publish|upload|push|ship|promote|rollout|prod|"
    r"production|install|uninstall|destroy|teardown|nuke|clean-all|"
    r"db[-_:]?(migrate|reset|drop|seed)|migrate|rollback)([-_:].*)?$"
)


_SERVER_NAME = re.compile(r"(^|[-_.])(server|serve|devserver|dev-server)([-_.]|$)", re.I)


def server_script(path: str) -> bool:
    """A script whose name says it starts a server (`src/server.ts`, `dev-server.js`)."""
    base = path.rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return bool(stem) and "." in base and bool(_SERVER_NAME.search(stem))

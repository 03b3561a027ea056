"""What bash does to the text before it runs it, where the parser's reading differs: the
expansions an attacker uses to spell a command so a reviewer (or a parser) reads something else.

- backslash-newline is removed outside single quotes (`cu\\⏎rl` is `curl`);
- brace expansion (`{rm,-rf,~}` is `rm -rf ~`, `src/{a,b}.py` is `src/a.py src/b.py`);
- a glob in a program's path is resolved against the real file system (`/u?r/b?n/c?rl`).

`bash_view` returns the text as bash would read it, with a map from each of its characters to
the original's, or None when nothing changes. The engine judges that view too (reasons prefixed
"as bash expands it"); where a glob matches nothing it stays as written and the engine says the
program could not be resolved.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable

_MAX_BRACE_ITEMS = 64
# A brace word: optional prefix, {a,b,...}, optional suffix; no quotes, $ or spaces inside.
_BRACE = re.compile(
    r"(?<![\w$])([^\s'\"`$(){};|&<>{}]*)\{([^\s'\"`${}]*,[^\s'\"`${}]*)\}([^\s'\"`$(){};|&<>]*)"
)
# A program path with glob characters at the start of a command.
_GLOB_PROGRAM = re.compile(r"(^|[;&|(\n]\s*|\$\(\s*)(/[\w./?*\[\]-]*[?*\[][\w./?*\[\]-]*)")


def find_paths(pattern: str) -> list[str]:
    """The paths a glob matches on this machine (replaceable: the golden verdicts pin a fixed
    file system so they do not depend on the machine that checks them)."""
    return glob.glob(pattern)


_finder: Callable[[str], list[str]] = find_paths


def set_path_finder(finder: Callable[[str], list[str]] | None) -> None:
    """Resolve program-path globs with `finder` (None: the real file system again)."""
    global _finder
    _finder = finder or find_paths


def _backslash_newlines(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    where: list[int] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote == "'":
            if ch == "'":
                quote = ""
        elif ch == "\\" and i + 1 < len(text):
            if text[i + 1] == "\n":
                i += 2
                continue
            out.append(ch)
            where.append(i)
            out.append(text[i + 1])
            where.append(i + 1)
            i += 2
            continue
        elif ch in "'\"":
            quote = "" if quote == ch else (quote or ch)
        out.append(ch)
        where.append(i)
        i += 1
    return "".join(out), where


def _braces(text: str, where: list[int]) -> tuple[str, list[int]]:
    out: list[str] = []
    owhere: list[int] = []
    pos = 0
    for m in _BRACE.finditer(text):
        items = m.group(2).split(",")
        if len(items) > _MAX_BRACE_ITEMS or _inside_quotes(text, m.start()):
            continue
        out.append(text[pos : m.start()])
        owhere.extend(where[pos : m.start()])
        words = [f"{m.group(1)}{it}{m.group(3)}" for it in items]
        expanded = " ".join(words)
        out.append(expanded)
        # Every expanded character points at the brace word as written.
        span_start, span_end = where[m.start()], where[m.end() - 1]
        step = max(1, (span_end - span_start + 1))
        owhere.extend(span_start + min(k, step - 1) for k in range(len(expanded)))
        pos = m.end()
    out.append(text[pos:])
    owhere.extend(where[pos:])
    return "".join(out), owhere


def _inside_quotes(text: str, at: int) -> bool:
    quote = ""
    for ch in text[:at]:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
    return bool(quote)


def _globs(text: str, where: list[int]) -> tuple[str, list[int]]:
    out: list[str] = []
    owhere: list[int] = []
    pos = 0
    for m in _GLOB_PROGRAM.finditer(text):
        pattern = m.group(2)
        try:
            hits = sorted(_finder(pattern))[:8]
        except (OSError, re.error, ValueError):
            hits = []
        if not hits:
            continue
        start = m.start(2)
        out.append(text[pos:start])
        owhere.extend(where[pos:start])
        first = hits[0]
        out.append(first)
        s, e = where[start], where[m.end(2) - 1]
        owhere.extend(s + min(k, e - s) for k in range(len(first)))
        pos = m.end(2)
    out.append(text[pos:])
    owhere.extend(where[pos:])
    return "".join(out), owhere


def bash_view(text: str) -> tuple[str, list[int]] | None:
    """The text as bash reads it (see the module doc) and, for each character, its index in
    `text`; None when bash reads it as written."""
    joins = "\\\n" in text
    braces = "{" in text and _BRACE.search(text) is not None
    globs = "/" in text and _GLOB_PROGRAM.search(text) is not None
    if not (joins or braces or globs):
        return None
    if joins:
        view, where = _backslash_newlines(text)
    else:
        view, where = text, list(range(len(text)))
    if "{" in view and "," in view:
        view, where = _braces(view, where)
    if "/" in view and _GLOB_PROGRAM.search(view) is not None:
        view, where = _globs(view, where)
    if view == text:
        return None
    return view, where

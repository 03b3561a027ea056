"""Locate hunks in a file's text and compute the new text.

Context and removed lines are matched in passes of falling strictness — exact, then ignoring
trailing whitespace, then ignoring surrounding whitespace, then with typographic punctuation
normalised — and the first pass that finds anything decides. V4A hunks have no line numbers, so a
hunk that matches in more than one place is an error unless an `@@` anchor narrows it down; unified
hunks carry line numbers, which pick the nearest of equal matches. Context lines keep the file's
own bytes: a fuzzy match never rewrites whitespace the patch did not mean to change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.patch.errors import PatchError, quote
from app.patch.model import Hunk, LineKind

_PUNCT = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
        **dict.fromkeys(
            "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "
        ),
    }
)


def _exact(s: str) -> str:
    return s


def _rstrip(s: str) -> str:
    return s.rstrip()


def _strip(s: str) -> str:
    return s.strip()


def _punct(s: str) -> str:
    return s.translate(_PUNCT).strip()


PASSES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("exact", _exact),
    ("trailing-whitespace", _rstrip),
    ("surrounding-whitespace", _strip),
    ("punctuation", _punct),
)


class _Normalised:
    """The file's lines under each pass's normalisation, computed once, on demand."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self._cache: dict[int, list[str]] = {}

    def get(self, pass_no: int) -> list[str]:
        got = self._cache.get(pass_no)
        if got is None:
            fn = PASSES[pass_no][1]
            got = [fn(x) for x in self.lines] if pass_no else list(self.lines)
            self._cache[pass_no] = got
        return got


def find_all(
    norm: _Normalised, pattern: Sequence[str], start: int, stop: int | None = None
) -> tuple[list[int], int]:
    """All positions >= start (and whose match starts <= stop) where `pattern` matches, at the
    first pass that matches anywhere; returns (positions, pass number) or ([], -1)."""
    n = len(pattern)
    total = len(norm.lines)
    last = total - n
    if stop is not None:
        last = min(last, stop)
    if n == 0 or last < start:
        return [], -1
    for pass_no, (_, fn) in enumerate(PASSES):
        lines = norm.get(pass_no)
        pat = [fn(x) for x in pattern]
        first = pat[0]
        hits = [i for i in range(start, last + 1) if lines[i] == first and lines[i : i + n] == pat]
        if hits:
            return hits, pass_no
    return [], -1


@dataclass(frozen=True)
class TextLines:
    """A text file as lines without their endings, plus each line's own ending ("\r\n", "\n",
    or "" for a last line without one), so untouched lines keep their bytes exactly."""

    texts: list[str]
    eols: list[str]

    @property
    def dominant(self) -> str:
        """The file's preferred line ending: its first one (as apply_patch, rustfmt and Ruff
        decide), LF for a file without any."""
        return next((e for e in self.eols if e), "\n")


def split_text(text: str) -> TextLines:
    texts: list[str] = []
    eols: list[str] = []
    pieces = text.split("\n")
    for piece in pieces[:-1]:  # every piece but the last was followed by "\n"
        if piece.endswith("\r"):
            texts.append(piece[:-1])
            eols.append("\r\n")
        else:
            texts.append(piece)
            eols.append("\n")
    if pieces[-1]:  # an unterminated last line
        texts.append(pieces[-1])
        eols.append("")
    return TextLines(texts, eols)


def _describe_miss(path: str, k: int, norm: _Normalised, old: Sequence[str]) -> str:
    stripped = set(norm.get(2))
    for line in old:
        if line.strip() not in stripped and _punct(line) not in set(norm.get(3)):
            return f"{path}: hunk {k} does not match: line {quote(line)} is not in the file"
    return f"{path}: hunk {k} does not match: its lines are in the file but not together: " + quote(
        "\n".join(old), 160
    )


def _trim_trailing_blank_context(
    lines: tuple[tuple[LineKind, str], ...],
) -> tuple[tuple[LineKind, str], ...]:
    out = list(lines)
    while out and out[-1] == (" ", ""):
        out.pop()
    return tuple(out)


def apply_hunks(path: str, text: str, hunks: Sequence[Hunk], fmt: str) -> str:
    """The file's new text after `hunks`, or a PatchError naming the file and the lines.

    Line endings: context lines keep their own; an added line takes the ending of the removed
    line it replaces (the k-th added of a change block takes the k-th removed's, the last one's
    when there are more added), or the file's dominant ending when nothing was removed.
    """
    src = split_text(text)
    lines = src.texts
    norm = _Normalised(lines)
    dominant = src.dominant
    cursor = 0
    offset = 0  # unified: how far matches have drifted from the diff's line numbers
    edits: list[tuple[int, int, list[tuple[str, str]]]] = []
    final_newline = not lines or src.eols[-1] != ""
    for k, hunk in enumerate(hunks, start=1):
        start = cursor
        next_anchor: int | None = None
        for anchor in hunk.anchors:
            hits, _ = find_all(norm, [anchor], start)
            if not hits:
                raise PatchError(f"{path}: hunk {k}: context line {quote(anchor)} not found")
            start = hits[0] + 1
            next_anchor = hits[1] if len(hits) > 1 else None
        body = hunk.lines
        old = [t for kind, t in body if kind != "+"]
        if not old:
            if hunk.anchors:
                at = start
            elif hunk.old_start is not None:
                at = max(cursor, min(len(lines), hunk.old_start + offset))
            else:
                # apply_patch appends an unanchored pure addition at the end of the file and
                # keeps searching later hunks from where it was: such a hunk may come first.
                at = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
                edits.append((at, 0, [(t, dominant) for _, t in body]))
                continue
            edits.append((at, 0, [(t, dominant) for _, t in body]))
            cursor = at
            if hunk.new_eof_no_newline:
                final_newline = False
            continue
        rest = hunks[k:]
        pos = _locate(path, k, norm, hunk, body, start, next_anchor, offset, rest)
        if pos is None:
            trimmed = _trim_trailing_blank_context(body)
            if trimmed != body and any(kind != "+" for kind, _ in trimmed):
                body = trimmed
                old = [t for kind, t in body if kind != "+"]
                pos = _locate(path, k, norm, hunk, body, start, next_anchor, offset, rest)
        if pos is None:
            if hunk.end_of_file:
                raise PatchError(
                    f"{path}: hunk {k} must match at the end of the file but does not: "
                    + quote("\n".join(old), 160)
                )
            raise PatchError(_describe_miss(path, k, norm, old))
        edits.append((pos, len(old), _replacement(body, pos, src, dominant)))
        if hunk.old_start is not None:
            offset = pos - (hunk.old_start - 1)
        cursor = pos + len(old)
        if hunk.old_eof_no_newline or hunk.new_eof_no_newline:
            final_newline = not hunk.new_eof_no_newline
    out: list[tuple[str, str]] = []
    prev = 0
    for pos, length, new in sorted(edits, key=lambda e: e[0]):
        if pos < prev:
            if length:
                raise PatchError(f"{path}: hunks overlap at line {pos + 1}")
            pos = prev  # an end-of-file addition that a later hunk's block reaches past
        out.extend(zip(lines[prev:pos], src.eols[prev:pos], strict=True))
        out.extend(new)
        prev = pos + length
    out.extend(zip(lines[prev:], src.eols[prev:], strict=True))
    if fmt == "v4a":
        final_newline = True
    parts: list[str] = []
    last = len(out) - 1
    for i, (t, eol) in enumerate(out):
        if i < last or final_newline:
            parts.append(t + (eol or dominant))
        else:
            parts.append(t)
    return "".join(parts)


def _replacement(
    body: tuple[tuple[LineKind, str], ...], pos: int, src: TextLines, dominant: str
) -> list[tuple[str, str]]:
    """The lines that replace a matched block: the file's own context lines, the patch's added
    lines with endings borrowed from the removed lines they stand in for."""
    new: list[tuple[str, str]] = []
    removed_eols: list[str] = []
    pending: list[int] = []

    def flush() -> None:
        for n, idx in enumerate(pending):
            eol = removed_eols[min(n, len(removed_eols) - 1)] if removed_eols else dominant
            new[idx] = (new[idx][0], eol)
        removed_eols.clear()
        pending.clear()

    i = pos
    for kind, t in body:
        if kind == " ":
            flush()
            new.append((src.texts[i], src.eols[i]))
            i += 1
        elif kind == "-":
            removed_eols.append(src.eols[i])
            i += 1
        else:
            pending.append(len(new))
            new.append((t, dominant))
    flush()
    return new


def _fits(norm: _Normalised, hunks: Sequence[Hunk], start: int) -> bool:
    """Whether `hunks` can all be placed, in order, at or after line `start` (first fit)."""
    cursor = start
    total = len(norm.lines)
    for hunk in hunks:
        at = cursor
        for anchor in hunk.anchors:
            hits, _ = find_all(norm, [anchor], at)
            if not hits:
                return False
            at = hits[0] + 1
        old = hunk.old_lines
        if not old:
            continue
        if hunk.end_of_file:
            end = total - len(old)
            if end < at or not find_all(norm, old, end)[0]:
                return False
            cursor = total
            continue
        hits, _ = find_all(norm, old, at)
        if not hits and hunk.anchors and at > 0:
            hits, _ = find_all(norm, old, at - 1, stop=at - 1)
        if not hits:
            return False
        cursor = hits[0] + len(old)
    return True


def _locate(
    path: str,
    k: int,
    norm: _Normalised,
    hunk: Hunk,
    body: tuple[tuple[LineKind, str], ...],
    start: int,
    next_anchor: int | None,
    offset: int,
    rest: Sequence[Hunk] = (),
) -> int | None:
    old = [t for kind, t in body if kind != "+"]
    total = len(norm.lines)
    if hunk.end_of_file:
        at = total - len(old)
        if at < start:
            return None
        hits, _ = find_all(norm, old, at)
        return hits[0] if hits else None
    hits, _ = find_all(norm, old, start)
    if not hits and hunk.anchors and start > 0:
        # Models often repeat the anchor as the hunk's first context line: accept a match that
        # starts on the anchor line itself (and nowhere else).
        hits, _ = find_all(norm, old, start - 1, stop=start - 1)
    if not hits:
        return None
    if hunk.old_start is not None:
        want = hunk.old_start - 1 + offset
        return min(hits, key=lambda h: (abs(h - want), h))
    if hunk.anchors:
        if next_anchor is not None and hits[0] > next_anchor:
            raise PatchError(
                f"{path}: hunk {k}: context line {quote(hunk.anchors[-1])} is ambiguous "
                f"(it occurs at lines {start} and {next_anchor + 1}); add another '@@' line"
            )
        return hits[0]
    if len(hits) > 1 and _fits(norm, rest, hits[1] + len(old)):
        # A later match is a real alternative only if the hunks after this one still fit
        # behind it; two identical hunks over two identical places are not ambiguous.
        where = ", ".join(str(h + 1) for h in hits[:5]) + (", …" if len(hits) > 5 else "")
        raise PatchError(
            f"{path}: hunk {k} is ambiguous: its lines match at lines {where}: "
            + quote("\n".join(old), 120)
            + "; add context or an '@@' line"
        )
    return hits[0]

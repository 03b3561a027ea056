"""Syntax colours as spans over the *source* text, so they survive display-safety markers.

`textual.highlight.highlight` rewrites line endings before lexing, which would shift offsets
whenever untrusted text contains a carriage return; lexing the text as given keeps every offset
true, and `SafeText.content` then maps the spans onto the display.
"""

from __future__ import annotations

from functools import lru_cache

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Token, _TokenType
from pygments.util import ClassNotFound
from textual.highlight import HighlightTheme

_STYLES = HighlightTheme.STYLES


@lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer:
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False, stripall=False)
    except ClassNotFound:
        return get_lexer_by_name("text", stripnl=False, ensurenl=False, stripall=False)


@lru_cache(maxsize=512)
def language_for_path(path: str) -> str:
    """The pygments language for a file name, by name alone (the content is untrusted and partial)."""
    try:
        lexer = get_lexer_for_filename(path, stripnl=False)
    except ClassNotFound:
        return "text"
    return lexer.aliases[0] if lexer.aliases else "text"


@lru_cache(maxsize=256)
def _style_for(token_type: _TokenType) -> str:
    t: _TokenType | None = token_type
    while t is not None:
        style = _STYLES.get(t)
        if style is not None:
            return style
        t = t.parent
    return ""


def token_spans(text: str, language: str) -> list[tuple[int, int, str]]:
    """(start, end, style) over `text` for every token that has a style in the active theme."""
    if language == "text" or not text:
        return []
    spans: list[tuple[int, int, str]] = []
    for index, token_type, value in _lexer(language).get_tokens_unprocessed(text):
        if not value or token_type is Token.Text:
            continue
        style = _style_for(token_type)
        if style:
            spans.append((index, index + len(value), style))
    return spans

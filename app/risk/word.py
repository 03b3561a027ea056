"""One shell word after quote removal: the unit every part of the risk engine passes around.

It lives apart from the parser (`shell`) so the modules the parser uses (`wrappers`) can build
words without importing the parser back.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.model import Span


@dataclass(frozen=True)
class Word:
    """One shell word after quote removal.

    `value` is None when part of the word is only known at run time (an unknown variable, a
    command substitution); `text` then keeps those parts as written so reasons can quote them.
    """

    value: str | None
    text: str
    span: Span
    exact: int | None = None  # source index of value[0] when value maps 1:1 onto the source
    subs: tuple[int, ...] = ()  # commands whose output is spliced into this word
    expanded: bool = False  # some part came from a variable or a substitution
    procsub: str = ""  # "<" or ">" when the whole word is a process substitution

    @property
    def dynamic(self) -> bool:
        return self.value is None

    @property
    def best(self) -> str:
        return self.value if self.value is not None else self.text

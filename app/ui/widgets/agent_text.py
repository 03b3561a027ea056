"""The agent's streamed prose (and reasoning summaries, dimmed), newest at the bottom.

Only the last `KEEP` characters are kept on screen: prose is for context, the audit log keeps
the rest. Shown through the display-safety markers like everything the agent writes.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from app.ui import bindings
from app.ui.safe import make_safe

KEEP = 8_000


class AgentView(VerticalScroll):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.SCROLL)
    # At least as tall as the pane, so a short text sits at the top (an anchored view would
    # otherwise align it to the bottom).
    DEFAULT_CSS = """
    AgentView > #agent-text {
        min-height: 100%;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pieces: list[tuple[str, str]] = []  # (kind, text)
        self._chars = 0
        self._turn_break = False

    def compose(self) -> ComposeResult:
        yield Static(id="agent-text")

    def on_mount(self) -> None:
        # Textual keeps an anchored view at the bottom as it grows (also while a dialog covers
        # the screen, when sizes are stale) and lets go once the reviewer scrolls up.
        self.anchor()

    def add(self, pieces: list[tuple[str, str]]) -> None:
        """Append streamed pieces; a ("turn", "") piece starts the next turn's words on a
        paragraph of their own, never run on into the last turn's."""
        for kind, text in pieces:
            if kind == "turn":
                self._turn_break = bool(self._pieces)
                continue
            if self._turn_break and text.strip():
                self._turn_break = False
                before = self.text
                gap = "" if before.endswith("\n\n") else "\n" if before.endswith("\n") else "\n\n"
                if gap:
                    self._pieces.append(("text", gap))
                    self._chars += len(gap)
            if self._pieces and self._pieces[-1][0] == kind:
                self._pieces[-1] = (kind, self._pieces[-1][1] + text)
            else:
                self._pieces.append((kind, text))
            self._chars += len(text)
        while self._chars > KEEP and self._pieces:
            kind, text = self._pieces[0]
            drop = min(len(text), self._chars - KEEP)
            self._chars -= drop
            if drop == len(text):
                self._pieces.pop(0)
            else:
                self._pieces[0] = (kind, text[drop:])
        out = Content("").join(
            make_safe(text)
            .content()
            .stylize_before("italic $text-muted" if kind == "reasoning" else "")
            if kind == "reasoning"
            else make_safe(text).content()
            for kind, text in self._pieces
        )
        self.query_one("#agent-text", Static).update(out)

    @property
    def text(self) -> str:
        return "".join(t for _, t in self._pieces)

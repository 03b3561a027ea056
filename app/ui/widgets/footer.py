"""The key bar: Textual's `Footer`, made to fit a narrow terminal instead of cutting a key's
name in half ("? He").

Bindings are listed in the registry's order (help and quit right after the verdict keys). Below
`NARROW` columns the keys named in `optional` are left out of the bar — they still work, and `?`
lists every key — and below `PALETTE` columns so is the command palette's hint.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW = 100
PALETTE = 110


class ConsoleFooter(Footer):
    narrow: reactive[bool] = reactive(False, recompose=True)
    """True below `NARROW` columns: the optional keys are left out."""

    def __init__(self, optional: frozenset[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.optional = optional

    def on_resize(self, event: events.Resize) -> None:
        self.show_command_palette = event.size.width >= PALETTE
        self.narrow = event.size.width < NARROW

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if self.narrow and isinstance(widget, FooterKey) and widget.action in self.optional:
                continue
            yield widget

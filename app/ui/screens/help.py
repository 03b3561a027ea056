"""Every key the console answers to, as currently bound (the user's `[keys]` included)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from app.ui import bindings
from app.ui.bindings import section_of

EXPLAIN = (
    "Batch approval (a) covers every waiting action of the selected batch that is not critical, "
    "and only once each has been on screen in full. Critical actions need their own y and a typed "
    "confirmation.\n"
    "The queue's movement keys (j k g G, arrows, Home/End, PgUp/PgDn) scroll every other pane too; "
    "Tab and shift+Tab move between panes.\n"
    "Markers such as ␛ ␍ ⟨RLO⟩ ⟨ZWSP⟩ stand for characters a terminal would hide or obey; "
    "they are shown, never interpreted. Output lines carry an out│ or err│ gutter: anything "
    "without it is the console speaking."
)


def key_rows(bindings: Sequence[tuple[str, str, str]]) -> Content:
    """One line per key, under a heading for where it works (the same key means different
    things on different screens: `y` approves, answers yes, quits)."""
    lines: list[Content] = []
    heading: str | None = None
    for key, description, binding_id in bindings:
        section = section_of(binding_id)
        if section != heading:
            heading = section
            if lines:
                lines.append(Content(""))
            lines.append(Content.styled(section, "bold"))
        lines.append(
            Content.styled(f"{key:>14}  ", "bold $text-accent")
            + Content(f"{description:<30}")
            + Content.styled(binding_id, "$text-muted")
        )
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.HELP)

    def __init__(self, bindings: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(Content.styled("lockgate — keys", "bold"), id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(key_rows(self.bindings), id="help-keys")
                yield Static(Content(EXPLAIN), id="help-explain")
            yield Static(
                Content("Esc closes · binding ids go in [keys] of the user config"),
                id="help-footer",
            )

    def action_close(self) -> None:
        self.dismiss(None)


def describe(bindings: Sequence[Binding], keymap: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(keys as bound now, description, id) for every binding that has an id."""
    rows = []
    for b in bindings:
        if not b.id:
            continue
        keys = keymap.get(b.id, b.key)
        shown = ",".join(_show_key(k.strip()) for k in keys.split(","))
        rows.append((shown, b.description, b.id))
    return rows


def _show_key(key: str) -> str:
    *modifiers, name = key.split("+")
    return "+".join([*modifiers, format_key(name)])

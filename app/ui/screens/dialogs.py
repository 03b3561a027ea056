"""Small screens that ask one question and answer it with `dismiss`: the second confirmation of a
critical action, feedback for a denial, the command editor, and "quit with actions pending?"."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea

from app.core.model import CommandAction
from app.ui import bindings
from app.ui.contract import ViewLike
from app.ui.safe import make_safe, safe_line
from app.ui.widgets.detail import command_content, edit_diff_content

CONFIRM_WORD = "yes"


def danger_words(view: ViewLike) -> str:
    """The danger in plain words: level and score, then the weightiest reason (reasons come
    sorted by score), e.g. "CRITICAL 100 — downloads a script from … and runs it"."""
    a = view.assessment
    if a is None:
        return "not assessed yet"
    what = (
        a.reasons[0]
        if a.reasons
        else (", ".join(c.value for c in a.categories) or "no reason given")
    )
    return f"{a.level.value.upper()} {a.score} — {what}"


ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A question on top of the console. It opens without the notes and warnings of what came
    before: one would sit over its last line (the keys that answer it) for seconds, about
    something else. Errors stay: they may not have been read yet."""

    def on_mount(self) -> None:
        # Textual calls each class's own handler: a dialog's on_mount runs after this one.
        app = self.app
        stale = [n for n in app._notifications if n.severity != "error"]
        for note in stale:
            app._unnotify(note, refresh=False)
        if stale:
            app._refresh_notifications()


class ConfirmCriticalScreen(Dialog[bool]):
    """A critical action needs more than one key: the reviewer reads what the danger is and types
    `yes`. Anything else, or Esc, leaves the action waiting.

    After an edit (`edited`), the text shown is the edited command — exactly what will run — with
    the diff from the proposed one beneath it; the reasons are still the proposed command's."""

    CSS_PATH = "dialogs.tcss"
    AUTO_FOCUS = "#dialog-input"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.CONFIRM_CRITICAL)

    def __init__(self, view: ViewLike, verb: str, edited: str | None = None) -> None:
        super().__init__(classes="-critical")
        self.view = view
        self.verb = verb
        self.edited = edited

    def compose(self) -> ComposeResult:
        view = self.view
        with Vertical(id="dialog"):
            # After an edit the reasons are about the proposed text, not what will run: say so.
            whose = "Proposed command: " if self.edited is not None else ""
            yield Static(
                make_safe(whose + danger_words(view), keep_newlines=False)
                .content()
                .stylize_before("bold"),
                id="dialog-title",
            )
            assessment = view.assessment
            more = [
                Content("• ") + make_safe(r, keep_newlines=False).content()
                for r in (assessment.reasons[1:] if assessment else ())
            ]
            if assessment is not None and assessment.categories:
                more.insert(
                    0,
                    Content.styled(
                        "risk: " + ", ".join(c.value for c in assessment.categories), "$text-muted"
                    ),
                )
            if more:
                yield Static(Content("\n").join(more), id="dialog-reasons")
            spans = view.assessment.spans if view.assessment else ()
            if isinstance(view.action, CommandAction) and self.edited is not None:
                text, warnings = command_content(self.edited, ())
                yield Static(
                    Content.styled(f"will run ({len(self.edited)} chars):", "$text-muted"),
                    id="dialog-will-run",
                )
            elif isinstance(view.action, CommandAction):
                text, warnings = command_content(view.action.command, spans)
            else:
                safe = make_safe(view.action.reviewed_text)
                text, warnings = safe.content(), list(safe.warnings)
            with VerticalScroll(id="dialog-text"):
                yield Static(text)
            if isinstance(view.action, CommandAction) and self.edited is not None:
                yield Static(
                    Content.styled("edit: proposed → edited\n", "$text-muted")
                    + edit_diff_content(view.action.command, self.edited),
                    id="dialog-diff",
                )
            if warnings:
                yield Static(
                    Content("\n").join(Content("⚠ " + w) for w in warnings), id="dialog-warnings"
                )
            # Docked: however tall the rest (reasons, a long edit and its diff), the question and
            # the box to type into stay on screen; the rest scrolls above them.
            with Vertical(id="dialog-answer"):
                yield Static(
                    Content(f"{self.verb} ")
                    + safe_line(view.action.id)
                    + Content(f"? Type {CONFIRM_WORD} and press Enter; Esc cancels."),
                    id="dialog-prompt",
                )
                yield Input(placeholder=CONFIRM_WORD, id="dialog-input")

    @on(Input.Submitted, "#dialog-input")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip().lower() == CONFIRM_WORD:
            self.dismiss(True)
        else:
            self.notify(f"Not approved: type {CONFIRM_WORD} to confirm.", severity="warning")
            event.input.value = ""

    def action_cancel(self) -> None:
        self.dismiss(False)


class FeedbackScreen(Dialog[str | None]):
    """Deny with a reason the agent will read."""

    CSS_PATH = "dialogs.tcss"
    AUTO_FOCUS = "#dialog-input"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.FEEDBACK)

    def __init__(self, view: ViewLike) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(
                Content.styled("Deny ", "bold")
                + safe_line(self.view.action.id, "bold")
                + Content.styled(" with feedback", "bold"),
                id="dialog-title",
            )
            with VerticalScroll(id="dialog-text"):
                yield Static(make_safe(self.view.action.reviewed_text).content())
            yield Static(
                "What should the agent do instead? Enter sends; Esc cancels.", id="dialog-prompt"
            )
            yield Input(placeholder="feedback for the agent", id="dialog-input")

    @on(Input.Submitted, "#dialog-input")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.notify("Type the feedback first (Esc cancels).", severity="warning")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditCommandScreen(Dialog[str | None]):
    """Edit a command, then approve exactly what the preview shows (ctrl+s)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.EDIT)

    def __init__(self, view: ViewLike) -> None:
        super().__init__()
        self.view = view
        assert isinstance(view.action, CommandAction)
        self.original = view.action.command
        safe = make_safe(self.original)
        # A text box would hand hidden characters to the terminal as they are: a command holding
        # any starts from its marked-up form, which is what the reviewer saw and now edits.
        self.hazardous = safe.hazardous
        self.start_text = safe.display if safe.hazardous else self.original

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(
                Content.styled("Edit ", "bold")
                + safe_line(self.view.action.id, "bold")
                + Content.styled(", then approve", "bold"),
                id="dialog-title",
            )
            if self.hazardous:
                yield Static(
                    Content(
                        "⚠ This command held hidden or control characters. They are shown as "
                        "markers (␛, ⟨RLO⟩, …) and the markers themselves are what will run "
                        "unless you change them."
                    ),
                    id="dialog-warnings",
                )
            yield TextArea(self.start_text, id="edit-area", soft_wrap=True, show_line_numbers=False)
            yield Static(id="edit-preview")
            yield Static(
                "ctrl+s approves the text above exactly as previewed; Esc cancels.",
                id="dialog-prompt",
            )

    def on_mount(self) -> None:
        self._preview(self.start_text)
        self.query_one(TextArea).focus()

    @on(TextArea.Changed, "#edit-area")
    def _changed(self, event: TextArea.Changed) -> None:
        self._preview(event.text_area.text)

    def _preview(self, text: str) -> None:
        content, warnings = command_content(text, ())
        lines = [Content.styled(f"will run ({len(text)} chars):", "$text-muted"), content]
        lines += [Content.styled("⚠ " + w, "bold $text-warning") for w in warnings]
        preview = self.query_one("#edit-preview", Static)
        preview.update(Content("\n").join(lines))

    def action_save(self) -> None:
        text = self.query_one(TextArea).text
        if not text.strip():
            self.notify("An empty command cannot run.", severity="warning")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitScreen(Dialog[bool]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.QUIT)

    def __init__(self, waiting: int, in_flight: int = 0) -> None:
        super().__init__()
        self.waiting = waiting
        self.in_flight = in_flight

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Content.styled("Quit lockgate?", "bold"), id="dialog-title")
            lines = []
            if self.waiting == 1:
                lines.append(
                    "1 action still waits for a verdict; quitting cancels it (it never runs)."
                )
            elif self.waiting:
                lines.append(
                    f"{self.waiting} actions still wait for a verdict; "
                    "quitting cancels them (they never run)."
                )
            if self.in_flight == 1:
                lines.append("1 approved action has not finished yet; quitting stops it.")
            elif self.in_flight:
                lines.append(
                    f"{self.in_flight} approved actions have not finished yet; quitting stops them."
                )
            lines.append("\ny quits · n stays")
            yield Static(Content("\n".join(lines)), id="dialog-prompt")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ConfirmScreen(Dialog[bool]):
    """A yes/no question about something that cannot be taken back lightly (undoing a patch)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.CONFIRM)

    def __init__(self, title: str, question: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(
                make_safe(self.title_text).content().stylize_before("bold"), id="dialog-title"
            )
            yield Static(make_safe(self.question).content(), id="dialog-text-plain")
            yield Static("y yes · n no", id="dialog-prompt")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

"""Every key of the console, as data: what `[keys]` may rebind and what `?` shows.

Screens and widgets take their `BINDINGS` from here, and this module imports nothing of the
console, so help and key loading read the keys without importing a screen (which used to make
`ui.app`, `ui.bindings` and `ui.screens.main` import each other).

Verdict keys are one parameterised action each (`approve('once')`, `approve('session')`, …)
gated by the main screen's `check_action`. A key whose action does not apply to the selected
item would otherwise do nothing at all; each verdict key therefore has a second, non-priority
binding under the same id that Textual reaches only when the first is refused, and it says why
(`refused('approve("once")')`). Both share the id, so `[keys]` moves them together.
"""

from __future__ import annotations

from textual.binding import Binding

VERDICT = Binding.Group("Verdict")


def _verdict(key: str, action: str, description: str, binding_id: str) -> list[Binding]:
    return [
        Binding(key, action, description, id=binding_id, priority=True, group=VERDICT),
        Binding(key, f"refused({action!r})", description, id=binding_id, show=False),
    ]


MAIN: list[Binding] = [
    *_verdict("a", "approve_batch", "Approve batch", "approve-batch"),
    *_verdict("y", "approve('once')", "Approve", "approve"),
    *_verdict("n", "deny", "Deny", "deny"),
    *_verdict("f", "deny_feedback", "Deny+feedback", "deny-feedback"),
    *_verdict("e", "edit", "Edit", "edit"),
    *_verdict("s", "approve('session')", "Allow in session", "approve-session"),
    *_verdict("A", "approve('always')", "Allow always", "approve-always"),
    # The footer lists these in this order and a narrow one cuts the tail: help and quit first.
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "request_quit", "Quit", id="quit", priority=True),
    Binding("d", "session_diff", "Session diff", id="session-diff"),
    Binding("u", "undo_patch", "Undo patch", id="undo-patch"),
    Binding("enter", "expand", "Expand", id="expand"),
    Binding("o", "show_output", "Output", id="show-output"),
    # The app's actions: a binding naming an action its screen lacks silently does nothing.
    Binding("tab", "app.focus_next", "Next pane", id="focus-next", show=False),
    Binding("shift+tab", "app.focus_previous", "Previous pane", id="focus-previous", show=False),
    Binding("ctrl+c", "app.help_quit", "How to quit", id="help-quit", show=False),
    Binding("t", "themes", "Theme", id="themes"),
]

QUEUE: list[Binding] = [
    Binding("down,j", "cursor_down", "Down", id="cursor-down", show=False),
    Binding("up,k", "cursor_up", "Up", id="cursor-up", show=False),
    Binding("home,g", "first", "First", id="cursor-first", show=False),
    Binding("end,G", "last", "Last", id="cursor-last", show=False),
    Binding("pagedown", "page_down", "Page down", id="page-down", show=False),
    Binding("pageup", "page_up", "Page up", id="page-up", show=False),
]

# The same keys in every other pane (detail, output, agent, files), under the queue's ids so a
# rebinding in `[keys]` moves both; the arrows, Home/End and PgUp/PgDn are Textual's own there.
SCROLL: list[Binding] = [
    Binding("j", "scroll_down", "Down", id="cursor-down", show=False),
    Binding("k", "scroll_up", "Up", id="cursor-up", show=False),
    Binding("g", "scroll_home", "First", id="cursor-first", show=False),
    Binding("G", "scroll_end", "Last", id="cursor-last", show=False),
]

DIFF: list[Binding] = [
    Binding("space", "toggle_file", "Fold file", id="diff-fold-file"),
    Binding("c", "toggle_all", "Fold all", id="diff-fold-all"),
    Binding("right_square_bracket", "next_file", "Next file", id="diff-next-file"),
    Binding("left_square_bracket", "previous_file", "Previous file", id="diff-previous-file"),
]

SESSION_DIFF: list[Binding] = [
    Binding("escape,d", "close", "Back", id="session-diff-close"),
    Binding("r", "refresh_diff", "Refresh", id="session-diff-refresh"),
]

CONFIRM_CRITICAL: list[Binding] = [Binding("escape", "cancel", "Cancel", id="confirm-cancel")]
FEEDBACK: list[Binding] = [Binding("escape", "cancel", "Cancel", id="feedback-cancel")]
EDIT: list[Binding] = [
    Binding("ctrl+s", "save", "Approve edited", id="edit-approve"),
    Binding("escape", "cancel", "Cancel", id="edit-cancel"),
]
QUIT: list[Binding] = [
    Binding("y", "answer(True)", "Quit", id="quit-yes"),
    Binding("n,escape", "answer(False)", "Stay", id="quit-no"),
]
CONFIRM: list[Binding] = [
    Binding("y", "answer(True)", "Yes", id="confirm-yes"),
    Binding("n,escape", "answer(False)", "No", id="confirm-no"),
]
HELP: list[Binding] = [Binding("escape,q,question_mark", "close", "Close", id="help-close")]

APP: list[Binding] = [
    Binding("ctrl+p", "command_palette", "Palette", id="command-palette", show=False),
    Binding("ctrl+q", "quit_now", "Quit now", id="quit-now", show=False, priority=True),
]

# Where each group of keys works: help lists them under these headings, in this order.
SECTIONS: tuple[tuple[str, list[Binding]], ...] = (
    ("Review", MAIN),
    ("Queue", QUEUE),
    ("Other panes", SCROLL),  # the queue's ids again: help lists them once, under Queue
    ("Diff", DIFF),
    ("Session diff (d)", SESSION_DIFF),
    ("Critical confirmation", CONFIRM_CRITICAL),
    ("Deny with feedback (f)", FEEDBACK),
    ("Edit (e)", EDIT),
    ("Quit (q)", QUIT),
    ("Yes/no questions", CONFIRM),
    ("Help (?)", HELP),
    ("Anywhere", APP),
)

REGISTRY: tuple[list[Binding], ...] = tuple(group for _, group in SECTIONS)


def section_of(binding_id: str) -> str:
    """The heading help lists `binding_id` under: the first group that has it."""
    return next((name for name, group in SECTIONS if any(b.id == binding_id for b in group)), "")


def all_bindings() -> list[Binding]:
    """One binding per id, in the order help lists them."""
    seen: set[str] = set()
    out: list[Binding] = []
    for bindings in REGISTRY:
        for b in bindings:
            if b.id and b.id not in seen:
                seen.add(b.id)
                out.append(b)
    return out

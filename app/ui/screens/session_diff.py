"""Everything the session changed in the workspace, as one diff: the final review before a commit."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from app.ui.diff_model import parse_unified
from app.ui.safe import make_safe
from app.ui.session_diff import FileState, SessionDiff, diff_since
from app.ui.widgets.diff_view import DiffView


class SessionDiffScreen(Screen[None]):
    CSS_PATH = "session_diff.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,d", "close", "Back", id="session-diff-close"),
        Binding("r", "refresh_diff", "Refresh", id="session-diff-refresh"),
    ]

    def __init__(self, before: dict[str, FileState] | None, workspace: Path) -> None:
        super().__init__()
        self.before = before
        self.workspace = workspace
        self.result: SessionDiff | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Session diff", "bold"), id="session-diff-title")
        yield Static("computing…", id="session-diff-summary")
        yield DiffView(id="session-diff-view")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DiffView).focus()
        self.action_refresh_diff()

    def action_refresh_diff(self) -> None:
        if self.before is None:
            self.query_one("#session-diff-summary", Static).update(
                "The workspace snapshot is not ready yet; try again in a moment (r)."
            )
            return
        self._diff_worker(self.before)

    @work(thread=True, exclusive=True, group="session-diff", exit_on_error=False)
    def _diff_worker(self, before: dict[str, FileState]) -> None:
        result = diff_since(before, self.workspace)
        self.app.call_from_thread(self._show, result)

    def _show(self, result: SessionDiff) -> None:
        self.result = result
        summary = self.query_one("#session-diff-summary", Static)
        if result.empty:
            summary.update("Nothing changed in the workspace since the session began.")
        else:
            added = sum(a for _, a, _ in result.files)
            removed = sum(r for _, _, r in result.files)
            head = (
                Content.styled(
                    f"{len(result.files)} file{'s' * (len(result.files) != 1)} changed  ", "bold"
                )
                + Content.styled(f"+{added}", "bold $diff-added")
                + Content(" ")
                + Content.styled(f"−{removed}", "bold $diff-removed")
            )
            notes = [make_safe(n, keep_newlines=False).content() for n in result.notes]
            summary.update(Content("\n").join([head, *notes]))
        self.query_one(DiffView).show(
            parse_unified(result.unified, {p: (a, r) for p, a, r in result.files})
        )

    def action_close(self) -> None:
        self.dismiss(None)

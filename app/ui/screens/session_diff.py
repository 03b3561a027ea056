"""Everything the session changed in the workspace, as one diff: the final review before a commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from app.ui import bindings
from app.ui.contract import ViewLike
from app.ui.diff_model import parse_unified
from app.ui.safe import make_safe, spaced
from app.ui.session_diff import SessionDiff, Snapshot, diff_since
from app.ui.widgets.diff_view import DiffView
from app.ui.widgets.footer import ConsoleFooter


def touched_outside(views: Iterable[ViewLike], workspace: Path) -> list[tuple[str, str]]:
    """(path, action id) of files outside the workspace that approved actions reported."""
    root = workspace.resolve()
    out: list[tuple[str, str]] = []
    for view in views:
        for name in view.result.files_changed if view.result is not None else ():
            path = (root / name).resolve()
            if not path.is_relative_to(root):
                out.append((str(path), view.action.id))
    return out


def summary_content(result: SessionDiff) -> Content:
    """The head of the review: how many files, then every dangerous change (first, marked),
    then what cannot be shown line by line."""
    if result.empty:
        return Content("Nothing changed in the workspace since the session began.")
    changed = {p for p, _, _ in result.files} | {f.path for f in result.dangerous}
    count = len(changed) + len(result.notes)
    added = sum(a for _, a, _ in result.files)
    removed = sum(r for _, _, r in result.files)
    lines = [
        Content.styled(f"{count} change{'s' * (count != 1)}  ", "bold")
        + Content.styled(f"+{added}", "bold $diff-added")
        + Content(" ")
        + Content.styled(f"−{removed}", "bold $diff-removed")
    ]
    if result.dangerous:
        n = len(result.dangerous)
        lines[0] += spaced(f"  ⚠ {n} dangerous", "bold $text-error")
    for flag in result.dangerous:
        lines.append(
            Content.styled("⚠ ", "bold $text-error")
            + make_safe(flag.path, keep_newlines=False).content().stylize_before("bold")
            + Content(f" {flag.what} — ")
            + Content.styled(flag.why, "bold $text-error")
        )
    lines += [make_safe(n, keep_newlines=False).content() for n in result.notes]
    return Content("\n").join(lines)


class SessionDiffScreen(Screen[None]):
    CSS_PATH = "session_diff.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.SESSION_DIFF)

    def __init__(
        self,
        before: Snapshot | None,
        workspace: Path,
        *,
        outside: Sequence[Path] = (),
        touched: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__()
        self.before = before
        self.workspace = workspace
        self.outside = tuple(outside)
        self.touched = tuple(touched)
        self.result: SessionDiff | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Session diff", "bold"), id="session-diff-title")
        yield Static("computing…", id="session-diff-summary")
        yield DiffView(id="session-diff-view")
        # Drops the palette hint below 110 columns, which hid `r Refresh` at 80.
        yield ConsoleFooter(frozenset())

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
    def _diff_worker(self, before: Snapshot) -> None:
        result = diff_since(before, self.workspace, self.outside, self.touched)
        self.app.call_from_thread(self._show, result)

    def _show(self, result: SessionDiff) -> None:
        self.result = result
        summary = self.query_one("#session-diff-summary", Static)
        summary.update(summary_content(result))
        self.query_one(DiffView).show(
            parse_unified(result.unified, {p: (a, r) for p, a, r in result.files}),
            flags=result.flags,
        )

    def action_close(self) -> None:
        self.dismiss(None)

"""The selected action in full: the exact text that will run, why it is risky, what came of it.

A command is shown whole (wrapped, never cut at the screen's width) with its length, bash colours,
the risky spans the engine pointed at, and a warning if it holds anything a terminal would not
show plainly. A patch is shown as the unified diff the patch engine will hold the apply to.
The pane reports an action as *seen* once its whole text has been on screen (scrolled to the end).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from app.core.edits import edit_diff
from app.core.model import (
    CommandAction,
    Level,
    NetworkAction,
    PatchAction,
    ResultStatus,
    VerdictKind,
)
from app.injection.scanner import ScanResult
from app.ui.contract import ViewLike
from app.ui.diff_model import parse_unified
from app.ui.highlight import token_spans
from app.ui.safe import make_safe, safe_line, spaced, turn_label
from app.ui.untrusted import Mark, findings_content, mark_content, scanned_text
from app.ui.widgets.diff_view import DiffView
from app.ui.widgets.document import Block, DocumentView
from app.ui.widgets.queue import badge, state_label

RISK_SPAN_STYLE = "bold underline on $risk-span"


def command_content(command: str, spans: tuple[tuple[int, int], ...]) -> tuple[Content, list[str]]:
    """The command exactly as it will run, coloured, risky spans marked, hazards visible."""
    safe = make_safe(command, flag_lookalikes=True)
    styled = token_spans(command, "bash")
    styled += [(s, e, RISK_SPAN_STYLE) for s, e in spans]
    return safe.content(styled), list(safe.warnings)


def edit_diff_content(original: str, edited: str) -> Content:
    """The diff from the proposed command to the edited one, as the audit log records it
    (`app.core.edits.edit_diff`): removed lines red, added lines green, every character
    through the display-safety markers."""
    lines: list[Content] = []
    for line in edit_diff(original, edited).splitlines():
        if line.startswith(("---", "+++", "@@")):
            continue
        sign, body = line[:1], make_safe(line[1:], keep_newlines=False).content()
        if sign == "-":
            lines.append(
                Content.styled("− ", "bold $diff-removed") + body.stylize_before("$diff-removed")
            )
        elif sign == "+":
            lines.append(
                Content.styled("+ ", "bold $diff-added") + body.stylize_before("$diff-added")
            )
        else:
            lines.append(Content("  ") + body)
    return Content("\n").join(lines)


def edited_command(view: ViewLike) -> str | None:
    """The text that runs instead of the proposed command, if the reviewer edited it."""
    v = view.verdict
    if (
        v is not None
        and v.kind is VerdictKind.EDIT
        and v.edited is not None
        and isinstance(view.action, CommandAction)
    ):
        return v.edited
    return None


def _line(label: str, value: Content | str, style: str = "") -> Content:
    body = value if isinstance(value, Content) else make_safe(value).content()
    if style:
        body = body.stylize_before(style)
    return Content.styled(f"{label:<{LABEL}}", "$text-muted") + body


LABEL = 10  # width of the label column ("policy", "verdict", …)
REASON_HANG = 24  # where a finding's reason starts, after its score and category


def reasons_content(view: ViewLike) -> Content:
    a = view.assessment
    if a is None:
        return Content.styled("not assessed yet", "$text-muted")
    # A finding scored 0 is a note (a monitor's low score, "no answer in 10 s"): its category
    # is not a concern, so it is not named among them.
    concerns = (
        [c for c in a.categories if any(f.category is c and f.score > 0 for f in a.findings)]
        if a.findings
        else list(a.categories)
    )
    lines: list[Content] = [
        badge(view)
        + Content("  ")
        + Content.styled(", ".join(c.value for c in concerns) or "no concerns", "bold")
    ]
    if a.findings:
        # The same finding delivered again (a late source answering twice) is shown once.
        for f in dict.fromkeys(a.findings):
            if f.score == 0:
                lines.append(
                    spaced(f"    · {'note':<18}", "$text-muted")
                    + make_safe(f.reason, keep_newlines=False).content()
                )
                continue
            lines.append(
                spaced(f"  {f.score:>3} ", f"bold $risk-{_level_of(f.score)}")
                + Content.styled(f"{f.category.value:<18}", "$text-muted")
                + make_safe(f.reason, keep_newlines=False).content()
            )
    else:
        for reason in a.reasons:
            lines.append(Content("  • ") + make_safe(reason, keep_newlines=False).content())
    return Content("\n").join(lines)


def _level_of(score: int) -> str:
    from app.core.model import Level

    return Level.from_score(score).value


def outcome_content(view: ViewLike) -> Content:
    parts: list[Content] = []
    decision = view.decision
    if decision is not None:
        text = f"{decision.kind.value} by {decision.rule}" + (
            f": {decision.reason}" if decision.reason else ""
        )
        parts.append(_line("policy", text))
    verdict = view.verdict
    if verdict is not None:
        who = "you" if verdict.by == "human" else "policy"
        text = f"{verdict.kind.value} ({who}{', key ' + verdict.key if verdict.key and verdict.by == 'human' else ''})"
        parts.append(_line("verdict", text))
        if verdict.feedback:
            parts.append(_line("feedback", verdict.feedback))
        if verdict.edited is not None:
            parts.append(_line("edited to", verdict.edited, "bold"))
    result = view.result
    if result is not None:
        bad = result.status is not ResultStatus.COMPLETED or (result.exit_code not in (None, 0))
        status = result.status.value
        if result.exit_code is not None:
            status += f", exit {result.exit_code}"
        if result.duration_s:
            status += f", {result.duration_s:.2f} s"
        parts.append(_line("result", status, "bold $text-error" if bad else "bold $text-success"))
        if (
            result.ran is not None
            and isinstance(view.action, CommandAction)
            and result.ran != view.action.command
        ):
            parts.append(_line("ran", result.ran, "bold $text-warning"))
        if result.message:
            parts.append(_line("message", result.message))
        if result.truncated:
            parts.append(
                _line(
                    "output",
                    f"cut: {result.stdout_total} bytes stdout, {result.stderr_total} stderr",
                )
            )
        if result.files_changed:
            parts.append(_line("files", ", ".join(result.files_changed)))
    return Content("\n").join(parts) if parts else Content.styled("no verdict yet", "$text-muted")


class CommandDetail(DocumentView):
    """Commands and network asks: one document of wrapped blocks."""


class DetailPane(Vertical):
    """Shows one action; posts `DetailPane.Seen` once its whole text has been on screen (scrolled
    to its end, or the pane made big enough to hold it)."""

    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    DetailPane > #detail-empty {
        color: $text-muted;
        padding: 1 2;
    }
    DetailPane > CommandDetail, DetailPane > DiffView {
        height: 1fr;
        padding: 0 1;
        scrollbar-gutter: stable;
        background: $surface;
    }
    DetailPane > CommandDetail:focus, DetailPane > DiffView:focus {
        background-tint: $primary 4%;
    }
    """

    class Seen(Message):
        """The whole of these actions' text has been on screen."""

        def __init__(self, pane: DetailPane, action_ids: frozenset[str]) -> None:
            super().__init__()
            self.pane = pane
            self.action_ids = action_ids

        @property
        def control(self) -> DetailPane:
            return self.pane

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown_id: str | None = None
        self.undone: frozenset[str] = frozenset()  # patches the reviewer undid: shown as such
        self._shown_review: object = None
        self._reported: set[str] = set()  # actions already posted as seen
        self._untrusted: Mark | None = None
        self._scan: ScanResult | None = None
        self._empty = Static("Nothing to review yet.", id="detail-empty")
        self._document = CommandDetail(id="command-detail")
        self._diff = DiffView(id="patch-diff")

    def compose(self) -> ComposeResult:
        yield self._empty
        yield self._document
        yield self._diff

    def on_mount(self) -> None:
        self._document.display = False
        self._diff.display = False
        self.watch(self._document, "scroll_y", self._check_seen, init=False)
        self.watch(self._diff, "scroll_y", self._check_seen, init=False)

    def on_resize(self) -> None:
        # Expanding the pane (enter) or a bigger terminal can bring the whole text on screen:
        # that is seeing it, as much as scrolling to its end is.
        self.call_after_refresh(self._check_seen)

    def _switch(self, which: Widget) -> None:
        # Only toggle what changes: a display change costs a layout, a repaint does not.
        for widget in (self._empty, self._document, self._diff):
            want = widget is which
            if widget.display != want:
                widget.display = want

    def clear(self) -> None:
        self.shown_id = None
        self._switch(self._empty)

    def set_notice(self, text: str) -> None:
        """What the empty pane says (an agent that stopped on an error says why here, where a
        narrow header can only show its start). Untrusted text: shown, never interpreted."""
        self._empty.update(make_safe(text).content() if text else "Nothing to review yet.")

    def show(
        self,
        view: ViewLike,
        *,
        asked_by: ViewLike | None = None,
        untrusted: Mark | None = None,
        scan: ScanResult | None = None,
    ) -> None:
        """Show `view` (`asked_by`: for a network ask, the command whose program asked;
        `untrusted`: the untrusted content its result brought in; `scan`: the injection
        scanner's findings on its output); re-showing the same action only refreshes what may
        have changed."""
        self._untrusted, self._scan = untrusted, scan
        same = view.action.id == self.shown_id
        self.shown_id = view.action.id
        critical = view.assessment is not None and view.assessment.level is Level.CRITICAL
        if self.has_class("-critical") != critical:
            self.set_class(critical, "-critical")
        if isinstance(view.action, PatchAction):
            self._switch(self._diff)
            self._show_patch(view, same)
        else:
            self._switch(self._document)
            self._show_command_like(view, same, asked_by)
        self.call_after_refresh(self._check_seen)

    @property
    def text(self) -> str:
        """What the pane shows, as plain text (for tests and screen readers of the log)."""
        if self._diff.display:
            return "\n".join(c.plain for c in self._diff.visible_contents())
        return self._document.plain

    # ------------------------------------------------------------------ commands and network asks

    def _show_command_like(self, view: ViewLike, same: bool, parent: ViewLike | None) -> None:
        action = view.action
        critical = view.assessment is not None and view.assessment.level is Level.CRITICAL
        blocks: list[Block] = [Block(_title(view, self.undone)), Block(Content(""))]
        blocks += self._untrusted_blocks()
        spans = view.assessment.spans if view.assessment else ()
        meta: list[Content] = []
        edited = edited_command(view)
        if isinstance(action, CommandAction):
            # After an edit the box holds what runs: the edited text (the engine's spans point
            # into the proposed one, so none are drawn); the diff below says what changed.
            text = edited if edited is not None else action.command
            content, warnings = command_content(text, () if edited is not None else spans)
            lines = text.count("\n") + 1
            what = "will run (edited)" if edited is not None else "command"
            box_title = f"{what} · {len(text)} chars · {lines} line{'s' * (lines != 1)}"
            if action.cwd:
                meta.append(_line("cwd", action.cwd))
            if action.timeout_s:
                meta.append(_line("timeout", f"{action.timeout_s:g} s"))
            if action.justification:
                meta.append(_line("why", action.justification, "italic"))
        else:
            assert isinstance(action, NetworkAction)
            safe = make_safe(action.reviewed_text, flag_lookalikes=True)
            content, warnings = safe.content(), list(safe.warnings)
            box_title = "network request"
            meta = [_line("host", action.host, "bold"), _line("port", str(action.port))]
            if action.program:
                meta.append(_line("program", action.program))
            if action.parent_action_id:
                asked = action.parent_action_id
                if parent is not None:
                    asked += f": {parent.action.reviewed_text}"
                meta.append(_line("asked by", asked))
        if warnings:
            blocks.append(
                Block(
                    Content("\n").join(Content("⚠ " + w) for w in warnings),
                    kind="band",
                    style="bold $text-warning on $warning-muted",
                )
            )
            blocks.append(Block(Content("")))
        border = "$risk-critical" if critical else ("$warning" if warnings else "$primary")
        blocks.append(Block(content, kind="box", style=border, title=box_title))
        if edited is not None and isinstance(action, CommandAction):
            blocks.append(Block(Content.styled("edit: proposed → edited", "$text-muted")))
            blocks.append(Block(edit_diff_content(action.command, edited)))
        if meta:
            blocks.append(Block(Content("\n").join(meta), hang=LABEL))
        blocks += [
            Block(Content("")),
            Block(reasons_content(view), hang=REASON_HANG),
            Block(Content("")),
            Block(outcome_content(view), hang=LABEL),
        ]
        if self._scan is not None:
            scanned = scanned_text(view.result) if view.result is not None else None
            blocks += [Block(Content("")), Block(findings_content(self._scan, scanned), hang=4)]
        self._document.show_blocks(blocks, keep_scroll=same)

    def _untrusted_blocks(self) -> list[Block]:
        if self._untrusted is None:
            return []
        return [Block(mark_content(self._untrusted), hang=2), Block(Content(""))]

    # ------------------------------------------------------------------ patches

    def _show_patch(self, view: ViewLike, same: bool) -> None:
        review = view.review
        preface = [
            Block(_title(view, self.undone)),
            *self._untrusted_blocks(),
            Block(reasons_content(view), hang=REASON_HANG),
            Block(outcome_content(view), hang=LABEL),
        ]
        if review is None:
            preface.append(
                Block(Content.styled("waiting for the patch engine's review…", "$text-muted"))
            )
        elif not review.ok:
            preface.append(
                Block(
                    Content.styled("cannot apply: ", "bold $text-error")
                    + make_safe(review.error).content()
                )
            )
        else:
            added = sum(a for _, a, _ in review.files)
            removed = sum(r for _, _, r in review.files)
            preface.append(
                Block(
                    Content.styled(
                        f"{len(review.files)} file{'s' * (len(review.files) != 1)}  ", "bold"
                    )
                    + Content.styled(f"+{added}", "bold $diff-added")
                    + Content(" ")
                    + Content.styled(f"−{removed}", "bold $diff-removed")
                    + spaced("   space: fold file · c: fold all · [ ]: files", "$text-muted")
                )
            )
        preface.append(Block(Content("")))
        diff = self._diff
        if same and review is self._shown_review:
            diff.set_preface(preface)
            return
        self._shown_review = review
        counts = {p: (a, r) for p, a, r in review.files} if review is not None else {}
        diff.show(parse_unified(review.unified_diff if review else "", counts), preface=preface)

    def focus_content(self) -> None:
        (self._diff if self._diff.display else self._document).focus()

    # ------------------------------------------------------------------ seen

    def _check_seen(self) -> None:
        if self.shown_id is None:
            return
        scroller: DocumentView | DiffView = self._diff if self._diff.display else self._document
        if scroller is self._diff and self._diff.collapsed:
            return  # a folded file has not been seen
        if scroller.size.height == 0:
            return
        whole = scroller.max_scroll_y <= 0 or scroller.scroll_y >= scroller.max_scroll_y
        if whole and self.shown_id not in self._reported:
            self._reported.add(self.shown_id)
            self.post_message(self.Seen(self, frozenset({self.shown_id})))


def _title(view: ViewLike, undone: frozenset[str] = frozenset()) -> Content:
    action = view.action
    turn = (
        Content("  ") + safe_line(turn_label(action.turn_id), "$text-muted")
        if action.turn_id
        else Content("")
    )
    label = state_label(view, undone=action.id in undone)
    return safe_line(action.id, "bold") + turn + Content("  ") + label

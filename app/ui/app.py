"""The console application: loads themes and keys, runs the pipeline in an async worker, and
hands everything to the main screen.

`LockgateApp(session, link)` is the whole console; `run_console(session, link)` runs it in the
terminal and returns the exit status for the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES, Theme

from app.core.config import data_dir
from app.core.ports import AgentLink
from app.ui import bindings
from app.ui.contract import SessionLike
from app.ui.keys import load_keymap
from app.ui.safe import notify_safely
from app.ui.screens.main import MainScreen
from app.ui.session_diff import FileState, snapshot
from app.ui.themes import (
    builtin_theme_dir,
    choose_theme,
    fallback_variables,
    load_themes,
    remember_theme,
    remembered_theme,
    user_theme_dir,
)


class LockgateApp(App[int]):
    TITLE = "lockgate"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.APP)

    def __init__(
        self,
        session: SessionLike,
        link: AgentLink,
        *,
        watch_files: bool = True,
        snapshot_workspace: bool = True,
        theme_dirs: Sequence[Path] | None = None,
        outside_roots: Sequence[Path] = (),
    ) -> None:
        """`outside_roots`: directories outside the workspace approved commands may write (the
        sandbox's writable roots); the session diff covers them too."""
        super().__init__()
        self.session = session
        self.link = link
        self.workspace = Path(session.workspace)
        self.outside_roots = roots_outside(self.workspace, outside_roots)
        self.watch_files = watch_files
        self.snapshot_workspace = snapshot_workspace
        self.theme_dirs = theme_dirs
        self.snapshot: dict[str, FileState] | None = None
        self.keymap: dict[str, str] = {}
        self.pipeline_done = asyncio.Event()
        self.startup_problems: list[str] = []
        self._closing_down = False
        self.agent_failed = False
        self._theme_stop: asyncio.Event | None = None

    # ------------------------------------------------------------------ what the header shows

    @property
    def session_name(self) -> str:
        return self.session.session_id or self.workspace.name

    @property
    def sandbox_status(self) -> object:
        return self.session.sandbox_status

    # ------------------------------------------------------------------ themes and keys

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # A theme without our variables (e.g. one of Textual's) still paints every risk colour.
        theme = self.get_theme(self.theme) or BUILTIN_THEMES["textual-dark"]
        return fallback_variables(theme)

    def _load_themes(self) -> None:
        found = load_themes(self.theme_dirs)
        for theme in found.themes:
            self.register_theme(theme)
        start, missing = choose_theme(found.names(), remembered_theme())
        self.theme = start
        if found.themes:
            for name in list(BUILTIN_THEMES):
                if name != self.theme:
                    self.unregister_theme(name)
        problems = list(found.errors)
        if missing and not found.errors:
            problems.append(missing)
        if problems:
            self.startup_problems.append(
                "Theme problem: " + "; ".join(problems) + f". Using theme {self.theme!r}."
            )
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    @work(exclusive=True, group="theme-files", exit_on_error=False)
    async def _watch_theme_files(self) -> None:
        """Edit a theme file and see it at once (Posting does the same): changed files are
        reloaded, new ones registered, and a file that breaks gives one message while the last
        good version stays in use."""
        from watchfiles import awatch

        dirs = list(self.theme_dirs or [builtin_theme_dir(), user_theme_dir()])
        watched = [str(d) for d in dirs if d.is_dir()]
        if not watched:
            return
        self._theme_stop = asyncio.Event()
        async for _changes in awatch(*watched, debounce=200, stop_event=self._theme_stop):
            found = load_themes(dirs)
            for theme in found.themes:
                self.register_theme(theme)
            if found.errors:
                notify_safely(
                    self, "Theme problem: " + "; ".join(found.errors), severity="error", timeout=12
                )
            if self.theme in found.names():
                self.refresh_css(animate=False)

    def _theme_changed(self, theme: Theme) -> None:
        self._remember_theme(theme.name)

    @work(thread=True, exclusive=True, group="remember-theme", exit_on_error=False)
    def _remember_theme(self, name: str) -> None:
        try:
            remember_theme(name)
        except Exception as exc:  # the choice still applies for this session
            self.call_from_thread(
                notify_safely, self, f"could not remember the theme: {exc}", severity="warning"
            )

    def _load_keys(self) -> None:
        keymap, problems = load_keymap({b.id for b in bindings.all_bindings() if b.id})
        self.keymap = keymap
        if keymap:
            self.set_keymap(keymap)
        if problems:
            self.startup_problems.append("Key config: " + "; ".join(problems))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Theme", "Change the colour theme (t)", self.search_themes)
        if isinstance(screen, MainScreen):
            yield SystemCommand(
                "Session diff", "Everything the session changed (d)", screen.action_session_diff
            )
            yield SystemCommand(
                "Undo last patch", "Undo the last applied patch (u)", screen.action_undo_patch
            )
            yield SystemCommand("Help", "Keys and markers (?)", screen.action_help)
            yield SystemCommand("Quit", "Quit lockgate (q)", screen.action_request_quit)
        yield SystemCommand(
            "Screenshot",
            "Save an SVG screenshot (the path is shown)",
            lambda: self.set_timer(0.1, self.take_screenshot),
        )

    def take_screenshot(self) -> None:
        """Save the screen as SVG in lockgate's data directory and say where (or why not)."""
        folder = data_dir() / "screenshots"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(path=str(folder))
        except Exception as exc:
            notify_safely(self, f"Screenshot not saved: {exc}", severity="error", timeout=10)
            return
        notify_safely(self, f"Screenshot saved: {path}", title="Screenshot", timeout=10)

    def action_help_quit(self) -> None:
        """ctrl+c, pressed out of habit: it does not quit (nothing is cancelled by accident)."""
        self.notify(
            "ctrl+c does not quit lockgate: q quits (asking first if actions are pending), "
            "ctrl+q quits at once.",
            title="Quit?",
            timeout=6,
        )

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        self._load_themes()
        self._load_keys()
        self.main = MainScreen(self)
        self.push_screen(self.main)
        for problem in self.startup_problems:
            notify_safely(self, problem, severity="error", timeout=12)
        for notice in self.session.notices:
            notify_safely(self, notice, title="Session", timeout=12)
        self._warm_up()
        if self.watch_files:
            self._watch_theme_files()

    def start_pipeline(self) -> None:
        """Called by the main screen once it observes the pipeline, so no event is missed."""
        self._run_pipeline()

    @work(thread=True, exclusive=True, group="warm-up", exit_on_error=False)
    def _warm_up(self) -> None:
        """Load the syntax lexers before the first proposal needs them (pygments imports them
        lazily, ~100 ms the first time), so the first command and diff show without a stall."""
        from app.ui.highlight import language_for_path, token_spans

        token_spans("echo warm-up | grep w", "bash")
        for name in ("x.py", "x.js", "x.ts", "x.go", "x.rs", "x.md", "x.toml", "x.json", "x.sh"):
            token_spans("x = 1", language_for_path(name))

    @work(exclusive=True, group="pipeline", exit_on_error=False)
    async def _run_pipeline(self) -> None:
        if self.snapshot_workspace:
            # Before the first action can run: the session diff starts from here.
            self.snapshot = await asyncio.to_thread(snapshot, self.workspace, self.outside_roots)
        try:
            await self.session.pipeline.run(self.link)
        except Exception as exc:
            self.agent_failed = True
            notify_safely(
                self, f"The agent stopped: {exc}", title="Agent error", severity="error", timeout=20
            )
            self.main.header.set_agent("error", str(exc))
        finally:
            self.pipeline_done.set()

    def shutdown(self, code: int | None = None) -> None:
        """Cancel what is pending (nothing unapproved runs), then leave. The exit status follows
        the CLI's contract: 0 the agent finished or was stopped by the reviewer, 1 it failed."""
        if self._closing_down:
            return
        self._closing_down = True
        self._close_down(code if code is not None else (1 if self.agent_failed else 0))

    @work(exclusive=True, group="shutdown", exit_on_error=False)
    async def _close_down(self, code: int) -> None:
        self.main.stop_watching()
        if self._theme_stop is not None:
            self._theme_stop.set()
        try:
            await self.session.pipeline.cancel()
        finally:
            try:
                await self.link.cancel()
            finally:
                self.exit(code, return_code=code)

    def action_quit_now(self) -> None:
        self.shutdown(130)


def roots_outside(workspace: Path, roots: Sequence[Path]) -> tuple[Path, ...]:
    """The writable roots that lie outside the workspace (one inside it is already covered, and
    would otherwise show its files twice, as if outside)."""
    base = workspace.resolve()
    out: list[Path] = []
    for root in roots:
        real = Path(root).resolve()
        if real != base and base not in real.parents and real not in out:
            out.append(real)
    return tuple(out)


def run_console(session: SessionLike, link: AgentLink, outside_roots: Sequence[Path] = ()) -> int:
    app = LockgateApp(session, link, outside_roots=outside_roots)
    app.run()
    return app.return_code if app.return_code is not None else 0

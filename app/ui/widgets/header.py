"""The header: which session, which workspace, what the agent is doing, how strong the sandbox is.

Any weaker mode (a sandbox layer missing, no sandbox status at all, an audit log that stopped
recording) gets a banner across the screen that cannot be missed: reviewing under a weaker
sandbox is a choice the reviewer must know they are making.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from app.injection.taint import TaintState
from app.ui.safe import make_safe
from app.ui.widgets.watch import watch_line
from sandbox.probe import Layer
from sandbox.runner import SandboxStatus

GAP = "   "  # between header items: plain spaces, never inside a styled label
SESSION_WIDTH = 14
MIN_WORKSPACE = 16
WORKSPACE_ROOM = 32  # what the path keeps before anything else gives up room
MIN_AGENT = 12


def elide_middle(text: str, width: int) -> str:
    """`text` in at most `width` cells, its middle replaced by "…": both ends of a path say
    the most (where it lives, which project it is)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) * 2 // 3
    head = width - 1 - tail
    return text[:head] + "…" + text[len(text) - tail :]


def elide_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def short_session(name: str) -> str:
    """The session id without its "session-" prefix, at most `SESSION_WIDTH` cells."""
    if name.startswith("session-") and len(name) > len("session-"):
        name = name[len("session-") :]
    return elide_middle(name, SESSION_WIDTH)


@dataclass(frozen=True)
class SandboxSummary:
    text: str
    network: str
    degraded: tuple[str, ...]
    short: str = ""  # `text` without its details, for a narrow header


def _names(value: object) -> list[str]:
    """Names of what is on: a name, names, a mapping name → on, or the sandbox's `Layer`s."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [str(k) for k, v in value.items() if v]
    if isinstance(value, Iterable):
        return [
            item.name if isinstance(item, Layer) else str(item)
            for item in value
            if not isinstance(item, Layer) or item.ok
        ]
    return [str(value)]


def _fields(status: SandboxStatus | Mapping[str, object]) -> Mapping[str, object]:
    """A status as the mapping some callers already hand over (e.g. `lockgate acp`'s view)."""
    if isinstance(status, Mapping):
        return status
    return {
        "layers": status.layers,
        "process_cap": status.process_cap,
        "network": status.network,
        "degraded": status.degraded,
    }


def summarise_sandbox(status: object) -> SandboxSummary:
    """Read a sandbox status (`sandbox.runner.SandboxStatus`, or a mapping with its keys): the
    header needs the active layers, the network mode, the process cap and, above all, what is
    degraded. Anything else counts as no status at all (loudly)."""
    if not isinstance(status, SandboxStatus | Mapping):
        return SandboxSummary("no sandbox status", "?", ("the sandbox reported no status",))
    fields = _fields(status)
    layers = _names(fields.get("layers") or fields.get("active"))
    summary = fields.get("summary")
    if not layers and isinstance(summary, str) and summary:
        text = summary
    else:
        text = f"{len(layers)} layers" if len(layers) > 3 else ("+".join(layers) or "no layers")
    short = text
    cap = fields.get("process_cap")
    if isinstance(cap, str) and cap:
        text += f", cap {cap}"
    network = fields.get("network")
    degraded_raw = fields.get("degraded")
    degraded: tuple[str, ...] = ()
    if degraded_raw is True:
        degraded = ("the sandbox runs in a degraded mode",)
    elif degraded_raw:
        degraded = tuple(
            f"sandbox layer {d} is missing" if " " not in str(d) else str(d)
            for d in _names(degraded_raw)
        )
    return SandboxSummary(text, str(network) if network is not None else "?", degraded, short)


class ConsoleHeader(Vertical):
    """One line of facts, and a banner across the screen for any weaker protection.

    The class `-degraded` is set while the banner shows."""

    DEFAULT_CSS = """
    ConsoleHeader > #header-line {
        background: $panel;
        padding: 0 1;
        height: 1;
    }
    ConsoleHeader > #header-banner {
        display: none;
        background: $error;
        color: $background;
        text-style: bold;
        padding: 0 1;
        height: auto;
    }
    ConsoleHeader.-degraded > #header-banner {
        display: block;
    }
    ConsoleHeader > #header-watch {
        display: none;
        background: $panel;
        padding: 0 1;
        height: 1;
    }
    ConsoleHeader.-watching > #header-watch {
        display: block;
    }
    """

    def __init__(self, *, session_name: str, workspace: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session_name = session_name
        self.workspace = workspace
        self.agent = "starting"
        self.sandbox = SandboxSummary("…", "?", ())
        self.extra_warnings: tuple[str, ...] = ()
        self.taint: TaintState | None = None  # untrusted content in play (None: not tracked)
        self.monitor = ""  # the model monitor's summary ('' without one)

    def compose(self) -> ComposeResult:
        yield Static(id="header-line")
        yield Static(id="header-watch")
        yield Static(id="header-banner")

    def on_mount(self) -> None:
        self.redraw()

    def on_resize(self, _: events.Resize) -> None:
        self.redraw()

    def set_agent(self, state: str, detail: str = "", *, waiting: int = 0) -> None:
        """While the agent waits, the header says what for — `waiting` actions, the console's
        own count — rather than the link's words ("2 action(s) proposed")."""
        if state == "waiting":
            n = waiting
            detail = f"{n} action{'s' * (n != 1)} wait{'s' * (n == 1)} for you" if n else "results"
        self.agent = f"{state} ({detail})" if detail else state
        self.redraw()

    def set_sandbox(self, summary: SandboxSummary) -> None:
        self.sandbox = summary
        self.redraw()

    def set_watch(self, taint: TaintState | None, monitor: str) -> None:
        """The second line (`widgets.watch`): untrusted content in play, the monitor's cost.
        The class `-watching` is set while it shows."""
        if (taint, monitor) != (self.taint, self.monitor):
            self.taint, self.monitor = taint, monitor
            self.redraw()

    def set_warnings(self, warnings: tuple[str, ...]) -> None:
        if warnings != self.extra_warnings:
            self.extra_warnings = warnings
            self.redraw()

    def _width(self) -> int:
        # From the header's own size (known when it is resized), less the line's padding.
        line = self.query_one("#header-line", Static)
        return max(0, self.size.width - line.styles.gutter.width)

    def line(self, width: int) -> Content:
        """The header line for `width` cells (0: unknown, nothing shortened). Each item is a
        muted label and its value, items apart by plain spaces. When the line is too long, the
        first of these that fits is used, the path taking whatever room is left: the path down
        to 32 cells; the sandbox without its process cap and the agent's detail cut; the path
        down to 16; the session id down to 8; the path down to 8; no session id; the path down
        to 5 and the agent's state to 7. The sandbox layers and the network mode always stay in
        view, and so does the reason of an agent error (as long as there is room)."""

        def safe(text: str) -> str:
            return make_safe(text, keep_newlines=False).display

        def item(label: str, value: str, style: str = "") -> Content:
            return Content.styled(f"{label} ", "$text-muted") + Content.styled(value, style)

        brand = Content.styled(" lockgate ", "bold reverse $primary")
        path, agent = safe(self.workspace), safe(self.agent)
        # An agent error's detail (why it stopped) is kept whole: the path gives way instead.
        state = agent if self.agent.startswith("error") else agent.split(" (", 1)[0]
        session = short_session(safe(self.session_name))
        sandbox, short = safe(self.sandbox.text), safe(self.sandbox.short or self.sandbox.text)

        def build(path: str, agent: str, sandbox: str, session: str | None) -> Content:
            items = [
                item("workspace", path),
                *([item("session", session)] if session is not None else []),
                item("agent", agent, "bold"),
                item("sandbox", sandbox),
                item("net", safe(self.sandbox.network), "bold"),
            ]
            return brand + Content(GAP) + Content(GAP).join(items)

        line = build(path, agent, sandbox, session)
        if width <= 0 or line.cell_length <= width:
            return line
        tiny = elide_middle(session, 8)
        choices: tuple[tuple[int, str, int, str | None], ...] = (
            # (path at least, sandbox, agent at least, session or None to leave it out)
            (min(len(path), WORKSPACE_ROOM), sandbox, len(agent), session),
            (min(len(path), WORKSPACE_ROOM), short, len(state), session),
            (MIN_WORKSPACE, short, len(state), session),
            (MIN_WORKSPACE, short, len(state), tiny),
            (8, short, len(state), tiny),
            # Narrow terminals (80 columns): the session id goes (the log names it), so that
            # the sandbox and the network mode stay whole.
            (8, short, len(state), None),
            (5, short, min(len(state), 7), None),
        )
        for path_min, box, agent_min, sess in choices:
            others = build("", "", box, sess).cell_length
            agent_room = width - others - path_min
            if agent_room < agent_min:
                continue
            shown = elide_end(agent, agent_room)
            if shown != agent and agent_room < len(state) + 6 and not agent.startswith("error"):
                shown = state  # "waiting" says more than "waitin…" or "waiting (…"
            return build(elide_middle(path, width - others - len(shown)), shown, box, sess)
        return build(elide_middle(path, 5), elide_end(state, 7), short, None)

    @property
    def degraded(self) -> tuple[str, ...]:
        return self.sandbox.degraded + self.extra_warnings

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#header-line", Static).update(self.line(self._width()))
        watch = watch_line(self.taint, self.monitor, self._width())
        self.set_class(watch is not None, "-watching")
        if watch is not None:
            self.query_one("#header-watch", Static).update(watch)
        banner = self.query_one("#header-banner", Static)
        degraded = self.degraded
        banner.display = bool(degraded)
        self.set_class(bool(degraded), "-degraded")
        if degraded:
            banner.update(
                Content("⚠ WEAKER PROTECTION: ")
                + Content(" · ").join(make_safe(d, keep_newlines=False).content() for d in degraded)
            )

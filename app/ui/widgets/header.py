"""The header: which session, which workspace, what the agent is doing, how strong the sandbox is.

Any weaker mode (a sandbox layer missing, no sandbox status at all, an audit log that stopped
recording) gets a banner across the screen that cannot be missed: reviewing under a weaker
sandbox is a choice the reviewer must know they are making.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from app.ui.safe import make_safe


@dataclass(frozen=True)
class SandboxSummary:
    text: str
    network: str
    degraded: tuple[str, ...]


def _names(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [str(k) for k, v in value.items() if v]
    if isinstance(value, Iterable):
        out = []
        for item in value:
            name = getattr(item, "name", item)
            ok = getattr(item, "active", getattr(item, "ok", True))
            if ok:
                out.append(str(name))
        return out
    return [str(value)]


def _get(status: object, key: str) -> object:
    if isinstance(status, Mapping):
        return status.get(key)
    return getattr(status, key, None)


def summarise_sandbox(status: object) -> SandboxSummary:
    """Read a sandbox status (`sandbox.runner.SandboxStatus`, or a mapping with the same keys)
    without depending on its class: the header needs the active layers, the network mode, the
    process cap and, above all, what is degraded."""
    if status is None:
        return SandboxSummary("no sandbox status", "?", ("the sandbox reported no status",))
    layers = _names(_get(status, "layers") or _get(status, "active"))
    summary = _get(status, "summary")
    if not layers and isinstance(summary, str) and summary:
        text = summary
    else:
        text = f"{len(layers)} layers" if len(layers) > 3 else ("+".join(layers) or "no layers")
    cap = _get(status, "process_cap")
    if isinstance(cap, str) and cap:
        text += f", cap {cap}"
    network = _get(status, "network")
    degraded_raw = _get(status, "degraded")
    degraded: tuple[str, ...] = ()
    if degraded_raw is True:
        degraded = ("the sandbox runs in a degraded mode",)
    elif degraded_raw:
        degraded = tuple(
            f"sandbox layer {d} is missing" if " " not in str(d) else str(d)
            for d in _names(degraded_raw)
        )
    return SandboxSummary(text, str(network) if network is not None else "?", degraded)


class ConsoleHeader(Vertical):
    def __init__(self, *, session_name: str, workspace: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session_name = session_name
        self.workspace = workspace
        self.agent = "starting"
        self.sandbox = SandboxSummary("…", "?", ())
        self.extra_warnings: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(id="header-line")
        yield Static(id="header-banner")

    def on_mount(self) -> None:
        self.redraw()

    def set_agent(self, state: str, detail: str = "") -> None:
        self.agent = f"{state} ({detail})" if detail else state
        self.redraw()

    def set_sandbox(self, summary: SandboxSummary) -> None:
        self.sandbox = summary
        self.redraw()

    def set_warnings(self, warnings: tuple[str, ...]) -> None:
        if warnings != self.extra_warnings:
            self.extra_warnings = warnings
            self.redraw()

    @property
    def degraded(self) -> tuple[str, ...]:
        return self.sandbox.degraded + self.extra_warnings

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        parts = [
            Content.styled(" lockgate ", "bold reverse $primary"),
            Content.styled("  agent ", "$text-muted"),
            make_safe(self.agent, keep_newlines=False).content().stylize_before("bold"),
            Content.styled("  sandbox ", "$text-muted"),
            make_safe(self.sandbox.text, keep_newlines=False).content(),
            Content.styled("  net ", "$text-muted"),
            Content(self.sandbox.network).stylize_before("bold"),
            Content.styled("  session ", "$text-muted"),
            make_safe(self.session_name, keep_newlines=False).content(),
            Content.styled("  workspace ", "$text-muted"),
            make_safe(self.workspace, keep_newlines=False).content(),
        ]
        self.query_one("#header-line", Static).update(Content("").join(parts))
        banner = self.query_one("#header-banner", Static)
        degraded = self.degraded
        banner.display = bool(degraded)
        self.set_class(bool(degraded), "-degraded")
        if degraded:
            banner.update(
                Content("⚠ WEAKER PROTECTION: ")
                + Content(" · ").join(make_safe(d, keep_newlines=False).content() for d in degraded)
            )

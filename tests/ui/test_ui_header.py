"""The header reads the sandbox's real status type, names every missing layer loudly, and keeps
every item readable from 120 to 160 columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from uikit import console

from app.ui.widgets.header import ConsoleHeader, elide_middle, short_session, summarise_sandbox
from sandbox.probe import Layer
from sandbox.runner import SandboxStatus


def _status(degraded: tuple[str, ...]) -> SandboxStatus:
    layers = (
        Layer("namespaces", True, "user, mount, pid, net"),
        Layer("landlock", "landlock" not in degraded, "ABI 7"),
        Layer("seccomp", True, "filter"),
    )
    return SandboxStatus("linux", layers, "off", degraded, "cgroup pids", "/ws")


def test_full_sandbox() -> None:
    s = summarise_sandbox(_status(()))
    assert s.text == "namespaces+landlock+seccomp, cap cgroup pids"
    assert s.network == "off"
    assert s.degraded == ()


def test_degraded_layer_is_named() -> None:
    s = summarise_sandbox(_status(("landlock",)))
    assert "landlock" not in s.text
    assert s.degraded == ("sandbox layer landlock is missing",)


def test_no_status_is_itself_a_warning() -> None:
    assert summarise_sandbox(None).degraded


# --------------------------------------------------------------------------- the header line

DEMO_STATUS = {
    "summary": "11 layers",
    "process_cap": "pids-cgroup",
    "network": "proxy",
    "degraded": [],
}


def test_elide_middle_keeps_both_ends() -> None:
    path = "/tmp/lockgate-demo-abcdef123456/projects/shopcart"
    short = elide_middle(path, 24)
    assert len(short) == 24 and "…" in short
    assert short.startswith("/tmp/") and short.endswith("shopcart")
    assert elide_middle(path, len(path)) == path
    assert short_session("session-80c878e444bc") == "80c878e444bc"
    assert len(short_session("x" * 40)) == 14


@pytest.mark.parametrize("width", [120, 150, 160])
async def test_header_reads_well_at_common_widths(tmp_path: Path, width: int) -> None:
    ws = tmp_path / "a-rather-long-directory-name" / "projects" / "shopcart-demo-workspace"
    ws.mkdir(parents=True)
    async with console(ws, size=(width, 30), sandbox_status=DEMO_STATUS) as c:
        c.session.session_id = "session-80c878e444bc"
        c.main.query_one(ConsoleHeader).session_name = "session-80c878e444bc"
        c.link.status("thinking", "step-1")
        await c.until(lambda: "thinking" in c.text.splitlines()[0])
        line = c.text.splitlines()[0].rstrip()
        assert len(line) <= width
        # Every item is whole (or elided with a visible "…"), in this order, apart by spaces.
        labels = ["lockgate", "workspace ", "session ", "agent ", "sandbox ", "net "]
        positions = [line.index(label) for label in labels]
        assert positions == sorted(positions)
        assert re.search(r"lockgate {3,}workspace /tmp/\S*…?\S*workspace {2,}session ", line)
        assert "session 80c878e444bc  " in line
        assert re.search(r" {2,}agent thinking \(\S+ {2,}sandbox 11 layers", line)
        assert line.endswith("net proxy")
        if width >= 150:
            assert "agent thinking (step-1)   sandbox 11 layers" in line
        if width >= 160:
            assert "sandbox 11 layers, cap pids-cgroup   net" in line
        svg = c.app.export_screenshot()
        header_texts = re.findall(r'<text [^>]*line-0\)">([^<]*)</text>', svg)
        # A label drawn with leading spaces runs into the item before it in SVG viewers.
        assert header_texts and all(
            not t.startswith("&#160;") for t in header_texts[1:] if t.strip("&#160;")
        ), header_texts


def test_narrow_header_shows_the_bare_agent_state_not_an_ellipsis() -> None:
    header = ConsoleHeader(session_name="session-80c878e444bc", workspace="/tmp/lockgate-demo-x")
    header.sandbox = summarise_sandbox(DEMO_STATUS)
    header.agent = "waiting (2 actions wait for you)"
    line = header.line(80).plain
    assert "agent waiting   sandbox" in line and line.endswith("net proxy"), line

"""The fast path of `lockgate sandbox run` (app/cli/sandbox_fast.py): it must read arguments
exactly as the click command does, decline what it does not fully understand, and really run
the command through the in-process backend with the same isolation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from app.cli import FAST_PATHS, sandbox_cmd
from app.cli.sandbox_exec import RunOptions
from app.cli.sandbox_fast import DECLINED_OPTIONS, FLAG_OPTIONS, VALUE_OPTIONS, parse

REPO = Path(__file__).resolve().parent.parent.parent


def _network_options() -> set[str]:
    """The options `network_options` adds (the fast path reads only `--network off`; with it,
    `network_choice` ignores the others' defaults and refuses any that is given)."""
    from app.cli.network_options import network_options

    @click.command()
    @network_options
    def probe(**_: Any) -> None: ...

    return {o for p in probe.params for o in p.opts if o.startswith("--")}


def _click_options() -> set[str]:
    command = sandbox_cmd.cli.commands["run"]
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(o for o in param.opts if o.startswith("--"))
    return names


def test_every_click_option_is_read_or_declined_on_purpose() -> None:
    """A new option of `sandbox run` (its default could change what a run does) must be looked
    at for the fast path: read there, or declined on purpose."""
    known = VALUE_OPTIONS | FLAG_OPTIONS | DECLINED_OPTIONS | _network_options()
    assert _click_options() | {"--help"} == known


def _click_parse(args: list[str]) -> RunOptions | None:
    """What the click command builds for `sandbox run ARGS` (None: click refuses them)."""
    seen: list[RunOptions] = []

    def capture(opts: RunOptions, execute: Any) -> int:
        from app.cli.network_options import network_choice

        if network_choice(dict(opts.extra)).mode != "off":
            return 99
        seen.append(opts)
        return 0

    original = sandbox_cmd.run_with_network
    sandbox_cmd.run_with_network = capture
    try:
        sandbox_cmd.cli.main(["run", *args], standalone_mode=False)
    except (click.ClickException, click.exceptions.Exit, SystemExit):
        pass
    finally:
        sandbox_cmd.run_with_network = original
    return seen[0] if seen else None


def _same(a: RunOptions, b: RunOptions) -> bool:
    fields = ("workspace", "writable", "readable", "timeout", "max_output", "use_stdin",
              "allow_degraded", "argv")  # fmt: skip
    return all(repr(getattr(a, f)) == repr(getattr(b, f)) for f in fields)  # nan == nan too


ACCEPTED = [
    ["--workspace", "/w", "--", "true"],
    ["--workspace=/w", "true", "--x", "-y"],
    ["--workspace", "/a", "--workspace", "/w", "--", "sh", "-c", "echo hi"],
    ["--workspace", "/w", "--writable", "/x", "--writable=/y", "--readable", "/r", "--", "ls"],
    ["--workspace", "/w", "--timeout", "2.5", "--max-output", "10", "--stdin", "--", "cat"],
    ["--workspace", "/w", "--timeout=1e1", "--max-output=0", "--", "true"],
    ["--workspace", "/w", "--network", "off", "--", "true"],
    ["--workspace", "/w", "--network=off", "-", "x"],
    ["--workspace", "/w", "--", "--", "x"],
    ["--workspace", "--stdin", "--", "true"],  # click takes the next word as the value too
    ["--workspace", "/w", "--timeout", "nan", "--", "true"],
    ["--stdin", "--stdin", "--workspace", "/w", "true"],
]

DECLINED = [
    [],
    ["--help"],
    ["-h"],
    ["--workspace", "/w"],
    ["--workspace", "/w", "--"],
    ["--", "true"],
    ["--workspace", "/w", "--allow-degraded", "--", "true"],
    ["--workspace", "/w", "--network", "allow", "--", "true"],
    ["--workspace", "/w", "--allow-domain", "x.org", "--", "true"],
    ["--workspace", "/w", "--bogus", "--", "true"],
    ["--workspace", "/w", "--timeout", "soon", "--", "true"],
    ["--workspace", "/w", "--max-output", "-1", "--", "true"],
    ["--workspace", "/w", "--max-output", "1.5", "--", "true"],
    ["--workspace", "/w", "--stdin=yes", "--", "true"],
    ["--workspace", "/w", "--timeout"],
    ["--workspace=", "--", "true"],
    ["--workspace", "/w", "--network", "OFF", "--", "true"],
]


@pytest.mark.parametrize("args", ACCEPTED, ids=[" ".join(a) for a in ACCEPTED])
def test_accepted_arguments_read_as_click_reads_them(args: list[str]) -> None:
    fast = parse(args)
    slow = _click_parse(args)
    assert fast is not None and slow is not None
    assert _same(fast, slow), (fast, slow)


@pytest.mark.parametrize("args", DECLINED, ids=[" ".join(a) or "(none)" for a in DECLINED])
def test_anything_else_is_left_to_click(args: list[str]) -> None:
    assert parse(args) is None


def test_the_fast_path_is_registered() -> None:
    assert FAST_PATHS[("sandbox", "run")] == "app.cli.sandbox_fast:run"


# --------------------------------------------------------------------------- end to end

_RUNNER = """
import os
import sys
import sandbox.linux.oneshot as oneshot
original = oneshot.OneShotBackend.run
def run(self, *a, **kw):
    os.write(2, b"[one-shot run]\\n")
    return original(self, *a, **kw)
oneshot.OneShotBackend.run = run
from app.cli import main
main(sys.argv[1:])
"""


def _lockgate(
    args: list[str], tmp: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LOCKGATE_DATA_DIR": str(tmp / "data"), "HOME": str(tmp / "home")}
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        capture_output=True,
        env=env,
        input=stdin,
        timeout=60,
        cwd=str(REPO),
    )


@pytest.fixture
def area(tmp_path: Path) -> Path:
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    (tmp_path / "ws").mkdir()
    (tmp_path / "outside").write_text("untouched\n")
    return tmp_path


@pytest.mark.sandbox
def test_a_run_goes_through_the_one_shot_backend_isolated(area: Path) -> None:
    script = (
        "echo in > inside; echo bad > {o} 2>/dev/null; cat {k} 2>/dev/null; "
        "grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status; cat; exit 7"
    ).format(o=area / "outside", k=area / "home" / ".ssh" / "id_ed25519")
    r = _lockgate(
        ["sandbox", "run", "--workspace", str(area / "ws"), "--stdin", "--", "sh", "-c", script],
        area,
        stdin=b"from stdin\n",
    )
    out, err = r.stdout.decode(), r.stderr.decode()
    assert err.count("[one-shot run]") == 1, err
    assert r.returncode == 7, err
    assert (area / "ws" / "inside").read_text() == "in\n"
    assert (area / "outside").read_text() == "untouched\n"
    assert "PRIVATE KEY" not in out
    assert "Seccomp:\t2" in out and "NoNewPrivs:\t1" in out
    assert "CapEff:\t0000000000000000" in out
    assert "from stdin" in out


@pytest.mark.sandbox
def test_timeout_and_setup_failure_statuses(area: Path) -> None:
    r = _lockgate(
        ["sandbox", "run", "--workspace", str(area / "ws"), "--timeout", "0.5", "--", "sleep", "9"],
        area,
    )
    assert r.returncode == 124, r.stderr
    assert b"timed out after 0.5s" in r.stderr
    r = _lockgate(["sandbox", "run", "--workspace", str(area / "nowhere"), "--", "true"], area)
    assert r.returncode == 125
    assert b"is not a directory" in r.stderr


def test_declined_arguments_get_click_answers(area: Path) -> None:
    r = _lockgate(["sandbox", "run", "--help"], area)
    assert r.returncode == 0 and b"--workspace" in r.stdout
    assert b"[one-shot run]" not in r.stderr
    r = _lockgate(
        ["sandbox", "run", "--workspace", str(area / "ws"), "--bogus", "--", "true"], area
    )
    assert r.returncode == 2 and b"No such option '--bogus'" in r.stderr


_SETUP_FAILS = """
import sys
from sandbox.linux import namespaces
def enter(*a, **kw):  # what a kernel without user namespaces answers
    raise PermissionError(1, "Operation not permitted")
namespaces.enter = enter
from app.cli import main
main(sys.argv[1:])
"""


@pytest.mark.sandbox
def test_a_layer_that_cannot_be_applied_fails_closed(area: Path) -> None:
    """The one-shot plan is made without the full probe: a layer the setup cannot apply must
    stop the command before it runs (exit 125, one line), never run it with less. (The setup
    runs in a child of this very process, so the patched call is the one it makes.)"""
    marker = area / "ws" / "ran"
    env = {**os.environ, "LOCKGATE_DATA_DIR": str(area / "data"), "HOME": str(area / "home")}
    args = ["sandbox", "run", "--workspace", str(area / "ws"), "--", "touch", str(marker)]
    r = subprocess.run(
        [sys.executable, "-c", _SETUP_FAILS, *args],
        capture_output=True,
        env=env,
        timeout=60,
        cwd=str(REPO),
    )
    assert r.returncode == 125, r.stderr
    assert not marker.exists()
    # the full probe then names what is missing, as the zygote path's refusal does
    line = r.stderr.decode()
    assert line.startswith("lockgate: sandbox unavailable: user namespace"), line
    assert line.count("\n") == 1

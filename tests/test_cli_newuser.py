"""CLI wording a new user met before shipping (helper H13). Each test failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.cli.log_cmd import summarise


def test_log_show_words_taint_records_instead_of_a_python_dict() -> None:
    """`lockgate log show` printed `{'action_id': 'cmd-…', 'source': 'scanner', …}` for the
    records that say untrusted content entered the agent's context, and for their clearing."""
    taint = {
        "kind": "taint",
        "data": {"source": "scanner", "what": "`cat docs/x.md`: addressed", "action_id": "cmd-1"},
    }
    line = summarise(taint)
    assert "{" not in line and "'" not in line, line
    assert line == "cmd-1 untrusted content (scanner): `cat docs/x.md`: addressed"
    cleared = summarise({"kind": "taint-cleared", "data": {"by": "reviewer feedback"}})
    assert cleared == "cleared by reviewer feedback"


def test_sandbox_run_without_a_program_names_what_is_missing(tmp_path: Path) -> None:
    """`lockgate sandbox run -w DIR` said "Missing argument 'ARGV...'"; the usage line and the
    README say `-- PROGRAM [ARG…]`."""
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "app", "sandbox", "run", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 2
    assert (
        out.stderr.strip().splitlines()[-1] == "lockgate: Missing argument '-- PROGRAM [ARG]...'."
    )
    assert "ARGV" not in out.stderr


def test_risk_shows_control_characters_as_the_consoles_markers() -> None:
    """`lockgate risk -- $'echo \\x1b[31mhi'` printed `echo �[31mhi`: the replacement character
    says something was there, not what. The README promises visible markers (␛); one cell each,
    so the ^ line stays aligned."""
    from app.cli.risk_exec import _underline

    shown, carets = _underline("echo \x1b[31mhi\tx\x7f", ((5, 6),))
    assert shown == "  echo ␛[31mhi⇥x␡", shown
    assert carets.index("^") == shown.index("␛")
    assert "\ufffd" not in shown

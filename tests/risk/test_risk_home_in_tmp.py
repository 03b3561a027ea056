"""HOME under /tmp or /var/tmp (CI runners, containers): home paths are home paths before they
are temp paths, and a built-in rule whose example surprises this machine never stops lockgate
(issue 18, item 1). The built-in examples themselves are checked strictly here."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.model import CommandAction, DecisionKind, Level
from app.core.ports import SessionContext
from app.risk import policy as policy_mod
from app.risk.engine import RiskEngine
from app.risk.paths import resolve
from app.risk.policy import load_policy
from app.risk.rules import PolicyError, check_examples

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmp_home() -> Iterator[Path]:
    """A HOME directly under /tmp, apart from the test's workspace (as on a CI runner)."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="h6home-") as d:
        yield Path(d)


@pytest.mark.parametrize("tmp_root", ["/tmp", "/var/tmp"])
def test_home_under_a_temp_root_is_home(tmp_root: str) -> None:
    home = f"{tmp_root}/ci-runner"
    info = resolve("~/.ssh/id_rsa", "/work/p", "/work/p", home)
    assert info.where == "outside" and info.secret, info
    assert info.display == "~/.ssh/id_rsa"
    assert resolve("~/.bashrc", "/work/p", "/work/p", home).persistence
    # The rest of the temp dir stays scratch.
    assert resolve(f"{tmp_root}/other/x.txt", "/work/p", "/work/p", home).where == "tmp"


def test_policy_loads_and_judges_with_home_in_tmp(
    tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_home
    monkeypatch.setenv("HOME", str(home))
    ws = tmp_path / "w" / "project"
    ws.mkdir(parents=True)
    engine = RiskEngine(warm=False)
    pol = load_policy(ws, engine=engine)  # raised PolicyError before the fix
    assert not pol.warnings, pol.warnings
    action = CommandAction("cat ~/.ssh/id_rsa", "t")
    a = engine.assess(action, SessionContext(workspace=ws))
    assert a.level >= Level.HIGH
    assert pol.decide(action, a).kind == DecisionKind.DENY


@pytest.mark.parametrize("home", ["normal", "tmp"])
def test_builtin_policy_examples(
    home: str, tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The strict check of every built-in rule's examples lives here, not at run time."""
    if home == "tmp":
        monkeypatch.setenv("HOME", str(tmp_home))
    ws = tmp_path / "a" / "ws"
    ws.mkdir(parents=True)
    pol = load_policy(ws, engine=RiskEngine(warm=False), check=False)
    (builtin,) = [layer for layer in pol.layers if layer.source == "default"]
    assert builtin.rules
    check_examples(
        builtin.rules, lambda text: pol.subject(CommandAction(text, "example")), builtin.where
    )


def test_a_builtin_rule_with_a_bad_example_is_logged_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bad = (
        policy_mod.builtin_policy_text()
        + '\n[[rule]]\nname = "odd"\ndecision = "deny"\ncommand = ["zzz-tool", "*"]\n'
        'justification = "x"\nmatch = ["cat README.md"]\n'
    )
    monkeypatch.setattr(policy_mod, "builtin_policy_text", lambda: bad)
    ws = tmp_path / "a" / "ws"
    ws.mkdir(parents=True)
    engine = RiskEngine(warm=False)
    pol = load_policy(ws, engine=engine)
    assert any("'odd'" in w for w in pol.warnings)
    assert any("'odd'" in r.getMessage() for r in caplog.records)
    # The rule stays in force.
    action = CommandAction("zzz-tool run", "t")
    assert pol.decide(action, engine.assess(action, SessionContext(workspace=ws))).kind == (
        DecisionKind.DENY
    )
    # A user's rule with a bad example still fails loudly: the user can fix it.
    (ws / ".lockgate.toml").write_text(
        '[[policy.rule]]\nname = "mine"\ndecision = "ask"\ncommand = ["yyy", "*"]\n'
        'justification = "x"\nmatch = ["ls"]\n'
    )
    with pytest.raises(PolicyError):
        load_policy(ws, engine=engine)


def test_the_cli_starts_with_home_in_tmp(tmp_path: Path, tmp_home: Path) -> None:
    home = tmp_home
    p = subprocess.run(
        [sys.executable, "-m", "app", "risk", "--json", "--", "cat ~/.ssh/id_rsa"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert '"decision": "deny"' in p.stdout, p.stdout

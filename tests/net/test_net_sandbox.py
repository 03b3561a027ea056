"""End to end: real clients inside the real sandbox (proxy mode) reach loopback test servers
only through the proxy, and every way around it fails.

The sandbox's bridge forwards 127.0.0.1:PORT inside the command's network namespace to the
proxy's unix socket; the test's proxy maps test names to loopback with an injected resolver and
names loopback explicitly (it is refused by default). One sandbox run does many checks (the
client script prints JSON), so the whole file costs a few sandbox runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netkit import Cert, RecordingResolver, UpstreamServer, loopback_rules, tiny_wheel

from sandbox.net import (
    AllowListProxy,
    AskAnswer,
    AskRequest,
    ProxyThread,
    RequestRecord,
    RunContext,
)

pytestmark = pytest.mark.sandbox

HERE = Path(__file__).resolve().parent


def _sandbox_or_skip() -> Any:
    try:
        from sandbox import Sandbox, SandboxPolicy, probe
    except ImportError as exc:
        pytest.skip(f"sandbox package not importable: {exc}")
    fields = getattr(SandboxPolicy, "__dataclass_fields__", {})
    if "proxy_socket" not in fields:
        pytest.skip("this sandbox has no proxy network mode")
    support = probe()
    if not support.can_run():
        pytest.skip(f"sandbox cannot run here: {support.refusal()}")
    return Sandbox, SandboxPolicy


class _Env:
    def __init__(self, root: Path, cert: Cert) -> None:
        self.root = root
        self.workspace = root / "ws"
        self.workspace.mkdir()
        self.sockets = root / "sockets"
        self.sockets.mkdir(mode=0o700)
        shutil.copy(cert.cert, self.workspace / "ca.pem")
        shutil.copy(HERE / "inside_client.py", self.workspace / "inside_client.py")
        self.resolver = RecordingResolver(
            {
                "allowed.test": ["127.0.0.1"],
                "ask-yes.test": ["127.0.0.1"],
                "ask-no.test": ["127.0.0.1"],
                "ask-slow.test": ["127.0.0.1"],
                "meta.allowed.test": ["169.254.169.254"],
            }
        )
        self.asked: list[AskRequest] = []
        self.records: list[RequestRecord] = []


@pytest.fixture(scope="module")
def sandboxed(tls_cert: Cert) -> Iterator[tuple[Any, _Env]]:
    Sandbox, SandboxPolicy = _sandbox_or_skip()
    root = Path(tempfile.mkdtemp(prefix="lockgate-net-e2e-"))
    os.chmod(root, 0o755)
    env = _Env(root, tls_cert)
    policy = SandboxPolicy(
        workspace=env.workspace, network="proxy", proxy_socket=env.sockets / "default.sock"
    )
    try:
        with Sandbox(policy) as sb:
            yield sb, env
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _proxy(env: _Env, *ports: int) -> ProxyThread:
    async def asker(req: AskRequest) -> AskAnswer:
        env.asked.append(req)
        if req.host == "ask-yes.test":
            return AskAnswer.ONCE
        if req.host == "ask-slow.test":
            await asyncio.sleep(60)
        return AskAnswer.DENY

    proxy = AllowListProxy(
        loopback_rules(*ports),
        asker=asker,
        record=env.records.append,
        resolver=env.resolver,
        ask_timeout_s=1.0,
    )
    return ProxyThread(proxy).start()


def test_clients_inside_the_sandbox(
    sandboxed: tuple[Any, _Env], http_upstream: UpstreamServer, https_upstream: UpstreamServer
) -> None:
    sb, env = sandboxed
    thread = _proxy(env, http_upstream.port, https_upstream.port)
    sock = env.sockets / "run1.sock"
    try:
        thread.listen(sock, RunContext(command="python3 inside_client.py", action_id="cmd-e2e"))
        r = sb.run(
            [sys.executable, "-I", str(env.workspace / "inside_client.py")],
            timeout=120,
            cwd=env.workspace,
            env={
                "T_HTTP_PORT": str(http_upstream.port),
                "T_HTTPS_PORT": str(https_upstream.port),
                "T_CAFILE": str(env.workspace / "ca.pem"),
                "T_PROXY_SOCKET": str(sock),
            },
            proxy_socket=sock,
        )
    finally:
        thread.stop()
    assert r.exit_code == 0, (r.stdout, r.stderr)
    out = json.loads(r.stdout)

    # the allowed domain works, over plain HTTP and HTTPS, with urllib and pip's requests
    assert out["urllib_http"][0] == 200 and "hello GET /hello" in out["urllib_http"][1]
    assert out["urllib_https"][0] == 200 and "hello GET /secure" in out["urllib_https"][1]
    if out["pip_requests"] is not None:
        assert out["pip_requests"][0] == 200
        assert "ProxyError" in out["pip_requests_denied"]
    # an unlisted domain gets a 403 that names the rule
    assert out["urllib_denied"][0] == 403 and "rule: ask:deny" in out["urllib_denied"][1]
    assert out["urllib_https_denied"][0] == 0 and "403" in out["urllib_https_denied"][1]

    # every bypass form is refused by the proxy
    bypass = out["bypass"]
    assert all(status in (400, 403) for status in bypass.values()), bypass
    assert out["connect_plaintext"][1] == ""  # tunnel closed before anything reached upstream
    assert not any(p == "/smuggled-through-connect" for _, p, _ in http_upstream.requests)

    # no way around the proxy
    assert out["direct_upstream"] in ("ECONNREFUSED", "EPERM", "EACCES"), out
    assert out["direct_public"] in ("ENETUNREACH", "EPERM", "EACCES", "EHOSTUNREACH"), out
    assert out["dns"] != "ok" and out["udp"] != "ok" and out["ipv6"] != "ok", out
    assert out["unix_proxy_socket"] != "ok" and out["raw_socket"] != "ok", out

    # the ask flow: allowed once, denied, and a timeout that denies
    assert out["ask_yes"] == 200
    assert out["ask_no"][0] == 403 and "ask:deny" in out["ask_no"][1]
    assert out["ask_slow"][0] == 403 and "ask:timeout" in out["ask_slow"][1]
    asked = [a.host for a in env.asked]
    assert "ask-yes.test" in asked and "ask-no.test" in asked and "ask-slow.test" in asked
    assert all(a.context.action_id == "cmd-e2e" for a in env.asked)

    # DNS only ever happened for names the rules (or the reviewer) allowed
    assert set(env.resolver.calls) <= {"allowed.test", "ask-yes.test", "meta.allowed.test"}
    assert "ask-no.test" not in env.resolver.calls and "ask-slow.test" not in env.resolver.calls

    # every request is in the records, attributed to the command
    assert env.records and all(rec.action_id == "cmd-e2e" for rec in env.records)
    allowed = [rec for rec in env.records if rec.verdict == "allowed"]
    assert any(rec.host == "allowed.test" and rec.bytes_down > 0 for rec in allowed)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")
def test_curl_inside_the_sandbox(
    sandboxed: tuple[Any, _Env], http_upstream: UpstreamServer, https_upstream: UpstreamServer
) -> None:
    sb, env = sandboxed
    thread = _proxy(env, http_upstream.port, https_upstream.port)
    sock = env.sockets / "run2.sock"
    hp, sp = http_upstream.port, https_upstream.port
    script = (
        f'curl -sS -m 20 http://allowed.test:{hp}/curl; echo "exit=$?"; '
        f'curl -sS -m 20 --cacert ca.pem https://allowed.test:{sp}/curls; echo "exit=$?"; '
        f'curl -sS -m 20 http://evil.test:{hp}/; echo "exit=$?"; '
        f'curl -sS -m 20 --cacert ca.pem https://evil.test:{sp}/; echo "exit=$?"; '
        f"curl -sS -m 5 --noproxy '*' http://127.0.0.1:{hp}/; echo \"exit=$?\""
    )
    try:
        thread.listen(sock, RunContext(command="curl …"))
        r = sb.run(["sh", "-c", script], timeout=120, cwd=env.workspace, proxy_socket=sock)
    finally:
        thread.stop()
    text = r.stdout.decode()
    exits = [line for line in text.splitlines() if line.startswith("exit=")]
    assert exits[:2] == ["exit=0", "exit=0"], (text, r.stderr)
    assert "hello GET /curl" in text and "hello GET /curls" in text
    assert "rule: ask:deny" in text  # the 403 body curl printed for evil.test
    assert exits[2] == "exit=0"  # curl succeeds at HTTP level; the body says why
    assert exits[3] != "exit=0" and b"403" in r.stderr  # CONNECT refused
    assert exits[4] != "exit=0"  # skipping the proxy goes nowhere
    assert "evil.test" not in env.resolver.calls


def test_sandbox_cli_network_allow(
    sandboxed: tuple[Any, _Env], http_upstream: UpstreamServer, tmp_path: Path
) -> None:
    """`lockgate sandbox run --network allow`: the unlisted host is denied (no console)."""
    help_text = subprocess.run(
        [sys.executable, "-m", "app", "sandbox", "run", "--help"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    if "--allow-domain" not in help_text:
        pytest.skip("`lockgate sandbox run` has no network options yet")
    _, env = sandboxed
    r = subprocess.run(
        [
            sys.executable, "-m", "app", "sandbox", "run", "--workspace", str(env.workspace),
            "--network", "allow", "--allow-domain", "example.invalid", "--",
            sys.executable, "-I", "-c",
            "import urllib.request, urllib.error\n"
            "try:\n urllib.request.urlopen('http://not-listed.invalid/', timeout=20)\n"
            "except urllib.error.HTTPError as e:\n print(e.code, e.read().decode())\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("403") and "rule: no-rule" in r.stdout
    assert "refused GET not-listed.invalid:80" in r.stderr


class _OneCommandLink:
    """An agent that proposes one command and waits for its result."""

    def __init__(self, command: str) -> None:
        from app.core.model import CommandAction

        self.action = CommandAction(command=command, turn_id="turn-e2e")
        self.results: list[Any] = []

    async def events(self) -> Any:
        from app.core.events import Proposed, TurnEnded

        yield Proposed(self.action)
        yield TurnEnded("turn-e2e")
        while not self.results:
            await asyncio.sleep(0.01)

    async def submit_results(self, turn_id: str, results: Any) -> None:
        self.results.extend(results)

    async def cancel(self) -> None:
        pass


async def test_session_flow_command_asks_reviewer_allows(
    sandboxed: tuple[Any, _Env], http_upstream: UpstreamServer, tmp_path: Path
) -> None:
    """The console's shape: pipeline → sandboxed command → proxy → ask as a NetworkAction →
    reviewer approves → the request goes through; the audit log holds the request."""
    try:
        from app.execute.commands import SandboxCommandExecutor
    except ImportError as exc:
        pytest.skip(f"no command executor: {exc}")
    from test_net_adapter import _NoPatches, _Risk

    from app.core.audit import AuditLog
    from app.core.events import ActionStateChanged, PipelineEvent
    from app.core.model import (
        Action,
        Assessment,
        CommandAction,
        Decision,
        DecisionKind,
        NetworkAction,
        Verdict,
        VerdictKind,
    )
    from app.core.pipeline import ActionState, Pipeline
    from app.core.ports import SessionContext
    from app.execute.network import NetworkGate

    sb, env = sandboxed
    port = http_upstream.port

    class Policy:
        def decide(self, action: Action, assessment: Assessment) -> Decision:
            if isinstance(action, CommandAction):
                return Decision(DecisionKind.ALLOW, rule="test:commands")
            return Decision(DecisionKind.ASK, rule="test:ask-network")

        def remember(self, action: Action, verdict: Verdict) -> None:
            pass

    audit = AuditLog.create(env.workspace, path=tmp_path / "audit.jsonl")
    gate = NetworkGate(loopback_rules(port), audit=audit, resolver=env.resolver)
    executor = SandboxCommandExecutor(sb, env.workspace, network=gate)
    pipeline = Pipeline(
        context=SessionContext(workspace=env.workspace, network="allow"),
        risk=_Risk(),
        policy=Policy(),
        commands=executor,
        patches=_NoPatches(),
        audit=audit,
    )
    gate.attach(pipeline, ask_timeout_s=30)
    asked: list[NetworkAction] = []

    def reviewer(event: PipelineEvent) -> None:
        if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
            action = pipeline.view(event.action_id).action
            if isinstance(action, NetworkAction):
                asked.append(action)
                asyncio.get_running_loop().call_soon(
                    pipeline.submit_verdict, Verdict(action.id, VerdictKind.APPROVE_SESSION)
                )

    class Obs:
        def notify(self, event: PipelineEvent) -> None:
            reviewer(event)

    pipeline.add_observer(Obs())
    script = (
        "import urllib.request as u\n"
        f"for _ in range(2): print(u.urlopen('http://session-ask.test:{port}/s', timeout=30).status)\n"
    )
    env.resolver.table["session-ask.test"] = ["127.0.0.1"]
    link = _OneCommandLink(f'{sys.executable} -I -c "{script}"')
    try:
        await asyncio.wait_for(pipeline.run(link), 120)
    finally:
        await gate.close()
        audit.close()
    (result,) = link.results
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.split() == [b"200", b"200"]
    assert len(asked) == 1  # approved for the session: asked once
    assert asked[0].host == "session-ask.test" and asked[0].parent_action_id == link.action.id
    assert asked[0].program == Path(sys.executable).name
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    net = [r["data"] for r in lines if r["kind"] == "network"]
    assert [d["rule"] for d in net] == ["ask:session", "allow-domain session-ask.test"]
    assert all(d["parent_action_id"] == link.action.id and d["bytes_down"] > 0 for d in net)


def test_pip_download_inside_the_sandbox(
    sandboxed: tuple[Any, _Env], https_upstream: UpstreamServer
) -> None:
    """Real pip, inside the sandbox, fetching a package from an HTTPS index on an allowed host
    (and refused, with the rule in its output, from one that is not)."""
    sb, env = sandboxed
    wheel_name, wheel = tiny_wheel()
    https_upstream.files["/simple/lockgatetiny/"] = (
        f'<html><body><a href="/files/{wheel_name}">{wheel_name}</a></body></html>'.encode()
    )
    https_upstream.files[f"/files/{wheel_name}"] = wheel
    thread = _proxy(env, https_upstream.port)
    sock = env.sockets / "pip.sock"
    dest = env.workspace / "downloads"
    base = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
        "--disable-pip-version-check", "--retries", "0", "--timeout", "20",
        "--cert", str(env.workspace / "ca.pem"), "-d", str(dest),
    ]  # fmt: skip
    try:
        thread.listen(sock, RunContext(command="pip download lockgatetiny", action_id="cmd-pip"))
        ok = sb.run(
            [*base, "--index-url", f"https://allowed.test:{https_upstream.port}/simple/",
             "lockgatetiny"],
            timeout=120, cwd=env.workspace, proxy_socket=sock,
            env={"PIP_CONFIG_FILE": os.devnull},
        )  # fmt: skip
        refused = sb.run(
            [*base, "--index-url", f"https://evil.test:{https_upstream.port}/simple/",
             "lockgatetiny"],
            timeout=120, cwd=env.workspace, proxy_socket=sock,
            env={"PIP_CONFIG_FILE": os.devnull},
        )  # fmt: skip
    finally:
        thread.stop()
    assert ok.exit_code == 0, (ok.stdout[-2000:], ok.stderr[-2000:])
    assert (dest / wheel_name).read_bytes() == wheel
    assert refused.exit_code != 0 and not list(dest.glob("*evil*"))
    mine = [r for r in env.records if r.action_id == "cmd-pip"]
    assert any(r.host == "allowed.test" and r.verdict == "allowed" for r in mine)
    assert any(r.host == "evil.test" and r.verdict == "denied" for r in mine)
    assert "evil.test" not in env.resolver.calls

"""TLS inspection end to end: stock clients inside the real sandbox trust the session CA through
the bundle variables alone, read-only holds for HTTPS, and the CA key cannot be read inside;
outside the sandbox nothing trusts the session CA."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netkit import Cert, RecordingResolver, UpstreamServer, loopback_rules

from sandbox.net import AllowListProxy, ProxyThread, RequestRecord, RunContext

pytest.importorskip("cryptography", reason="TLS inspection needs the cryptography package")

pytestmark = pytest.mark.sandbox

INSIDE = r"""
import json, os, ssl, subprocess, sys, urllib.error, urllib.request
port, key, curl = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
def call(url, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=20) as r:
            return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, e.headers.get("X-Lockgate-Rule", "")]
    except Exception as e:
        return [0, type(e).__name__ + ": " + str(e)[:200]]
# no context given: the default trust comes from SSL_CERT_FILE (the bundle) alone
out["get"] = call(f"https://allowed.test:{port}/inside")
out["post"] = call(f"https://allowed.test:{port}/steal", data=b"secret")
try:
    with open(key, "rb") as f:
        out["key"] = "read " + str(len(f.read()))
except OSError as e:
    out["key"] = type(e).__name__
out["bundle"] = os.path.isfile(os.environ.get("SSL_CERT_FILE", ""))
out["vars"] = sorted(k for k in os.environ if k.endswith(("CA_BUNDLE", "_CAINFO", "CERT_FILE",
                                                          "EXTRA_CA_CERTS", "PIP_CERT")))
if curl:
    r = subprocess.run([curl, "-sS", "-m", "20", f"https://allowed.test:{port}/curl"],
                       capture_output=True, text=True)
    out["curl"] = [r.returncode, r.stdout[:200], r.stderr[:200]]
    socks = "socks5h://" + os.environ["HTTP_PROXY"].split("://", 1)[1]
    r = subprocess.run([curl, "-sS", "-m", "20", "-x", socks, f"https://allowed.test:{port}/socks"],
                       capture_output=True, text=True)
    out["curl_socks"] = [r.returncode, r.stdout[:200], r.stderr[:200]]
    r = subprocess.run([curl, "-sS", "-m", "20", "-x", socks, "-d", "x",
                        f"https://allowed.test:{port}/socks"], capture_output=True, text=True)
    out["curl_socks_post"] = [r.returncode, r.stdout[:300], r.stderr[:200]]
print(json.dumps(out))
"""


def _sandbox_or_skip() -> Any:
    try:
        from sandbox import Sandbox, SandboxPolicy, probe
    except ImportError as exc:
        pytest.skip(f"sandbox package not importable: {exc}")
    support = probe()
    if not support.can_run():
        pytest.skip(f"sandbox cannot run here: {support.refusal()}")
    return Sandbox, SandboxPolicy


@pytest.fixture
def workspace() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="lockgate-inspect-e2e-"))
    os.chmod(root, 0o755)
    (root / "ws").mkdir()
    (root / "sockets").mkdir(mode=0o700)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_inspected_https_inside_the_sandbox(
    workspace: Path, https_upstream: UpstreamServer, tls_cert: Cert
) -> None:
    Sandbox, SandboxPolicy = _sandbox_or_skip()
    from app.execute.network import TlsSetup

    tls = TlsSetup(upstream_ca=tls_cert.cert)
    records: list[RequestRecord] = []
    proxy = AllowListProxy(
        loopback_rules(https_upstream.port, read_only=True),
        record=records.append,
        resolver=RecordingResolver(),
        inspection=tls.inspection,
    )
    thread = ProxyThread(proxy).start()
    sock = workspace / "sockets" / "p.sock"
    key = tls.key_dir / "ca-key.pem"
    try:
        assert key.is_file()
        thread.listen(sock, RunContext(command="inside"))
        policy = tls.with_bundle(
            SandboxPolicy(workspace=workspace / "ws", network="proxy", proxy_socket=sock)
        )
        with Sandbox(policy, prewarm=False) as sb:
            r = sb.run(
                [
                    sys.executable, "-I", "-c", INSIDE, str(https_upstream.port), str(key),
                    shutil.which("curl") or "",
                ],
                timeout=120,
                env=tls.env,
                proxy_socket=sock,
            )  # fmt: skip
    finally:
        thread.stop()
        tls.close()
    assert r.exit_code == 0, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert out["get"][0] == 200 and "hello GET /inside" in out["get"][1], out
    assert out["post"] == [403, "read-only-http"], out
    assert out["key"] in ("PermissionError", "FileNotFoundError"), out
    assert out["bundle"] is True
    assert {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"} <= set(
        out["vars"]
    )
    if "curl" in out:
        assert out["curl"][0] == 0 and "hello GET /curl" in out["curl"][1], out["curl"]
        # the same through SOCKS5, names resolved by the proxy
        assert out["curl_socks"][0] == 0 and "hello GET /socks" in out["curl_socks"][1], out
        assert "rule: read-only-http" in out["curl_socks_post"][1], out
    posts = [rec for rec in records if rec.method == "POST"]
    assert posts and posts[0].rule == "read-only-http" and posts[0].scheme == "https"
    # the CA lived only for the session, and the host never trusted it
    assert not tls.key_dir.exists() and not tls.bundle_dir.exists()
    host_ctx = ssl.create_default_context()
    assert not any("lockgate" in str(c.get("subject", "")) for c in host_ctx.get_ca_certs())
    assert "lockgate" not in os.environ.get("SSL_CERT_FILE", "")


def test_demo_takes_the_network_options(tmp_path: Path) -> None:
    """`lockgate demo --read-only-http` (a script with network = "allow"): the session inspects
    TLS, its commands see the bundle, and the CA is gone when the session ends."""
    import subprocess

    _sandbox_or_skip()
    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    script = tmp_path / "s.toml"
    script.write_text(
        'title = "t"\ntask = "t"\n[session]\nnetwork = "allow"\nallow_domains = ["a.example"]\n'
        '[[step]]\nsay = "env"\ncommands = ["printenv SSL_CERT_FILE"]\nend = true\n'
    )
    r = subprocess.run(
        [sys.executable, "-m", "app", "demo", "--headless", "--script", str(script),
         "-w", str(ws), "--read-only-http"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "network: HTTPS to allowed hosts is inspected" in out
    assert "ca-bundle.pem" in out
    tls_root = Path(os.environ["LOCKGATE_DATA_DIR"]) / "tls"
    assert not tls_root.exists() or not any(tls_root.iterdir())

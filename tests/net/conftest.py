"""Fixtures for the network proxy: loopback upstream servers (HTTP and HTTPS with a certificate
made here by the openssl CLI), and the proxy on a background loop."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netkit import (
    Cert,
    ProxyFactory,
    RecordingResolver,
    RunningProxy,
    UpstreamServer,
    serve_upstream,
)

from sandbox.net import AllowListProxy, NetworkRules, ProxyThread, RequestRecord, RunContext
from sandbox.net.proxy import Asker


@pytest.fixture(scope="session")
def tls_cert() -> Iterator[Cert]:
    """A self-signed certificate for allowed.test and *.allowed.test (openssl CLI; the
    `cryptography` package is not in this venv)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed: cannot make a test certificate")
    d = Path(tempfile.mkdtemp(prefix="lockgate-net-cert-"))
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
            "-subj", "/CN=allowed.test",
            "-addext", "subjectAltName=DNS:allowed.test,DNS:*.allowed.test,DNS:other.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    yield Cert(d / "cert.pem", d / "key.pem")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def http_upstream() -> Iterator[UpstreamServer]:
    owner, httpd = serve_upstream(None)
    yield owner
    httpd.shutdown()


@pytest.fixture(scope="session")
def https_upstream(tls_cert: Cert) -> Iterator[UpstreamServer]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_cert.cert, tls_cert.key)
    owner, httpd = serve_upstream(ctx)
    yield owner
    httpd.shutdown()


@pytest.fixture
def client_tls(tls_cert: Cert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls_cert.cert))
    return ctx


@pytest.fixture
def make_proxy() -> Iterator[ProxyFactory]:
    """Start a proxy on a background loop; `make_proxy(rules, asker=…, **kw)`."""
    started: list[ProxyThread] = []
    dirs: list[Path] = []

    def factory(
        rules: NetworkRules,
        *,
        asker: Asker | None = None,
        resolver: RecordingResolver | None = None,
        context: RunContext | None = None,
        **kw: Any,
    ) -> RunningProxy:
        res = resolver or RecordingResolver()
        records: list[RequestRecord] = []
        proxy = AllowListProxy(rules, asker=asker, record=records.append, resolver=res, **kw)
        thread = ProxyThread(proxy).start()
        started.append(thread)
        d = Path(tempfile.mkdtemp(prefix="lgp-"))
        d.chmod(0o700)
        dirs.append(d)
        path = d / "proxy.sock"
        thread.listen(path, context or RunContext(command="test-cmd", action_id="cmd-test"))
        return RunningProxy(proxy, thread, path, res, records)

    yield factory
    for t in started:
        t.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)

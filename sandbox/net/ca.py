"""The per-session certificate authority for TLS inspection, and the bundle the sandbox trusts.

Made fresh for each session with the `cryptography` package (imported only here, only when
inspection is on). Its private key lives in a 0700 directory the caller chooses (the console's
data directory, which the sandbox hides) and is never written anywhere a sandboxed command can
read. The certificate goes into a *bundle* — the system's roots plus this CA — in a separate
directory that is mounted read-only into the sandbox and named by `SSL_CERT_FILE` and friends:
only programs inside the sandbox trust it; the host's trust store is never touched.

Leaf certificates are minted per host on first use (one session-wide leaf key, so minting is
one signature) and cached with their `ssl.SSLContext`.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where distributions keep the system roots, first match wins.
SYSTEM_ROOT_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, BSDs
)
# The variables that make common tools trust the bundle (OpenSSL, requests, curl, Node, pip,
# git, cargo).
BUNDLE_VARIABLES = (
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CERT",
    "GIT_SSL_CAINFO",
    "CARGO_HTTP_CAINFO",
)
CA_VALID = datetime.timedelta(days=7)
LEAF_VALID = datetime.timedelta(days=2)
BACKDATE = datetime.timedelta(hours=1)  # clocks inside and outside may differ a little


class CaError(Exception):
    """The session CA could not be made or used; one line."""


def system_roots() -> Path | None:
    """The system's root certificate file (PEM), or None when there is none."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *SYSTEM_ROOT_FILES):
        if candidate and os.path.isfile(candidate):
            return Path(candidate)
    return None


def _crypto() -> Any:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise CaError(
            "TLS inspection needs the 'cryptography' package (pip install cryptography)"
        ) from None
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


@dataclass(frozen=True)
class CaFiles:
    key_dir: Path  # 0700: the CA key, the leaf key, minted leaves — never inside the sandbox
    bundle_dir: Path  # readable inside the sandbox: certificates only
    ca_cert: Path  # this session's CA certificate alone
    bundle: Path  # system roots + this CA

    def sandbox_env(self) -> dict[str, str]:
        return dict.fromkeys(BUNDLE_VARIABLES, str(self.bundle))


class SessionCA:
    """A CA made for one session; `server_context(host)` is what the proxy shows a client."""

    def __init__(self, files: CaFiles, ca_key: Any, ca_cert: Any, leaf_key_path: Path) -> None:
        self.files = files
        self._ca_key = ca_key
        self._ca_cert = ca_cert
        self._leaf_key_path = leaf_key_path
        self._leaf_key: Any = None
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.minted = 0

    @classmethod
    def create(cls, key_dir: Path, bundle_dir: Path, roots: Path | None = None) -> SessionCA:
        """Make the CA: key into `key_dir` (made 0700, must not exist or be empty), certificate
        and bundle into `bundle_dir` (made 0755). `roots`: the system roots to bundle."""
        x509, hashes, serialization, ec, _eku, name_oid = _crypto()
        for d, mode in ((key_dir, 0o700), (bundle_dir, 0o755)):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, mode)
        if any(key_dir.iterdir()):
            raise CaError(f"{key_dir} is not empty: a session CA is never reused")
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        tag = secrets.token_hex(4)
        name = x509.Name(
            [
                x509.NameAttribute(name_oid.ORGANIZATION_NAME, "lockgate"),
                x509.NameAttribute(name_oid.COMMON_NAME, f"lockgate session CA {tag}"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + CA_VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        pem_key = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(key_dir / "ca-key.pem", pem_key)
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf_key_path = key_dir / "leaf-key.pem"
        _write_private(
            leaf_key_path,
            leaf_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        ca_pem = cert.public_bytes(serialization.Encoding.PEM)
        ca_path = bundle_dir / "lockgate-session-ca.pem"
        ca_path.write_bytes(ca_pem)
        roots_pem = roots.read_bytes() if roots is not None else b""
        if roots_pem and not roots_pem.endswith(b"\n"):
            roots_pem += b"\n"
        bundle = bundle_dir / "ca-bundle.pem"
        bundle.write_bytes(roots_pem + ca_pem)
        for p in (ca_path, bundle):
            os.chmod(p, 0o644)
        ca = cls(CaFiles(key_dir, bundle_dir, ca_path, bundle), key, cert, leaf_key_path)
        ca._leaf_key = leaf_key
        return ca

    def server_context(self, host: str, kind: str = "name") -> ssl.SSLContext:
        """A TLS server context presenting a leaf for `host` (canonical name or IP text),
        offering only http/1.1 in ALPN. Cached per host."""
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                cert_path = self._mint(host, kind)
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                ctx.load_cert_chain(cert_path, self._leaf_key_path)
                ctx.set_alpn_protocols(["http/1.1"])
                ctx.sni_callback = _sni_must_be(host)
                self._contexts[host] = ctx
            return ctx

    def _mint(self, host: str, kind: str) -> Path:
        x509, hashes, serialization, _ec, eku, name_oid = _crypto()
        now = datetime.datetime.now(datetime.UTC)
        if kind == "name":
            san: Any = x509.DNSName(host)
        else:
            san = x509.IPAddress(ipaddress.ip_address(host))
        cn = host if len(host) <= 64 else host[:64]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(name_oid.COMMON_NAME, cn)]))
            .issuer_name(self._ca_cert.subject)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + LEAF_VALID)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                critical=False,
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        leaves = self.files.key_dir / "leaves"
        leaves.mkdir(mode=0o700, exist_ok=True)
        self.minted += 1
        path = leaves / f"leaf-{self.minted}.pem"
        chain = cert.public_bytes(serialization.Encoding.PEM) + self._ca_cert.public_bytes(
            serialization.Encoding.PEM
        )
        _write_private(path, chain)
        return path


def _sni_must_be(host: str) -> Any:
    """The server name a client asks for must be the host its tunnel was opened to (no asking
    an allowed CDN host's tunnel for another site); a client that sends none is fine."""

    def check(_sock: Any, name: str | None, _ctx: Any) -> int | None:
        if name is None or name.lower().rstrip(".") == host:
            return None
        return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

    return check


def upstream_context(extra_roots: Path | None = None) -> ssl.SSLContext:
    """How the proxy checks the real server: the system roots (never weaker), plus `extra_roots`
    (a corporate CA, or a test's own) when given. Offers only http/1.1."""
    ctx = ssl.create_default_context()
    if extra_roots is not None:
        try:
            ctx.load_verify_locations(cafile=str(extra_roots))
        except (OSError, ssl.SSLError) as exc:
            raise CaError(f"--upstream-ca {extra_roots}: {exc}") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def merged_env(files: CaFiles | None, env: Mapping[str, str] | None) -> dict[str, str]:
    """`env` plus the bundle variables (when inspecting)."""
    out = dict(env or {})
    if files is not None:
        out.update(files.sandbox_env())
    return out


@dataclass(frozen=True)
class Inspection:
    """What the proxy needs to inspect HTTPS: the session CA (for clients) and the context that
    verifies the real servers."""

    ca: SessionCA
    upstream: ssl.SSLContext

"""The allow-list proxy: plain-HTTP forwarding and CONNECT tunnels, served on unix sockets.

Sandboxed commands reach the outside only through here (the sandbox bridges 127.0.0.1:PORT in
the command's network namespace to one of these sockets). Each request goes through the same
gate, in this order, and the first "no" ends it with a 403 naming the rule:

  1. parse strictly, canonicalise the host (`host.py`); Host header and target must agree;
  2. rules on host and port, then (plain HTTP) method and body;
  3. a host no rule covers → the asker (the console), which may allow once, for the session or
     always; no asker, an error or a timeout → deny;
  4. only now resolve the name, refuse special addresses (`addresses.py`), and connect to the
     very address that was checked;
  5. CONNECT: the tunnel must open with a TLS ClientHello whose server name is the same host.

Every request ends in one `RequestRecord` for the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import logging
import os
import socket
import ssl
import stat
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sandbox.net.addresses import IPAddress, address_refusal
from sandbox.net.ca import Inspection
from sandbox.net.host import Host, HostError, canonical_host, parse_authority
from sandbox.net.http1 import (
    HEAD_LIMIT,
    METHOD_OVERRIDES,
    ByteCount,
    Framing,
    HttpError,
    RequestHead,
    forward_headers,
    parse_request_head,
    parse_response_head,
    read_head,
    relay_body,
    render_head,
    request_framing,
    response_framing,
)
from sandbox.net.rules import NetworkRules, RuleMatch, RuleVerdict
from sandbox.net.splice import splice_streams
from sandbox.net.tls import TlsError, read_client_hello

log = logging.getLogger(__name__)

# Bodies smaller than this are copied through the streams; setting up a splice costs more.
SPLICE_MIN = 256 * 1024

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver. Only ever called for a name the rules allowed."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class RunContext:
    """Who is behind one listening socket: the command run it was made for."""

    command: str = ""
    action_id: str = ""
    turn_id: str = ""
    program: str = ""  # e.g. "pip", for "`pip` wants files from …"


class AskAnswer(enum.StrEnum):
    ONCE = "once"
    SESSION = "session"
    ALWAYS = "always"
    DENY = "deny"

    @property
    def allows(self) -> bool:
        return self is not AskAnswer.DENY


@dataclass(frozen=True)
class AskRequest:
    host: str  # canonical
    port: int
    method: str
    scheme: Literal["http", "https"]
    context: RunContext


Asker = Callable[[AskRequest], Awaitable[AskAnswer]]
# Asked about each request a rule allows: a reason to ask the console anyway, or None. The
# session uses it while untrusted content is in the agent's context (allow-listed hosts too).
Guard = Callable[[AskRequest], str | None]


@dataclass(frozen=True)
class RequestRecord:
    """One request as the audit log keeps it. Bytes: to the upstream (up), back to the client
    (down). `verdict` is what the gate said; `status` the HTTP status the client saw (200 for a
    tunnel that opened)."""

    at: float
    command: str
    action_id: str
    method: str
    scheme: Literal["http", "https"]
    host: str
    port: int
    verdict: Literal["allowed", "denied"]
    rule: str
    reason: str = ""
    status: int = 0
    address: str = ""
    bytes_up: int = 0
    bytes_down: int = 0
    duration_s: float = 0.0


RecordSink = Callable[[RequestRecord], None]


class _RelayError(Exception):
    """A request past the gate that could not be completed; `rule` names why."""

    def __init__(
        self, status: int, verdict: Literal["allowed", "denied"], rule: str, reason: str
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.verdict = verdict
        self.rule = rule
        self.reason = reason


class _Denied(Exception):
    def __init__(self, status: int, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.rule = rule
        self.reason = reason


@dataclass
class _Opened:
    """A tunnel past the gate, its upstream connected (with verified TLS when inspected)."""

    host: Host
    port: int
    rule: str
    address: str
    mode: Literal["tunnel", "inspect", "plain"]
    up_reader: asyncio.StreamReader
    up_writer: asyncio.StreamWriter


@dataclass
class _TunnelState:
    """What one tunnel's record will say; filled in as it goes."""

    method: str
    rule: str
    verdict: Literal["allowed", "denied"] = "allowed"
    reason: str = ""
    sent: list[int] = field(default_factory=list)
    up: ByteCount = field(default_factory=ByteCount)
    down: ByteCount = field(default_factory=ByteCount)


class _SocksError(Exception):
    def __init__(self, reply: int, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.reply = reply
        self.rule = rule
        self.reason = reason


# HTTP status of a refusal → SOCKS5 reply code (2: not allowed by ruleset, 1: general failure,
# 4: host unreachable)
_SOCKS_REPLY = {400: 0x01, 403: 0x02, 502: 0x04, 503: 0x01, 504: 0x04}


def _socks_reply(code: int) -> bytes:
    return bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])


async def _socks_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, int]:
    """The greeting (the version byte is already read) and the request → (host text, port)."""
    n = (await reader.readexactly(1))[0]
    methods = await reader.readexactly(n)
    if 0x00 not in methods:
        writer.write(b"\x05\xff")
        await writer.drain()
        raise _SocksError(0xFF, "socks", "the client offered no 'no authentication' method")
    writer.write(b"\x05\x00")
    await writer.drain()
    ver, cmd, rsv, atyp = await reader.readexactly(4)
    if ver != 5 or rsv != 0:
        raise _SocksError(0x01, "socks", "malformed SOCKS5 request")
    if atyp == 1:
        text = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif atyp == 4:
        text = "[" + str(ipaddress.IPv6Address(await reader.readexactly(16))) + "]"
    elif atyp == 3:
        raw = await reader.readexactly((await reader.readexactly(1))[0])
        if not raw or any(b <= 0x20 or b >= 0x7F for b in raw):
            raise _SocksError(0x02, "host-syntax", "SOCKS host name is not printable ASCII")
        text = raw.decode("ascii")
    else:
        raise _SocksError(0x08, "socks", f"unknown SOCKS5 address type {atyp}")
    port = int.from_bytes(await reader.readexactly(2), "big")
    if cmd != 1:
        raise _SocksError(0x07, "socks", "only SOCKS5 CONNECT is supported (no BIND, no UDP)")
    if port == 0:
        raise _SocksError(0x02, "allow-port", "port 0")
    return text, port


@dataclass
class _Listener:
    path: Path
    context: RunContext
    server: asyncio.AbstractServer | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)
    asks: int = 0
    pending: dict[str, asyncio.Future[AskAnswer]] = field(default_factory=dict)


class Listening:
    """A unix socket the proxy serves for one command run; close it when the run ends."""

    def __init__(self, proxy: AllowListProxy, listener: _Listener) -> None:
        self._proxy = proxy
        self._listener = listener

    @property
    def path(self) -> Path:
        return self._listener.path

    @property
    def context(self) -> RunContext:
        return self._listener.context

    async def close(self) -> None:
        await self._proxy._close_listener(self._listener)


class AllowListProxy:
    """The proxy. All methods run on one event loop (the one that calls `listen`)."""

    def __init__(
        self,
        rules: NetworkRules,
        *,
        asker: Asker | None = None,
        record: RecordSink | None = None,
        resolver: Resolver | None = None,
        ask_timeout_s: float = 120.0,
        connect_timeout_s: float = 15.0,
        head_timeout_s: float = 30.0,
        half_close_grace_s: float = 30.0,
        max_connections: int = 256,
        max_asks_per_run: int = 20,
        max_pending_asks: int = 4,
        inspection: Inspection | None = None,
    ) -> None:
        # The resolver can be replaced here and only here: tests map their names to loopback.
        # No environment variable or config file reaches it.
        self._rules = rules
        self._asker = asker
        self._guard: Guard | None = None
        self._record = record
        self._resolve: Resolver = resolver or system_resolver
        self.ask_timeout_s = ask_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.head_timeout_s = head_timeout_s
        self.half_close_grace_s = half_close_grace_s
        self.max_connections = max_connections  # per socket, i.e. per command run
        # A command inventing host names must not bury the reviewer in questions.
        self.max_asks_per_run = max_asks_per_run
        self.max_pending_asks = max_pending_asks
        self._open: dict[int, _Listener] = {}
        self._record_failed = ""
        # TLS inspection (None: HTTPS is tunnelled, and a CONNECT whose limits would need
        # inspection is refused)
        self._inspection = inspection
        # SOCKS5 targets on these ports carry plain HTTP (judged request by request); on any
        # other port a SOCKS tunnel must carry TLS, like CONNECT. Tests add their server's port.
        self.socks_plain_ports: frozenset[int] = frozenset({80})

    # ----------------------------------------------------------------------- rules

    @property
    def rules(self) -> NetworkRules:
        return self._rules

    def set_rules(self, rules: NetworkRules) -> None:
        """Replace the rules; requests already past the gate are not re-judged."""
        self._rules = rules

    def set_asker(self, asker: Asker | None) -> None:
        """Who decides about hosts no rule covers (None: nobody, so they are denied)."""
        self._asker = asker

    def set_guard(self, guard: Guard | None) -> None:
        """A second look at requests the rules allow (None: the rules decide alone)."""
        self._guard = guard

    def allow_for_session(self, host: str) -> None:
        """Add an exact allow for `host` (canonicalised) for the rest of this proxy's life."""
        self._rules = self._rules.allowing(canonical_host(host))

    # ----------------------------------------------------------------------- sockets

    async def listen(self, path: Path, context: RunContext | None = None) -> Listening:
        """Serve on a new unix socket at `path` (its directory should be private, 0700)."""
        listener = _Listener(Path(path), context or RunContext())
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            if len(listener.tasks) >= self.max_connections:
                reason = f"more than {self.max_connections} connections at once"
                # read the request first: closing on unread bytes would reset the connection
                # and the client would never see why
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(read_head(reader), 2.0)
                await self._refuse(writer, 503, "connection-limit", reason)
                writer.close()
                return
            listener.tasks.add(task)
            try:
                await self._serve(listener, reader, writer)
            finally:
                listener.tasks.discard(task)

        listener.server = await asyncio.start_unix_server(
            on_client, path=str(path), limit=HEAD_LIMIT
        )
        os.chmod(path, 0o600)
        self._open[id(listener)] = listener
        return Listening(self, listener)

    async def _close_listener(self, listener: _Listener) -> None:
        self._open.pop(id(listener), None)
        if listener.server is not None:
            listener.server.close()
            with contextlib.suppress(Exception):
                await listener.server.wait_closed()
        for task in list(listener.tasks):
            task.cancel()
        if listener.tasks:
            await asyncio.gather(*listener.tasks, return_exceptions=True)
        for fut in listener.pending.values():
            if not fut.done():
                fut.cancel()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(listener.path)

    async def close(self) -> None:
        for listener in list(self._open.values()):
            await self._close_listener(listener)

    # ----------------------------------------------------------------------- one connection

    async def _serve(
        self, listener: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            try:
                first = await asyncio.wait_for(reader.readexactly(1), self.head_timeout_s)
                if first == b"\x05":  # SOCKS5's version byte; no HTTP method starts with it
                    await self._socks(listener, reader, writer)
                    return
                raw = first + await asyncio.wait_for(read_head(reader), self.head_timeout_s)
            except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                return
            except HttpError as exc:
                await self._refuse(writer, exc.status, "http-syntax", exc.message)
                self._emit(
                    listener, "?", "http", "", 0, "denied", "http-syntax", exc.message, exc.status
                )
                return
            try:
                head = parse_request_head(raw)
            except HttpError as exc:
                await self._refuse(writer, exc.status, "http-syntax", exc.message)
                self._emit(
                    listener, "?", "http", "", 0, "denied", "http-syntax", exc.message, exc.status
                )
                return
            if head.method == "CONNECT":
                await self._tunnel(listener, head, reader, writer)
            else:
                await self._forward(listener, head, reader, writer)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not take the proxy down; it does end this connection
            log.exception("proxy connection failed")
        finally:
            await _close(writer)

    # ----------------------------------------------------------------------- the gate

    async def _gate(
        self,
        listener: _Listener,
        host: Host,
        port: int,
        method: str,
        scheme: Literal["http", "https"],
        has_body: bool | None,
        overrides: tuple[tuple[str, str], ...] = (),
        path: str | None = None,
    ) -> tuple[str, list[IPAddress]]:
        """Rules, ask, resolve, address check. Returns (rule, addresses) or raises _Denied."""
        if self._record_failed:
            raise _Denied(
                403, "audit", f"requests can no longer be recorded ({self._record_failed})"
            )
        rules = self._rules
        match = rules.check_target(host, port)
        if match.verdict is RuleVerdict.DENY:
            raise _Denied(403, match.rule, match.reason)
        if has_body is not None:
            limit = rules.check_request(method, has_body, overrides)
            if limit is not None:
                raise _Denied(403, limit.rule, limit.reason)
        if path is not None:
            limit = rules.check_url(method, scheme, host, port, path)
            if limit is not None:
                raise _Denied(403, limit.rule, limit.reason)
        if match.verdict is RuleVerdict.ALLOW and self._guard is not None:
            try:
                why = self._guard(AskRequest(host.name, port, method, scheme, listener.context))
            except Exception as exc:  # a broken guard must not open the gate: ask
                log.warning("network guard failed: %r", exc)
                why = "the guard failed"
            if why:
                match = RuleMatch(RuleVerdict.UNKNOWN, "guard", why)
        if match.verdict is RuleVerdict.UNKNOWN:
            match = await self._ask(listener, host, port, method, scheme)
            if match.verdict is not RuleVerdict.ALLOW:
                raise _Denied(403, match.rule, match.reason)
            rules = self._rules
        addresses = await self._addresses(host, port, rules)
        return match.rule, addresses

    async def _ask(
        self,
        listener: _Listener,
        host: Host,
        port: int,
        method: str,
        scheme: Literal["http", "https"],
    ) -> RuleMatch:
        if host.name in listener.denied:
            return RuleMatch(
                RuleVerdict.DENY, "ask:denied", f"{host} was denied earlier in this command"
            )
        if self._asker is None:
            return RuleMatch(
                RuleVerdict.DENY,
                "no-rule",
                f"no rule covers {host} and there is no console to ask (unlisted hosts are denied)",
            )
        fut = listener.pending.get(host.name)
        if fut is None:
            if listener.asks >= self.max_asks_per_run:
                return RuleMatch(
                    RuleVerdict.DENY,
                    "ask:limit",
                    f"this command already asked about {self.max_asks_per_run} hosts",
                )
            if len(listener.pending) >= self.max_pending_asks:
                return RuleMatch(
                    RuleVerdict.DENY,
                    "ask:busy",
                    f"{self.max_pending_asks} asks from this command are already waiting",
                )
            listener.asks += 1
            fut = asyncio.get_running_loop().create_future()
            listener.pending[host.name] = fut
            request = AskRequest(host.name, port, method, scheme, listener.context)
            try:
                answer = await asyncio.wait_for(self._asker(request), self.ask_timeout_s)
            except TimeoutError:
                answer = None
                reason = f"nobody answered within {self.ask_timeout_s:g} s"
            except asyncio.CancelledError:
                listener.pending.pop(host.name, None)
                fut.cancel()
                raise
            except Exception as exc:
                log.warning("network asker failed: %r", exc)
                answer = None
                reason = f"the ask failed ({type(exc).__name__})"
            else:
                reason = ""
            listener.pending.pop(host.name, None)
            if answer is None or not isinstance(answer, AskAnswer):
                answer = AskAnswer.DENY
                reason = reason or "the answer was not understood"
                rule = "ask:timeout" if "answered within" in reason else "ask:error"
            else:
                rule = f"ask:{answer.value}"
            if answer is AskAnswer.DENY:
                listener.denied.add(host.name)
            elif answer in (AskAnswer.SESSION, AskAnswer.ALWAYS):
                self._rules = self._rules.allowing(host)
            fut.set_result(answer)
            if answer is AskAnswer.DENY:
                return RuleMatch(RuleVerdict.DENY, rule, reason or f"the reviewer denied {host}")
            return RuleMatch(RuleVerdict.ALLOW, rule)
        try:
            answer = await asyncio.shield(fut)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if fut.cancelled() and me is not None and not me.cancelling():
                # the request that asked went away; this one is not allowed on its behalf
                return RuleMatch(RuleVerdict.DENY, "ask:cancelled", "the ask was abandoned")
            raise
        if answer is AskAnswer.DENY:
            return RuleMatch(RuleVerdict.DENY, "ask:deny", f"the reviewer denied {host}")
        return RuleMatch(RuleVerdict.ALLOW, f"ask:{answer.value}")

    async def _addresses(self, host: Host, port: int, rules: NetworkRules) -> list[IPAddress]:
        if host.is_ip:
            texts: Sequence[str] = [host.name]
        else:
            try:
                texts = await asyncio.wait_for(
                    self._resolve(host.name, port), self.connect_timeout_s
                )
            except (OSError, TimeoutError) as exc:
                raise _Denied(502, "resolve", f"cannot resolve {host}: {exc}") from None
        addresses: list[IPAddress] = []
        for text in texts:
            try:
                addr = ipaddress.ip_address(text)
            except ValueError:
                raise _Denied(502, "resolve", f"resolver gave a non-address for {host}") from None
            refusal = address_refusal(addr, rules.address_networks(host))
            if refusal:
                raise _Denied(403, "address", f"{host} resolves to {refusal}")
            addresses.append(addr)
        if not addresses:
            raise _Denied(502, "resolve", f"{host} has no address")
        return addresses

    async def _connect(
        self,
        host: Host,
        addresses: list[IPAddress],
        port: int,
        tls: ssl.SSLContext | None = None,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, IPAddress]:
        """Connect to the first address that answers; with `tls`, also do TLS with the server
        and verify its certificate for `host` (a failure there is final, never retried)."""
        last: Exception | None = None
        for addr in addresses:
            try:
                if tls is None:
                    conn = asyncio.open_connection(str(addr), port, limit=HEAD_LIMIT)
                else:
                    conn = asyncio.open_connection(
                        str(addr),
                        port,
                        limit=HEAD_LIMIT,
                        ssl=tls,
                        server_hostname=host.name,
                        ssl_handshake_timeout=self.connect_timeout_s,
                    )
                r, w = await asyncio.wait_for(conn, self.connect_timeout_s)
            except ssl.SSLCertVerificationError as exc:
                raise _Denied(
                    502,
                    "upstream-tls",
                    f"{host}:{port} has a certificate that failed verification: "
                    f"{exc.verify_message or exc}",
                ) from None
            except ssl.SSLError as exc:
                raise _Denied(
                    502, "upstream-tls", f"TLS with {host}:{port} failed: {exc.reason or exc}"
                ) from None
            except (OSError, TimeoutError) as exc:
                last = exc
                continue
            return r, w, addr
        raise _Denied(502, "connect", f"cannot connect to {host}:{port}: {last!r}")

    # ----------------------------------------------------------------------- CONNECT

    async def _tunnel(
        self,
        listener: _Listener,
        head: RequestHead,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        started = time.time()
        target = head.target
        host_text, port = target, 0
        try:
            try:
                host, port = parse_authority(head.target, None)
            except HostError as exc:
                raise _Denied(403, "host-syntax", f"CONNECT target {target!r}: {exc}") from None
            host_text = host.authority
            self._check_host_header(head, host, port, port_optional=True)
            opened = await self._open_tunnel(listener, host, port, "CONNECT", tls_only=True)
        except Exception as exc:
            d = _as_denied(exc)
            await self._refuse(writer, d.status, d.rule, d.reason)
            self._emit(
                listener, "CONNECT", "https", host_text, port, "denied", d.rule, d.reason,
                d.status, started=started,
            )  # fmt: skip
            return
        await self._relay_opened(
            listener, opened, (reader, writer), b"HTTP/1.1 200 Connection established\r\n\r\n",
            "CONNECT", started,
        )  # fmt: skip

    async def _open_tunnel(
        self, listener: _Listener, host: Host, port: int, label: str, *, tls_only: bool
    ) -> _Opened:
        """The gate for a tunnel (CONNECT, or SOCKS), then the upstream connection: verified
        TLS when the tunnel will be inspected. `tls_only=False` (SOCKS to port 80): plain HTTP."""
        scheme: Literal["http", "https"] = "https" if tls_only else "http"
        rule, addresses = await self._gate(listener, host, port, label, scheme, None)
        mode: Literal["tunnel", "inspect", "plain"] = "plain"
        if tls_only:
            mode = "inspect" if self._tunnel_mode(host) else "tunnel"
        tls = self._inspection.upstream if mode == "inspect" and self._inspection else None
        up_reader, up_writer, addr = await self._connect(host, addresses, port, tls)
        return _Opened(host, port, rule, str(addr), mode, up_reader, up_writer)

    async def _relay_opened(
        self,
        listener: _Listener,
        opened: _Opened,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        reply: bytes,
        label: str,
        started: float,
    ) -> None:
        """Tell the client the tunnel is open (`reply`), then serve it by its mode, and write
        its one record."""
        writer = client[1]
        host, port = opened.host, opened.port
        upstream = (opened.up_reader, opened.up_writer)
        st = _TunnelState(label, opened.rule)
        try:
            writer.write(reply)
            await writer.drain()
            if opened.mode == "tunnel":
                await self._opaque(host, client, upstream, st)
                return
            if opened.mode == "inspect":
                assert self._inspection is not None
                ctx = self._inspection.ca.server_context(host.name, host.kind)
                try:
                    await writer.start_tls(ctx, ssl_handshake_timeout=self.head_timeout_s)
                except (ssl.SSLError, ConnectionError, OSError, TimeoutError) as exc:
                    st.verdict, st.rule, st.reason = "denied", *_client_tls_failure(host, exc)
                    return
            await self._one_request(host, port, client, upstream, st, opened.mode == "inspect")
        finally:
            if opened.mode == "inspect":
                # the exchange is over (one request per tunnel); a TLS close would wait for
                # a close_notify the server may never send
                opened.up_writer.transport.abort()
            else:
                await _close(opened.up_writer)
            self._emit(
                listener,
                st.method,
                "http" if opened.mode == "plain" else "https",
                host.authority,
                port,
                st.verdict,
                st.rule,
                st.reason,
                st.sent[0] if st.sent else (200 if st.method == label else 0),
                opened.address,
                st.up.n,
                st.down.n,
                started,
            )

    async def _opaque(
        self,
        host: Host,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        st: _TunnelState,
    ) -> None:
        """An uninspected tunnel: it must open with a TLS ClientHello for the tunnel's host."""
        reader, writer = client
        up_reader, up_writer = upstream
        try:
            hello = await asyncio.wait_for(read_client_hello(reader), self.head_timeout_s)
        except (TlsError, asyncio.IncompleteReadError, TimeoutError) as exc:
            st.verdict, st.rule = "denied", "tls-required"
            st.reason = f"tunnel closed: {exc or 'no ClientHello'}"
            return
        if hello.server_name is not None:
            try:
                sni = canonical_host(hello.server_name)
            except HostError as exc:
                sni = None
                st.reason = f"TLS server name {hello.server_name!r}: {exc}"
            if sni is None or sni.name != host.name:
                st.verdict, st.rule = "denied", "sni-mismatch"
                st.reason = st.reason or (
                    f"TLS server name {hello.server_name!r} is not the tunnel's host {host}"
                )
                return
        up_writer.write(hello.raw)
        st.up.n += len(hello.raw)
        await self._splice(reader, writer, up_reader, up_writer, st.up, st.down)

    def _tunnel_mode(self, host: Host) -> bool:
        """Whether a CONNECT to `host` is inspected (True) or an opaque tunnel (False); refuses
        one whose limits could not hold in an opaque tunnel."""
        rules = self._rules
        if rules.inspect_exempt(host) is not None:
            return False  # said so at start: limits cannot apply to this domain
        if rules.inspection_wanted:
            if self._inspection is None:
                raise _Denied(
                    403,
                    "inspect-tls-required",
                    f"HTTPS to {host} must be inspected, but TLS inspection is not set up here",
                )
            return True
        limits = rules.https_limits(host)
        if limits:
            raise _Denied(
                403,
                "inspect-tls-required",
                f"{limits} cannot hold inside HTTPS to {host} without TLS inspection: enable it "
                f"with --inspect-tls or [network] inspect_tls = true, or exempt the domain with "
                f'[network.domains."{host}"] inspect = false',
            )
        return False

    async def _one_request(
        self,
        host: Host,
        port: int,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        st: _TunnelState,
        tls: bool,
    ) -> None:
        """One request inside an opened tunnel (inspected TLS, or SOCKS plain HTTP), judged like
        a plain-HTTP request: Host header, method, body, URL rules. `Connection: close`."""
        reader, writer = client
        scheme: Literal["http", "https"] = "https" if tls else "http"
        try:
            raw = await asyncio.wait_for(read_head(reader), self.head_timeout_s)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, TimeoutError):
            st.reason = "the client sent no request"
            return
        except HttpError as exc:
            raw = b""
            st.verdict, st.rule, st.reason = "denied", "http-syntax", exc.message
        try:
            if not raw:
                raise _Denied(431, "http-syntax", st.reason)
            try:
                head = parse_request_head(raw)
                st.method = head.method
                path = _origin_path(head.target, host, port, scheme)
                framing = request_framing(head)
            except HttpError as exc:
                raise _Denied(exc.status, "http-syntax", exc.message) from None
            self._check_host_header(head, host, port, port_optional=True)
            has_body = framing[0] == "chunked" or (framing[0] == "length" and framing[1] > 0)
            rules = self._rules
            limit = rules.check_request(st.method, has_body, method_overrides(head))
            limit = limit or rules.check_url(st.method, scheme, host, port, path)
            if limit is not None:
                raise _Denied(403, limit.rule, limit.reason)
        except _Denied as d:
            st.verdict, st.rule, st.reason = "denied", d.rule, d.reason
            await self._refuse(writer, d.status, d.rule, d.reason)
            st.sent.append(d.status)
            return
        try:
            await self._exchange(
                head, path, host, port, framing, client, upstream, st.up, st.down, st.sent,
                kernel=not tls,
            )  # fmt: skip
        except _RelayError as exc:
            st.verdict, st.rule, st.reason = exc.verdict, exc.rule, exc.reason
            if not st.sent and not writer.is_closing():
                await self._refuse(writer, exc.status, exc.rule, exc.reason)
                st.sent.append(exc.status)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            st.reason = f"connection ended early: {type(exc).__name__}"

    # ----------------------------------------------------------------------- SOCKS5

    async def _socks(
        self, listener: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """SOCKS5 (RFC 1928) on the same socket, for tools that speak only SOCKS
        (`ALL_PROXY=socks5h://127.0.0.1:3128`): no authentication, CONNECT only, and the same
        gate as CONNECT. Names are resolved here, by the proxy, after the rules said yes; an
        address the client resolved itself passes only a rule naming it. Port 80 carries plain
        HTTP (judged request by request, see `socks_plain_ports`); every other port must carry
        TLS, as with CONNECT."""
        started = time.time()
        host_text, port = "", 0
        try:
            try:
                target = await asyncio.wait_for(_socks_handshake(reader, writer), 30.0)
            except _SocksError as exc:
                raise _Denied(exc.reply, exc.rule, exc.reason) from None
            except (asyncio.IncompleteReadError, ConnectionError, OSError, TimeoutError):
                return
            text, port = target
            host_text = text
            try:
                host = canonical_host(text)
            except HostError as exc:
                raise _Denied(0x02, "host-syntax", f"SOCKS target {text[:100]!r}: {exc}") from None
            host_text = host.authority
            opened = await self._open_tunnel(
                listener, host, port, "SOCKS", tls_only=port not in self.socks_plain_ports
            )
        except Exception as exc:
            d = _as_denied(exc)
            code = d.status if d.status < 0x10 else _SOCKS_REPLY.get(d.status, 0x02)
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(_socks_reply(code))
                await writer.drain()
            self._emit(
                listener, "SOCKS", "http" if port in self.socks_plain_ports else "https",
                host_text, port,
                "denied", d.rule, d.reason, d.status if d.status >= 0x10 else 403,
                started=started,
            )  # fmt: skip
            return
        await self._relay_opened(
            listener, opened, (reader, writer), _socks_reply(0x00), "SOCKS", started
        )

    async def _splice(
        self,
        c_reader: asyncio.StreamReader,
        c_writer: asyncio.StreamWriter,
        u_reader: asyncio.StreamReader,
        u_writer: asyncio.StreamWriter,
        up: ByteCount,
        down: ByteCount,
    ) -> None:
        counts = [0, 0]
        try:
            await splice_streams(
                (c_reader, c_writer), (u_reader, u_writer), counts, grace_s=self.half_close_grace_s
            )
        finally:
            up.n += counts[0]
            down.n += counts[1]

    # ----------------------------------------------------------------------- plain HTTP

    async def _forward(
        self,
        listener: _Listener,
        head: RequestHead,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        started = time.time()
        host_text, port, address = "", 0, ""
        up, down = ByteCount(), ByteCount()
        try:
            try:
                authority, path = _split_absolute(head.target)
                host, port = parse_authority(authority, 80)
            except HostError as exc:
                raise _Denied(403, "host-syntax", f"{head.target!r}: {exc}") from None
            except HttpError as exc:
                raise _Denied(exc.status, "http-syntax", exc.message) from None
            host_text = host.authority
            self._check_host_header(head, host, port, port_optional=False)
            try:
                framing = request_framing(head)
            except HttpError as exc:
                raise _Denied(exc.status, "http-syntax", exc.message) from None
            has_body = framing[0] == "chunked" or (framing[0] == "length" and framing[1] > 0)
            rule, addresses = await self._gate(
                listener, host, port, head.method, "http", has_body, method_overrides(head), path
            )
            up_reader, up_writer, addr = await self._connect(host, addresses, port)
            address = str(addr)
        except Exception as exc:
            d = _as_denied(exc)
            await self._refuse(writer, d.status, d.rule, d.reason)
            self._emit(
                listener,
                head.method,
                "http",
                host_text or head.target[:200],
                port,
                "denied",
                d.rule,
                d.reason,
                d.status,
                started=started,
            )
            return
        verdict: Literal["allowed", "denied"] = "allowed"
        reason = ""
        sent: list[int] = []  # the status of the final response head, once it went out
        try:
            await self._exchange(
                head, path, host, port, framing, (reader, writer), (up_reader, up_writer),
                up, down, sent,
            )  # fmt: skip
        except _RelayError as exc:
            verdict, rule, reason = exc.verdict, exc.rule, exc.reason
            if not sent and not writer.is_closing():
                # nothing of the response went out yet: the client gets a clear error instead
                await self._refuse(writer, exc.status, exc.rule, exc.reason)
                sent.append(exc.status)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            reason = f"connection ended early: {type(exc).__name__}"
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()
            self._emit(
                listener,
                head.method,
                "http",
                host_text,
                port,
                verdict,
                rule,
                reason,
                sent[0] if sent else 0,
                address,
                up.n,
                down.n,
                started,
            )

    async def _exchange(
        self,
        head: RequestHead,
        path: str,
        host: Host,
        port: int,
        framing: Framing,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        up: ByteCount,
        down: ByteCount,
        sent: list[int],
        *,
        kernel: bool = True,
    ) -> None:
        """One request already past the gate: its head and body to the server, the response
        back. Every failure becomes a `_RelayError` naming its rule (400 for the client's bytes,
        502 for the server's or the proxy's own), so the client and the audit log learn why."""
        reader, writer = client
        up_reader, up_writer = upstream
        try:
            headers = forward_headers(head.headers)
            if not head.values("host"):
                headers.insert(0, ("Host", _host_header(host, port)))
            headers.append(("Connection", "close"))
            out = render_head(f"{head.method} {path} {head.version}", headers)
            up_writer.write(out)
            up.n += len(out)
            body = asyncio.ensure_future(relay_body(reader, up_writer, framing, up, 400))
            respond = asyncio.ensure_future(
                self._respond(head, up_reader, up_writer, reader, writer, down, sent, kernel)
            )
            try:
                await asyncio.wait({body, respond}, return_when=asyncio.FIRST_COMPLETED)
                if body.done() and not respond.done():
                    body.result()  # a malformed request body ends the exchange here
                await respond
            finally:
                for task in (body, respond):
                    if not task.done():
                        task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
        except HttpError as exc:
            if exc.status == 400:
                raise _RelayError(400, "denied", "http-syntax", exc.message) from None
            raise _RelayError(exc.status, "allowed", "upstream", exc.message) from None
        except (asyncio.IncompleteReadError, ConnectionError, OSError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug here still answers the client and is recorded
            log.exception("proxy relay failed")
            raise _RelayError(
                502, "allowed", "internal", f"proxy error: {type(exc).__name__}: {exc}"
            ) from None

    async def _respond(
        self,
        request: RequestHead,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        down: ByteCount,
        sent: list[int],
        kernel: bool = True,
    ) -> None:
        """Pass the response back (interim 1xx responses first); `sent` gets the final status
        the moment its head is written, after which errors can only cut the body short.
        `kernel=False` when either side is TLS the proxy terminates (no splice(2) there)."""
        while True:
            try:
                raw = await read_head(up_reader)
            except HttpError:
                raise HttpError(502, "upstream response head too large") from None
            resp = parse_response_head(raw)
            if resp.status == 101:
                raise HttpError(502, "upstream switched protocols; upgrades are not proxied")
            headers = forward_headers(resp.headers)
            if 100 <= resp.status < 200:
                out = render_head(f"{resp.version} {resp.status} {resp.reason}", headers)
                writer.write(out)
                down.n += len(out)
                await writer.drain()
                continue
            framing = response_framing(resp, request.method)
            headers.append(("Connection", "close"))
            out = render_head(f"{resp.version} {resp.status} {resp.reason}", headers)
            writer.write(out)
            down.n += len(out)
            sent.append(resp.status)
            kind, length = framing
            if kind == "eof" or (kind == "length" and length > SPLICE_MIN):
                # The bulk of a download: straight from transport to transport.
                counts = [0, 0]
                try:
                    error = await splice_streams(
                        (up_reader, up_writer),
                        (reader, writer),
                        counts,
                        modes=("length" if kind == "length" else "eof", "off"),
                        lengths=(length, 0),
                        kernel=kernel,
                    )
                finally:
                    down.n += counts[0]
                if error:
                    raise HttpError(502, f"upstream body: {error}")
            else:
                await relay_body(up_reader, writer, framing, down, 502)
            await writer.drain()
            return

    # ----------------------------------------------------------------------- helpers

    @staticmethod
    def _check_host_header(
        head: RequestHead, host: Host, port: int, *, port_optional: bool
    ) -> None:
        values = head.values("host")
        if not values:
            return
        if len(values) > 1:
            raise _Denied(400, "host-header", "more than one Host header")
        try:
            h_host, h_port = parse_authority(values[0], None if port_optional else 80)
        except HostError as exc:
            if port_optional and "port is required" in str(exc):
                try:
                    h_host, h_port = canonical_host(values[0]), port
                except HostError as exc2:
                    raise _Denied(403, "host-header", f"Host header: {exc2}") from None
            else:
                raise _Denied(403, "host-header", f"Host header: {exc}") from None
        if h_host != host or h_port != port:
            raise _Denied(
                403,
                "host-header",
                f"Host header {values[0]!r} does not match the target {host.authority}:{port}",
            )

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, status: int, rule: str, reason: str) -> None:
        phrase = {
            400: "Bad Request",
            403: "Forbidden",
            431: "Request Header Fields Too Large",
            502: "Bad Gateway",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }.get(status, "Error")
        safe_rule = _printable(rule)
        body = (
            f"lockgate proxy refused this request.\n"
            f"rule: {safe_rule}\n"
            f"reason: {_printable(reason)}\n"
        ).encode()
        head = (
            f"HTTP/1.1 {status} {phrase} (lockgate rule: {safe_rule})\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Lockgate-Rule: {safe_rule}\r\n"
            f"Connection: close\r\n\r\n"
        ).encode()
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(head + body)
            await writer.drain()

    def _emit(
        self,
        listener: _Listener,
        method: str,
        scheme: Literal["http", "https"],
        host: str,
        port: int,
        verdict: Literal["allowed", "denied"],
        rule: str,
        reason: str,
        status: int,
        address: str = "",
        up: int = 0,
        down: int = 0,
        started: float | None = None,
    ) -> None:
        if self._record is None:
            return
        now = time.time()
        rec = RequestRecord(
            at=started if started is not None else now,
            command=listener.context.command,
            action_id=listener.context.action_id,
            method=method,
            scheme=scheme,
            host=_printable(host),
            port=port,
            verdict=verdict,
            rule=rule,
            reason=reason,
            status=status,
            address=address,
            bytes_up=up,
            bytes_down=down,
            duration_s=round(now - started, 6) if started is not None else 0.0,
        )
        try:
            self._record(rec)
        except Exception as exc:
            log.exception("network record sink failed")
            # Fail closed: what cannot be recorded does not happen any more.
            self._record_failed = self._record_failed or f"{type(exc).__name__}: {exc}"


def _split_absolute(target: str) -> tuple[str, str]:
    """`http://authority/path?q` → (authority, "/path?q"). Only absolute http URLs: a forward
    proxy needs the target in the request line, and https goes through CONNECT."""
    scheme, sep, rest = target.partition("://")
    if not sep or scheme.lower() != "http":
        if sep and scheme.lower() == "https":
            raise HttpError(400, "https URLs go through CONNECT, not a plain proxy request")
        raise HttpError(400, "a proxy request needs an absolute http:// URL")
    if "#" in rest:
        raise HttpError(400, "fragment in request target")
    cut = len(rest)
    for sep_char in "/?":
        i = rest.find(sep_char)
        if i >= 0:
            cut = min(cut, i)
    authority, path = rest[:cut], rest[cut:]
    if not path.startswith("/"):
        path = "/" + path
    return authority, path


async def _close(writer: asyncio.StreamWriter, timeout_s: float = 5.0) -> None:
    """Close a connection and wait for it, but not for long: a TLS close waits for the peer's
    close_notify, which a server keeping its connection alive may never send."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), timeout_s)
    except TimeoutError:
        writer.transport.abort()
    except Exception:
        pass


def _as_denied(exc: Exception) -> _Denied:
    """A refusal as it is; anything else is a proxy error, still answered (502) and recorded."""
    if isinstance(exc, _Denied):
        return exc
    log.error("proxy error before relaying", exc_info=exc)
    return _Denied(502, "internal", f"proxy error: {type(exc).__name__}: {exc}")


def _origin_path(target: str, host: Host, port: int, scheme: str = "https") -> str:
    """The path of a request inside a tunnel: origin form (`/path?q`), or an absolute URL of
    the tunnel's scheme naming the tunnel's own host."""
    if target.startswith("/"):
        if "#" in target:
            raise HttpError(400, "fragment in request target")
        return target
    t_scheme, sep, rest = target.partition("://")
    if sep and t_scheme.lower() == scheme:
        authority, slash, path = rest.partition("/")
        try:
            t_host, t_port = parse_authority(authority, 443 if scheme == "https" else 80)
        except HostError as exc:
            raise HttpError(400, f"request target: {exc}") from None
        if t_host != host or t_port != port:
            raise HttpError(400, f"request target {target[:100]!r} is not the tunnel's host")
        return _origin_path("/" + path, host, port, scheme) if slash else "/"
    raise HttpError(400, f"a request inside a tunnel needs a path ('/…') or a {scheme}:// URL")


def _client_tls_failure(host: Host, exc: BaseException) -> tuple[str, str]:
    """(rule, one-line reason) for a client that would not finish TLS with the proxy."""
    detail = getattr(exc, "reason", None) or type(exc).__name__
    if isinstance(exc, ssl.SSLError) and "ALERT" in str(detail).upper():
        return (
            "tls-client-refused",
            f"the client refused lockgate's certificate for {host} ({detail}): it pins "
            f"certificates or ignores the sandbox's CA bundle (SSL_CERT_FILE); to let it "
            f'through uninspected, set [network.domains."{host}"] inspect = false',
        )
    return ("tls-required", f"TLS with the client for {host} failed: {detail}")


def method_overrides(head: RequestHead) -> tuple[tuple[str, str], ...]:
    """Headers that ask the server for another method (`X-HTTP-Method-Override: DELETE`)."""
    return tuple((k, v) for k, v in head.headers if k.lower() in METHOD_OVERRIDES)


def _host_header(host: Host, port: int) -> str:
    return host.authority if port == 80 else f"{host.authority}:{port}"


def _printable(text: str) -> str:
    return "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text)[:500]

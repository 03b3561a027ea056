"""Network rules: which hosts, ports, HTTP methods and URLs a sandboxed command may use.

Matching is on canonical hosts only (see `host.py`), whole names, never substrings:
`example.com` matches exactly that name; `*.example.com` matches names under it but not
`example.com` itself. A deny pattern wins over every allow; a wildcard deny (`*.evil.com`) also
covers the bare name. IP addresses and look-alike names pass only a rule that names them
exactly, never a wildcard. Methods, read-only mode and URL rules (`GET https://host/path/*`)
apply to plain HTTP and to HTTPS the proxy inspects (`inspect_tls`); a domain exempt from
inspection is an opaque tunnel, where only the host and port can be checked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sandbox.net.addresses import IPAddress, IPNetwork, parse_network
from sandbox.net.host import Host, HostError, canonical_host, parse_authority

DEFAULT_PORTS = frozenset({80, 443})
# What read-only mode lets through: the methods that only read (RFC 9110's safe methods, minus
# TRACE, which echoes the request back and has no use here).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_METHOD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class RuleError(ValueError):
    """A rule the user wrote that cannot be used; the message names it."""


class RuleVerdict(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    UNKNOWN = "unknown"  # no rule covers it: ask someone, or deny


@dataclass(frozen=True)
class RuleMatch:
    verdict: RuleVerdict
    rule: str  # the rule's name as shown in a 403 and the audit log, e.g. "deny-domain *.evil.com"
    reason: str = ""


@dataclass(frozen=True)
class DomainPattern:
    """`example.com` (exact) or `*.example.com` (any name below it). `host` is canonical."""

    host: Host
    wildcard: bool = False

    @classmethod
    def parse(cls, text: str) -> DomainPattern:
        raw = text.strip()
        wildcard = raw.startswith("*.")
        body = raw[2:] if wildcard else raw
        if "*" in body:
            raise RuleError(f"domain rule {text!r}: '*' is only allowed as a leading '*.'")
        if ":" in body and not body.startswith("["):
            raise RuleError(f"domain rule {text!r}: give a host without a port (see --allow-port)")
        try:
            host = canonical_host(body)
        except HostError as exc:
            raise RuleError(f"domain rule {text!r}: {exc}") from exc
        if wildcard and host.is_ip:
            raise RuleError(f"domain rule {text!r}: wildcards apply to names, not addresses")
        if wildcard and "." not in host.name:
            raise RuleError(f"domain rule {text!r}: a wildcard must sit above a dotted suffix")
        return cls(host, wildcard)

    def matches(self, host: Host, *, widen_to_bare: bool = False) -> bool:
        if not self.wildcard:
            return host.name == self.host.name and host.kind == self.host.kind
        if host.is_ip:
            return False
        if widen_to_bare and host.name == self.host.name:
            return True
        return host.name.endswith("." + self.host.name)

    def __str__(self) -> str:
        return f"*.{self.host.name}" if self.wildcard else self.host.authority


_SCHEME_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class UrlRule:
    """`GET https://api.github.com/repos/ORG/*`: a method (or `*` / none for any), a scheme, one
    exact host (and port), and a path: exact, or a prefix when it ends in `*`. Once any URL rule
    names a host, requests to that host must match one of them."""

    method: str | None
    scheme: Literal["http", "https"]
    host: Host
    port: int
    path: str
    prefix: bool

    @classmethod
    def parse(cls, text: str) -> UrlRule:
        words = text.split()
        if len(words) == 2:
            method_text, url = words
        elif len(words) == 1:
            method_text, url = "*", words[0]
        else:
            raise RuleError(f"URL rule {text!r}: write 'METHOD scheme://host/path[*]'")
        method = None if method_text == "*" else parse_method(method_text)
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in _SCHEME_PORTS:
            raise RuleError(f"URL rule {text!r}: the URL must start with http:// or https://")
        scheme_l: Literal["http", "https"] = "https" if scheme.lower() == "https" else "http"
        authority, slash, path = rest.partition("/")
        path = slash + path if slash else "/"
        if "*" in authority:
            raise RuleError(f"URL rule {text!r}: the host must be exact (no wildcards)")
        try:
            host, port = parse_authority(authority, _SCHEME_PORTS[scheme_l])
        except HostError as exc:
            raise RuleError(f"URL rule {text!r}: {exc}") from None
        prefix = path.endswith("*")
        if prefix:
            path = path[:-1]
        if "*" in path or "?" in path or "#" in path:
            raise RuleError(
                f"URL rule {text!r}: only a trailing '*' is allowed in the path (no query)"
            )
        if url_path_problem(path) is not None:
            raise RuleError(f"URL rule {text!r}: {url_path_problem(path)}")
        return cls(method, scheme_l, host, port, path, prefix)

    def matches(self, method: str, scheme: str, host: Host, port: int, path: str) -> bool:
        if (self.method is not None and method != self.method) or scheme != self.scheme:
            return False
        if host.name != self.host.name or host.kind != self.host.kind or port != self.port:
            return False
        bare = path.split("?", 1)[0]
        return bare.startswith(self.path) if self.prefix else bare == self.path

    def __str__(self) -> str:
        default = _SCHEME_PORTS[self.scheme]
        where = self.host.authority if self.port == default else f"{self.host}:{self.port}"
        star = "*" if self.prefix else ""
        return f"{self.method or '*'} {self.scheme}://{where}{self.path}{star}"


def url_path_problem(path: str) -> str | None:
    """Why a request path cannot be judged by URL rules, or None. Servers normalise dot segments
    and decode escapes before routing, so `/repos/ORG/../other` or `/repos/ORG%2f..%2fother`
    would reach what a prefix rule never allowed: such paths are refused, never guessed at."""
    bare = path.split("?", 1)[0]
    if not bare.startswith("/"):
        return "the path must start with '/'"
    low = bare.lower()
    for bad in ("%2e", "%2f", "%5c", "%25", "%00", "\\"):
        if bad in low:
            return f"the path holds {bad!r} (encoded dot, slash, backslash or percent)"
    for segment in bare.split("/"):
        if segment.split(";", 1)[0] in (".", ".."):
            return "the path holds a '.' or '..' segment"
    if "//" in bare:
        return "the path holds an empty segment ('//')"
    return None


def _patterns(values: Iterable[str]) -> tuple[DomainPattern, ...]:
    out: list[DomainPattern] = []
    for v in values:
        p = DomainPattern.parse(v)
        if p not in out:
            out.append(p)
    return tuple(out)


def parse_method(text: str) -> str:
    m = text.strip().upper()
    if not m or not set(m) <= _METHOD_CHARS or len(m) > 20:
        raise RuleError(f"method {text!r} is not an HTTP method name")
    if m == "CONNECT":
        raise RuleError("CONNECT is how HTTPS works; it is governed by domains and ports")
    return m


def parse_port(value: object) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        raise RuleError(f"port {value!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise RuleError(f"port {port} is not between 1 and 65535")
    return port


@dataclass(frozen=True)
class NetworkRules:
    """One immutable rule set. `methods=None` means any method on plain HTTP."""

    allow: tuple[DomainPattern, ...] = ()
    deny: tuple[DomainPattern, ...] = ()
    ports: frozenset[int] = DEFAULT_PORTS
    methods: frozenset[str] | None = None
    read_only: bool = False
    addresses: tuple[IPNetwork, ...] = field(default=())
    urls: tuple[UrlRule, ...] = ()
    # TLS inspection: True on, False off, None (default) on exactly when HTTPS limits need it
    inspect_tls: bool | None = None
    no_inspect: tuple[DomainPattern, ...] = ()  # exempt from inspection: opaque tunnels

    @classmethod
    def build(
        cls,
        *,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        ports: Iterable[int | str] = (),
        methods: Iterable[str] = (),
        read_only: bool = False,
        addresses: Iterable[str] = (),
        urls: Iterable[str] = (),
        inspect_tls: bool | None = None,
        no_inspect: Iterable[str] = (),
    ) -> NetworkRules:
        """From user text; raises RuleError naming the first bad entry."""
        url_rules = tuple(dict.fromkeys(UrlRule.parse(u) for u in urls))
        method_set = frozenset(parse_method(m) for m in methods)
        nets: list[IPNetwork] = []
        for a in addresses:
            try:
                nets.append(parse_network(a))
            except ValueError as exc:
                raise RuleError(str(exc)) from None
        return cls(
            allow=_patterns(allow),
            deny=_patterns(deny),
            ports=DEFAULT_PORTS | {parse_port(p) for p in ports} | {u.port for u in url_rules},
            methods=method_set or None,
            read_only=read_only,
            addresses=tuple(nets),
            urls=url_rules,
            inspect_tls=inspect_tls,
            no_inspect=_patterns(no_inspect),
        )

    def combine(self, other: NetworkRules) -> NetworkRules:
        """Both rule sets at once: allows, denies, ports and named addresses add up; a method
        limit or read-only mode set by either side stays in force."""
        if self.methods is None:
            methods = other.methods
        elif other.methods is None:
            methods = self.methods
        else:
            methods = self.methods | other.methods
        return NetworkRules(
            allow=_dedupe(self.allow + other.allow),
            deny=_dedupe(self.deny + other.deny),
            ports=self.ports | other.ports,
            methods=methods,
            read_only=self.read_only or other.read_only,
            addresses=tuple(dict.fromkeys(self.addresses + other.addresses)),
            urls=tuple(dict.fromkeys(self.urls + other.urls)),
            # the later (more specific: the command line after the config) choice wins
            inspect_tls=self.inspect_tls if other.inspect_tls is None else other.inspect_tls,
            no_inspect=_dedupe(self.no_inspect + other.no_inspect),
        )

    def allowing(self, host: Host) -> NetworkRules:
        """These rules plus an exact allow for `host` (a session or "always" verdict)."""
        pattern = DomainPattern(Host(host.name, host.kind), wildcard=False)
        if pattern in self.allow:
            return self
        return replace(self, allow=(*self.allow, pattern))

    # ----------------------------------------------------------------------- checks

    def check_target(self, host: Host, port: int) -> RuleMatch:
        """Host and port, before any DNS lookup."""
        for p in self.deny:
            if p.matches(host, widen_to_bare=True):
                return RuleMatch(RuleVerdict.DENY, f"deny-domain {p}", f"{host} is denied")
        if port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports))
            return RuleMatch(
                RuleVerdict.DENY, "allow-port", f"port {port} is not an allowed port ({allowed})"
            )
        for p in self.allow:
            if not p.wildcard and p.matches(host):
                return RuleMatch(RuleVerdict.ALLOW, f"allow-domain {p}")
        for u in self.urls:
            if u.host.name == host.name and u.host.kind == host.kind and u.port == port:
                return RuleMatch(RuleVerdict.ALLOW, f"allow-url {u}")
        if host.is_ip:
            return RuleMatch(
                RuleVerdict.DENY,
                "numeric-host",
                f"{host} is an IP address; addresses are refused unless a rule names them",
            )
        if host.doubt:
            return RuleMatch(
                RuleVerdict.DENY,
                "look-alike",
                f"{host} looks like another name ({host.doubt}); only an exact rule allows it",
            )
        for p in self.allow:
            if p.wildcard and p.matches(host):
                return RuleMatch(RuleVerdict.ALLOW, f"allow-domain {p}")
        return RuleMatch(RuleVerdict.UNKNOWN, "no-rule", f"no rule covers {host}")

    def check_request(
        self, method: str, has_body: bool, overrides: Iterable[tuple[str, str]] = ()
    ) -> RuleMatch | None:
        """The method and body limits. None when the request may go on. `overrides` are
        (header, value) pairs such as `X-HTTP-Method-Override: DELETE`: many servers act on
        them as on the method itself, so they are held to the same limits."""
        overrides = tuple(overrides)
        if self.methods is not None:
            allowed = ", ".join(sorted(self.methods))
            if method not in self.methods:
                return RuleMatch(
                    RuleVerdict.DENY,
                    "allow-method",
                    f"method {method} is not an allowed HTTP method ({allowed})",
                )
            for name, value in overrides:
                if value.strip().upper() not in self.methods:
                    return RuleMatch(
                        RuleVerdict.DENY,
                        "allow-method",
                        f"{name}: {value.strip()[:20]} asks for a method that is not allowed "
                        f"({allowed})",
                    )
        if self.read_only and method not in SAFE_METHODS:
            return RuleMatch(
                RuleVerdict.DENY,
                "read-only-http",
                f"read-only mode: {method} changes things (only GET, HEAD and OPTIONS)",
            )
        if self.read_only and has_body:
            return RuleMatch(
                RuleVerdict.DENY, "read-only-http", "read-only mode: requests may not carry a body"
            )
        if self.read_only and overrides:
            return RuleMatch(
                RuleVerdict.DENY,
                "read-only-http",
                f"read-only mode: {overrides[0][0]} would have the server use another method",
            )
        return None

    def check_url(
        self, method: str, scheme: str, host: Host, port: int, path: str
    ) -> RuleMatch | None:
        """URL rules: None when no URL rule names this host (or one matches); else a denial."""
        named = [u for u in self.urls if u.host.name == host.name and u.host.kind == host.kind]
        if not named:
            return None
        problem = url_path_problem(path)
        if problem is not None:
            return RuleMatch(RuleVerdict.DENY, "allow-url", f"{host} has URL rules and {problem}")
        if any(u.matches(method, scheme, host, port, path) for u in named):
            return None
        listed = "; ".join(str(u) for u in named[:3])
        return RuleMatch(
            RuleVerdict.DENY,
            "allow-url",
            f"{method} {scheme}://{host}{path.split('?', 1)[0][:200]} matches no URL rule "
            f"for {host} ({listed})",
        )

    def https_limits(self, host: Host) -> str:
        """What limits requests inside an HTTPS tunnel to `host` ("" for none): those need TLS
        inspection to be enforced."""
        limits: list[str] = []
        if self.methods is not None:
            limits.append("--allow-method")
        if self.read_only:
            limits.append("--read-only-http")
        if any(u.scheme == "https" and u.host.name == host.name for u in self.urls):
            limits.append("--allow-url")
        return ", ".join(limits)

    @property
    def inspection_wanted(self) -> bool:
        """Whether the session should inspect TLS: asked for, or implied by a limit on HTTPS."""
        if self.inspect_tls is not None:
            return self.inspect_tls
        return (
            self.methods is not None
            or self.read_only
            or any(u.scheme == "https" for u in self.urls)
        )

    def inspect_exempt(self, host: Host) -> DomainPattern | None:
        """The `inspect = false` rule that exempts `host`, if any."""
        for p in self.no_inspect:
            if p.matches(host, widen_to_bare=p.wildcard):
                return p
        return None

    def address_networks(self, host: Host) -> tuple[IPNetwork, ...]:
        """The special address ranges this request may reach: the rules' named ranges, plus the
        address itself when the request is to an IP literal that an exact rule allows."""
        if host.is_ip and any(not p.wildcard and p.matches(host) for p in self.allow):
            return (*self.addresses, parse_network(host.name))
        return self.addresses

    def describe(self) -> str:
        parts = [
            "allow " + (", ".join(str(p) for p in self.allow) or "nothing"),
        ]
        if self.deny:
            parts.append("deny " + ", ".join(str(p) for p in self.deny))
        parts.append("ports " + ", ".join(str(p) for p in sorted(self.ports)))
        if self.methods is not None:
            parts.append("methods " + ", ".join(sorted(self.methods)))
        if self.read_only:
            parts.append("read-only")
        if self.urls:
            parts.append("URLs " + ", ".join(str(u) for u in self.urls))
        if self.inspection_wanted:
            parts.append("TLS inspected")
        if self.no_inspect:
            parts.append("not inspected " + ", ".join(str(p) for p in self.no_inspect))
        if self.addresses:
            parts.append("addresses " + ", ".join(str(a) for a in self.addresses))
        return "; ".join(parts)


def _dedupe(items: tuple[DomainPattern, ...]) -> tuple[DomainPattern, ...]:
    return tuple(dict.fromkeys(items))


def address_allowed_by_rule(addr: IPAddress, rules: NetworkRules, host: Host) -> bool:
    return any(addr.version == n.version and addr in n for n in rules.address_networks(host))


# --------------------------------------------------------------------------- presets

BUILTIN_PRESETS: Mapping[str, Mapping[str, Any]] = {
    "pypi": {"allow_domains": ["pypi.org", "files.pythonhosted.org"]},
    "npm": {"allow_domains": ["registry.npmjs.org", "registry.yarnpkg.com"]},
    "github": {
        "allow_domains": [
            "github.com",
            "api.github.com",
            "codeload.github.com",
            "objects.githubusercontent.com",
            "raw.githubusercontent.com",
        ]
    },
    "crates": {"allow_domains": ["crates.io", "index.crates.io", "static.crates.io"]},
    "go": {"allow_domains": ["proxy.golang.org", "sum.golang.org"]},
    "docs": {
        "allow_domains": ["docs.python.org", "developer.mozilla.org"],
        "allow_methods": ["GET", "HEAD", "OPTIONS"],
        "read_only": True,
    },
}

_TABLE_KEYS = frozenset(
    {
        "allow_domains",
        "deny_domains",
        "allow_ports",
        "allow_methods",
        "read_only",
        "allow_addresses",
        "allow_urls",
        "inspect_tls",
    }
)


def _str_list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise RuleError(f"{where}: {key} must be a list of strings")
    return [str(v) for v in value]


def rules_from_table(table: Mapping[str, Any], where: str) -> NetworkRules:
    """A TOML table (`[network]` or `[network.presets.NAME]`) → rules. `where` names it in errors."""
    unknown = sorted(k for k in table if k not in _TABLE_KEYS and k not in ("presets", "domains"))
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r}")
    read_only = table.get("read_only", False)
    if not isinstance(read_only, bool):
        raise RuleError(f"{where}: read_only must be true or false")
    inspect_tls = table.get("inspect_tls")
    if inspect_tls is not None and not isinstance(inspect_tls, bool):
        raise RuleError(f"{where}: inspect_tls must be true or false")
    no_inspect = _domain_settings(table.get("domains", {}), where)
    try:
        return NetworkRules.build(
            allow=_str_list(table, "allow_domains", where),
            deny=_str_list(table, "deny_domains", where),
            ports=_str_list(table, "allow_ports", where),
            methods=_str_list(table, "allow_methods", where),
            read_only=read_only,
            addresses=_str_list(table, "allow_addresses", where),
            urls=_str_list(table, "allow_urls", where),
            inspect_tls=inspect_tls,
            no_inspect=no_inspect,
        )
    except RuleError as exc:
        raise RuleError(f"{where}: {exc}") from None


def _domain_settings(domains: Any, where: str) -> list[str]:
    """`[network.domains."pinned.example.com"] inspect = false` → the exempt domains."""
    if not isinstance(domains, Mapping):
        raise RuleError(f"{where}: domains must be a table of per-domain tables")
    exempt: list[str] = []
    for name, settings in domains.items():
        if not isinstance(settings, Mapping) or set(settings) - {"inspect"}:
            raise RuleError(f"{where}: domains.{name!r} may only set inspect = true/false")
        inspect = settings.get("inspect", True)
        if not isinstance(inspect, bool):
            raise RuleError(f"{where}: domains.{name!r}.inspect must be true or false")
        if not inspect:
            exempt.append(str(name))
    return exempt


def preset_names(user_presets: Mapping[str, Any]) -> list[str]:
    return sorted(set(BUILTIN_PRESETS) | set(user_presets))


def preset_rules(name: str, user_presets: Mapping[str, Any], where: str = "config") -> NetworkRules:
    """A named preset; the user's `[network.presets.NAME]` replaces a built-in of the same name."""
    table = user_presets.get(name)
    if table is None:
        table = BUILTIN_PRESETS.get(name)
        where = "built-in preset"
    if table is None:
        known = ", ".join(preset_names(user_presets))
        raise RuleError(f"unknown network preset {name!r} (known: {known})")
    if not isinstance(table, Mapping):
        raise RuleError(f"{where}: [network.presets.{name}] must be a table")
    return rules_from_table(table, f"{where} [network.presets.{name}]")

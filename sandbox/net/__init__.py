"""Network allow-list proxy (runs in the console process) and its rules.

Stdlib only, except `ca.py` (the TLS-inspection CA, `cryptography`, imported when used).
`AllowListProxy` serves plain-HTTP forwarding, CONNECT tunnels and SOCKS5 on unix sockets the
sandbox bridges into a command's network namespace; `NetworkRules` says what may pass. HTTPS is
tunnelled, or — with an `Inspection` — terminated and judged like plain HTTP.
"""

from sandbox.net.host import Host, HostError, canonical_host, parse_authority
from sandbox.net.proxy import (
    AllowListProxy,
    AskAnswer,
    Asker,
    AskRequest,
    Listening,
    RecordSink,
    RequestRecord,
    RunContext,
)
from sandbox.net.rules import (
    BUILTIN_PRESETS,
    DomainPattern,
    NetworkRules,
    RuleError,
    RuleMatch,
    RuleVerdict,
    preset_names,
    preset_rules,
    rules_from_table,
)
from sandbox.net.thread import ProxyThread

__all__ = [
    "BUILTIN_PRESETS",
    "AllowListProxy",
    "AskAnswer",
    "AskRequest",
    "Asker",
    "DomainPattern",
    "Host",
    "HostError",
    "Listening",
    "NetworkRules",
    "ProxyThread",
    "RecordSink",
    "RequestRecord",
    "RuleError",
    "RuleMatch",
    "RuleVerdict",
    "RunContext",
    "canonical_host",
    "parse_authority",
    "preset_names",
    "preset_rules",
    "rules_from_table",
]

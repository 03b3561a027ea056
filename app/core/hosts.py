"""The hosts a command names in URLs, so a network ask from that command's own run can be matched
to what the reviewer saw when they approved it (`curl https://get.example/i.sh | sh` then fetches
more from get.example without a second ask).

Deliberately narrow: only `http://` and `https://` URLs written out in the text count, with the
URL's own port (or the scheme's default); IP literals and names with characters outside ASCII
never match, because the proxy canonicalises those in ways a reader of the command cannot see.
"""

from __future__ import annotations

import re

_URL = re.compile(
    r"(?i)\b(https?)://"  # scheme
    r"(?:[^\s/?#@'\"`]*@)?"  # user:password@ (the host comes after it)
    r"([A-Za-z0-9.-]+)"  # host (ASCII letters, digits, dots and dashes only)
    r"(?::(\d{1,5}))?"  # port
    r"(?=[/?#\s'\"`;|&)]|$)"
)
_DEFAULT_PORT = {"http": 80, "https": 443}


def command_hosts(text: str) -> set[tuple[str, int]]:
    """(host, port) pairs of the http(s) URLs in `text`, hosts lower-case without a final dot."""
    out: set[tuple[str, int]] = set()
    for m in _URL.finditer(text):
        scheme, host, port = m.group(1).lower(), m.group(2).lower().rstrip("."), m.group(3)
        if not host or "." not in host or _numeric(host):
            continue
        number = int(port) if port else _DEFAULT_PORT[scheme]
        if 0 < number < 65536:
            out.add((host, number))
    return out


def names_host(text: str, host: str, port: int) -> bool:
    """Whether `text` names `host` on `port` in an http(s) URL."""
    return (host.lower().rstrip("."), port) in command_hosts(text)


def _numeric(host: str) -> bool:
    """Dotted numbers (any numeric IPv4 spelling) are addresses, not names."""
    return all(part.isdigit() or part.lower().startswith("0x") for part in host.split(".") if part)

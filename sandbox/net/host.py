"""Host names as the proxy compares them: one canonical spelling, or a refusal.

A forward proxy is only as strict as its idea of "the same host". Everything a client can write
in an authority (`user@host`, `host:80.evil`, `0x7f.1`, `2130706433`, `[::ffff:127.0.0.1]`, a
trailing dot, upper case, Unicode, punycode, a Cyrillic letter in a Latin name) is reduced here
to either a `Host` with one canonical text, or a `HostError` naming what was wrong. Rules are
canonicalised through the same function, so rule and request meet in the same form.

Nothing here touches the network: this runs before any DNS lookup.
"""

from __future__ import annotations

import encodings.idna as _idna
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_CANONICAL_IPV4 = re.compile(r"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}\Z")
# A label that some resolver (inet_aton and friends) would read as a number: decimal, octal
# (leading 0) or hex (0x…). A name whose last label looks like this is an address, never a name.
_NUMERIC_PART = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)\Z")
_PORT = re.compile(r"[1-9][0-9]{0,4}\Z")

# Scripts that legitimately mix inside one label (UTS #39 "highly restrictive").
_SCRIPT_SETS_OK = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Letters of other scripts that read as Latin letters. A label written only with these (e.g.
# Cyrillic "аррӏе") is a whole-script look-alike of a Latin name.
_LATIN_LOOKALIKES = frozenset(
    "аbсdеһіјklmnорԛѕtuvԝхуzаеорсухѕіјӏԁһԛԝвкмнт"  # Cyrillic
    "αβεηικνορτυχγωζ"  # Greek
)


class HostError(ValueError):
    """The text is not a host the proxy will ever talk to; the message says why, in one line."""


@dataclass(frozen=True)
class Host:
    """A canonical host: lower-case ASCII (IDNA A-labels) name, or an IP address's canonical text.

    `doubt` is set for a name that is well-formed but looks like another one (mixed scripts,
    a Latin look-alike letter): it may be used only when a rule names it exactly.
    """

    name: str
    kind: Literal["name", "ipv4", "ipv6"] = "name"
    doubt: str = ""

    @property
    def is_ip(self) -> bool:
        return self.kind != "name"

    @property
    def authority(self) -> str:
        """The host as it is written in a URL or a CONNECT line."""
        return f"[{self.name}]" if self.kind == "ipv6" else self.name

    def __str__(self) -> str:
        return self.authority


def _script(ch: str) -> str:
    """The script of one character ("LATIN", "CYRILLIC", "HAN", …), "" for common characters."""
    if ch in "-0123456789":
        return ""
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Mc", "Me"):
        return ""  # combining marks take the script of what they combine with
    name = unicodedata.name(ch, "")
    if not name:
        return "UNKNOWN"
    if name.startswith("CJK "):
        return "HAN"
    return name.split(" ", 1)[0]


def _latin_base_is_ascii(ch: str) -> bool:
    """ü → u is fine; ɡ (script g), ı (dotless i), ſ (long s) have no ASCII base: look-alikes."""
    base = unicodedata.normalize("NFD", ch)[0]
    return base.isascii()


def _unicode_label_doubt(label: str) -> str:
    """Why a decoded (Unicode) label might impersonate another name; "" when it looks honest."""
    scripts = {s for s in (_script(c) for c in label) if s}
    if "UNKNOWN" in scripts:
        return f"label {label!r} holds unassigned characters"
    if len(scripts) > 1 and not any(scripts <= ok for ok in _SCRIPT_SETS_OK):
        return f"label {label!r} mixes scripts ({', '.join(sorted(scripts))})"
    if "LATIN" in scripts:
        odd = [c for c in label if _script(c) == "LATIN" and not _latin_base_is_ascii(c)]
        if odd:
            return f"label {label!r} uses Latin look-alike letter {odd[0]!r}"
    letters = [c for c in label if _script(c)]
    if (
        scripts
        and scripts <= {"CYRILLIC", "GREEK"}
        and all(c in _LATIN_LOOKALIKES for c in letters)
    ):
        return f"label {label!r} is written entirely with letters that look Latin"
    return ""


def _check_unicode_label(label: str) -> None:
    for ch in label:
        cat = unicodedata.category(ch)
        if cat[0] not in ("L", "M", "N") and ch != "-":
            raise HostError(f"character U+{ord(ch):04X} is not allowed in a host name")


def _ace_label(label: str) -> tuple[str, str]:
    """One label → (A-label, doubt). Unicode labels must survive IDNA unchanged both ways, so a
    zero-width joiner, a full-width letter or ß (which IDNA 2003 silently rewrites) is refused
    rather than quietly turned into some other name."""
    if label.isascii():
        if label.startswith("xn--"):
            try:
                uni = _idna.ToUnicode(label.encode("ascii"))
            except (UnicodeError, ValueError) as exc:
                raise HostError(f"label {label!r} is not valid punycode") from exc
            if uni == label or uni.isascii():
                raise HostError(f"label {label!r} is not a valid IDNA label")
            _check_unicode_label(uni)
            if unicodedata.normalize("NFC", uni) != uni or uni.lower() != uni:
                raise HostError(f"label {label!r} decodes to a non-canonical form")
            try:
                again = _idna.ToASCII(uni).decode("ascii")
            except UnicodeError as exc:
                raise HostError(f"label {label!r} does not round-trip through IDNA") from exc
            if again != label:
                raise HostError(f"label {label!r} does not round-trip through IDNA")
            return label, _unicode_label_doubt(uni)
        return label, ""
    _check_unicode_label(label)
    lowered = unicodedata.normalize("NFC", label).lower()
    try:
        ace = _idna.ToASCII(lowered).decode("ascii")
        back = _idna.ToUnicode(ace.encode("ascii"))
    except UnicodeError as exc:
        raise HostError(f"label {label!r} cannot be encoded with IDNA") from exc
    if back != lowered:
        raise HostError(f"label {label!r} changes under IDNA mapping (to {back!r}); refused")
    return ace, _unicode_label_doubt(lowered)


def _looks_numeric(labels: list[str]) -> bool:
    return bool(labels) and _NUMERIC_PART.match(labels[-1]) is not None


def canonical_host(text: str) -> Host:
    """Canonicalise a bare host (no port, no brackets except around IPv6) or raise HostError."""
    if not text:
        raise HostError("empty host")
    if len(text) > 2 * MAX_NAME_LENGTH:
        raise HostError("host name too long")
    for ch in text:
        if ord(ch) < 0x21 or ord(ch) == 0x7F or 0x80 <= ord(ch) < 0xA0:
            raise HostError(f"control or space character U+{ord(ch):04X} in host")
    if "@" in text:
        raise HostError("user@host forms are refused")
    if text.startswith("["):
        if not text.endswith("]"):
            raise HostError("unbalanced brackets in host")
        return _ipv6(text[1:-1])
    if any(c in text for c in "/\\?#%:[]*;,'\"<>`{}|^~=+!$&()"):
        bad = next(c for c in text if c in "/\\?#%:[]*;,'\"<>`{}|^~=+!$&()")
        raise HostError(f"character {bad!r} is not allowed in a host name")
    name = text[:-1] if text.endswith(".") else text
    if not name or name.startswith(".") or ".." in name or name.endswith("."):
        raise HostError("empty label in host name")
    raw_labels = name.split(".")
    lowered = [lab.lower() if lab.isascii() else lab for lab in raw_labels]
    if _looks_numeric(lowered):
        return _ipv4(name.lower())
    labels: list[str] = []
    doubts: list[str] = []
    for lab in lowered:
        ace, doubt = _ace_label(lab)
        if not ace or len(ace) > MAX_LABEL_LENGTH:
            raise HostError(f"label {lab!r} is empty or longer than {MAX_LABEL_LENGTH} characters")
        if _LDH_LABEL.match(ace) is None:
            raise HostError(f"label {lab!r} is not letters, digits and inner hyphens")
        if ace[2:4] == "--" and not ace.startswith("xn--"):
            raise HostError(f"label {lab!r} uses a reserved '??--' prefix")
        labels.append(ace)
        if doubt:
            doubts.append(doubt)
    if _looks_numeric(labels):
        return _ipv4(".".join(labels))
    result = ".".join(labels)
    if len(result) > MAX_NAME_LENGTH:
        raise HostError("host name longer than 253 characters")
    return Host(result, "name", "; ".join(doubts))


def _ipv4(text: str) -> Host:
    """Only dotted-quad decimal without leading zeros is an address; decimal (2130706433),
    octal (0177.0.0.1), hex (0x7f.1) and short (127.1) forms are refused outright."""
    if _CANONICAL_IPV4.match(text) is None:
        raise HostError(f"numeric host {text!r} is not a canonical dotted-quad address; refused")
    try:
        addr = ipaddress.IPv4Address(text)
    except ValueError as exc:
        raise HostError(f"numeric host {text!r} is not a valid IPv4 address") from exc
    return Host(str(addr), "ipv4")


def _ipv6(text: str) -> Host:
    if "%" in text:
        raise HostError("IPv6 zone identifiers are refused")
    if not text or any(c not in "0123456789abcdefABCDEF:." for c in text):
        raise HostError(f"{text!r} is not an IPv6 address")
    try:
        addr = ipaddress.IPv6Address(text)
    except ValueError as exc:
        raise HostError(f"{text!r} is not an IPv6 address") from exc
    return Host(addr.compressed, "ipv6")


def parse_authority(text: str, default_port: int | None) -> tuple[Host, int]:
    """`host[:port]` (a URL authority, a CONNECT target or a Host header) → (Host, port).

    With `default_port=None` the port is required (CONNECT). `host:port.other`, signed, padded
    or out-of-range ports, bare IPv6 and userinfo are refused.
    """
    if "@" in text:
        raise HostError("user@host forms are refused")
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise HostError("unbalanced brackets in host")
        host_text, rest = text[: close + 1], text[close + 1 :]
        if rest and not rest.startswith(":"):
            raise HostError(f"unexpected text {rest!r} after IPv6 address")
        port_text = rest[1:] if rest else None
    else:
        if text.count(":") > 1:
            raise HostError("IPv6 addresses must be written in brackets")
        host_text, sep, port_after = text.partition(":")
        port_text = port_after if sep else None
    host = canonical_host(host_text)
    if port_text is None:
        if default_port is None:
            raise HostError("a port is required")
        return host, default_port
    if _PORT.match(port_text) is None or int(port_text) > 65535:
        raise HostError(f"port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)

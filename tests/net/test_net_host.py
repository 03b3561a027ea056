"""Host canonicalisation: one spelling per host, and every bypass form refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.net.host import Host, HostError, canonical_host, parse_authority


@pytest.mark.parametrize(
    "text,expected",
    [
        ("example.com", "example.com"),
        ("EXAMPLE.Com", "example.com"),
        ("example.com.", "example.com"),
        ("a-b.example.com", "a-b.example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("例え.jp", "xn--r8jz45g.jp"),
        ("localhost", "localhost"),
    ],
)
def test_canonical_names(text: str, expected: str) -> None:
    h = canonical_host(text)
    assert h == Host(expected, "name") and not h.doubt


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".",
        "example..com",
        ".example.com",
        "example.com..",
        "user@example.com",
        "example.com\x00.evil.com",
        "exa mple.com",
        "example.com\t",
        "example.com/path",
        "example.com\\evil.com",
        "example.com%2eevil.com",
        "example.com:80",
        "exa_mple.com",
        "-example.com",
        "example-.com",
        "a" * 64 + ".com",
        ".".join(["a" * 60] * 5),
        "example.com#frag",
        "example.com?q",
        "*.example.com",
        "ab--cd.com",  # reserved ??-- prefix other than xn--
        "xn--zzzz-.com",  # invalid punycode
        "xn--abc.com",  # decodes to something that does not round-trip
        "ｅｘａｍｐｌｅ.com",  # full-width letters: IDNA would silently rewrite them
        "exa\u200bmple.com",  # zero-width space
        "exa\u200dmple.com",  # zero-width joiner, silently dropped by nameprep
        "straße.de",  # ß is rewritten to ss by IDNA 2003: refused, not guessed
        "example\u3002com",  # ideographic full stop as a dot
        "example\uff0ecom",
        "exam\u202eple.com",  # bidi override
        "example.com\u00a0",  # no-break space
        "\x7fexample.com",
        "exam\x85ple.com",  # C1 control
    ],
)
def test_bad_names_refused(text: str) -> None:
    with pytest.raises(HostError):
        canonical_host(text)


@pytest.mark.parametrize(
    "text",
    [
        "2130706433",  # decimal
        "0x7f000001",  # hex
        "0x7f.1",  # hex, short
        "0x7F.0.0.1",
        "0177.0.0.1",  # octal
        "0177.1",
        "127.1",  # short form
        "127.0.1",
        "127.000.000.001",  # zero-padded
        "017700000001",
        "1.2.3.4.5",
        "256.1.1.1",
        "example.123",  # an all-numeric last label is an address, never a name
        "foo.0x10",
        "00.1.2.3",
    ],
)
def test_numeric_forms_other_than_dotted_quad_refused(text: str) -> None:
    with pytest.raises(HostError, match=r"numeric|address"):
        canonical_host(text)


def test_canonical_ip_forms() -> None:
    assert canonical_host("127.0.0.1") == Host("127.0.0.1", "ipv4")
    assert canonical_host("1.2.3.4.") == Host("1.2.3.4", "ipv4")
    assert canonical_host("[::1]") == Host("::1", "ipv6")
    assert canonical_host("[0:0:0:0:0:0:0:1]") == Host("::1", "ipv6")
    assert canonical_host("[::FFFF:127.0.0.1]") == Host("::ffff:7f00:1", "ipv6")
    assert canonical_host("[2001:DB8::1]").name == "2001:db8::1"


@pytest.mark.parametrize(
    "text", ["[::1%eth0]", "[::1%25eth0]", "[::1", "[zz::1]", "[]", "[1.2.3.4]"]
)
def test_bad_ipv6_refused(text: str) -> None:
    with pytest.raises(HostError):
        canonical_host(text)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("аpple.com", "mixes scripts"),  # Cyrillic а + Latin pple
        ("xn--pple-43d.com", "mixes scripts"),  # the same, as sent on the wire
        ("аррӏе.com", "look Latin"),  # whole-script Cyrillic look-alike of "apple"
        ("ɡoogle.com", "look-alike letter"),  # LATIN SMALL LETTER SCRIPT G
        ("paypal.cοm", "mixes scripts"),  # Greek omicron
        ("gοοgle.com", "mixes scripts"),
    ],
)
def test_lookalikes_carry_doubt(text: str, fragment: str) -> None:
    h = canonical_host(text)
    assert h.kind == "name" and fragment in h.doubt


@pytest.mark.parametrize(
    "text", ["пример.рф", "例え.jp", "münchen.de", "日本語ひらがなカタカナ.jp", "한국.kr"]
)
def test_honest_idns_have_no_doubt(text: str) -> None:
    assert canonical_host(text).doubt == ""


@pytest.mark.parametrize(
    "text,default,expected",
    [
        ("example.com", 80, ("example.com", 80)),
        ("example.com:8080", 80, ("example.com", 8080)),
        ("Example.COM.:443", None, ("example.com", 443)),
        ("[::1]:443", None, ("::1", 443)),
        ("[::1]", 80, ("::1", 80)),
    ],
)
def test_parse_authority(text: str, default: int | None, expected: tuple[str, int]) -> None:
    host, port = parse_authority(text, default)
    assert (host.name, port) == expected


@pytest.mark.parametrize(
    "text",
    [
        "example.com:80.evil.com",
        "example.com:",
        "example.com:0",
        "example.com:65536",
        "example.com:+80",
        "example.com:080",
        "example.com: 80",
        "example.com:80:80",
        "user:pass@example.com:80",
        "example.com@evil.com",
        "::1:80",
        "[::1]80",
        "[::1]:80x",
        "example.com:0x50",
    ],
)
def test_bad_authorities_refused(text: str) -> None:
    with pytest.raises(HostError):
        parse_authority(text, 80)


def test_connect_needs_a_port() -> None:
    with pytest.raises(HostError, match="port is required"):
        parse_authority("example.com", None)


@given(st.text(max_size=80))
def test_canonicalisation_never_crashes_and_is_idempotent(text: str) -> None:
    try:
        h = canonical_host(text)
    except HostError:
        return
    again = canonical_host(h.authority)
    assert again.name == h.name and again.kind == h.kind
    assert h.name.isascii() and h.name == h.name.lower()


@given(st.from_regex(r"[0-9a-fA-FxX.]{1,20}", fullmatch=True))
def test_numeric_looking_hosts_never_become_names_that_resolve_to_numbers(text: str) -> None:
    """Anything inet_aton would read as an address is either the canonical dotted quad or refused."""
    import socket

    try:
        socket.inet_aton(text)
        parses = True
    except OSError:
        parses = False
    try:
        h = canonical_host(text)
    except HostError:
        return
    if parses:
        assert h.kind == "ipv4" and h.name == text.rstrip(".")

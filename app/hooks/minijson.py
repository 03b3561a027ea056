"""JSON for the hook client through the C accelerator `_json` directly: `import json` pulls in
`re` and compiles its patterns (~7 ms, a sixth of the whole hook call). Same grammar and strictness
as `json.loads`/`json.dumps(ensure_ascii=True)`; falls back to `json` where `_json` is missing
or differs (another interpreter).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"


class _Context:
    """What `_json.make_scanner` reads from a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}  # noqa: RUF012 - the C scanner's interning table

    @staticmethod
    def parse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")


def _no_default(obj: object) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


_scan: Any = None
_encode: Any = None
try:
    import _json

    _scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed decoder
    _encode = _json.make_encoder(
        None, _no_default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, False
    )
except (ImportError, AttributeError, TypeError):  # pragma: no cover - other interpreters
    _scan = _encode = None


def loads(text: str | bytes) -> Any:
    """Like `json.loads`; ValueError for anything that is not one JSON value."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(text)
    i, n = 0, len(text)
    while i < n and text[i] in _WS:
        i += 1
    try:
        value, end = _scan(text, i)
    except StopIteration:
        raise ValueError(f"no JSON value at character {i}") from None
    while end < n and text[end] in _WS:
        end += 1
    if end != n:
        raise ValueError(f"extra data at character {end}")
    return value


def dumps(value: Any) -> str:
    """Like `json.dumps(value, ensure_ascii=True, allow_nan=False)`."""
    if _encode is None:  # pragma: no cover
        import json

        return json.dumps(value, ensure_ascii=True, allow_nan=False)
    return "".join(_encode(value, 0))

"""The Responses API's single-file `apply_patch` operations, into the same model.

The hosted `apply_patch` tool sends one operation per call: `{"type": "create_file", "path", "diff"}`
(diff = '+' lines), `{"type": "update_file", "path", "diff"}` (diff = V4A hunks without the
`*** Begin Patch` envelope) or `{"type": "delete_file", "path"}`. We accept the bare operation,
the `apply_patch_call` item that wraps it (`{"operation": {...}}`), or a list of either.
"""

from __future__ import annotations

import json
from typing import Any

from app.patch.errors import PatchError, quote
from app.patch.model import FileChange, ParsedPatch
from app.patch.v4a import parse_add_body, parse_update_body, split_patch_lines, trim_blank

_TYPES = ("create_file", "update_file", "delete_file")


def looks_like_operation(text: str) -> bool:
    s = text.lstrip()
    return s.startswith("{") or s.startswith("[")


def parse_operations_json(text: str) -> ParsedPatch:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PatchError(f"not valid JSON: {exc}") from exc
    return parse_operations(data)


def parse_operations(data: Any) -> ParsedPatch:
    items = data if isinstance(data, list) else [data]
    if not items:
        raise PatchError("no operations given")
    files = tuple(parse_operation(item) for item in items)
    return ParsedPatch(format="v4a", files=files)


def parse_operation(obj: Any) -> FileChange:
    if isinstance(obj, dict) and isinstance(obj.get("operation"), dict):
        obj = obj["operation"]
    if not isinstance(obj, dict):
        raise PatchError("an operation must be a JSON object")
    kind = obj.get("type")
    if kind not in _TYPES:
        raise PatchError(
            f"unknown operation type {quote(str(kind))}; expected one of {', '.join(_TYPES)}"
        )
    path = obj.get("path")
    if not isinstance(path, str) or not path.strip():
        raise PatchError(f"{kind}: 'path' must be a non-empty string")
    path = path.strip()
    diff = obj.get("diff", "")
    if diff is None:
        diff = ""
    if not isinstance(diff, str):
        raise PatchError(f"{kind} {path}: 'diff' must be a string")
    if kind == "delete_file":
        return FileChange(path=path, op="delete")
    lines = trim_blank(split_patch_lines(diff), 1)
    if kind == "create_file":
        content_lines, end = parse_add_body(lines, 0)
        if end != len(lines.items):
            raise PatchError(
                f"create_file {path}: unexpected {quote(lines.items[end])} in the diff"
            )
        if content_lines and lines.items and lines.items[-1] == "+":
            # apply_diff's create mode joins the lines with newlines, so a final lone "+" is
            # how the diff says "ends with a newline"; every file we write ends with one anyway.
            content_lines.pop()
        eol = "\r\n" if "\r\n" in diff else "\n"  # apply_diff writes the diff's own line ends
        return FileChange(path=path, op="add", content="".join(x + eol for x in content_lines))
    hunks, end = parse_update_body(lines, 0, path)
    if end != len(lines.items):
        raise PatchError(f"update_file {path}: unexpected {quote(lines.items[end])} in the diff")
    if not hunks:
        raise PatchError(f"update_file {path}: the diff has no hunks")
    return FileChange(path=path, op="update", hunks=tuple(hunks), keep_eof_newline=True)


__all__ = [
    "looks_like_operation",
    "parse_operation",
    "parse_operations",
    "parse_operations_json",
]

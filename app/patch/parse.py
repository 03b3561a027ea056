"""One entry point that recognises the format and parses into the shared model."""

from __future__ import annotations

from typing import Literal

from app.patch.errors import PatchError
from app.patch.model import ParsedPatch
from app.patch.operations import looks_like_operation, parse_operations_json
from app.patch.unified import looks_like_unified, parse_unified
from app.patch.v4a import mentions_v4a, parse_v4a, starts_like_v4a

MAX_PATCH_CHARS = 32 * 1024 * 1024


def parse_patch(text: str, format: Literal["auto", "v4a", "unified"] = "auto") -> ParsedPatch:
    """Parse V4A, a unified diff or a Responses `operation` JSON; anything else is a PatchError."""
    if not isinstance(text, str):
        raise PatchError("a patch must be text")
    if len(text) > MAX_PATCH_CHARS:
        raise PatchError(f"patch too large ({len(text)} characters; limit {MAX_PATCH_CHARS})")
    if "\x00" in text:
        raise PatchError("patch contains a NUL byte")
    if format == "v4a":
        if looks_like_operation(text) and not starts_like_v4a(text):
            return parse_operations_json(text)
        return parse_v4a(text)
    if format == "unified":
        return parse_unified(text)
    if starts_like_v4a(text):
        return parse_v4a(text)
    if looks_like_operation(text):
        return parse_operations_json(text)
    if looks_like_unified(text):
        return parse_unified(text)
    if mentions_v4a(text):
        return parse_v4a(text)
    raise PatchError(
        "not a patch: expected V4A ('*** Begin Patch'), a unified diff, or an apply_patch operation"
    )

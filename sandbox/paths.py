"""Whether one path lies in another, on normalised path strings (absolute, `realpath`'d or
`abspath`'d by the caller): one rule for the policy, the mounts of both backends, the read-set
cache and the serve, so `/w/ab` is never taken to be inside `/w/a`, and `/` holds everything."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


def within(path: str | os.PathLike[str], top: str | os.PathLike[str]) -> bool:
    """`path` is `top` or below it."""
    inner, outer = os.fspath(path), os.fspath(top)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def within_any(path: str | os.PathLike[str], tops: Iterable[str | os.PathLike[str]]) -> bool:
    return any(within(path, top) for top in tops)


__all__ = ["within", "within_any"]

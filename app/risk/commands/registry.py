"""The one registry: every family module lists the programs it handles — `EXACT` (a name and
its handler) and `FAMILIES` (a set of names sharing one handler) — and `build` turns them into
one name -> handler mapping, once, at import.

Rules `build` enforces, so a new family cannot silently take over another's programs: no name
is registered twice as `EXACT`; a name in two `FAMILIES` must be decided by an `EXACT` entry;
an `EXACT` entry wins over a family (`echo` is in the readers' set but has its own handler).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType

from app.risk.analysis import Analyzer
from app.risk.shell import SimpleCommand

Handler = Callable[[Analyzer, SimpleCommand], None]
Family = tuple[frozenset[str], Handler]


def h_noop(an: Analyzer, c: SimpleCommand) -> None:
    """Wrappers that only run another command (`nohup`, `timeout`): the wrapped command is a
    command of its own in the parsed script and is judged there."""
    return


class RegistryError(Exception):
    """Two families claim one program and nothing decides between them."""


def build(modules: Iterable[ModuleType]) -> dict[str, Handler]:
    """Merge the `EXACT` and `FAMILIES` of every family module into one mapping."""
    exact: dict[str, tuple[Handler, str]] = {}
    family: dict[str, tuple[Handler, str]] = {}
    clashes: list[str] = []
    for mod in modules:
        where = mod.__name__.rsplit(".", 1)[-1]
        table: Mapping[str, Handler] = getattr(mod, "EXACT", {})
        for name, h in table.items():
            if name in exact:
                raise RegistryError(f"{name!r} registered by {exact[name][1]} and {where}")
            exact[name] = (h, where)
        families: Iterable[Family] = getattr(mod, "FAMILIES", ())
        for names, h in families:
            for name in names:
                old = family.get(name)
                if old is not None and old[0] is not h:
                    clashes.append(f"{name!r} ({old[1]} and {where})")
                family[name] = (h, where)
    undecided = [c for c in clashes if c.split("'")[1] not in exact]
    if undecided:
        raise RegistryError("claimed by two families, no EXACT entry: " + ", ".join(undecided))
    out = {name: h for name, (h, _) in family.items()}
    out.update({name: h for name, (h, _) in exact.items()})
    return out

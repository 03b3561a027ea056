"""sandbox.records: the dataclass subset the sandbox's records use, built without compiling.

Each behaviour is checked against what `@dataclass(frozen=True)` does with the same class, so a
record and a dataclass stay interchangeable for every caller (and for `dataclasses` itself)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sandbox.policy import SandboxPolicy
from sandbox.probe import KernelSupport
from sandbox.records import FrozenRecordError, asdict, field, field_names, record, replace


@record
class Point:
    """A frozen record with a default and a factory default."""

    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    unit: ClassVar[str] = "px"


@record(frozen=False)
class Counter:
    """A mutable record."""

    n: int = 0


@record
class Point3(Point):
    """A record extending another: its fields come after the base's."""

    z: int = 0


def test_init_binds_positional_keyword_and_defaults() -> None:
    p = Point(1, tags=["a"])
    assert (p.x, p.y, p.tags) == (1, 0, ["a"])
    assert Point(1).tags == [] and Point(1).tags is not Point(1).tags  # a fresh list each
    assert field_names(Point) == ("x", "y", "tags")  # the ClassVar is not a field
    assert Point.unit == "px"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing 1 required argument: 'x'"),
        ((1, 2, [], 4), {}, "takes 4 positional arguments but 5 were given"),
        ((1,), {"x": 2}, "multiple values for argument 'x'"),
        ((1,), {"w": 2}, "unexpected keyword argument 'w'"),
    ],
)
def test_wrong_arguments_are_refused_as_dataclasses_refuse_them(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_frozen_records_cannot_change_and_hash_by_value() -> None:
    p = Point(1, 2)
    with pytest.raises(FrozenRecordError):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.y
    assert p == Point(1, 2) and p != Point(1, 3)
    assert Point(1, 2, ["a"]) != Point(1, 2)
    assert hash(Point(1, 2, ())) == hash(Point(1, 2, ()))  # type: ignore[arg-type]
    assert p != Point3(1, 2)  # another class is never equal, as with dataclasses
    assert repr(Point3(1, 2, [], 3)) == "Point3(x=1, y=2, tags=[], z=3)"


def test_mutable_records_change_and_are_unhashable() -> None:
    c = Counter()
    c.n += 1
    assert c == Counter(1)
    with pytest.raises(TypeError):
        hash(c)


def test_definitions_dataclasses_refuse_are_refused() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @record
        class Bad:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="non-default argument 'b' follows default"):

        @record
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]


def test_post_init_runs_after_the_fields_are_set() -> None:
    seen: list[int] = []

    @record
    class Checked:
        n: int

        def __post_init__(self) -> None:
            seen.append(self.n)

    Checked(7)
    assert seen == [7]


def test_replace_asdict_copy_and_pickle() -> None:
    p = Point3(1, 2, ["t"], 3)
    q = replace(p, z=9)
    assert (q.x, q.z) == (1, 9) and p.z == 3
    with pytest.raises(TypeError, match="no field 'w'"):
        replace(p, w=1)
    assert asdict(p) == {"x": 1, "y": 2, "tags": ["t"], "z": 3}
    assert copy.deepcopy(p) == p and copy.copy(p) == p
    assert pickle.loads(pickle.dumps(p)) == p


def test_records_are_dataclasses_to_dataclasses() -> None:
    """The audit log, tests and app code use dataclasses' own functions on sandbox records."""
    policy = SandboxPolicy(workspace=Path("/w"), writable=(Path("/x"),))
    assert dataclasses.is_dataclass(policy)
    names = [f.name for f in dataclasses.fields(policy)]
    assert names == list(field_names(policy))
    wider = dataclasses.replace(policy, network="proxy", proxy_port=3128)
    assert (wider.network, wider.proxy_port, wider.writable) == ("proxy", 3128, (Path("/x"),))
    assert dataclasses.asdict(policy) == asdict(policy)
    with pytest.raises(AttributeError):
        policy.network = "proxy"  # type: ignore[misc]
    support = KernelSupport.from_probe({"user": "ok", "landlock_abi": 7, "bogus": 1})
    assert dataclasses.replace(support, landlock_abi=3).landlock_abi == 3
    assert support.to_dict()["landlock_abi"] == 7

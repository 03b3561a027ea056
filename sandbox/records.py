"""Records (small classes of named fields) for the code on `lockgate sandbox run`'s cold start.

Why not `dataclasses`: the one-shot command is started once per agent command, so its start is
the agent's waiting time (issue #19: 50 ms). `import dataclasses` pulls in `inspect` (ast, dis,
tokenize: ~7 ms), and every `@dataclass` compiles its methods from source text (~0.7 ms a
class): together ~22 ms for the ~25 records the sandbox needs for one command. `record` builds
the same methods from closures, with nothing to compile, at ~20 µs a class.

It is the subset of `@dataclass` these records use: fields from the class's annotations in order
(strings under `from __future__ import annotations`; `ClassVar[...]` is not a field), defaults
and `field(default_factory=...)`, the fields of a record it extends first, `__init__`,
`__repr__`, `__eq__`, and when frozen (the default) `__hash__` and attributes that cannot be set
or deleted. A record is still a dataclass to every caller that asks: `dataclasses.is_dataclass`,
`fields`, `replace` and `asdict` work on it, because its `__dataclass_fields__` is built by the
real `dataclasses` on first access (importing it only then, off the cold path). mypy checks
records as dataclasses (PEP 681, `dataclass_transform`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy reads `if TYPE_CHECKING:` blocks whatever the name is bound to
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_kw: object) -> Callable[[T], T]:
        return lambda f: f


class FrozenRecordError(AttributeError):
    """Setting or deleting a field of a frozen record (what dataclasses.FrozenInstanceError is)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """A field's default, as `field()` declares it; `name` is set when the record is built."""

    __slots__ = ("default", "default_factory", "name")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot give both default and default_factory")
        self.default = default
        self.default_factory = default_factory
        self.name = ""


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING) -> Any:
    """A field with a default made anew for each record (`default_factory`), or a plain one."""
    return Field(default, default_factory)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T] | None = None, /, *, frozen: bool = True) -> Any:
    """`@record` (frozen) or `@record(frozen=False)` on a class of annotated fields."""

    def build(c: type[T]) -> type[T]:
        return _build(c, frozen)

    return build if cls is None else build(cls)


def field_names(cls_or_record: Any) -> tuple[str, ...]:
    cls = cls_or_record if isinstance(cls_or_record, type) else type(cls_or_record)
    fields: tuple[Field, ...] = getattr(cls, "__record_fields__")  # noqa: B009
    return tuple(f.name for f in fields)


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of a record with some fields changed (`dataclasses.replace`, without importing it)."""
    unknown = set(changes) - set(field_names(obj))
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    values = {name: getattr(obj, name) for name in field_names(obj)}
    values.update(changes)
    return type(obj)(**values)


def asdict(obj: Any) -> dict[str, Any]:
    """Fields as a dict, records and containers inside converted the same way (as
    `dataclasses.asdict` does; other values are shared, not deep-copied)."""
    return {name: _plain(getattr(obj, name)) for name in field_names(obj)}


def _plain(value: Any) -> Any:
    if hasattr(type(value), "__record_fields__"):
        return asdict(value)
    if isinstance(value, tuple | list):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _build(cls: type[T], frozen: bool) -> type[T]:
    fields: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__record_fields__", ()):
            fields[f.name] = f
    # (not inspect.get_annotations: importing inspect is what this module avoids)
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        if _is_classvar(annotation):
            continue
        declared = cls.__dict__.get(name, MISSING)
        f = declared if isinstance(declared, Field) else Field(default=declared)
        if f.default is not MISSING and type(f.default).__hash__ is None:
            raise ValueError(
                f"mutable default {type(f.default)} for field {name} is not allowed: "
                "use default_factory"
            )
        f.name = name
        fields[name] = f
        if isinstance(declared, Field):  # the class attribute is the default, as in dataclasses
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
    ordered = tuple(fields.values())
    seen_default = False
    for f in ordered:
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        seen_default = seen_default or has_default
    names = tuple(f.name for f in ordered)
    attrs: dict[str, Any] = {
        "__record_fields__": ordered,
        "__match_args__": names,
        "__init__": _make_init(cls, ordered, frozen),
        "__repr__": _make_repr(names),
        "__eq__": _make_eq(names),
        "__dataclass_fields__": _DataclassFields(frozen),
    }
    if frozen:
        attrs["__hash__"] = _make_hash(names)
        attrs["__setattr__"] = _frozen_setattr
        attrs["__delattr__"] = _frozen_delattr
    elif "__eq__" not in cls.__dict__:
        attrs["__hash__"] = None  # mutable and compared by value: unhashable, as dataclasses
    for name, value in attrs.items():
        if name in ("__repr__", "__eq__") and name in cls.__dict__:
            continue  # the class's own wins, as with dataclasses
        setattr(cls, name, value)
    return cls


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _make_init(cls: type, fields: tuple[Field, ...], frozen: bool) -> Callable[..., None]:
    names = tuple(f.name for f in fields)
    positions = {name: i for i, name in enumerate(names)}
    defaults = tuple(fields)
    post_init = getattr(cls, "__post_init__", None) is not None
    qualname = cls.__qualname__
    setter = object.__setattr__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(
                f"{qualname}.__init__() takes {len(names) + 1} positional arguments "
                f"but {len(args) + 1} were given"
            )
        values: list[Any] = list(args) + [MISSING] * (len(names) - len(args))
        for key, value in kwargs.items():
            at = positions.get(key)
            if at is None:
                raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {key!r}")
            if at < len(args):
                raise TypeError(f"{qualname}.__init__() got multiple values for argument {key!r}")
            values[at] = value
        for at, value in enumerate(values):
            if value is MISSING:
                f = defaults[at]
                if f.default_factory is not MISSING:
                    value = f.default_factory()
                elif f.default is not MISSING:
                    value = f.default
                else:
                    raise TypeError(
                        f"{qualname}.__init__() missing 1 required argument: {names[at]!r}"
                    )
            setter(self, names[at], value)
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


def _make_repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({inner})"

    return __repr__


def _make_eq(names: tuple[str, ...]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    return __eq__


def _make_hash(names: tuple[str, ...]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in names))

    return __hash__


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenRecordError(f"cannot delete field {name!r}")


class _DataclassFields:
    """`__dataclass_fields__` on first access: the real dataclasses' `Field`s, from a twin class
    that `dataclasses.dataclass` builds with the same annotations and defaults."""

    def __init__(self, frozen: bool) -> None:
        self.frozen = frozen

    def __get__(self, obj: Any, owner: type) -> dict[str, Any]:
        import dataclasses

        namespace: dict[str, Any] = {"__module__": owner.__module__, "__annotations__": {}}
        for f in owner.__dict__["__record_fields__"]:
            namespace["__annotations__"][f.name] = _annotation(owner, f.name)
            if f.default_factory is not MISSING:
                namespace[f.name] = dataclasses.field(default_factory=f.default_factory)
            elif f.default is not MISSING:
                namespace[f.name] = f.default
        twin: Any = dataclasses.dataclass(frozen=self.frozen)(type(owner.__name__, (), namespace))
        fields: dict[str, Any] = twin.__dataclass_fields__
        type.__setattr__(owner, "__dataclass_fields__", fields)  # later reads skip this
        type.__setattr__(owner, "__dataclass_params__", twin.__dataclass_params__)
        return fields


def _annotation(owner: type, name: str) -> Any:
    for klass in owner.__mro__:
        annotations = klass.__dict__.get("__annotations__", {})  # noqa: RUF063
        if name in annotations:
            return annotations[name]
    return "Any"


__all__ = [
    "MISSING",
    "Field",
    "FrozenRecordError",
    "asdict",
    "field",
    "field_names",
    "record",
    "replace",
]

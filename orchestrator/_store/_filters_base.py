"""What every filter shares: the operator, the argument converters, and the base class.

Filters take plain Python values. Where it is unambiguous a single value stands for a
one-element list (``any_=run.id``, ``all_="etl"``), ids may be given as UUID strings,
state types by name, and datetimes must be timezone-aware. A value of the wrong kind
raises :class:`~orchestrator.InvalidArgument` when the filter is built, naming what was
expected.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeAlias, TypeVar, final

import attrs

from .._core._clock import as_utc
from .._core._errors import ArgumentTypeError, ArgumentValueError, InvalidArgument
from .._core._states import StateType
from ._criteria import TRUE, Criterion, Lookup, combine

__all__ = [
    "FilterBase",
    "IdsArg",
    "Operator",
    "StateTypesArg",
    "StrsArg",
    "field_repr",
    "join_filters",
    "optional_instance",
    "shorthand",
    "to_operator",
    "to_optional_bool",
    "to_optional_str",
    "to_state_types",
    "to_strings",
    "to_time",
    "to_uuids",
]


@final
class Operator(enum.Enum):
    """How a filter joins its criteria: all of them (``AND``, the default) or any (``OR``).

    The values are the reference's spellings, ``"and_"`` and ``"or_"``, which filters also
    accept in place of the members.
    """

    AND = "and_"
    OR = "or_"

    def __repr__(self) -> str:
        return f"Operator.{self.name}"


def to_operator(value: Operator | str) -> Operator:
    """Convert ``"and_"``/``"or_"`` (or a member) to an :class:`Operator`."""
    if isinstance(value, Operator):
        return value
    if isinstance(value, str):
        for member in Operator:
            if value in (member.value, member.name, member.name.lower()):
                return member
    error = ArgumentValueError if isinstance(value, str) else ArgumentTypeError
    raise error(f"operator must be Operator.AND or Operator.OR, got {value!r}")


def _to_uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    error = ArgumentValueError if isinstance(value, str) else ArgumentTypeError
    raise error(
        f"filter ids must be UUIDs or UUID strings (one, or an iterable of them), got {value!r}"
    )


def to_uuids(
    value: uuid.UUID | str | Iterable[uuid.UUID | str] | None,
) -> frozenset[uuid.UUID] | None:
    """Convert one id or an iterable of ids (UUIDs or their strings) to a frozenset."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID | str):
        return frozenset((_to_uuid(value),))
    if not isinstance(value, Iterable):
        raise ArgumentTypeError(
            f"filter ids must be UUIDs or UUID strings (one, or an iterable of them), got {value!r}"
        )
    return frozenset(_to_uuid(item) for item in value)


def to_strings(value: str | Iterable[str] | None) -> frozenset[str] | None:
    """Convert one string or an iterable of strings to a frozenset."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, Iterable):
        items = frozenset(value)
        if all(isinstance(item, str) for item in items):
            return items
    raise ArgumentTypeError(
        f"expected a string or an iterable of strings (names, keys, tags), got {value!r}"
    )


def _to_state_type(value: object) -> StateType:
    if isinstance(value, StateType):
        return value
    if isinstance(value, str):
        try:
            return StateType[value.upper()]
        except KeyError:
            pass
    known = ", ".join(t.name for t in StateType)
    error = ArgumentValueError if isinstance(value, str) else ArgumentTypeError
    raise error(f"state types are StateType members or their names ({known}); got {value!r}")


def to_state_types(
    value: StateType | str | Iterable[StateType | str] | None,
) -> frozenset[StateType] | None:
    """Convert one state type or an iterable of them (members or names) to a frozenset."""
    if value is None:
        return None
    if isinstance(value, StateType | str):
        return frozenset((_to_state_type(value),))
    if not isinstance(value, Iterable):
        raise ArgumentTypeError(f"expected a StateType or an iterable of them, got {value!r}")
    return frozenset(_to_state_type(item) for item in value)


def to_time(value: datetime | None) -> datetime | None:
    """Check a bound is an aware datetime (or None) and return it in UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ArgumentTypeError(f"time bounds must be aware datetimes, got {value!r}")
    return as_utc(value, "filter bound")


def to_optional_bool(value: bool | None) -> bool | None:
    """Check a flag is True, False or None."""
    if value is None or isinstance(value, bool):
        return value
    raise ArgumentTypeError(f"expected True, False or None, got {value!r}")


def to_optional_str(value: str | None) -> str | None:
    """Check a value is a string or None."""
    if value is None or isinstance(value, str):
        return value
    raise ArgumentTypeError(f"expected a string or None, got {value!r}")


#: One id or several (UUIDs or their strings).
IdsArg: TypeAlias = uuid.UUID | str | Iterable[uuid.UUID | str]
#: One string or several.
StrsArg: TypeAlias = str | Iterable[str]
#: One state type or several (members or their names).
StateTypesArg: TypeAlias = StateType | str | Iterable[StateType | str]

F = TypeVar("F", bound="FilterBase")
G = TypeVar("G")


def shorthand(cls: type[F], field: str, value: object) -> F | None:
    """Return ``value`` if it is a ``cls`` (or None), else ``cls(**{field: value})``.

    This lets a filter field take its sub-filter's main values directly:
    ``TaskRunFilter(task_key="etl")`` means ``task_key=TaskRunFilterTaskKey(any_="etl")``.

    Raises:
        InvalidArgument: ``value`` is another kind of filter, or not a valid ``field``.
    """
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, FilterBase):
        raise ArgumentTypeError(
            f"expected a {cls.__name__} (or the values of its {field}), got {value!r}"
        )
    return cls(**{field: value})


def optional_instance(cls: type) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """Return an attrs validator accepting None or an instance of ``cls``."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, cls):
            raise ArgumentTypeError(
                f"{type(instance).__name__}.{attribute.name} takes a {cls.__name__} "
                f"(or None), got {value!r}"
            )

    return check


def names_fields(cls: type[G]) -> type[G]:
    """Make a field value that a converter refuses name its field in the error.

    Converters see only the value, so their refusal reads "filter ids must be ...". This
    wraps the class's ``__init__`` (after ``attrs`` made it): on a refusal it finds the
    field whose converter refuses its value and prefixes ``Class.field:`` to the message,
    keeping the error's class. A successful construction costs nothing more.
    """
    init = cls.__init__

    @functools.wraps(init)
    def init_naming_fields(self: Any, **kwargs: Any) -> None:
        try:
            init(self, **kwargs)
        except InvalidArgument as exc:
            raise _naming_field(cls, kwargs, exc) from exc

    cls.__init__ = init_naming_fields  # type: ignore[method-assign]
    return cls


def _naming_field(cls: type, kwargs: dict[str, Any], exc: InvalidArgument) -> InvalidArgument:
    for field in attrs.fields(cls):
        converter = field.converter
        if field.name not in kwargs or not callable(converter):
            continue
        try:
            converter(kwargs[field.name])
        except InvalidArgument:
            return type(exc)(f"{cls.__name__}.{field.name}: {exc}")
    return exc


class FilterBase:
    """Base of every filter: a frozen value that compiles itself to a criterion once.

    Subclasses are ``attrs`` frozen classes that implement ``_compile``; the base keeps
    the compiled tree in a slot set right after construction.
    """

    __slots__ = ("_criterion",)
    _criterion: Criterion

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_criterion", self._compile())

    def _compile(self) -> Criterion:
        return TRUE

    @property
    def criterion(self) -> Criterion:
        """The compiled condition tree (read by the query planner)."""
        return self._criterion

    def __repr__(self) -> str:
        return field_repr(self)

    def matches(self, item: Any, lookup: Lookup | None = None) -> bool:
        """Return whether ``item`` (a run, flow or deployment) satisfies this filter.

        Args:
            item: the record to test.
            lookup: the store, needed only by filters that look past the record (the
                ``subflow_runs`` test).
        """
        return self._criterion.test(item, lookup)


def field_repr(instance: object) -> str:
    """Return ``Name(field=value, ...)`` listing only the fields that differ from their default.

    A None is listed where the default is not None (``is_null_=None`` of the flow-run-id
    filter, whose default is False).
    """
    parts = []
    for field in attrs.fields(type(instance)):  # type: ignore[arg-type]
        value = getattr(instance, field.name)
        if value != field.default and (value is not None or field.default is not attrs.NOTHING):
            if isinstance(value, frozenset):
                value = sorted(value, key=str)
            parts.append(f"{field.name}={value!r}")
    return f"{type(instance).__name__}({', '.join(parts)})"


def join_filters(subs: tuple[FilterBase | None, ...], operator: Operator) -> Criterion:
    """The criteria of the sub-filters that are set, joined by ``operator``."""
    return combine((sub.criterion for sub in subs if sub is not None), operator is Operator.AND)

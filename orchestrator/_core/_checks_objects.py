"""Argument checks for values that are not scalars: datetimes, mappings, ids, calls, kinds.

The companion of :mod:`orchestrator._core._checks`, with the same conventions: the value
first, then ``name`` (the parameter as the user spelled it); the value comes back in the
form the caller keeps; a refusal is built by :func:`~orchestrator._core._checks.wrong_type`
(an :class:`~orchestrator.ArgumentTypeError`, also a ``TypeError``) or
:func:`~orchestrator._core._checks.wrong_value` (an
:class:`~orchestrator.ArgumentValueError`, also a ``ValueError``).

Strings are never parsed into datetimes: ``"2026-01-01"`` given for a datetime is refused
as a value of the wrong kind, and a naive datetime as a value out of range (it names no
moment until it has a timezone).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, overload

from ._checks import check_id, wrong_type, wrong_value
from ._errors import ArgumentValueError

__all__ = [
    "check_args",
    "check_choice",
    "check_datetime",
    "check_ids",
    "check_instance",
    "check_mapping",
    "check_mapping_of_str",
    "check_optional_datetime",
]

T = TypeVar("T")

_EXAMPLE: str = "such as datetime(2026, 1, 1, tzinfo=UTC)"


# -- datetimes ----------------------------------------------------------------------------------
def _to_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        # The wording existing callers document (and tests match): "<name> <iso> has no
        # timezone"; it says what to pass, as the shared shape does.
        raise ArgumentValueError(
            f"{name} {value.isoformat()} has no timezone; pass an aware datetime, "
            "for example datetime(..., tzinfo=datetime.UTC)"
        )
    if value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise wrong_value(name, value, "a datetime that is within years 1..9999 in UTC") from None


def check_datetime(value: object, name: str) -> datetime:
    """Return ``value`` in UTC if it is an aware :class:`~datetime.datetime`.

    Strings and dates are refused (nothing is parsed), and so are naive datetimes.

    Example:
        >>> from datetime import timedelta, timezone
        >>> check_datetime(datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), "when")
        datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if isinstance(value, datetime):
        return _to_utc(value, name)
    raise wrong_type(name, value, f"an aware datetime, {_EXAMPLE}")


def check_optional_datetime(value: object, name: str) -> datetime | None:
    """Return None, or ``value`` in UTC as :func:`check_datetime` would."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _to_utc(value, name)
    raise wrong_type(name, value, f"an aware datetime or None, {_EXAMPLE}")


# -- mappings -----------------------------------------------------------------------------------
def check_mapping(value: object, name: str) -> Mapping[str, Any]:
    """Return ``value`` if it is a mapping whose keys are strings (parameters, inputs).

    Example:
        >>> check_mapping({"x": 1}, "parameters")
        {'x': 1}
    """
    if not isinstance(value, Mapping):
        raise wrong_type(name, value, "a mapping with string keys, such as {'x': 1}")
    for key in value:
        if not isinstance(key, str):
            raise wrong_type(f"every key of {name}", key, "a string")
    return value


@overload
def check_mapping_of_str(
    value: object, name: str, *, none_values: Literal[False] = False
) -> dict[str, str]: ...


@overload
def check_mapping_of_str(
    value: object, name: str, *, none_values: Literal[True]
) -> dict[str, str | None]: ...


def check_mapping_of_str(
    value: object, name: str, *, none_values: bool = False
) -> dict[str, str] | dict[str, str | None]:
    """Return a copy of ``value`` if it maps strings to strings (labels, an environment).

    With ``none_values`` a value may also be None (an update where None removes a key).
    A value that is not a string is refused naming its key: ``environ['A'] must be a
    string, got 1``, since a process environment or a label holds text only.

    Example:
        >>> check_mapping_of_str({"A": "1"}, "environ")
        {'A': '1'}
    """
    if not isinstance(value, Mapping):
        raise wrong_type(name, value, "a mapping of strings to strings, such as {'team': 'a'}")
    result: dict[str, str | None] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise wrong_type(f"every key of {name}", key, "a string")
        if not isinstance(item, str) and not (none_values and item is None):
            expected = "a string or None (None removes it)" if none_values else "a string"
            raise wrong_type(f"{name}[{key!r}]", item, expected)
        result[key] = item
    return result


# -- collections and calls ----------------------------------------------------------------------
def check_ids(values: object, name: str, *, item: str) -> tuple[uuid.UUID, ...]:
    """Return a collection of ids (UUIDs or their string forms) as a tuple of UUIDs.

    ``item`` names one element in messages (``"every id in slot_override"``). A bare
    string is refused: it would otherwise read as a list of one-character ids.
    """
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        expected = "a collection of ids, such as [run.id]"
        raise wrong_type(name, values, expected, bare_string=isinstance(values, str))
    return tuple(check_id(value, item, text=True) for value in values)


def check_args(value: object, name: str = "args") -> tuple[Any, ...]:
    """Return the positional arguments of a call as a tuple: a list or a tuple of them.

    A string or a mapping is refused (``args="ab"`` would pass two one-letter arguments,
    ``args={"x": 1}`` the key only): pass keyword arguments as ``kwargs``.
    """
    if isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    raise wrong_type(
        name, value, "a list or tuple of positional arguments", bare_string=isinstance(value, str)
    )


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of the strings ``choices`` (an event loop, a mode).

    Example:
        >>> check_choice("trio", "backend", ("asyncio", "trio"))
        'trio'
    """
    if isinstance(value, str) and value in choices:
        return value
    expected = " or ".join(repr(choice) for choice in choices)
    if isinstance(value, str):
        raise wrong_value(name, value, expected)
    raise wrong_type(name, value, expected)


# -- kinds of object ----------------------------------------------------------------------------
def check_instance(value: object, kind: type[T], name: str, *, expected: str = "") -> T:
    """Return ``value`` if it is an instance of ``kind``.

    ``expected`` replaces the "what to pass" phrase (``"a TaskRunPolicy"`` by default).

    Example:
        >>> check_instance(3, int, "limit")
        3
    """
    if isinstance(value, kind):
        return value
    if not expected:
        article = "an" if kind.__name__[:1] in "AEIOUaeiou" else "a"
        expected = f"{article} {kind.__name__}"
    raise wrong_type(name, value, expected)

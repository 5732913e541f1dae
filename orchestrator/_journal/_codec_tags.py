"""The codec's plain tags, each a small function: what is encoded as ``{"$tag": ...}``
and decoded back, with the codec's two helper classes (see :mod:`._codec`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, final

from .._core._drawn_keys import DRAWN_KEY

__all__ = [
    "Other",
    "Refused",
    "decode_datetime",
    "decode_dict",
    "decode_drawn",
    "decode_frozenset",
    "decode_other",
    "decode_set",
    "decode_timedelta",
    "decode_tuple",
    "decode_uuid",
    "default_getstate",
    "drawn",
    "timedelta_tag",
    "uuid_tag",
]


class Refused(Exception):
    """A value the serializer refused, with the path to it (built on the way out)."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(reason)
        self.value_type = f"{type(value).__module__}.{type(value).__qualname__}"
        self.reason = reason
        self.path: list[str] = []


@final
class Other:
    """A value a positional record found in a slot not of the slot's usual type
    (``{"$o": value}``), kept apart so the record's decoder takes it as it is."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def default_getstate(value: Any) -> dict[str, Any]:
    state: dict[str, Any] = value.__getstate__()
    if state.__class__ is not dict:
        raise TypeError(f"{type(value).__qualname__}.__getstate__() did not return a dict")
    return state


def uuid_tag(value: uuid.UUID) -> Any:
    return {"$u": value.hex}


def timedelta_tag(value: timedelta) -> Any:
    return {"$td": [value.days, value.seconds, value.microseconds]}


def drawn(value: object) -> Any:
    return {"$k": "drawn"}


def decode_uuid(obj: dict[str, Any]) -> Any:
    return uuid.UUID(hex=obj["$u"])


def decode_datetime(obj: dict[str, Any]) -> Any:
    return datetime.fromisoformat(obj["$dt"])


def decode_timedelta(obj: dict[str, Any]) -> Any:
    days, seconds, microseconds = obj["$td"]
    return timedelta(days=days, seconds=seconds, microseconds=microseconds)


def decode_tuple(obj: dict[str, Any]) -> Any:
    return tuple(obj["$t"])


def decode_set(obj: dict[str, Any]) -> Any:
    return set(obj["$s"])


def decode_frozenset(obj: dict[str, Any]) -> Any:
    return frozenset(obj["$fs"])


def decode_dict(obj: dict[str, Any]) -> Any:
    return dict(obj["$m"])


def decode_other(obj: dict[str, Any]) -> Any:
    return Other(obj["$o"])


def decode_drawn(obj: dict[str, Any]) -> Any:
    if obj["$k"] != "drawn":
        raise ValueError(f"unknown key marker {obj['$k']!r}")
    return DRAWN_KEY

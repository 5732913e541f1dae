"""Serializers: how the journal turns user values (results, parameters, errors) into bytes.

The package's own records (runs, states, flows, ...) are written by the wire and the
codec as plain values; every other value, such as a task's result, a run's parameters or
the exception in a Failed state, goes through the journal's :class:`Serializer`.

Trust: :class:`PickleSerializer`, the default, can store nearly any value, and reading a
pickled value runs code, so a journal written with it is as trusted as code: open only
journals you or your own programs wrote. :class:`JsonSerializer` stores JSON values only
(None, bools, numbers, strings, lists and str-keyed dicts; a tuple comes back as a list)
and never runs code when read.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Final, Protocol, final, runtime_checkable

from .._core._checks import check_count, wrong_value

__all__ = ["JsonSerializer", "PickleSerializer", "Serializer"]


@runtime_checkable
class Serializer(Protocol):
    """Turns a value into bytes and back; ``loads(dumps(value))`` should equal ``value``.

    ``dumps`` raises (any exception) for a value it cannot store; the journal reports
    that as a :class:`~orchestrator.JournalSerializationError` naming the value.
    """

    def dumps(self, value: Any) -> bytes:
        """Return ``value`` as bytes."""
        ...

    def loads(self, data: bytes) -> Any:
        """Return the value that ``dumps`` turned into ``data``."""
        ...


@final
class PickleSerializer:
    """Values as pickles (the default): nearly anything, but reading one runs code.

    Args:
        protocol: the pickle protocol (default: ``pickle.HIGHEST_PROTOCOL``).
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        check_count(
            protocol, "protocol", expected=f"an integer from 0 to {pickle.HIGHEST_PROTOCOL}"
        )
        if protocol > pickle.HIGHEST_PROTOCOL:
            raise wrong_value(
                "protocol", protocol, f"an integer from 0 to {pickle.HIGHEST_PROTOCOL}"
            )
        self._protocol = protocol

    def dumps(self, value: Any) -> bytes:
        """Return ``value`` pickled."""
        return pickle.dumps(value, protocol=self._protocol)

    def loads(self, data: bytes) -> Any:
        """Return the value pickled in ``data`` (this runs code: trust the journal)."""
        return pickle.loads(data)

    def __repr__(self) -> str:
        return f"PickleSerializer(protocol={self._protocol})"


_ENCODE: Final = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


@final
class JsonSerializer:
    """Values as JSON text: JSON values only, and reading them never runs code.

    Tuples come back as lists; NaN and the infinities, bytes, sets and other objects are
    refused (``dumps`` raises), so a value never comes back different in kind.
    """

    __slots__ = ()

    def dumps(self, value: Any) -> bytes:
        """Return ``value`` as UTF-8 JSON text.

        Raises:
            TypeError: a value that is not JSON (``ValueError`` for NaN and infinities).
        """
        return _ENCODE(value).encode()

    def loads(self, data: bytes) -> Any:
        """Return the value of the JSON text ``data``."""
        return json.loads(data)

    def __repr__(self) -> str:
        return "JsonSerializer()"

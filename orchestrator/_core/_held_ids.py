"""How a State holds its id: a plain UUID as its 128-bit int (see ``State.id``).

A committed state's id then costs a 44-byte int instead of that int plus a 56-byte
UUID. :class:`StateIdSlot` is the ``State.id`` attribute that converts on write and
builds the UUID on read; the store's state-id index is keyed by the ints
(:func:`state_id_key` turns a caller's id into such a key).
"""

from __future__ import annotations

import uuid
from typing import Any, Final, final

__all__ = ["StateIdSlot", "state_id_key", "uuid_from_int"]

_new_object: Final = object.__new__
_SAFE_UNKNOWN: Final = uuid.SafeUUID.unknown
_set_attribute: Final = object.__setattr__


def uuid_from_int(value: int) -> uuid.UUID:
    """Return ``uuid.UUID(int=value)`` without ``UUID.__init__``'s argument parsing.

    Only for a 128-bit ``value`` (one a UUID gave, or the engine drew).
    """
    new: uuid.UUID = _new_object(uuid.UUID)
    _set_attribute(new, "int", value)
    _set_attribute(new, "is_safe", _SAFE_UNKNOWN)
    return new


@final
class _OtherId:
    """A state id that is neither None nor a plain ``uuid.UUID``, kept as it was given.

    Such an id (a UUID subclass, or a wrong type that ``check_state`` refuses) is read
    back unchanged; only plain UUIDs are held as their 128-bit int.
    """

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


@final
class StateIdSlot:
    """The ``State.id`` attribute: a plain UUID is held as its 128-bit int.

    A committed state's id costs a 44-byte int instead of that int plus a 56-byte UUID.
    Reading ``state.id`` builds the UUID (equal, and hashing equal, to the one given);
    writing it (``__init__``, ``attrs.evolve``, unpickling) stores the int. None stays None.
    """

    __slots__ = ("_delete", "_get", "_set", "raw")

    def __init__(self, slot: Any) -> None:
        #: The slot's own member descriptor (what the state holds, unconverted).
        self.raw = slot
        # The slot's own member descriptor's methods, bound once.
        self._get = slot.__get__
        self._set = slot.__set__
        self._delete = slot.__delete__

    def __get__(self, state: object, owner: type | None = None) -> Any:
        if state is None:
            return self
        value = self._get(state, owner)
        if value is None:  # a proposal's, the commonest read
            return None
        if value.__class__ is int:
            return uuid_from_int(value)
        return value.value  # an _OtherId

    def __set__(self, state: object, value: object) -> None:
        if value.__class__ is uuid.UUID:
            value = value.int
        elif value is not None:
            value = _OtherId(value)
        self._set(state, value)

    def __delete__(self, state: object) -> None:
        self._delete(state)


def state_id_key(state_id: object) -> Any:
    """The index key of a state id as a caller passes it (see :func:`state_key`).

    A UUID (or subclass) becomes its int; anything else a 1-tuple, equal to no int key.
    """
    if isinstance(state_id, uuid.UUID):
        return state_id.int
    return (state_id,)

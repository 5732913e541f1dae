"""Drawn dynamic keys: the key a task run gets when none is given, derived, not kept.

When a run is created without a dynamic key its key is ``"<task key>-<run id hex>"``.
The run holds :data:`DRAWN_KEY` instead of that 88-byte string, and
:class:`DynamicKeySlot`, the ``TaskRun.dynamic_key`` attribute, builds the string on
each read (always the same one). The store files no identity entry for such a run.
"""

from __future__ import annotations

from typing import Any, Final, final

__all__ = ["DRAWN_KEY", "DynamicKeySlot"]


@final
class _DrawnKey:
    """What a task run holds for a dynamic key the engine drew: ``"<task key>-<id hex>"``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DRAWN_KEY"


#: Passed as ``TaskRun(dynamic_key=DRAWN_KEY)``: the key is ``f"{task_key}-{id.hex}"``,
#: built when read instead of kept (an 88-byte string per run), and the store files no
#: identity entry for it (see ``orchestrator._store._task_keys.drawn_key_run``).
DRAWN_KEY: Final[Any] = _DrawnKey()


@final
class DynamicKeySlot:
    """The ``TaskRun.dynamic_key`` attribute: a drawn key is derived when read.

    Every read of a drawn key returns an equal string; any other key is kept as given.
    """

    __slots__ = ("_slot",)

    def __init__(self, slot: Any) -> None:
        self._slot = slot  # the slot's own member descriptor

    @property
    def raw(self) -> Any:
        """The slot's own member descriptor (the key or marker the run holds)."""
        return self._slot

    def __get__(self, run: Any, owner: type | None = None) -> Any:
        if run is None:
            return self
        key = self._slot.__get__(run, owner)
        if key is DRAWN_KEY:
            return f"{run.task_key}-{run.id.hex}"
        return key

    def __set__(self, run: object, key: object) -> None:
        self._slot.__set__(run, key)

    def __delete__(self, run: object) -> None:
        self._slot.__delete__(run)

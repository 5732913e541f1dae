"""The result store, and the parameters of background task runs kept in it.

Each :class:`~orchestrator.Orchestrator` owns one :class:`ResultStore`: an in-memory
mapping from string keys to Python objects. Values are kept as they are (no
serialisation), so a worker reads back the very objects a submitter stored.

Submitting a task stores its bound arguments under a fresh ``task_parameters_id``
(:func:`store_parameters`) and records that id on the run's Scheduled state; the worker
that claims the run reads them back (:func:`read_parameters`) when
:func:`should_try_to_read_parameters` says the task needs them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, final

import attrs

from .._core._checks import check_id, check_text, wrong_type
from .._core._errors import InvalidArgument, ObjectNotFound

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from .._core._tasks import Task

__all__ = [
    "ResultStore",
    "ResultStoreStatistics",
    "parameters_key",
    "read_parameters",
    "should_try_to_read_parameters",
    "store_parameters",
]

_PARAMETERS_PREFIX: Final = "parameters/"


@final
@attrs.frozen(kw_only=True)
class ResultStoreStatistics:
    """Counts describing a :class:`ResultStore` at one moment.

    Attributes:
        entries: how many keys the store holds now.
        writes: how many writes it has taken since it was built.
        reads: how many successful reads it has served.
        deletes: how many keys it has deleted.
    """

    entries: int
    writes: int
    reads: int
    deletes: int


@final
class ResultStore:
    """An in-memory store of Python objects by string key, safe from any thread.

    Every operation costs O(1). Values are stored by reference: the store neither copies
    nor serialises them.

    Example:
        >>> store = ResultStore()
        >>> store.write("answer", 42)
        >>> store.read("answer")
        42
        >>> store.exists("question")
        False
    """

    __slots__ = ("_deletes", "_lock", "_reads", "_values", "_writes", "on_change")

    def __init__(self) -> None:
        #: Told ``(key, value, deleted)`` before each write or delete (a journaled
        #: orchestrator's journal); when it raises, nothing changes.
        self.on_change: Callable[[str, Any, bool], None] | None = None
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._writes = 0
        self._reads = 0
        self._deletes = 0

    def write(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``, replacing what was there.

        Raises:
            InvalidArgument: ``key`` is not a non-empty string.
        """
        check_text(key, "a result store key")
        if self.on_change is not None:
            self.on_change(key, value, False)
        with self._lock:
            self._values[key] = value
            self._writes += 1

    def read(self, key: str) -> Any:
        """Return the value stored under ``key``.

        Raises:
            ObjectNotFound: nothing is stored under ``key`` (also a KeyError).
            InvalidArgument: ``key`` is not a non-empty string.
        """
        check_text(key, "a result store key")
        with self._lock:
            try:
                value = self._values[key]
            except KeyError:
                raise ObjectNotFound(
                    "result", key, "it was never written, or it was deleted"
                ) from None
            self._reads += 1
        return value

    def exists(self, key: str) -> bool:
        """Return whether something is stored under ``key``."""
        check_text(key, "a result store key")
        return key in self._values

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        """Remove ``key`` and its value.

        Args:
            key: the key to remove.
            missing_ok: when True, a missing key is not an error.

        Raises:
            ObjectNotFound: nothing is stored under ``key`` and ``missing_ok`` is False.
        """
        check_text(key, "a result store key")
        if self.on_change is not None and key in self._values:
            self.on_change(key, None, True)
        with self._lock:
            if self._values.pop(key, _MISSING) is _MISSING:
                if missing_ok:
                    return
                raise ObjectNotFound("result", key, "it was never written, or it was deleted")
            self._deletes += 1

    def entries(self) -> list[tuple[str, Any]]:
        """Every ``(key, value)`` stored now (a copy of the list, for a journal's image)."""
        with self._lock:
            return list(self._values.items())

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def statistics(self) -> ResultStoreStatistics:
        """Return how many entries the store holds and how it has been used."""
        with self._lock:
            return ResultStoreStatistics(
                entries=len(self._values),
                writes=self._writes,
                reads=self._reads,
                deletes=self._deletes,
            )

    def __repr__(self) -> str:
        return f"<ResultStore entries={len(self._values)}>"


_MISSING: Final = object()


def parameters_key(identifier: uuid.UUID) -> str:
    """Return the result-store key of the parameters stored under ``identifier``."""
    return _PARAMETERS_PREFIX + str(identifier)


def store_parameters(
    result_store: ResultStore, identifier: uuid.UUID, parameters: Mapping[str, Any]
) -> None:
    """Store the parameters of a task run in the result store.

    A shallow copy of ``parameters`` is stored, so later changes to the caller's mapping
    do not reach the run; the values themselves are stored by reference.

    Args:
        result_store: the store to write to (the orchestrator's ``result_store``).
        identifier: the run's ``task_parameters_id``.
        parameters: argument names mapped to their values.

    Raises:
        InvalidArgument: ``identifier`` is not a UUID, or ``parameters`` is not a mapping
            with string keys.
    """
    check_id(identifier, "a parameters identifier")
    if not isinstance(parameters, Mapping):
        raise wrong_type("parameters", parameters, "a mapping of argument names to values")
    stored = dict(parameters)
    for name in stored:
        if not isinstance(name, str):
            raise wrong_type("parameter names", name, "strings")
    result_store.write(parameters_key(identifier), stored)


def read_parameters(result_store: ResultStore, identifier: uuid.UUID) -> dict[str, Any]:
    """Read the parameters of a task run back from the result store.

    Args:
        result_store: the store to read from.
        identifier: the run's ``task_parameters_id``.

    Returns:
        A new dict of argument names to values (changing it does not change the store).

    Raises:
        ObjectNotFound: no parameters are stored under ``identifier``.
        InvalidArgument: ``identifier`` is not a UUID, or what is stored there is not a
            parameters mapping.
    """
    check_id(identifier, "a parameters identifier")
    key = parameters_key(identifier)
    try:
        stored = result_store.read(key)
    except ObjectNotFound:
        raise ObjectNotFound(
            "task parameters",
            identifier,
            "they were never stored, or were deleted with their run",
        ) from None
    if not isinstance(stored, dict):
        raise InvalidArgument(
            f"the value stored under {key!r} is not a parameters mapping: {stored!r}"
        )
    return dict(stored)


def should_try_to_read_parameters(task: Task[..., Any], task_run: TaskRun) -> bool:
    """Return whether a worker must read a run's parameters before calling the task.

    True when the task's function takes parameters and the run's current state carries
    a ``task_parameters_id``.

    Args:
        task: the task the run executes.
        task_run: the run, as read from the orchestrator.
    """
    if not task.takes_parameters:
        return False
    state = task_run.state
    return state is not None and state.details.task_parameters_id is not None

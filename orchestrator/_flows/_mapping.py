"""Mapping a task over iterables: one task run per element, and the list of their futures.

``task.map(xs, ys, z=unmapped(v))`` binds the arguments to the task's parameters, maps
over every parameter whose value is iterable (strings, bytes, dicts' keys aside: a
string or bytes value is passed whole, as Prefect does) and passes the others, and any
value wrapped in :class:`unmapped`, whole to every run. The iterables must have the same
length. The futures come back as a :class:`TaskRunFutureList`, a list that can also wait
for all of them and gather their results.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any, Generic, Literal, TypeVar, final, overload

from .._core._checks import wrong_value
from .._core._states import State
from .._engine._futures import TaskRunFuture

__all__ = ["TaskRunFutureList", "map_parameters", "unmapped"]

T = TypeVar("T")
R = TypeVar("R")


@final
class unmapped(Generic[T]):  # noqa: N801 - Prefect's name, so its code ports unchanged
    """Pass ``value`` whole to every run of a ``map``, even when it is iterable."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value: T = value
        """The value every run receives."""

    def __getitem__(self, _: object) -> T:
        return self.value

    def __repr__(self) -> str:
        return f"unmapped({self.value!r})"


def _mappable(value: object) -> bool:
    if isinstance(value, unmapped | str | bytes | bytearray | io.IOBase | TaskRunFuture):
        return False
    return isinstance(value, Iterable)


def map_parameters(task_name: str, bound: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The parameters of each run of a map over ``bound``, in order.

    Raises:
        InvalidArgument: no parameter is iterable, or the iterables' lengths differ
            (nothing is created).
    """
    mapped = {name: list(value) for name, value in bound.items() if _mappable(value)}
    if not mapped:
        raise wrong_value(
            "map arguments",
            sorted(bound),
            f"at least one iterable argument to map {task_name!r} over",
        )
    lengths = {name: len(values) for name, values in mapped.items()}
    if len(set(lengths.values())) > 1:
        raise wrong_value(
            "map arguments",
            lengths,
            "iterables of one length (wrap a value in unmapped(...) to pass it whole)",
        )
    count = next(iter(lengths.values()))
    static = {
        name: value.value if isinstance(value, unmapped) else value
        for name, value in bound.items()
        if name not in mapped
    }
    runs = [
        {**static, **{name: values[index] for name, values in mapped.items()}}
        for index in range(count)
    ]
    # Keep the signature's order of parameters in every run's dict.
    order = list(bound)
    return iter([{name: run[name] for name in order} for run in runs])


@final
class TaskRunFutureList(list[TaskRunFuture[R]]):
    """The futures of a ``map``: a list that can wait for all of them and gather results."""

    def wait(self, timeout: float | None = None) -> None:
        """Block until every run settled (or ``timeout`` seconds passed)."""
        for future in self:
            future.wait(timeout)

    @overload
    def result(
        self, timeout: float | None = None, raise_on_failure: Literal[True] = True
    ) -> list[R]: ...

    @overload
    def result(
        self, timeout: float | None = None, raise_on_failure: bool = True
    ) -> list[R | Exception]: ...

    def result(
        self, timeout: float | None = None, raise_on_failure: bool = True
    ) -> list[R] | list[R | Exception]:
        """Every run's result, in order (raising the first failure unless told not to).

        With ``raise_on_failure=False`` a failed run's place holds its exception.
        """
        return [future.result(timeout, raise_on_failure) for future in self]

    def states(self) -> list[State]:
        """Every run's current state, in order."""
        return [future.state for future in self]

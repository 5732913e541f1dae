"""Upstream runs: futures and states passed to a task, waited for and replaced by results.

A future passed as an argument (alone, or inside a list, tuple, set, frozenset or the
values of a dict, at any depth) is a data dependency; ``wait_for=[...]`` adds ordering
dependencies that pass no data. Before a run starts, every upstream run is waited for;
then each future (and each :class:`~orchestrator.State` passed as an argument) is
replaced by its result. When an upstream run did not complete, the run does not run:
it is left PENDING with the name ``NotReady`` and a message naming the upstream run, as
Prefect does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .._core._states import State, StateType
from .._engine._futures import TaskRunFuture

__all__ = ["find_futures", "not_ready_message", "substitute"]

_COLLECTIONS = (list, tuple, set, frozenset)


def find_futures(values: Iterable[Any]) -> list[TaskRunFuture[Any]]:
    """Every future inside ``values`` (and inside their collections), each once, in order."""
    found: dict[int, TaskRunFuture[Any]] = {}
    for future in _walk(values):
        found.setdefault(id(future), future)
    return list(found.values())


def _walk(values: Iterable[Any]) -> Iterator[TaskRunFuture[Any]]:
    for value in values:
        if isinstance(value, TaskRunFuture):
            yield value
        elif isinstance(value, _COLLECTIONS):
            yield from _walk(value)
        elif type(value) is dict:
            yield from _walk(value.values())


def not_ready_message(futures: Iterable[TaskRunFuture[Any]], states: Iterable[State]) -> str | None:
    """Why the run cannot start (an upstream run or state that did not complete), or None."""
    for future in futures:
        state = future.state
        if state.type is not StateType.COMPLETED:
            return (
                f"Upstream task run '{future.task_run_id}' did not reach a 'COMPLETED' "
                f"state: it is {state.name}"
            )
    for state in states:
        if state.type is not StateType.COMPLETED:
            return f"An upstream state passed as an argument is {state.name}, not COMPLETED"
    return None


def find_states(values: Iterable[Any]) -> list[State]:
    """Every State passed inside ``values`` (a state stands for its run's result)."""
    found: list[State] = []
    for value in values:
        if isinstance(value, State):
            found.append(value)
        elif isinstance(value, _COLLECTIONS):
            found.extend(find_states(value))
        elif type(value) is dict:
            found.extend(find_states(value.values()))
    return found


def substitute(value: Any) -> Any:
    """``value`` with every settled future and every state replaced by its result.

    Only called once every upstream run completed, so each result is there.
    """
    if isinstance(value, TaskRunFuture):
        return value.state.data
    if isinstance(value, State):
        return value.data
    if isinstance(value, list):  # a list of futures from map() becomes a plain list
        return [substitute(item) for item in value]
    if isinstance(value, tuple):
        items = (substitute(item) for item in value)
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, frozenset):
        return frozenset(substitute(item) for item in value)
    if isinstance(value, set):
        return {substitute(item) for item in value}
    if type(value) is dict:
        return {key: substitute(item) for key, item in value.items()}
    return value

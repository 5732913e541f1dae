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

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._core._states import State, StateType
from .._engine._futures import TaskRunFuture

__all__ = ["find_futures", "find_states", "not_ready_message", "replace_leaves", "substitute"]

_COLLECTIONS = (list, tuple, set, frozenset)


def _leaves(values: Iterable[Any]) -> Iterator[Any]:
    """Every future and state inside ``values`` (at any depth of their collections)."""
    for value in values:
        if isinstance(value, TaskRunFuture | State):
            yield value
        elif isinstance(value, _COLLECTIONS):
            yield from _leaves(value)
        elif type(value) is dict:
            yield from _leaves(value.values())


def find_futures(values: Iterable[Any]) -> list[TaskRunFuture[Any]]:
    """Every future inside ``values`` (and inside their collections), each once, in order."""
    found: dict[int, TaskRunFuture[Any]] = {}
    for leaf in _leaves(values):
        if isinstance(leaf, TaskRunFuture):
            found.setdefault(id(leaf), leaf)
    return list(found.values())


def find_states(values: Iterable[Any]) -> list[State]:
    """Every State passed inside ``values`` (a state stands for its run's result)."""
    return [leaf for leaf in _leaves(values) if isinstance(leaf, State)]


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


def replace_leaves(
    value: Any, replace: Callable[[Any], Any], *, sets_as_lists: bool = False
) -> Any:
    """``value`` with every future and state inside it replaced by ``replace(leaf)``.

    Collections are rebuilt (a list subclass, such as map()'s futures, as a plain list;
    a named tuple as its own type); ``sets_as_lists`` rebuilds sets as lists, for
    replacements that need not be hashable (states).
    """
    if isinstance(value, TaskRunFuture | State):
        return replace(value)
    if isinstance(value, list):
        return [replace_leaves(item, replace, sets_as_lists=sets_as_lists) for item in value]
    if isinstance(value, tuple):
        parts = [replace_leaves(item, replace, sets_as_lists=sets_as_lists) for item in value]
        return type(value)(*parts) if hasattr(value, "_fields") else tuple(parts)
    if isinstance(value, set | frozenset):
        items = [replace_leaves(item, replace, sets_as_lists=sets_as_lists) for item in value]
        if sets_as_lists:
            return items
        return frozenset(items) if isinstance(value, frozenset) else set(items)
    if type(value) is dict:
        return {
            key: replace_leaves(item, replace, sets_as_lists=sets_as_lists)
            for key, item in value.items()
        }
    return value


def _result(leaf: TaskRunFuture[Any] | State) -> Any:
    return leaf.state.data if isinstance(leaf, TaskRunFuture) else leaf.data


def substitute(value: Any) -> Any:
    """``value`` with every settled future and every state replaced by its result.

    Only called once every upstream run completed, so each result is there.
    """
    return replace_leaves(value, _result)

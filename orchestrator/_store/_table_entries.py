"""The keys a :class:`~orchestrator._store._table.RunTable` files its runs under.

:func:`check_sort_key` refuses a value a sorted index could not order, before the table
notes it there. :func:`sorted_entries`, :func:`set_entries` and :func:`tag_entries` list
every run's entries in one index of a table, :func:`partition_entries` in one
partitioned index: what a dormant index is built from when a
query first reads it (see :class:`~orchestrator._core._indexes.SortedIndex` and
:class:`~orchestrator._core._set_index.SetIndex`).
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

from .._core._models import FlowRun, TaskRun
from ._table_checks import state_key

if TYPE_CHECKING:
    from ._table import RunTable

__all__ = [
    "check_sort_key",
    "partition_entries",
    "set_entries",
    "sort_key_of",
    "sorted_entries",
    "tag_entries",
]

R = TypeVar("R", TaskRun, FlowRun)


def sorted_entries(table: RunTable[R], name: str) -> list[tuple[Any, int, R]]:
    """Every run's entry in the sorted index of ``name``: what wakes it. O(n)."""
    seq = table.seq
    if name == "id":
        return [(run.id.int, seq[run], run) for run in table.runs.values()]
    key = attrgetter(name)
    return [(key(run), seq[run], run) for run in table.runs.values()]


def sort_key_of(name: str, run: Any) -> Any:
    """The key ``run`` is filed under in the sorted index of ``name`` (an id as its int)."""
    return run.id.int if name == "id" else getattr(run, name)


def partition_entries(
    table: RunTable[R], part: str, name: str, value: Any
) -> list[tuple[Any, int, R]]:
    """The entries of the runs whose ``part`` is ``value`` in their partitioned index of
    ``name``: what builds that partition. O(m) for m such runs."""
    seq = table.seq
    runs = table.sets[part].get(value)
    if name == "id":
        return [(run.id.int, seq[run], run) for run in runs]
    key = attrgetter(name)
    return [(key(run), seq[run], run) for run in runs]


def set_entries(table: RunTable[R], name: str) -> list[tuple[Any, R]]:
    """Every run's entry in the set index of ``name``: what wakes it. O(n)."""
    if name == "state_type":  # keyed by the type's value (see state_key)
        return [(state_key(run.state_type), run) for run in table.runs.values()]
    key = attrgetter(name)
    return [(key(run), run) for run in table.runs.values()]


def tag_entries(table: RunTable[R]) -> list[tuple[str, R]]:
    """Every (tag, run) pair: what wakes the tag index. O(n)."""
    return [(tag, run) for run in table.runs.values() for tag in run.tags]


def check_sort_key(name: str, value: Any) -> None:
    """Refuse a value its sorted index could not order, before it is noted there.

    Sorted indexes file their writes when next read (see :mod:`orchestrator._core._indexes`),
    where an unorderable key could no longer be refused: ``name`` takes a string, every
    other sorted field an aware datetime (or None).

    Raises:
        TypeError: naming the field and the value (the change it came with is undone).
    """
    if value is None:
        return
    if name == "name":
        if isinstance(value, str):
            return
        expected = "a string"
    else:
        if isinstance(value, datetime) and value.utcoffset() is not None:
            return
        expected = "an aware datetime or None"
    raise TypeError(f"{name} must be {expected} to be indexed, got {value!r}")

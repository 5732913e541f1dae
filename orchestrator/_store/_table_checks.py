"""Checking a :class:`~orchestrator._store._table.RunTable` against its runs.

:func:`check_table` recomputes every awake index of a table from its ``runs`` and
compares, naming the index, the run and both values on the first difference, the awake
partitioned indexes included. A dormant index holds nothing to compare: its first read
builds it from the runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._partitions import PartitionedIndex
    from ._table import RunTable

__all__ = ["check_table", "state_key"]


def state_key(state_type: Any) -> str | None:
    """Return the ``state_type`` index key of a StateType (its value) or None."""
    return None if state_type is None else str(state_type._value_)


def check_table(table: RunTable[Any]) -> None:
    """Recompute every index from ``runs`` and compare. O(n log n).

    Raises:
        AssertionError: naming the index, the run and both values on a difference.
    """
    kind = table.kind
    if len(table.seq) != len(table.runs):
        raise AssertionError(
            f"{kind}s: {len(table.seq)} sequence numbers for {len(table.runs)} runs"
        )
    for run_id, run in table.runs.items():
        if run.id != run_id:
            raise AssertionError(f"{kind} filed under id {run_id} has id {run.id}")
        if run not in table.seq:
            raise AssertionError(f"{kind} {run_id} has no sequence number")
    _check_sorted(table, "id", lambda run: run.id.int)
    for name in table.sorted_fields:
        _check_sorted(table, name, attrgetter(name))
    expected: dict[str, dict[Any, set[Any]]] = {name: {} for name in table.sets}
    tags: dict[str, set[Any]] = {}
    untagged: set[Any] = set()
    for run in table.runs.values():
        expected["state_type"].setdefault(state_key(run.state_type), set()).add(run)
        expected["state_name"].setdefault(run.state_name, set()).add(run)
        for name in (*table.set_fields, *table.fixed_set_fields):
            expected[name].setdefault(getattr(run, name), set()).add(run)
        for tag in run.tags:
            tags.setdefault(tag, set()).add(run)
        if not run.tags:
            untagged.add(run)
    # A dormant index holds nothing yet: its first read builds it from the runs.
    for name, index in table.sets.items():
        if not index.dormant:
            _compare_sets(f"{kind} index {name!r}", expected[name], index.as_dict())
    if not table.tags.dormant:
        _compare_sets(f"{kind} tag index", tags, table.tags.as_dict())
    for partitioned in table.partitions.awake:
        _check_partitioned(table, partitioned)
    held = table._untagged
    if held is not None and untagged != held:
        raise AssertionError(
            f"{kind} untagged set differs: missing {_ids(untagged - held)}, "
            f"extra {_ids(held - untagged)}"
        )


def _check_sorted(table: RunTable[Any], name: str, key: Any) -> None:
    index = table.sorted[name]
    if index.dormant:
        return  # it holds nothing yet; its first read builds it from the runs
    seen: dict[Any, tuple[Any, int]] = {}
    previous: tuple[Any, ...] | None = None
    for entry_key, seq, run in index.entries():
        if run in seen:
            raise AssertionError(f"{table.kind} {run.id} is twice in sorted index {name!r}")
        seen[run] = (entry_key, seq)
        if run.id not in table.runs:
            raise AssertionError(
                f"sorted index {name!r} holds {table.kind} {run.id}, which is not in the table"
            )
        actual = key(run)
        if entry_key != actual:
            raise AssertionError(
                f"sorted index {name!r} files {table.kind} {run.id} under {entry_key!r}, "
                f"but its {name} is {actual!r}"
            )
        if seq != table.seq[run]:
            raise AssertionError(
                f"sorted index {name!r} files {table.kind} {run.id} with sequence {seq}, "
                f"expected {table.seq[run]}"
            )
        current = (True, seq) if entry_key is None else (False, entry_key, seq)
        if previous is not None and previous[0] == current[0] and previous >= current:
            raise AssertionError(f"sorted index {name!r} is out of order")
        previous = current
    missing = [run.id for run in table.runs.values() if run not in seen]
    if missing:
        raise AssertionError(f"sorted index {name!r} lacks {table.kind}s {missing}")


def _check_partitioned(table: RunTable[Any], index: PartitionedIndex[Any]) -> None:
    name = index.name
    part = attrgetter(index.part)
    key: Callable[[Any], Any] = (
        (lambda run: run.id.int) if index.field == "id" else attrgetter(index.field)
    )
    seen: set[Any] = set()
    for partition, sorted_index in index.parts.items():
        if not len(sorted_index):
            raise AssertionError(f"partitioned index {name!r} keeps {partition!r} empty")
        previous: tuple[Any, ...] | None = None
        for entry_key, seq, run in sorted_index.entries():
            if run in seen:
                raise AssertionError(f"{table.kind} {run.id} is twice in index {name!r}")
            seen.add(run)
            if run.id not in table.runs or table.runs[run.id] is not run:
                raise AssertionError(f"index {name!r} holds {table.kind} {run.id}: not a table run")
            actual = (part(run), key(run), table.seq[run])
            if (partition, entry_key, seq) != actual:
                raise AssertionError(
                    f"index {name!r} files {table.kind} {run.id} under "
                    f"{(partition, entry_key, seq)!r}, expected {actual!r}"
                )
            current = (True, seq) if entry_key is None else (False, entry_key, seq)
            if previous is not None and previous[0] == current[0] and previous >= current:
                raise AssertionError(f"partition {partition!r} of index {name!r} is out of order")
            previous = current
    # A partition not built holds nothing yet; a built one holds every run of its value.
    built = index.parts
    missing = [run.id for run in table.runs.values() if run not in seen and part(run) in built]
    if missing:
        raise AssertionError(f"index {name!r} lacks {table.kind}s {missing}")


def _ids(runs: Iterable[Any]) -> list[uuid.UUID]:
    return sorted(run.id for run in runs)


def _compare_sets(
    what: str, expected: dict[Any, set[Any]], actual: dict[Any, frozenset[Any]]
) -> None:
    for key in sorted(expected.keys() | actual.keys(), key=repr):
        want = expected.get(key, set())
        have = actual.get(key, frozenset())
        if want != have:
            raise AssertionError(
                f"{what}, key {key!r}: missing {_ids(want - have)}, extra {_ids(have - want)}"
            )

"""Partitioned sorted indexes: one :class:`SortedIndex` per value of an equality field.

A :class:`PartitionedIndex` of a :class:`~orchestrator._store._table.RunTable` keeps,
for a *partition* field (a task run's ``task_key``, a flow run's ``work_queue_name``, ...) and a
sortable field, a dict from each partition value to a sorted index of the runs with that
value, laid out like the table's own sorted indexes (``(key, seq, run)`` entries, None
keys apart, writes noted and filed by the next read). A query ``task_key = K`` sorted by
``expected_start_time`` with a limit then walks the runs of ``K`` only: O(log n + k) for
the ``k`` rows it returns, wherever in the table they lie.

It does not exist until the first query that can use it (:meth:`TablePartitions.get`
creates it), and each partition is built by the first query of its value, from the runs
of the table's equality index for that value (:meth:`PartitionedIndex.get`): until then
the table pays nothing for it, on creation or on writes, and a query pays for the one
partition it reads. Once built, a partition is kept by every add, move and removal. A run
whose partition value changes (a flow run's work queue) leaves its old partition (filed
there at once) and is noted in its new one; a partition left empty is dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, final

from .._core._indexes import SortedIndex
from ._table_entries import partition_entries

if TYPE_CHECKING:
    from ._table import RunTable

__all__ = ["PARTITION_FIELDS", "PartitionedIndex", "TablePartitions"]

#: Equality fields whose runs also get a sorted index per value and sortable field, in a
#: table with an index on them (a flow run's ``flow_id`` is reached through its flow,
#: never by an exact value, so it has none).
PARTITION_FIELDS: Final = ("task_key", "deployment_id", "work_queue_name")

V = TypeVar("V")


@final
class PartitionedIndex(Generic[V]):
    """Values grouped by a partition key, each group sorted by ``(key, seq)``.

    A partition is built by the first :meth:`get` of its value, from ``source``: until
    then writes to it are ignored (it holds nothing), after that it is kept by them.

    Args:
        part: the partition field's name.
        field: the sortable field's name.
        source: ``value -> every (key, seq, value) entry of that partition`` now.
    """

    __slots__ = ("_source", "field", "part", "parts")

    def __init__(
        self, part: str, field: str, source: Callable[[Any], list[tuple[Any, int, V]]]
    ) -> None:
        self.part = part
        self.field = field
        #: Partition value -> the sorted index of its values: the partitions built so far
        #: (one that empties is dropped, and built again when next asked for).
        self.parts: dict[Any, SortedIndex[Any, V]] = {}
        self._source = source

    @property
    def name(self) -> str:
        """``part/field``, for messages."""
        return f"{self.part}/{self.field}"

    def get(self, partition: Any) -> SortedIndex[Any, V] | None:
        """Return the sorted index of ``partition``'s values, or None if it has none.

        O(m log m) the first time for a partition of m values (built from the source),
        O(1) after.
        """
        index = self.parts.get(partition)
        if index is None:
            entries = self._source(partition)
            if not entries:
                return None
            index = self.parts[partition] = SortedIndex()
            index.update(entries)
        return index

    def add(self, partition: Any, key: Any, seq: int, value: V) -> None:
        """File ``value`` under ``key`` in ``partition`` if it is built. O(1) (noted)."""
        index = self.parts.get(partition)
        if index is not None:
            index.add(key, seq, value)

    def remove(self, partition: Any, key: Any, seq: int, value: V) -> None:
        """Take ``value`` out of ``partition`` now, if it is built. O(log n).

        Raises:
            ValueError: no such entry.
        """
        index = self.parts.get(partition)
        if index is None:
            return
        index.remove(key, seq, value)
        if not len(index):
            del self.parts[partition]

    def move(
        self, partition: Any, new_partition: Any, old: Any, new: Any, seq: int, value: V
    ) -> None:
        """Re-file ``value`` from ``(partition, old)`` to ``(new_partition, new)``.

        O(1) (noted) within one partition; O(log n) to leave a partition.
        """
        if partition is new_partition or partition == new_partition:
            index = self.parts.get(partition)
            if index is not None:
                index.move(old, new, seq, value)
            return
        self.remove(partition, old, seq, value)
        self.add(new_partition, new, seq, value)

    def discard(self, partition: Any, key: Any, seq: int, value: V) -> None:
        """Take ``value`` out of ``partition`` if it is filed there; never raises."""
        try:
            index = self.parts.get(partition)
        except TypeError:  # an unhashable value a failed change left
            return
        if index is not None and index.discard(key, seq, value) and not len(index):
            del self.parts[partition]

    def entries(self) -> Iterator[tuple[Any, Any, int, V]]:
        """Yield every ``(partition, key, seq, value)``, each partition in order. O(n)."""
        for partition, index in self.parts.items():
            for key, seq, value in index.entries():
                yield partition, key, seq, value


@final
class TablePartitions(Generic[V]):
    """Every partitioned index of one table, and the writes the table passes on to them.

    One index per partition field of ``table`` (those of :data:`PARTITION_FIELDS` it has
    a set index on) and sortable field (``id`` included), each created and built by the
    first :meth:`get` that asks for it.

    Args:
        table: the table, its fields and sorted fields set.
        fields: the table's snapshot fields, in snapshot order (where a value of a
            snapshot is read from; other fields are fixed, read from the run).
    """

    __slots__ = ("_fields", "_positions", "_table", "awake", "indexes")

    def __init__(self, table: RunTable[Any], fields: tuple[str, ...]) -> None:
        # Nothing is built until a query asks for an index: a table costs the same to
        # create whether or not it is ever queried by partition.
        self._table = table
        self._fields = fields
        self._positions: dict[str, int] = {}
        #: The indexes woken so far, by (partition field, sortable field).
        self.indexes: dict[tuple[str, str], PartitionedIndex[V]] = {}
        #: The same, as a list: the only ones writes reach (empty: writes cost a test).
        self.awake: list[PartitionedIndex[V]] = []

    def get(self, part: str, field: str) -> PartitionedIndex[V] | None:
        """Return the index of ``part``/``field`` (woken now if asleep), or None if none."""
        index = self.indexes.get((part, field))
        if index is not None:
            return index
        table = self._table
        if (
            part not in PARTITION_FIELDS
            or part not in (*table.set_fields, *table.fixed_set_fields)
            or field not in ("id", *table.sorted_fields)
        ):
            return None
        if not self._positions:
            self._positions = {name: position for position, name in enumerate(self._fields)}
        index = PartitionedIndex(
            part, field, functools.partial(partition_entries, table, part, field)
        )
        self.indexes[part, field] = index
        self.awake.append(index)
        return index

    def _value(self, name: str, value: Any, rest: tuple[Any, ...]) -> Any:
        position = self._positions.get(name)
        if position is not None:
            return rest[position]
        return value.id.int if name == "id" else getattr(value, name)

    def add(self, value: V, seq: int, rest: tuple[Any, ...]) -> None:
        """File a new ``value`` (whose snapshot values are ``rest``) in every awake index."""
        get = self._value
        for index in self.awake:
            index.add(get(index.part, value, rest), get(index.field, value, rest), seq, value)

    def remove(self, value: V, seq: int, rest: tuple[Any, ...]) -> None:
        """Take ``value`` (filed under ``rest``) out of every awake index now."""
        get = self._value
        for index in self.awake:
            index.remove(get(index.part, value, rest), get(index.field, value, rest), seq, value)

    def reindex(self, value: V, seq: int, rest0: tuple[Any, ...], rest: tuple[Any, ...]) -> None:
        """Re-file ``value`` whose snapshot values went from ``rest0`` to ``rest``."""
        get = self._value
        for index in self.awake:
            part, field = index.part, index.field
            part0, part1 = get(part, value, rest0), get(part, value, rest)
            key0, key1 = get(field, value, rest0), get(field, value, rest)
            if (part0 is part1 or part0 == part1) and (key0 is key1 or key0 == key1):
                continue
            index.move(part0, part1, key0, key1, seq, value)

    def discard(self, value: V, seq: int, rest: tuple[Any, ...]) -> None:
        """Take ``value`` out of every awake index under ``rest`` where it is; never raises."""
        get = self._value
        for index in self.awake:
            index.discard(get(index.part, value, rest), get(index.field, value, rest), seq, value)

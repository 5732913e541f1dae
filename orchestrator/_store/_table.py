"""One table of runs: the primary dict by id plus every secondary index over it.

A :class:`RunTable` keeps, for one kind of run (task or flow):

* ``runs``: id -> run, in insertion order (the primary data);
* ``seq``: run -> creation sequence number, the tie-breaker of every sort;
* a :class:`~orchestrator._core._indexes.SortedIndex` per sortable attribute (``id`` keyed by
  its integer value, ``name`` and the times), with None values kept apart;
* a :class:`~orchestrator._core._indexes.SetIndex` per equality attribute: ``state_type``
  (keyed by the type's string value: enum hashing is slow), ``state_name`` and the
  table's reference attributes (task key, flow run id, deployment id, ...);
* the tag index (tag -> runs) and the set of untagged runs;
* per partition field (:data:`PARTITION_FIELDS`) and sortable attribute, a sorted index
  per value (:mod:`orchestrator._store._partitions`), asleep until a query wakes it;
* set indexes that no hot path reads (the state ones, the tags, the untagged runs and the
  ``sleeping`` fields) are dormant until a query first reads them, then built from the
  runs in one pass: until then they cost nothing per run or per write;
* optionally, a sorted index per *derived* attribute: a read-only property computed from
  other fields (a flow run's ``effective_start_time``), re-filed like any other sorted
  value when it changes and never written back by :meth:`RunTable.restore`.

The engine mutates runs in place. Before it does, it takes :meth:`RunTable.snapshot`
(the indexed values); after, :meth:`RunTable.reindex` compares and re-files the run only
in the indexes whose key changed. A state change alone costs two O(1) set moves; a
changed time is noted in its sorted index (O(1)), which files it when next read: the
value is checked orderable first (:func:`check_sort_key`), so filing never fails.
``fixed`` attributes (a task run's identity) are indexed at insertion and never re-read:
they must not change. Which values a sorted index accepts and what a dormant index is
built from are in :mod:`orchestrator._store._table_entries`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from operator import attrgetter
from typing import Any, Final, Generic, TypeVar, final

from .._core._errors import ObjectAlreadyExists, ObjectNotFound
from .._core._indexes import SetIndex, SortedIndex, should_shrink, shrink
from .._core._models import FlowRun, TaskRun
from ._partitions import PARTITION_FIELDS, TablePartitions
from ._table_checks import check_table, state_key
from ._table_entries import check_sort_key, set_entries, sorted_entries, tag_entries

__all__ = ["PARTITION_FIELDS", "SORTED_FIELDS", "RunTable", "check_sort_key", "state_key"]

R = TypeVar("R", TaskRun, FlowRun)

#: The sortable attributes, each with a sorted index, besides ``id``.
SORTED_FIELDS: Final = (
    "name",
    "expected_start_time",
    "next_scheduled_start_time",
    "start_time",
    "end_time",
)

_SORTED: Final = 0
_SET: Final = 1
_TAGS: Final = 2


@final
class RunTable(Generic[R]):
    """The runs of one kind and their indexes (see the module docstring).

    Args:
        kind: "task run" or "flow run", for messages.
        set_fields: mutable equality attributes with a set index.
        fixed_set_fields: equality attributes indexed once at insertion.
        derived_sorted_fields: read-only (computed) attributes with a sorted index.
        sleeping: set and fixed set fields whose index sleeps until first read.
    """

    __slots__ = (
        "_derived",
        "_fields",
        "_getter",
        "_kinds",
        "_name_index",
        "_name_sets",
        "_next_seq",
        "_type_index",
        "_type_sets",
        "_untagged",
        "fixed_set_fields",
        "kind",
        "partitions",
        "peak",
        "runs",
        "seq",
        "set_fields",
        "sets",
        "sorted",
        "sorted_fields",
        "tags",
    )

    def __init__(
        self,
        kind: str,
        set_fields: tuple[str, ...],
        fixed_set_fields: tuple[str, ...] = (),
        derived_sorted_fields: tuple[str, ...] = (),
        sleeping: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        #: Every sortable attribute with a sorted index, besides ``id``.
        self.sorted_fields: tuple[str, ...] = (*SORTED_FIELDS, *derived_sorted_fields)
        self._derived = frozenset(derived_sorted_fields)
        self.set_fields = set_fields
        self.fixed_set_fields = fixed_set_fields
        self.runs: dict[uuid.UUID, R] = {}
        self.seq: dict[R, int] = {}
        self._next_seq = 0
        #: The most runs held at once since the last :meth:`compact`.
        self.peak = 0
        # Dormant until a query reads them: an index nobody sorts or ranges by costs
        # nothing per run (see SortedIndex).
        self.sorted: dict[str, SortedIndex[Any, R]] = {
            name: SortedIndex(functools.partial(sorted_entries, self, name))
            for name in ("id", *self.sorted_fields)
        }
        self.sets: dict[str, SetIndex[Any, R]] = {
            name: SetIndex(functools.partial(set_entries, self, name) if asleep else None)
            for name, asleep in (
                ("state_type", True),
                ("state_name", True),
                *((name, name in sleeping) for name in (*set_fields, *fixed_set_fields)),
            )
        }
        self.tags: SetIndex[str, R] = SetIndex(functools.partial(tag_entries, self))
        # None while dormant (see the untagged property).
        self._untagged: set[R] | None = None
        self._fields: tuple[str, ...] = (*self.sorted_fields, *set_fields, "tags")
        self._kinds: tuple[int, ...] = (
            *(_SORTED for _ in self.sorted_fields),
            *(_SET for _ in set_fields),
            _TAGS,
        )
        self._getter = attrgetter(*self._fields)
        #: Sorted indexes per partition value, asleep until a query wakes them.
        self.partitions: TablePartitions[R] = TablePartitions(self, self._fields)
        # The state indexes' own dicts, for the hot path (see _move).
        self._type_index: SetIndex[Any, R] = self.sets["state_type"]
        self._type_sets: dict[str | None, set[R]] = self._type_index.raw
        self._name_index: SetIndex[Any, R] = self.sets["state_name"]
        self._name_sets: dict[str | None, set[R]] = self._name_index.raw

    @property
    def untagged(self) -> set[R]:
        """The runs without tags (live; do not mutate). Built when first read. O(1) after."""
        untagged = self._untagged
        if untagged is None:
            untagged = self._untagged = {run for run in self.runs.values() if not run.tags}
        return untagged

    def __len__(self) -> int:
        """Return the number of runs. O(1)."""
        return len(self.runs)

    # -- insertion and removal ----------------------------------------------------------
    def add(self, run: R) -> None:
        """Insert ``run`` with the next sequence number. O(log n).

        Raises:
            ObjectAlreadyExists: a run with this id is already in the table.
        """
        if run.id in self.runs:
            raise ObjectAlreadyExists(f"{self.kind} {run.id} already exists")
        # One insertion per index: SortedList.update would sort and may rebuild, which
        # only pays for batches.
        seq = self._next_seq
        self._next_seq = seq + 1
        runs = self.runs
        runs[run.id] = run
        if len(runs) > self.peak:
            self.peak = len(runs)
        self.seq[run] = seq
        try:
            sorted_indexes = self.sorted
            sorted_indexes["id"].add(run.id.int, seq, run)
            for name in self.sorted_fields:
                value = getattr(run, name)
                check_sort_key(name, value)
                sorted_indexes[name].add(value, seq, run)
            self._add_to_sets(run)
            if self.partitions.awake:
                self.partitions.add(run, seq, self._getter(run))
        except BaseException:
            # All or nothing: take the run out of the indexes it reached.
            self._discard(run, self.snapshot(run))
            del self.runs[run.id], self.seq[run]
            self._next_seq = seq
            raise

    def add_many(self, runs: Iterable[R]) -> None:
        """Insert many runs (ids must be new); one sort per index. O(m log m + n)."""
        batch: list[tuple[R, int]] = []
        runs_by_id = self.runs
        for run in runs:
            seq = self._next_seq
            self._next_seq = seq + 1
            runs_by_id[run.id] = run
            self.seq[run] = seq
            batch.append((run, seq))
        self.peak = max(self.peak, len(runs_by_id))
        self.sorted["id"].update([(run.id.int, seq, run) for run, seq in batch])
        for name in self.sorted_fields:
            getter = attrgetter(name)
            self.sorted[name].update([(getter(run), seq, run) for run, seq in batch])
        for run, _ in batch:
            self._add_to_sets(run)
        if self.partitions.awake:
            for run, seq in batch:
                self.partitions.add(run, seq, self._getter(run))

    def _add_to_sets(self, run: R) -> None:
        state = run.state
        sets = self.sets
        sets["state_type"].add(None if state is None else state.type._value_, run)
        sets["state_name"].add(None if state is None else state.name, run)
        for name in (*self.set_fields, *self.fixed_set_fields):
            sets[name].add(getattr(run, name), run)
        self._add_tags(run, run.tags)

    def remove(self, run_id: uuid.UUID) -> R:
        """Remove and return the run with this id. O(log n).

        Raises:
            ObjectNotFound: no such run.
        """
        run = self.runs.get(run_id)
        if run is None:
            raise ObjectNotFound(self.kind, run_id)
        seq = self.seq[run]
        try:
            self.sorted["id"].remove(run.id.int, seq, run)
            for name in self.sorted_fields:
                self.sorted[name].remove(getattr(run, name), seq, run)
            self.sets["state_type"].remove(state_key(run.state_type), run)
            self.sets["state_name"].remove(run.state_name, run)
            for name in (*self.set_fields, *self.fixed_set_fields):
                self.sets[name].remove(getattr(run, name), run)
            if self.partitions.awake:
                self.partitions.remove(run, seq, self._getter(run))
            self._remove_tags(run, run.tags)
        except BaseException:
            # All or nothing: file the run again wherever it was taken out.
            self._refile(run, self.snapshot(run))
            raise
        del self.seq[run], self.runs[run_id]
        return run

    def needs_compaction(self) -> bool:
        """Whether deletions have left the table at under a quarter of its peak. O(1)."""
        return should_shrink(len(self.runs), self.peak)

    def compact(self) -> None:
        """Rebuild the dicts and sets in place to fit the runs held now. O(n).

        Dicts and sets keep their memory when entries are deleted: after a mass delete
        this gives it back. The sorted indexes shrink by themselves.
        """
        shrink(self.runs)
        shrink(self.seq)
        if self._untagged is not None:
            shrink(self._untagged)
        for index in self.sets.values():
            index.shrink()
        self.tags.shrink()
        self.peak = len(self.runs)

    def _add_tags(self, run: R, tags: frozenset[str]) -> None:
        if tags:
            for tag in tags:
                self.tags.add(tag, run)
        elif self._untagged is not None:
            self._untagged.add(run)

    def _remove_tags(self, run: R, tags: frozenset[str]) -> None:
        if tags:
            for tag in tags:
                self.tags.remove(tag, run)
        elif self._untagged is not None:
            self._untagged.remove(run)

    # -- the hot path -------------------------------------------------------------------
    def snapshot(self, run: R) -> tuple[Any, tuple[Any, ...]]:
        """Return the run's indexed values, to pass to :meth:`reindex` after a change. O(1)."""
        return run.state, self._getter(run)

    def reindex(self, run: R, before: tuple[Any, tuple[Any, ...]]) -> None:
        """Re-file ``run`` in the indexes whose key changed since ``before``.

        O(1) for state changes (two set moves), O(log n) per changed sortable value.
        """
        state0, rest0 = before
        state = run.state
        if state is not state0:
            key0 = None if state0 is None else state0.type._value_
            key1 = None if state is None else state.type._value_
            if key0 is not key1 and not self._type_index.dormant:
                _move(self._type_sets, key0, key1, run)
            name0 = None if state0 is None else state0.name
            name1 = None if state is None else state.name
            if name0 != name1 and not self._name_index.dormant:
                _move(self._name_sets, name0, name1, run)
        rest = self._getter(run)
        if rest != rest0:
            self._reindex_fields(run, rest0, rest)

    def _reindex_fields(self, run: R, rest0: tuple[Any, ...], rest: tuple[Any, ...]) -> None:
        seq = self.seq[run]
        for name, kind, old, new in zip(self._fields, self._kinds, rest0, rest, strict=True):
            if old is new or old == new:
                continue
            if kind == _SORTED:
                check_sort_key(name, new)
                self.sorted[name].move(old, new, seq, run)
            elif kind == _SET:
                self.sets[name].move(old, new, run)
            else:
                self._remove_tags(run, old)
                self._add_tags(run, new)
        if self.partitions.awake:
            self.partitions.reindex(run, seq, rest0, rest)

    # -- checks -------------------------------------------------------------------------
    def check(self) -> None:
        """Recompute every index from ``runs`` and compare (:func:`check_table`). O(n log n).

        Raises:
            AssertionError: naming the index, the run and both values on a difference.
        """
        check_table(self)

    # -- undoing a change that failed part-way ------------------------------------------
    def restore(self, run: R, before: tuple[Any, tuple[Any, ...]]) -> None:
        """Put back the run's indexed values from the snapshot ``before``, and its entries.

        For a change of ``run`` that failed after it began (while the run's fields were
        set, or while :meth:`reindex` moved it): the run gets its state and indexed
        values back, and every index files it exactly once, under those values.
        O(log n) per index (a scan of an index whose keys the failed values could not
        be compared with).
        """
        attempted = self.snapshot(run)
        state, rest = before
        run.state = state
        derived = self._derived
        for name, value in zip(self._fields, rest, strict=True):
            if name not in derived:
                setattr(run, name, value)
        self._refile(run, attempted)

    def _refile(self, run: R, elsewhere: tuple[Any, tuple[Any, ...]]) -> None:
        """File ``run`` under its current values only: out of ``elsewhere``'s keys, in again."""
        self._discard(run, elsewhere)
        self._discard(run, self.snapshot(run))
        seq = self.seq[run]
        sorted_indexes = self.sorted
        sorted_indexes["id"].add(run.id.int, seq, run)
        for name in self.sorted_fields:
            sorted_indexes[name].add(getattr(run, name), seq, run)
        self._add_to_sets(run)
        if self.partitions.awake:
            self.partitions.add(run, seq, self._getter(run))

    def _discard(self, run: R, values: tuple[Any, tuple[Any, ...]]) -> None:
        """Take ``run`` out of every index under the keys of ``values`` where it is filed."""
        state, rest = values
        seq = self.seq[run]
        sets = self.sets
        self.sorted["id"].discard(run.id.int, seq, run)
        sets["state_type"].discard(None if state is None else state.type._value_, run)
        sets["state_name"].discard(None if state is None else state.name, run)
        for name, kind, value in zip(self._fields, self._kinds, rest, strict=True):
            if kind == _SORTED:
                self.sorted[name].discard(value, seq, run)
            elif kind == _SET:
                sets[name].discard(value, run)
            else:
                for tag in value:
                    self.tags.discard(tag, run)
                if self._untagged is not None:
                    self._untagged.discard(run)
        for name in self.fixed_set_fields:
            sets[name].discard(getattr(run, name), run)
        if self.partitions.awake:
            self.partitions.discard(run, seq, rest)


def _move(sets: dict[Any, set[Any]], old: Any, new: Any, run: Any) -> None:
    # SetIndex.move without the method call and attribute lookups: every transition
    # runs this.
    members = sets[old]
    members.remove(run)
    if not members:
        del sets[old]
    target = sets.get(new)
    if target is None:
        sets[new] = {run}
    else:
        target.add(run)

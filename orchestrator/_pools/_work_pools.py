"""Work pools, their queues, and the flow runs waiting in or taken from each queue.

:class:`WorkPoolTable` is a plain container the engine owns (and locks): pools by
name, each pool's queues by name, and two indexes over flow runs keyed by
``(pool name, queue name)``:

* the *due* index: SCHEDULED runs a worker may take (``retry_type`` is not
  ``"in_process"``: those are retried by the process that failed them), sorted by
  ``(next_scheduled_start_time, filing sequence)``;
* the *active* index: runs in PENDING or RUNNING, which hold a slot of their queue's
  and their pool's concurrency limit.

The engine re-files a run (:meth:`WorkPoolTable.file`) after every committed state and
unfiles it when it is deleted, so both indexes always agree with the runs' states;
:meth:`WorkPoolTable.check_invariants` verifies that against the runs themselves.
Selecting the runs to hand a worker costs O(q log n + k) for q queues and k runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Final, final

from .._core._errors import InvalidArgument
from .._core._indexes import SetIndex, SortedIndex
from .._core._models import FlowRun, WorkPool, WorkQueue
from .._core._states import StateType
from .._core._wakeup import Signal
from ._pool_lookups import PoolLookups

__all__ = ["DEFAULT_QUEUE_NAME", "WorkPoolTable"]

#: The name of the queue every pool is created with, its default queue (which cannot be
#: deleted, and stays the default when renamed: see ``WorkPool.default_queue_name``).
DEFAULT_QUEUE_NAME: Final = "default"

QueueKey = tuple[str, str]
Placement = tuple[QueueKey, int, datetime | None]
#: Where a run was filed and its filing sequence, as :meth:`WorkPoolTable.unfile` found them.
Filing = tuple[Placement | None, int | None]
_ACTIVE_TYPES: Final = frozenset({StateType.PENDING, StateType.RUNNING})
_DUE: Final = 0
_ACTIVE: Final = 1


@final
class WorkPoolTable(PoolLookups):
    """Pools, queues and the per-queue run indexes (see the module docstring).

    Attributes:
        pools: pool name -> pool, in creation order.
        queues: pool name -> (queue name -> queue), in creation order.
    """

    __slots__ = (
        "_active",
        "_due",
        "_filed",
        "_seqs",
        "_sequence",
        "_signals",
        "pools",
        "queues",
    )

    def __init__(self) -> None:
        self.pools: dict[str, WorkPool] = {}
        self.queues: dict[str, dict[str, WorkQueue]] = {}
        self._due: dict[QueueKey, SortedIndex[datetime, FlowRun]] = {}
        self._active: SetIndex[QueueKey, FlowRun] = SetIndex()
        # run -> (queue key, _DUE or _ACTIVE, scheduled time or None): where it is filed.
        self._filed: dict[FlowRun, Placement] = {}
        # run -> filing sequence, the tie-break among runs due at the same time: the order
        # in which runs were first filed, i.e. created (a run's pool and queue are fixed).
        self._seqs: dict[FlowRun, int] = {}
        self._sequence = itertools.count()
        self._signals: dict[str, Signal] = {}

    # -- wake-ups -------------------------------------------------------------------------
    def signal(self, pool: str) -> Signal:
        """Return the signal notified whenever a worker of ``pool`` may find new work.

        That is: a run became due in one of its queues, a run left PENDING or RUNNING
        (freeing a slot), or the pool or one of its queues changed. O(1).
        """
        signal = self._signals.get(pool)
        if signal is None:
            signal = self._signals[pool] = Signal()
        return signal

    def notify(self, pool: str) -> None:
        """Wake the workers of ``pool`` (nobody waiting costs one increment). O(waiters)."""
        signal = self._signals.get(pool)
        if signal is not None:
            signal.notify()

    # -- filing runs ----------------------------------------------------------------------
    @staticmethod
    def _placement(run: FlowRun) -> Placement | None:
        pool, queue, state = run.work_pool_name, run.work_queue_name, run.state
        if pool is None or queue is None or state is None:
            return None
        if state.type in _ACTIVE_TYPES:
            return (pool, queue), _ACTIVE, None
        when = run.next_scheduled_start_time
        if (
            state.type is StateType.SCHEDULED
            and run.empirical_policy.retry_type != "in_process"
            and when is not None
        ):
            return (pool, queue), _DUE, when
        return None

    def file(self, run: FlowRun) -> None:
        """File ``run`` where its current state puts it (or nowhere); all or nothing. O(log n)."""
        placement = self._placement(run)
        filed = self._filed.get(run)
        if filed == placement:
            return
        seq = self._seqs.get(run)
        first = seq is None
        if seq is None:
            seq = self._seqs[run] = next(self._sequence)
        try:
            if filed is not None:
                del self._filed[run]
                self._remove(run, filed, seq)
            if placement is not None:
                self._add(run, placement, seq)
                self._filed[run] = placement
        except BaseException:
            self._put_back(run, filed, seq, placement)
            if first:
                del self._seqs[run]
            raise
        if filed is not None and filed[1] == _ACTIVE:
            self.notify(filed[0][0])  # a slot of its queue and pool is free again
        if placement is not None and placement[1] == _DUE:
            self.notify(placement[0][0])

    def unfile(self, run: FlowRun) -> Filing:
        """Forget ``run`` (it is being deleted); all or nothing. O(log n).

        Returns what :meth:`restore` needs to file the run again exactly as it was.
        """
        filed = self._filed.get(run)
        seq = self._seqs.get(run)
        if filed is not None and seq is not None:
            try:
                self._remove(run, filed, seq)
            except BaseException:
                self._put_back(run, filed, seq, None)
                raise
        self._filed.pop(run, None)
        self._seqs.pop(run, None)
        return filed, seq

    def restore(self, run: FlowRun, filing: Filing) -> None:
        """File ``run`` again as :meth:`unfile` found it (its deletion failed after all)."""
        filed, seq = filing
        if seq is not None:
            self._seqs[run] = seq
            if filed is not None:
                self._add(run, filed, seq)
                self._filed[run] = filed

    def _add(self, run: FlowRun, placement: Placement, seq: int) -> None:
        key, kind, when = placement
        if kind == _DUE:
            index = self._due.get(key)
            if index is None:
                index = self._due[key] = SortedIndex()
            index.add(when, seq, run)
        else:
            self._active.add(key, run)

    def _remove(self, run: FlowRun, filed: Placement, seq: int) -> None:
        key, kind, when = filed
        if kind == _DUE:
            index = self._due[key]
            index.remove(when, seq, run)
            if not len(index):
                del self._due[key]
        else:
            self._active.remove(key, run)

    def _put_back(
        self, run: FlowRun, filed: Placement | None, seq: int, attempted: Placement | None
    ) -> None:
        """After a failed re-filing: take ``run`` out of both places, file it under ``filed``."""
        for placement in (attempted, filed):
            if placement is None:
                continue
            key, kind, when = placement
            if kind == _DUE:
                index = self._due.get(key)
                if index is not None:
                    index.discard(when, seq, run)
                    if not len(index):
                        del self._due[key]
            else:
                self._active.discard(key, run)
        self._filed.pop(run, None)
        if filed is not None:
            self._add(run, filed, seq)
            self._filed[run] = filed

    # -- reading --------------------------------------------------------------------------
    def active_count(self, pool: str, queue: str | None = None) -> int:
        """Return how many runs of a queue (or of every queue of a pool) are PENDING or RUNNING."""
        if queue is not None:
            return self._active.size((pool, queue))
        return sum(self._active.size((pool, name)) for name in self.queues.get(pool, ()))

    def has_runs(self, pool: str, queue: str) -> bool:
        """Return whether a queue has runs that are due or PENDING or RUNNING. O(1)."""
        key = (pool, queue)
        return key in self._due or self._active.size(key) > 0

    # -- lookups that refuse what does not exist: see PoolLookups -----------------------------
    def refuse_busy_queue(self, pool: str, queue: str, what: str) -> None:
        """Refuse to delete ``what`` while the queue still has runs waiting or in flight."""
        if self.has_runs(pool, queue):
            raise InvalidArgument(
                f"{what} {pool if what == 'work pool' else queue!r} still has flow runs that "
                f"are scheduled, pending or running in queue {queue!r}; let them finish or "
                "cancel them first"
            )

    def due_runs(
        self,
        pool: WorkPool,
        queues: Iterable[WorkQueue],
        before: datetime | None,
        limit: int | None,
        *,
        after: datetime | None = None,
        by_priority: bool = True,
    ) -> list[FlowRun]:
        """Return the runs a worker may take now, best first, within every limit.

        Runs scheduled in ``[after, before]`` (None: unbounded on that side). ``queues``
        must be in priority order. Paused queues (and every queue of a paused pool) give
        nothing; each queue gives at most its free slots, all of them together at most
        the pool's free slots and ``limit``. With ``by_priority`` False the queues' runs
        are merged by scheduled time (then creation) before the pool's cap applies.
        """
        if pool.is_paused:
            return []
        room = self._pool_room(pool, limit)
        if by_priority:
            return self._due_by_priority(pool, queues, before, after, room)
        # Every queue's candidates (each within its own limit), then the best by time.
        candidates = self._due_by_priority(pool, queues, before, after, None)
        candidates.sort(key=lambda run: (run.next_scheduled_start_time, self._seqs[run]))
        return candidates if room is None else candidates[:room]

    def _pool_room(self, pool: WorkPool, limit: int | None) -> int | None:
        """How many runs the pool may still hand out (its free slots and ``limit``)."""
        room = limit
        if pool.concurrency_limit is not None:
            # Prefect counts the runs of the pool's unpaused queues only.
            busy = sum(
                self._active.size((pool.name, name))
                for name, queue in self.queues.get(pool.name, {}).items()
                if not queue.is_paused
            )
            pool_room = max(0, pool.concurrency_limit - busy)
            room = pool_room if room is None else min(room, pool_room)
        return room

    def _due_by_priority(
        self,
        pool: WorkPool,
        queues: Iterable[WorkQueue],
        before: datetime | None,
        after: datetime | None,
        room: int | None,
    ) -> list[FlowRun]:
        """The queues' runs in priority order, each queue within its limit, at most ``room``."""
        result: list[FlowRun] = []
        for queue in queues:
            if room is not None and room <= 0:
                break
            if queue.is_paused:
                continue
            key = (pool.name, queue.name)
            index = self._due.get(key)
            if index is None:
                continue
            take = room
            if queue.concurrency_limit is not None:
                free = max(0, queue.concurrency_limit - self._active.size(key))
                take = free if take is None else min(take, free)
            if take is not None and take <= 0:
                continue
            taken = 0
            for run in index.irange(lo=after, hi=before):
                if take is not None and taken >= take:
                    break
                result.append(run)
                taken += 1
            if room is not None:
                room -= taken
        return result

    def next_due_time(
        self, pool: WorkPool, queues: Iterable[WorkQueue], after: datetime
    ) -> datetime | None:
        """Return the earliest scheduled time later than ``after`` in these queues, or None.

        Paused queues and paused pools have none. O(q log n).
        """
        if pool.is_paused:
            return None
        earliest: datetime | None = None
        for queue in queues:
            index = self._due.get((pool.name, queue.name))
            if queue.is_paused or index is None:
                continue
            for run in index.irange(lo=after):
                when = run.next_scheduled_start_time
                if when is not None and when > after:
                    if earliest is None or when < earliest:
                        earliest = when
                    break
        return earliest

    # -- renaming ---------------------------------------------------------------------------
    def rename_queue(self, pool: str, old: str, new: str, runs: Iterable[FlowRun]) -> None:
        """Re-key queue ``old`` of ``pool`` as ``new``, with ``runs`` (every run filed under it).

        The caller has checked that ``old`` exists and ``new`` is free. The queue keeps its
        place in creation order, each run its filing sequence (so its order among runs due
        at the same time), and the pool's default marker follows the queue. O(k log n)
        for k runs.
        """
        queues = self.queues[pool]
        queue = queues[old]
        self.queues[pool] = {(new if name == old else name): q for name, q in queues.items()}
        queue.name = new
        if self.pools[pool].default_queue_name == old:
            self.pools[pool].default_queue_name = new
        for run in runs:
            seq = self._seqs.get(run)
            filed = self._filed.pop(run, None)
            if filed is not None and seq is not None:
                self._remove(run, filed, seq)
            run.work_queue_name = new
            placement = self._placement(run)
            if placement is not None and seq is not None:
                self._add(run, placement, seq)
                self._filed[run] = placement
        self.notify(pool)

    # -- checks ---------------------------------------------------------------------------
    def check_invariants(self, runs: Iterable[FlowRun]) -> None:
        """Verify both indexes against ``runs`` (every flow run); AssertionError otherwise."""
        expected_due: dict[QueueKey, set[FlowRun]] = {}
        expected_active: dict[QueueKey, set[FlowRun]] = {}
        for run in runs:
            placement = self._placement(run)
            assert self._filed.get(run) == placement, f"flow run {run.id} is misfiled"
            if placement is not None:
                key, kind, _ = placement
                expected = expected_due if kind == _DUE else expected_active
                expected.setdefault(key, set()).add(run)
        due = {key: {entry[2] for entry in index.entries()} for key, index in self._due.items()}
        assert due == expected_due, "the due index disagrees with the runs"
        active = {key: set(values) for key, values in self._active.as_dict().items()}
        assert active == expected_active, "the active index disagrees with the runs"
        assert len(self._filed) == sum(map(len, (*due.values(), *active.values())))
        for pool_name, queues in self.queues.items():
            assert pool_name in self.pools, f"queues of missing pool {pool_name!r}"
            default = self.pools[pool_name].default_queue_name
            assert default in queues, f"pool {pool_name!r} lost its default queue {default!r}"
            for name, queue in queues.items():
                assert queue.name == name
                assert queue.work_pool_name == pool_name

"""Task queues: where background runs wait for a worker, per task key.

An orchestrator owns one :class:`TaskQueues` registry. The engine puts a run on its key's
queue when it commits a deferred SCHEDULED state (the retry part for ``AwaitingRetry``),
synchronously and under its own lock, from whatever thread proposed the transition: a
put never blocks and never fails, and retries are accepted beyond their bound. Bounds are
for *admission*: submission asks :meth:`TaskQueues.has_room` (or awaits
:meth:`TaskQueues.wait_for_room`) before it creates anything.

Each :class:`TaskQueue` has two parts, *retry* and *scheduled*, each a binary heap ordered
by ``(due time, sequence)``: a run due later never blocks one due sooner, and runs due at
the same time leave in the order they came. The due time is the queued state's
``scheduled_time`` (or its timestamp); nothing is handed out before it on the
orchestrator's clock.

Entries are checked when they are met, not when runs change (lazy invalidation): an entry
is *stale* when its run was deleted or has left the state it was queued for, and a stale
entry is dropped, never delivered. A run has at most one live entry: putting it again
replaces the old one, and :meth:`TaskQueues.discard` removes it outright.

A :class:`MultiQueue` serves several keys to one consumer: round-robin across keys (the
search starts after the key served last, so no key starves), the retry part first within
a key. :meth:`MultiQueue.get` waits on the keys' :class:`~orchestrator._core._wakeup.Signal`
and, when an entry is queued for later, on the clock reaching its due time; it never
polls. Each entry is popped under the registry's lock, so it reaches exactly one getter,
and a cancelled get has popped nothing.

Locking: one :class:`threading.Lock` guards the data. The engine calls in while holding
its lock, so ``lookup`` (called under this lock) must be a plain read that takes no lock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final, final

from .._core._clock import Clock
from .._core._errors import InvalidArgument
from ._records import TaskQueuesStatistics, TaskQueueStatistics
from ._views import MultiQueue, TaskQueue, _check_key, _Entry, _Item

if TYPE_CHECKING:
    from .._core._models import TaskRun

__all__ = ["MultiQueue", "TaskQueue", "TaskQueueStatistics", "TaskQueues", "TaskQueuesStatistics"]

#: Reads the live run for an id (None when it no longer exists); must not take a lock.
RunLookup = Callable[[uuid.UUID], "TaskRun | None"]

# A heap whose dead entries outnumber its live ones by this much is rebuilt.
_COMPACT_SLACK: Final = 64


def _check_size(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgument(f"{what} must be a positive int or None, got {value!r}")
    return value


@final
class TaskQueues:
    """An orchestrator's task queues, one :class:`TaskQueue` per task key, made lazily.

    Args:
        clock: the orchestrator's clock; due times are compared with its ``now()``.
        lookup: reads the live run for an id, None when it no longer exists. It is
            called under this registry's lock, so it must be a plain read.
        default_scheduled_size: the scheduled bound of keys not configured otherwise.
        default_retry_size: the nominal retry bound of keys not configured otherwise.

    Raises:
        InvalidArgument: a default size is not a positive int.
    """

    __slots__ = (
        "_by_run",
        "_default_retry_size",
        "_default_scheduled_size",
        "_lock",
        "_lookup",
        "_queues",
        "_sequence",
        "clock",
    )

    def __init__(
        self,
        clock: Clock,
        *,
        lookup: RunLookup,
        default_scheduled_size: int = 1000,
        default_retry_size: int = 100,
    ) -> None:
        self.clock = clock
        self._lookup = lookup
        scheduled = _check_size(default_scheduled_size, "default_scheduled_size")
        retry = _check_size(default_retry_size, "default_retry_size")
        if scheduled is None or retry is None:
            raise InvalidArgument("default queue sizes must be positive ints, not None")
        self._default_scheduled_size = scheduled
        self._default_retry_size = retry
        self._lock = threading.Lock()
        self._queues: dict[str, TaskQueue] = {}
        self._by_run: dict[uuid.UUID, _Entry] = {}
        self._sequence = itertools.count()

    # -- configuration ----------------------------------------------------------------------
    @property
    def default_scheduled_size(self) -> int:
        """The scheduled bound of keys not configured otherwise."""
        return self._default_scheduled_size

    @property
    def default_retry_size(self) -> int:
        """The nominal retry bound of keys not configured otherwise."""
        return self._default_retry_size

    def configure_task_key(
        self, task_key: str, *, scheduled_size: int | None = None, retry_size: int | None = None
    ) -> None:
        """Set one key's bounds; None means the registry's default.

        Allowed at any time; a new scheduled bound applies to the next admission check,
        and submitters waiting for room are woken to check again. Entries already queued
        stay queued.

        Raises:
            InvalidArgument: an empty key or a size that is not a positive int or None
                (nothing is changed).
        """
        _check_key(task_key)
        scheduled = _check_size(scheduled_size, "scheduled_size")
        retry = _check_size(retry_size, "retry_size")
        with self._lock:
            queue = self._queue(task_key)
            queue._scheduled_size = scheduled
            queue._retry_size = retry
        queue._room.notify()

    def for_key(self, task_key: str) -> TaskQueue:
        """Return the queue of ``task_key``, creating it empty if needed. O(1).

        Raises:
            InvalidArgument: ``task_key`` is not a non-empty string.
        """
        queue = self._queues.get(task_key)
        if queue is not None:
            return queue
        _check_key(task_key)
        with self._lock:
            return self._queue(task_key)

    @property
    def task_keys(self) -> tuple[str, ...]:
        """The keys that have a queue, in the order their queues were made."""
        with self._lock:  # another thread may be adding a key
            return tuple(self._queues)

    # -- admission -------------------------------------------------------------------------
    def has_room(self, task_key: str) -> bool:
        """True when ``task_key``'s scheduled part is below its bound. O(1)."""
        queue = self._queues.get(task_key)
        if queue is None:
            return True
        return queue.has_room()

    async def wait_for_room(self, task_key: str) -> None:
        """Return once ``task_key``'s scheduled part is below its bound (at once if it is).

        Woken when a scheduled entry leaves a full queue or the bound changes; never
        polls. Another submitter may take the room first: check again under the
        engine's lock.

        Raises:
            InvalidArgument: ``task_key`` is not a non-empty string.
        """
        queue = self.for_key(task_key)
        room = queue._room
        while True:
            seen = room.generation
            if queue.has_room():
                return
            await room.wait(seen)

    # -- putting ---------------------------------------------------------------------------
    def put(self, run: TaskRun, *, retry: bool) -> None:
        """Queue ``run`` on its key's retry or scheduled part. O(log n).

        Never blocks and never fails; safe from any thread, also while holding a lock.
        The entry is due at the run's current state's ``scheduled_time`` (its timestamp
        when it has none) and is valid while the run stays in that state. A run already
        queued loses its old entry. Bounds are not checked here: they are for admission,
        and a retry of an admitted run is never dropped.
        """
        state = run.state
        if state is None:
            state_id = None
            due = self.clock.now()
        else:
            state_id = state.id
            due = state.details.scheduled_time or state.timestamp or self.clock.now()
        run_id = run.id
        with self._lock:
            queue = self._queue(run.task_key)
            entry = _Entry(run_id, state_id, queue, retry)
            old = self._by_run.get(run_id)
            self._by_run[run_id] = entry
            if old is not None:
                self._left(old)
            if retry:
                queue._retry_count += 1
                heapq.heappush(queue._retry, (due, next(self._sequence), entry))
            else:
                queue._scheduled_count += 1
                heapq.heappush(queue._scheduled, (due, next(self._sequence), entry))
        queue._ready.notify()

    def discard(self, run_id: uuid.UUID) -> bool:
        """Remove the entry of ``run_id``; return False when it had none. O(1) amortised."""
        with self._lock:
            entry = self._by_run.pop(run_id, None)
            if entry is None:
                return False
            self._left(entry)
            return True

    def __contains__(self, run_id: object) -> bool:
        """True when ``run_id`` has an entry (possibly stale). O(1)."""
        return run_id in self._by_run

    def __len__(self) -> int:
        """Entries across all keys. O(1)."""
        return len(self._by_run)

    def next_due(self) -> datetime | None:
        """The earliest due time across all keys, or None when nothing is queued. O(keys)."""
        with self._lock:
            dues = [d for q in self._queues.values() if (d := self._next_due(q)) is not None]
        return min(dues, default=None)

    # -- checks and statistics -----------------------------------------------------------------
    def statistics(self) -> TaskQueuesStatistics:
        """Return every key's statistics and the totals."""
        with self._lock:
            queues = {key: queue._statistics() for key, queue in self._queues.items()}
        return TaskQueuesStatistics(
            queues=queues,
            queued=sum(s.queued for s in queues.values()),
            delivered=sum(s.delivered for s in queues.values()),
            dropped=sum(s.dropped for s in queues.values()),
        )

    def check_invariants(self) -> None:
        """Verify the heaps and counters against the by-run index; raise AssertionError."""
        with self._lock:
            alive = 0
            sequences: set[int] = set()
            for key, queue in self._queues.items():
                assert queue.task_key == key, f"queue {queue.task_key!r} filed under {key!r}"
                for retry, heap, count in (
                    (True, queue._retry, queue._retry_count),
                    (False, queue._scheduled, queue._scheduled_count),
                ):
                    part = "retry" if retry else "scheduled"
                    for index in range(1, len(heap)):
                        assert heap[(index - 1) // 2] <= heap[index], f"{key!r} {part}: not a heap"
                    live = [e for _, _, e in heap if self._by_run.get(e.run_id) is e]
                    assert len(live) == count, f"{key!r} {part}: {len(live)} live, count {count}"
                    assert all(e.queue is queue and e.retry is retry for e in live), (
                        f"{key!r} {part}: an entry records another queue or part"
                    )
                    alive += count
                    sequences.update(seq for _, seq, _ in heap)
                    assert len(heap) <= 2 * count + _COMPACT_SLACK or not heap, (
                        f"{key!r} {part}: {len(heap) - count} dead entries were never compacted"
                    )
            assert alive == len(self._by_run), f"{alive} live entries, {len(self._by_run)} indexed"
            total = sum(len(q._retry) + len(q._scheduled) for q in self._queues.values())
            assert len(sequences) == total, "two heap items share a sequence number"

    # -- internals (the caller holds the lock) -------------------------------------------------
    def _queue(self, task_key: str) -> TaskQueue:
        queue = self._queues.get(task_key)
        if queue is None:
            queue = self._queues[task_key] = TaskQueue(task_key, self)
        return queue

    def _left(self, entry: _Entry) -> None:
        """Count ``entry`` (no longer indexed) out of its part.

        Wakes submitters when the scheduled part gains room, and rebuilds the part's
        heap when its dead items outnumber the live ones (amortised O(1): every dead
        item was made by an O(1) discard or replacement).
        """
        queue = entry.queue
        if entry.retry:
            heap = queue._retry
            live = queue._retry_count = queue._retry_count - 1
        else:
            heap = queue._scheduled
            live = queue._scheduled_count = queue._scheduled_count - 1
            if live == queue.scheduled_size - 1:
                queue._room.notify()  # never blocks: safe under the lock
        if len(heap) > 2 * live + _COMPACT_SLACK:
            by_run = self._by_run
            heap[:] = [item for item in heap if by_run.get(item[2].run_id) is item[2]]
            heapq.heapify(heap)

    def _take(self, queue: TaskQueue, now: datetime) -> TaskRun | None:
        """Pop the first due, valid run of ``queue``, retry part first."""
        run = self._take_from(queue._retry, now)
        if run is None:
            run = self._take_from(queue._scheduled, now)
        return run

    def _take_from(self, heap: list[_Item], now: datetime) -> TaskRun | None:
        by_run = self._by_run
        heappop = heapq.heappop
        while heap:
            due, _, entry = heap[0]
            run_id = entry.run_id
            if by_run.get(run_id) is not entry:
                heappop(heap)  # dead: discarded, or replaced by a newer put
                continue
            if due > now:
                return None
            heappop(heap)
            del by_run[run_id]
            self._left(entry)
            run = self._lookup(run_id)
            if run is not None:
                state = run.state
                if (None if state is None else state.id) == entry.state_id:
                    entry.queue._delivered += 1
                    return run
            entry.queue._dropped += 1  # stale: deleted, claimed elsewhere or moved on
        return None

    def _next_due(self, queue: TaskQueue) -> datetime | None:
        by_run = self._by_run
        earliest: datetime | None = None
        for heap in (queue._retry, queue._scheduled):
            while heap and by_run.get(heap[0][2].run_id) is not heap[0][2]:
                heapq.heappop(heap)
            if heap and (earliest is None or heap[0][0] < earliest):
                earliest = heap[0][0]
        return earliest

    def _search(self, multi: MultiQueue) -> tuple[TaskRun | None, datetime | None]:
        """Serve ``multi`` round-robin: a due run, or the earliest due time if none."""
        now = self.clock.now()
        queues = multi._queues
        count = len(queues)
        earliest: datetime | None = None
        with self._lock:
            index = multi._next
            for _ in range(count):
                queue = queues[index]
                index = index + 1 if index + 1 < count else 0
                run = self._take(queue, now)
                if run is not None:
                    multi._next = index
                    return run, None
                due = self._next_due(queue)
                if due is not None and (earliest is None or due < earliest):
                    earliest = due
        return None, earliest

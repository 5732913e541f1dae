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

Layout: this module has the registry, which puts and discards; :mod:`._views` has the
getters. The data, the lock and the operations both sides share (taking a run, the next
due time, the bookkeeping when an entry leaves) live in one
:class:`~orchestrator._queues._state.QueueState` per registry, in :mod:`._state`.
"""

from __future__ import annotations

import heapq
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, final

from .._core._clock import Clock
from .._core._errors import InvalidArgument, QueueFull
from .._core._state_record import state_key
from ._records import TaskQueuesStatistics, TaskQueueStatistics
from ._state import Entry, KeyHeaps, QueueState, RunLookup, check_key, check_size
from ._views import MultiQueue, TaskQueue

if TYPE_CHECKING:
    from .._core._models import TaskRun

__all__ = ["MultiQueue", "TaskQueue", "TaskQueueStatistics", "TaskQueues", "TaskQueuesStatistics"]


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

    __slots__ = ("_state", "_views", "clock")

    def __init__(
        self,
        clock: Clock,
        *,
        lookup: RunLookup,
        default_scheduled_size: int = 1000,
        default_retry_size: int = 100,
    ) -> None:
        self.clock = clock
        scheduled = check_size(default_scheduled_size, "default_scheduled_size")
        retry = check_size(default_retry_size, "default_retry_size")
        if scheduled is None or retry is None:
            raise InvalidArgument("default queue sizes must be positive ints, not None")
        self._state = QueueState(lookup, default_scheduled_size=scheduled, default_retry_size=retry)
        self._views: dict[str, TaskQueue] = {}

    # -- configuration ----------------------------------------------------------------------
    @property
    def default_scheduled_size(self) -> int:
        """The scheduled bound of keys not configured otherwise."""
        return self._state.default_scheduled_size

    @property
    def default_retry_size(self) -> int:
        """The nominal retry bound of keys not configured otherwise."""
        return self._state.default_retry_size

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
        check_key(task_key)
        scheduled = check_size(scheduled_size, "scheduled_size")
        retry = check_size(retry_size, "retry_size")
        state = self._state
        with state.lock:
            heaps = state.heaps_for(task_key)
            heaps.scheduled_size = state.default_scheduled_size if scheduled is None else scheduled
            heaps.retry_size = state.default_retry_size if retry is None else retry
        heaps.room.notify()

    def for_key(self, task_key: str) -> TaskQueue:
        """Return the queue of ``task_key``, creating it empty if needed. O(1).

        Raises:
            InvalidArgument: ``task_key`` is not a non-empty string.
        """
        queue = self._views.get(task_key)
        if queue is not None:
            return queue
        check_key(task_key)
        state = self._state
        with state.lock:
            queue = self._views.get(task_key)
            if queue is None:
                queue = self._views[task_key] = TaskQueue(state.heaps_for(task_key), state, self)
            return queue

    @property
    def task_keys(self) -> tuple[str, ...]:
        """The keys that have a queue, in the order their queues were made."""
        with self._state.lock:  # another thread may be adding a key
            return tuple(self._state.by_key)

    # -- admission -------------------------------------------------------------------------
    def has_room(self, task_key: str) -> bool:
        """True when ``task_key``'s scheduled part is below its bound. O(1)."""
        heaps = self._state.by_key.get(task_key)
        if heaps is None:
            return True
        return heaps.scheduled_count < heaps.scheduled_size

    async def wait_for_room(self, task_key: str) -> None:
        """Return once ``task_key``'s scheduled part is below its bound (at once if it is).

        Woken when a scheduled entry leaves a full queue or the bound changes; never
        polls. Another submitter may take the room first: check again under the
        engine's lock.

        Raises:
            InvalidArgument: ``task_key`` is not a non-empty string.
        """
        heaps = self._heaps(task_key)
        room = heaps.room
        while True:
            seen = room.generation
            if heaps.scheduled_count < heaps.scheduled_size:
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
        run_state = run.state
        if run_state is None:
            state_id = None
            due = self.clock.now()
        else:
            state_id = state_key(run_state)  # its id's key: no UUID built
            due = run_state.details.scheduled_time or run_state.timestamp or self.clock.now()
        run_id = run.id
        state = self._state
        with state.lock:
            heaps = state.by_key.get(run.task_key) or state.heaps_for(run.task_key)
            entry = Entry(run_id, state_id, heaps, retry)
            by_run = state.by_run
            number = run_id.int
            old = by_run.setdefault(number, entry)  # one lookup when not queued yet
            if old is not entry:
                by_run[number] = entry
                state.left(old)
            if retry:
                heaps.retry_count += 1
                heapq.heappush(heaps.retry, (due, next(state.sequence), entry))
            else:
                heaps.scheduled_count += 1
                heapq.heappush(heaps.scheduled, (due, next(state.sequence), entry))
        heaps.ready.notify()

    def discard(self, run_id: uuid.UUID) -> bool:
        """Remove the entry of ``run_id``; return False when it had none. O(1) amortised."""
        given: object = run_id  # callers may pass anything
        if not isinstance(given, uuid.UUID):
            return False  # not a run id: never queued
        state = self._state
        with state.lock:
            entry = state.by_run.pop(run_id.int, None)
            if entry is None:
                return False
            state.left(entry)
            return True

    def __contains__(self, run_id: object) -> bool:
        """True when ``run_id`` has an entry (possibly stale). O(1)."""
        return isinstance(run_id, uuid.UUID) and run_id.int in self._state.by_run

    def __len__(self) -> int:
        """Entries across all keys. O(1)."""
        return len(self._state.by_run)

    def next_due(self) -> datetime | None:
        """The earliest due time across all keys, or None when nothing is queued. O(keys)."""
        state = self._state
        with state.lock:
            dues = [d for h in state.by_key.values() if (d := state.next_due(h)) is not None]
        return min(dues, default=None)

    # -- checks and statistics -----------------------------------------------------------------
    def statistics(self) -> TaskQueuesStatistics:
        """Return every key's statistics and the totals."""
        state = self._state
        with state.lock:
            queues = {key: heaps.statistics() for key, heaps in state.by_key.items()}
        return TaskQueuesStatistics(
            queues=queues,
            queued=sum(s.queued for s in queues.values()),
            delivered=sum(s.delivered for s in queues.values()),
            dropped=sum(s.dropped for s in queues.values()),
        )

    def check_invariants(self) -> None:
        """Verify the heaps and counters against the by-run index; raise AssertionError."""
        with self._state.lock:
            self._state.check_invariants()

    def full_error(self, task_key: str) -> QueueFull:
        """Return the :class:`~orchestrator.QueueFull` that refuses a submission to ``task_key``.

        Its message names the key, how many runs wait and the options that set the bound
        (``Orchestrator(scheduled_queue_size=)`` for every key,
        ``configure_task_key(key, scheduled_size=)`` for one), and what else to do. The
        caller raises it.
        """
        heaps = self._heaps(task_key)
        return QueueFull(
            f"the scheduled queue of task key {task_key!r} is full: {heaps.scheduled_count} "
            f"runs wait for a worker and its bound is {heaps.scheduled_size}. Start a "
            f"TaskWorker that serves {task_key!r}, raise the bound (Orchestrator("
            f"scheduled_queue_size=...) for every key, or orchestrator.configure_task_key("
            f"{task_key!r}, scheduled_size=...) for this one), or submit from async code "
            "(asubmit), which waits for room"
        )

    # -- internals --------------------------------------------------------------------------
    def _heaps(self, task_key: str) -> KeyHeaps:
        """The data of ``task_key``, made if needed (as :meth:`for_key` makes the queue)."""
        heaps = self._state.by_key.get(task_key)
        if heaps is not None:
            return heaps
        check_key(task_key)
        with self._state.lock:
            return self._state.heaps_for(task_key)

"""The data behind the task queues: one :class:`KeyHeaps` per key, owned by a :class:`QueueState`.

Nothing here is exported. A :class:`~orchestrator._queues._registry.TaskQueues` registry
makes one :class:`QueueState`; each :class:`~orchestrator._queues._views.TaskQueue` it
makes is given that state and its key's :class:`KeyHeaps`, and a
:class:`~orchestrator._queues._views.MultiQueue` takes the state from the registry it is
made for. The registry puts, the views get, and all of them go through the state's lock
and its operations. The whole ``_queues`` package is private, so the names in this
module are plain; only the public classes keep their own attributes to themselves.

See :mod:`orchestrator._queues._registry` for the concepts (parts, due times, stale
entries, round-robin).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final, final

from .._core._checks import check_optional_count, check_text
from .._core._state_record import state_key
from .._core._wakeup import Signal
from ._records import TaskQueueStatistics

if TYPE_CHECKING:
    from .._core._models import TaskRun

__all__ = [
    "COMPACT_SLACK",
    "Entry",
    "Item",
    "KeyHeaps",
    "QueueState",
    "RunLookup",
    "check_key",
    "check_size",
]

#: Reads the live run for an id (None when it no longer exists); must not take a lock.
RunLookup = Callable[[uuid.UUID], "TaskRun | None"]

#: A heap whose dead entries outnumber its live ones by this much is rebuilt.
COMPACT_SLACK: Final = 64


def check_key(task_key: object) -> str:
    """Return ``task_key`` if it is a non-empty string; raise InvalidArgument otherwise."""
    return check_text(task_key, "a task key")


def check_size(value: object, what: str) -> int | None:
    """Return ``value`` if it is a positive int or None; raise InvalidArgument otherwise."""
    return check_optional_count(value, what, minimum=1, expected="a positive int or None")


@final
class Entry:
    """One queued run. Alive while the state's by-run index points to this object."""

    __slots__ = ("heaps", "retry", "run_id", "state_id")

    def __init__(self, run_id: uuid.UUID, state_id: object, heaps: KeyHeaps, retry: bool) -> None:
        self.run_id = run_id
        #: The key of the queued state's id (``state_key``): the run is live while its
        #: current state has the same key.
        self.state_id = state_id
        self.heaps = heaps
        self.retry = retry


#: A heap item: the sequence number is unique, so comparisons never reach the entry.
Item = tuple[datetime, int, Entry]


@final
class KeyHeaps:
    """One task key's queue data: its two heaps, their counts and bounds, and its signals.

    ``retry_count`` and ``scheduled_count`` count the live entries; a heap may also hold
    dead items (discarded or replaced) until they are met or compacted. The bounds are
    the effective ones, the registry's default already filled in. Fields change only
    under the state's lock; the signals never block, so they are notified under it too.
    """

    __slots__ = (
        "delivered",
        "dropped",
        "ready",
        "retry",
        "retry_count",
        "retry_size",
        "room",
        "scheduled",
        "scheduled_count",
        "scheduled_size",
        "task_key",
    )

    def __init__(self, task_key: str, *, scheduled_size: int, retry_size: int) -> None:
        self.task_key = task_key
        self.retry: list[Item] = []
        self.scheduled: list[Item] = []
        self.retry_count = 0
        self.scheduled_count = 0
        self.retry_size = retry_size
        self.scheduled_size = scheduled_size
        self.delivered = 0
        self.dropped = 0
        self.ready = Signal()  # notified on every put
        self.room = Signal()  # notified when the scheduled part gains room

    def statistics(self) -> TaskQueueStatistics:
        """This key's sizes, bounds and counters (the caller holds the state's lock)."""
        return TaskQueueStatistics(
            task_key=self.task_key,
            scheduled=self.scheduled_count,
            retry=self.retry_count,
            scheduled_size=self.scheduled_size,
            retry_size=self.retry_size,
            delivered=self.delivered,
            dropped=self.dropped,
            waiting_getters=self.ready.waiting,
            waiting_for_room=self.room.waiting,
        )


@final
class QueueState:
    """What a registry and its views share: the lock, the data, and the popping.

    Args:
        lookup: reads the live run for an id; called under ``lock``, so a plain read.
        default_scheduled_size: the scheduled bound given to new keys.
        default_retry_size: the nominal retry bound given to new keys.

    ``by_key`` holds each key's :class:`KeyHeaps` in the order they were made; ``by_run``
    maps each queued run to its one live :class:`Entry`. Every method but the
    constructor expects the caller to hold ``lock``.
    """

    __slots__ = (
        "by_key",
        "by_run",
        "default_retry_size",
        "default_scheduled_size",
        "lock",
        "lookup",
        "sequence",
    )

    def __init__(
        self, lookup: RunLookup, *, default_scheduled_size: int, default_retry_size: int
    ) -> None:
        self.lookup = lookup
        self.default_scheduled_size = default_scheduled_size
        self.default_retry_size = default_retry_size
        self.lock = threading.Lock()
        self.by_key: dict[str, KeyHeaps] = {}
        #: Run id's 128-bit int -> its live entry (an int hashes in C; a UUID's hash is a
        #: Python call).
        self.by_run: dict[int, Entry] = {}
        self.sequence = itertools.count()

    def heaps_for(self, task_key: str) -> KeyHeaps:
        """Return the data of ``task_key``, making it empty with the default bounds."""
        heaps = self.by_key.get(task_key)
        if heaps is None:
            heaps = self.by_key[task_key] = KeyHeaps(
                task_key,
                scheduled_size=self.default_scheduled_size,
                retry_size=self.default_retry_size,
            )
        return heaps

    def left(self, entry: Entry) -> None:
        """Count ``entry`` (no longer indexed) out of its part.

        Wakes submitters when the scheduled part gains room, and rebuilds the part's
        heap when its dead items outnumber the live ones (amortised O(1): every dead
        item was made by an O(1) discard or replacement).
        """
        heaps = entry.heaps
        if entry.retry:
            heap = heaps.retry
            live = heaps.retry_count = heaps.retry_count - 1
        else:
            heap = heaps.scheduled
            live = heaps.scheduled_count = heaps.scheduled_count - 1
            if live == heaps.scheduled_size - 1:
                heaps.room.notify()  # never blocks: safe under the lock
        if len(heap) > 2 * live + COMPACT_SLACK:
            by_run = self.by_run
            heap[:] = [item for item in heap if by_run.get(item[2].run_id.int) is item[2]]
            heapq.heapify(heap)

    def take(self, heaps: KeyHeaps, now: datetime) -> TaskRun | None:
        """Pop the first due, valid run of one key, retry part first."""
        run = self.take_from(heaps.retry, now)
        if run is None:
            run = self.take_from(heaps.scheduled, now)
        return run

    def take_from(self, heap: list[Item], now: datetime) -> TaskRun | None:
        """Pop the first due, valid run of one part (``heap``); None when none is due."""
        by_run = self.by_run
        heappop = heapq.heappop
        while heap:
            due, _, entry = heap[0]
            if due > now:
                # Nothing is due: the heap is ordered by due time. A dead item on top
                # stays until it is due, compacted, or popped by next_due.
                return None
            heappop(heap)
            run_id = entry.run_id
            live = by_run.pop(run_id.int, None)  # one lookup for a live entry
            if live is not entry:  # dead: discarded, or replaced by a newer put
                if live is not None:
                    by_run[run_id.int] = live  # the newer entry stays queued
                continue
            self.left(entry)
            run = self.lookup(run_id)
            if run is not None:
                state = run.state
                if (None if state is None else state_key(state)) == entry.state_id:
                    entry.heaps.delivered += 1
                    return run
            entry.heaps.dropped += 1  # stale: deleted, claimed elsewhere or moved on
        return None

    def next_due(self, heaps: KeyHeaps) -> datetime | None:
        """The earliest due time of one key's live entries; pops the dead items on top."""
        by_run = self.by_run
        earliest: datetime | None = None
        for heap in (heaps.retry, heaps.scheduled):
            while heap and by_run.get(heap[0][2].run_id.int) is not heap[0][2]:
                heapq.heappop(heap)
            if heap and (earliest is None or heap[0][0] < earliest):
                earliest = heap[0][0]
        return earliest

    def check_invariants(self) -> None:
        """Verify the heaps and counters against the by-run index; raise AssertionError."""
        by_run = self.by_run
        alive = 0
        sequences: set[int] = set()
        for key, heaps in self.by_key.items():
            assert heaps.task_key == key, f"queue {heaps.task_key!r} filed under {key!r}"
            for retry, heap, count in (
                (True, heaps.retry, heaps.retry_count),
                (False, heaps.scheduled, heaps.scheduled_count),
            ):
                part = "retry" if retry else "scheduled"
                for index in range(1, len(heap)):
                    assert heap[(index - 1) // 2] <= heap[index], f"{key!r} {part}: not a heap"
                live = [e for _, _, e in heap if by_run.get(e.run_id.int) is e]
                assert len(live) == count, f"{key!r} {part}: {len(live)} live, count {count}"
                assert all(e.heaps is heaps and e.retry is retry for e in live), (
                    f"{key!r} {part}: an entry records another queue or part"
                )
                alive += count
                sequences.update(seq for _, seq, _ in heap)
                assert len(heap) <= 2 * count + COMPACT_SLACK or not heap, (
                    f"{key!r} {part}: {len(heap) - count} dead entries were never compacted"
                )
        assert alive == len(by_run), f"{alive} live entries, {len(by_run)} indexed"
        total = sum(len(h.retry) + len(h.scheduled) for h in self.by_key.values())
        assert len(sequences) == total, "two heap items share a sequence number"

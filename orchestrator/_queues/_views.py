"""The consumer side of the task queues: :class:`TaskQueue` (one key) and :class:`MultiQueue`.

Both are views over a :class:`~orchestrator._queues._registry.TaskQueues` registry, which holds the
lock and does the popping; see that module for the concepts. A :class:`TaskQueue` also
holds its key's data (two heaps, counters, bounds and its two signals) so the registry
reaches it in one dictionary lookup.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, final

import anyio

from .._core._errors import InvalidArgument
from .._core._models import TaskRun
from .._core._wakeup import Signal, wait_for_any
from ._records import TaskQueueStatistics

if TYPE_CHECKING:
    from ._registry import TaskQueues

__all__ = ["MultiQueue", "TaskQueue"]


@final
class _Entry:
    """One queued run. Alive while the registry's by-run index points to this object."""

    __slots__ = ("queue", "retry", "run_id", "state_id")

    def __init__(
        self, run_id: uuid.UUID, state_id: uuid.UUID | None, queue: TaskQueue, retry: bool
    ) -> None:
        self.run_id = run_id
        self.state_id = state_id
        self.queue = queue
        self.retry = retry


# Heap items: the sequence number is unique, so comparisons never reach the entry.
_Item = tuple[datetime, int, _Entry]


def _check_key(task_key: object) -> str:
    if not isinstance(task_key, str) or not task_key:
        raise InvalidArgument(f"a task key must be a non-empty string, got {task_key!r}")
    return task_key


@final
class TaskQueue:
    """The queue of one task key: a retry part and a scheduled part.

    Get one from :meth:`TaskQueues.for_key`. ``len(queue)`` counts the entries of both
    parts (stale ones included until a getter meets them).
    """

    __slots__ = (
        "_delivered",
        "_dropped",
        "_owner",
        "_ready",
        "_retry",
        "_retry_count",
        "_retry_size",
        "_room",
        "_scheduled",
        "_scheduled_count",
        "_scheduled_size",
        "_single",
        "task_key",
    )

    def __init__(self, task_key: str, owner: TaskQueues) -> None:
        self.task_key = task_key
        self._owner = owner
        self._retry: list[_Item] = []
        self._scheduled: list[_Item] = []
        self._retry_count = 0
        self._scheduled_count = 0
        self._retry_size: int | None = None
        self._scheduled_size: int | None = None
        self._delivered = 0
        self._dropped = 0
        self._ready = Signal()  # notified on every put
        self._room = Signal()  # notified when the scheduled part gains room
        self._single: MultiQueue | None = None

    # -- sizes ---------------------------------------------------------------------------
    @property
    def scheduled_size(self) -> int:
        """The admission bound of the scheduled part."""
        size = self._scheduled_size
        return self._owner._default_scheduled_size if size is None else size

    @property
    def retry_size(self) -> int:
        """The nominal bound of the retry part; retries are accepted beyond it."""
        size = self._retry_size
        return self._owner._default_retry_size if size is None else size

    @property
    def scheduled_count(self) -> int:
        """Entries in the scheduled part. O(1)."""
        return self._scheduled_count

    @property
    def retry_count(self) -> int:
        """Entries in the retry part. O(1)."""
        return self._retry_count

    def __len__(self) -> int:
        """Entries in both parts. O(1)."""
        return self._scheduled_count + self._retry_count

    def has_room(self) -> bool:
        """True when the scheduled part is below its bound. O(1)."""
        return self._scheduled_count < self.scheduled_size

    # -- putting and getting --------------------------------------------------------------
    def put(self, run: TaskRun) -> None:
        """Queue ``run`` on the scheduled part (see :meth:`TaskQueues.put`). O(log n).

        Raises:
            InvalidArgument: ``run`` is not a task run of this key.
        """
        self._owner.put(self._own(run), retry=False)

    def retry(self, run: TaskRun) -> None:
        """Queue ``run`` on the retry part (see :meth:`TaskQueues.put`). O(log n).

        Raises:
            InvalidArgument: ``run`` is not a task run of this key.
        """
        self._owner.put(self._own(run), retry=True)

    def get_nowait(self) -> TaskRun:
        """Pop the first due run, retry part first. O(log n) plus stale entries met.

        Raises:
            anyio.WouldBlock: no run is due now.
        """
        owner = self._owner
        now = owner.clock.now()
        with owner._lock:
            run = owner._take(self, now)
        if run is None:
            raise anyio.WouldBlock
        return run

    async def get(self) -> TaskRun:
        """Wait for a due run of this key and pop it (see :meth:`MultiQueue.get`)."""
        single = self._single
        if single is None:
            single = self._single = MultiQueue([self.task_key], queues=self._owner)
        return await single.get()

    def next_due(self) -> datetime | None:
        """The earliest due time among the entries, or None when empty. O(1) amortised."""
        with self._owner._lock:
            return self._owner._next_due(self)

    def statistics(self) -> TaskQueueStatistics:
        """Return this queue's sizes, bounds and counters."""
        with self._owner._lock:
            return self._statistics()

    def _statistics(self) -> TaskQueueStatistics:
        return TaskQueueStatistics(
            task_key=self.task_key,
            scheduled=self._scheduled_count,
            retry=self._retry_count,
            scheduled_size=self.scheduled_size,
            retry_size=self.retry_size,
            delivered=self._delivered,
            dropped=self._dropped,
            waiting_getters=self._ready.waiting,
            waiting_for_room=self._room.waiting,
        )

    def _own(self, run: TaskRun) -> TaskRun:
        if not isinstance(run, TaskRun):
            raise InvalidArgument(f"only task runs can be queued, got {run!r}")
        if run.task_key != self.task_key:
            raise InvalidArgument(
                f"run {run.id} has task key {run.task_key!r}; it belongs on that key's queue, "
                f"not on {self.task_key!r}"
            )
        return run

    def __repr__(self) -> str:
        return (
            f"TaskQueue({self.task_key!r}, scheduled={self._scheduled_count}, "
            f"retry={self._retry_count})"
        )


@final
class MultiQueue:
    """Serve the runs of several task keys to one consumer, fairly and on time.

    Args:
        task_keys: the keys to serve, at least one, no duplicates.
        queues: the orchestrator's registry (use ``orchestrator.multi_queue(keys)``).

    Keys are served round-robin: each search starts at the key after the one served
    last, so a busy key cannot starve the others. Within a key the retry part goes
    first. No run is handed out before its due time on the registry's clock. Several
    multi-queues over the same keys share the entries: each entry goes to one getter.

    Raises:
        InvalidArgument: no keys, an empty or duplicate key, or a bare string.
    """

    __slots__ = ("_next", "_owner", "_queues", "_ready")

    def __init__(self, task_keys: Iterable[str], *, queues: TaskQueues) -> None:
        if isinstance(task_keys, str):
            raise InvalidArgument(
                f"task_keys must be a collection of keys, not the string {task_keys!r}"
            )
        keys = [_check_key(key) for key in task_keys]
        if not keys:
            raise InvalidArgument("a MultiQueue needs at least one task key")
        if len(set(keys)) != len(keys):
            raise InvalidArgument(f"task_keys must not repeat a key, got {keys!r}")
        self._owner = queues
        self._queues = tuple(queues.for_key(key) for key in keys)
        self._ready = tuple(queue._ready for queue in self._queues)
        self._next = 0

    @property
    def task_keys(self) -> tuple[str, ...]:
        """The served keys, in the order given."""
        return tuple(queue.task_key for queue in self._queues)

    def get_nowait(self) -> TaskRun:
        """Pop the next due run, round-robin across keys. O(keys + log n).

        Raises:
            anyio.WouldBlock: no run is due now on any key.
        """
        run, _ = self._owner._search(self)
        if run is None:
            raise anyio.WouldBlock
        return run

    async def get(self) -> TaskRun:
        """Wait for the next due run and pop it.

        Returns at once, without yielding, when a run is due. Otherwise waits for a put
        on one of the keys, or for the clock to reach the earliest due time among them
        (``clock.sleep_until``, so a virtual clock's sleeper marks when to jump), then
        searches again. Cancel-safe: a cancelled get has taken nothing.
        """
        owner = self._owner
        ready = self._ready
        while True:
            seen = [signal.generation for signal in ready]
            run, due = owner._search(self)
            if run is not None:
                return run
            until = None if due is None else functools.partial(owner.clock.sleep_until, due)
            await wait_for_any(list(zip(ready, seen, strict=True)), until)

    def __repr__(self) -> str:
        return f"MultiQueue({list(self.task_keys)!r})"

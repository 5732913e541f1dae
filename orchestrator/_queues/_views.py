"""The consumer side of the task queues: :class:`TaskQueue` (one key) and :class:`MultiQueue`.

Both are views over a :class:`~orchestrator._queues._registry.TaskQueues` registry; see
that module for the concepts. They hold no queue data of their own: each keeps
references to its keys' :class:`~orchestrator._queues._state.KeyHeaps` and to the
registry's :class:`~orchestrator._queues._state.QueueState`, which holds the lock and does
the popping.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, final

import anyio

from .._core._checks import wrong_type
from .._core._errors import ArgumentValueError
from .._core._models import TaskRun
from .._core._wakeup import Signal, wait_for_any
from ._records import TaskQueueStatistics
from ._state import KeyHeaps, QueueState, check_key

if TYPE_CHECKING:
    from ._registry import TaskQueues

__all__ = ["MultiQueue", "TaskQueue"]


@final
class TaskQueue:
    """The queue of one task key: a retry part and a scheduled part.

    Get one from :meth:`TaskQueues.for_key`. ``len(queue)`` counts the entries of both
    parts (stale ones included until a getter meets them).
    """

    __slots__ = ("_heaps", "_owner", "_single", "_state", "task_key")

    def __init__(self, heaps: KeyHeaps, state: QueueState, owner: TaskQueues) -> None:
        self.task_key = heaps.task_key
        self._heaps = heaps
        self._state = state
        self._owner = owner
        self._single: MultiQueue | None = None

    # -- sizes ---------------------------------------------------------------------------
    @property
    def scheduled_size(self) -> int:
        """The admission bound of the scheduled part."""
        return self._heaps.scheduled_size

    @property
    def retry_size(self) -> int:
        """The nominal bound of the retry part; retries are accepted beyond it."""
        return self._heaps.retry_size

    @property
    def scheduled_count(self) -> int:
        """Entries in the scheduled part. O(1)."""
        return self._heaps.scheduled_count

    @property
    def retry_count(self) -> int:
        """Entries in the retry part. O(1)."""
        return self._heaps.retry_count

    def __len__(self) -> int:
        """Entries in both parts. O(1)."""
        heaps = self._heaps
        return heaps.scheduled_count + heaps.retry_count

    def has_room(self) -> bool:
        """True when the scheduled part is below its bound. O(1)."""
        heaps = self._heaps
        return heaps.scheduled_count < heaps.scheduled_size

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
        now = self._owner.clock.now()
        state = self._state
        with state.lock:
            run = state.take(self._heaps, now)
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
        state = self._state
        with state.lock:
            return state.next_due(self._heaps)

    def statistics(self) -> TaskQueueStatistics:
        """Return this queue's sizes, bounds and counters."""
        with self._state.lock:
            return self._heaps.statistics()

    @property
    def _ready(self) -> Signal:
        # The key's put signal. Nothing in the package reads it here; bench/bench_queues.py
        # does, to see when a getter is parked.
        return self._heaps.ready

    def _own(self, run: TaskRun) -> TaskRun:
        if not isinstance(run, TaskRun):
            raise wrong_type("run", run, "a TaskRun (only task runs can be queued)")
        if run.task_key != self.task_key:
            raise ArgumentValueError(
                f"run {run.id} has task key {run.task_key!r}; it belongs on that key's queue, "
                f"not on {self.task_key!r}"
            )
        return run

    def __repr__(self) -> str:
        heaps = self._heaps
        return (
            f"TaskQueue({self.task_key!r}, scheduled={heaps.scheduled_count}, "
            f"retry={heaps.retry_count})"
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

    __slots__ = ("_heaps", "_next", "_owner", "_ready", "_state")

    def __init__(self, task_keys: Iterable[str], *, queues: TaskQueues) -> None:
        if isinstance(task_keys, str) or not isinstance(task_keys, Iterable):
            raise wrong_type(
                "task_keys",
                task_keys,
                "a collection of keys",
                bare_string=isinstance(task_keys, str),
            )
        keys = [check_key(key) for key in task_keys]
        if not keys:
            raise ArgumentValueError("task_keys is empty: a MultiQueue needs at least one task key")
        if len(set(keys)) != len(keys):
            raise ArgumentValueError(f"task_keys must not repeat a key, got {keys!r}")
        self._owner = queues
        # The one place the wing reaches into a public object: a MultiQueue is made from
        # the public registry, and the state behind it is not part of its API.
        state = self._state = queues._state
        with state.lock:
            self._heaps = tuple(state.heaps_for(key) for key in keys)
        self._ready = tuple(heaps.ready for heaps in self._heaps)
        self._next = 0

    @property
    def task_keys(self) -> tuple[str, ...]:
        """The served keys, in the order given."""
        return tuple(heaps.task_key for heaps in self._heaps)

    def get_nowait(self) -> TaskRun:
        """Pop the next due run, round-robin across keys. O(keys + log n).

        Raises:
            anyio.WouldBlock: no run is due now on any key.
        """
        run, _ = self._search()
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
        ready = self._ready
        while True:
            seen = [signal.generation for signal in ready]
            run, due = self._search()
            if run is not None:
                return run
            until = None if due is None else functools.partial(self._owner.clock.sleep_until, due)
            await wait_for_any(list(zip(ready, seen, strict=True)), until)

    def _search(self) -> tuple[TaskRun | None, datetime | None]:
        """A due run, round-robin from the key after the last served; else the earliest due."""
        now = self._owner.clock.now()
        state = self._state
        keys = self._heaps
        count = len(keys)
        earliest: datetime | None = None
        take_from = state.take_from
        with state.lock:
            index = self._next
            for _ in range(count):
                heaps = keys[index]
                index = index + 1 if index + 1 < count else 0
                # As state.take, inlined (one call less per run); an empty retry part
                # is skipped without a call.
                retry = heaps.retry
                run = take_from(retry, now) if retry else None
                if run is None:
                    run = take_from(heaps.scheduled, now)
                if run is not None:
                    self._next = index
                    return run, None
                due = state.next_due(heaps)
                if due is not None and (earliest is None or due < earliest):
                    earliest = due
        return None, earliest

    def __repr__(self) -> str:
        return f"MultiQueue({list(self.task_keys)!r})"

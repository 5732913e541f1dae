"""Activity: what is running right now, so tests can tell "idle" from "busy".

Workers report each run they execute (``begin``/``end``) and register themselves while
they serve. Time skipping and the drain helpers read this to decide when all work is
idle: no run is executing, so the only work left is due in the future. Transitions
notify ``changed`` (a thread-safe :class:`~orchestrator._core._wakeup.Signal`) whenever the
count of executing runs drops to zero or a worker comes or goes.

Two kinds of execution are told apart. A run whose function runs in a worker thread is
counted by ``begin``/``end`` (:attr:`Activity.executing`): the event loop cannot see a
thread, so it is busy for as long as it runs. A run whose function runs in the event
loop is registered as a :class:`~orchestrator._core._parking.RunExecution`
(:meth:`Activity.execution`): time skipping looks at its tasks and holds the clock only
while one of them awaits something other than the orchestrator (see
:mod:`orchestrator._core._parking`).
"""

from __future__ import annotations

import threading
from typing import final

import attrs

from ._parking import RunExecution
from ._wakeup import Signal

__all__ = ["Activity", "ActivityStatistics"]


@final
@attrs.frozen(kw_only=True)
class ActivityStatistics:
    """How much is going on: runs executing now, workers serving, runs executed so far."""

    executing: int
    workers: int
    executed: int


@final
class Activity:
    """Counts executing runs and serving workers; safe from any thread."""

    __slots__ = ("_executed", "_executing", "_in_loop", "_lock", "_workers", "changed")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executing = 0
        self._executed = 0
        self._workers: list[object] = []
        self._in_loop: dict[RunExecution, None] = {}
        #: Notified when the executing count drops to zero and when workers come or go.
        self.changed = Signal()

    def begin(self) -> None:
        """A worker started executing a run."""
        with self._lock:
            self._executing += 1

    def end(self) -> None:
        """A worker finished executing a run (whatever the outcome)."""
        with self._lock:
            if self._executing <= 0:
                raise RuntimeError("Activity.end() without a matching begin()")
            self._executing -= 1
            self._executed += 1
            idle = self._executing == 0
        if idle:
            self.changed.notify()

    @property
    def executing(self) -> int:
        """How many runs are executing now."""
        return self._executing

    @property
    def workers(self) -> tuple[object, ...]:
        """The workers serving now, in the order they started."""
        with self._lock:
            return tuple(self._workers)

    def add_worker(self, worker: object) -> None:
        """Register a worker that started serving."""
        with self._lock:
            self._workers.append(worker)
        self.changed.notify()

    def remove_worker(self, worker: object) -> None:
        """Forget a worker that stopped (no error if it was not registered)."""
        with self._lock:
            self._workers = [w for w in self._workers if w is not worker]
        self.changed.notify()

    def statistics(self) -> ActivityStatistics:
        """Return the current counts."""
        with self._lock:
            return ActivityStatistics(
                executing=self._executing, workers=len(self._workers), executed=self._executed
            )

    def execution(self) -> RunExecution:
        """Mark a run's function executing in the current task of an event loop.

        Use it as ``with activity.execution(): await call()`` around the call, in the
        task that makes it; tasks started inside belong to the execution too.
        """
        execution = RunExecution(self._forget)
        with self._lock:
            self._in_loop[execution] = None
        return execution

    def executions_in(self, thread: int) -> tuple[RunExecution, ...]:
        """The runs executing now in the event loop of ``thread`` (a thread identity)."""
        with self._lock:
            if not self._in_loop:
                return ()
            return tuple(e for e in self._in_loop if e.thread == thread and e.root)

    def _forget(self, execution: RunExecution) -> None:
        with self._lock:
            self._in_loop.pop(execution, None)

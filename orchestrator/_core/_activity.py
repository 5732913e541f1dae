"""Activity: what is running right now, so tests can tell "idle" from "busy".

Workers report each run they execute (``begin``/``end``) and register themselves while
they serve. Time skipping and the drain helpers read this to decide when all work is
idle: no run is executing, so the only work left is due in the future. Transitions
notify ``changed`` (a thread-safe :class:`~orchestrator._core._wakeup.Signal`) whenever the
count of executing runs drops to zero or a worker comes or goes.
"""

from __future__ import annotations

import threading
from typing import final

import attrs

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

    __slots__ = ("_executed", "_executing", "_lock", "_workers", "changed")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executing = 0
        self._executed = 0
        self._workers: list[object] = []
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

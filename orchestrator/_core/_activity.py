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

Sync user code that may block on the orchestrator (a sync flow body, a sync task run
by a task runner) runs inside :meth:`Activity.counted`: it counts as executing like
``begin``/``end``, and it names itself as the current *busy unit*, so that a blocking
orchestrator wait made inside it (a blocking clock sleep, a blocking future wait, a
blocking wait for a slot turn: see :func:`parked_blocking`) marks it idle for the wait,
and whoever wakes the wait marks it busy again before waking it. An event loop of a
runner thread counts as one unit too (:mod:`orchestrator._engine._foreign_loop`). The
rules are in :mod:`orchestrator._core._units`. ``executing`` counts the busy units:
begun runs and counted code, minus those parked in a blocking wait.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import final

import attrs

from ._parking import RunExecution
from ._units import ThreadUnit, current_unit, parked_blocking, using_unit
from ._wakeup import Signal

__all__ = ["Activity", "ActivityStatistics", "parked_blocking"]


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

    def mark_idle(self) -> None:
        """A busy unit parked in an orchestrator wait (see :mod:`orchestrator._core._units`)."""
        with self._lock:
            if self._executing <= 0:
                raise RuntimeError("Activity.mark_idle() with nothing executing")
            self._executing -= 1
            idle = self._executing == 0
        if idle:
            self.changed.notify()

    def _drop(self) -> None:
        """Take back a ``begin()`` that counted nothing after all (not an executed run)."""
        with self._lock:
            self._executing -= 1
            idle = self._executing == 0
        if idle:
            self.changed.notify()

    def mark_busy(self) -> None:
        """A parked busy unit was woken: it executes again."""
        with self._lock:
            self._executing += 1

    @contextlib.contextmanager
    def counted(self, *, begun: bool = False) -> Iterator[None]:
        """Count the sync code of the ``with`` block as executing, in this thread.

        Like ``begin()``/``end()`` around the block, and the block becomes the current
        busy unit: a blocking orchestrator wait made inside it marks it idle for the wait
        (see :func:`parked_blocking`). Nested in a block counted on the same activity in
        the same thread it counts nothing more; nested in one of another activity, a
        blocking wait parks both.

        Args:
            begun: the count was begun already, by ``begin()`` when the work was handed
                to this thread (so it held time before the thread took it); the block
                takes that count over instead of beginning its own.
        """
        outer = current_unit()
        if isinstance(outer, ThreadUnit) and outer.thread == threading.get_ident():
            if any(counter is self for counter in outer.counters()):
                if begun:
                    self._drop()  # the outer block counts this thread already
                yield
                return
        else:
            outer = None
        if not begun:
            self.begin()
        try:
            with using_unit(ThreadUnit(self, outer)):
                yield
        finally:
            self.end()

    @property
    def executing(self) -> int:
        """How many runs (and other busy units) are executing now."""
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
        return RunExecution(self._in_loop, self._lock)

    @contextlib.contextmanager
    def execution_here(self) -> Iterator[None]:
        """Mark the block as a run's execution in this event loop, unless a unit counts it.

        In the time skipper's own loop (``async with orchestrator:``) the skipper looks at
        the run's tasks (:meth:`execution`); in a foreign loop (a runner thread's, or a
        caller's loop counted while a flow call drives time) the loop's unit counts them
        already.
        """
        if current_unit() is not None:
            yield
            return
        with self.execution():
            yield

    def executions_in(self, thread: int) -> tuple[RunExecution, ...]:
        """The runs executing now in the event loop of ``thread`` (a thread identity)."""
        with self._lock:
            if not self._in_loop:
                return ()
            return tuple(e for e in self._in_loop if e.thread == thread and e.root)

"""Future waiters: the wake-up callbacks of everyone waiting on a run to finish.

The engine owns one :class:`FutureWaiters` and subscribes it as an observer the first
time a future waits, so commits cost nothing extra until someone waits. A commit that
settles the run (a terminal state, or PENDING "NotReady": see
:mod:`orchestrator._core._settled`), or the run's deletion, calls and forgets the
run's callbacks, from whichever thread made the change. A callback woken so is
remembered until its waiter discards it (having read the run): until then the run
counts as waited on
(:meth:`FutureWaiters.is_waited_on`), which keeps retention from deleting a finished
run under a future that has not read its final state yet.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import final

from .._core._events import Observer
from .._core._models import TaskRun
from .._core._settled import is_settled
from .._core._states import State

__all__ = ["FutureWaiters", "Wake"]

#: A callback that wakes one waiter; it must not block (it runs under the engine's lock).
Wake = Callable[[], None]


@final
class FutureWaiters(Observer):
    """The wake-up callbacks of everyone waiting on a run of one orchestrator.

    Subscribed to its orchestrator; calls and forgets a run's callbacks when the run
    settles (a terminal state, or NotReady) or is deleted. Registering costs O(1); a commit with
    nobody waiting costs one dict lookup. Callbacks must not block: they are called
    under the engine's lock.
    """

    __slots__ = ("_by_run", "_lock", "_woken")

    def __init__(self) -> None:
        self._by_run: dict[uuid.UUID, list[Wake]] = {}
        # Callbacks woken by a terminal commit whose waiters have not discarded them yet.
        self._woken: dict[uuid.UUID, list[Wake]] = {}
        # A leaf lock: nothing is called while it is held, so it never nests the other
        # way round with the engine's lock.
        self._lock = threading.Lock()

    def add(self, run_id: uuid.UUID, wake: Wake) -> None:
        """Call ``wake`` when run ``run_id`` finishes or is deleted."""
        with self._lock:
            waiting = self._by_run.get(run_id)
            if waiting is None:
                self._by_run[run_id] = [wake]
            else:
                waiting.append(wake)

    def discard(self, run_id: uuid.UUID, wake: Wake) -> None:
        """Forget ``wake`` (no error if it was already called or never added)."""
        with self._lock:
            for table in (self._by_run, self._woken):
                waiting = table.get(run_id)
                if waiting is None:
                    continue
                try:
                    waiting.remove(wake)
                except ValueError:
                    continue
                if not waiting:
                    del table[run_id]
                return

    def is_waited_on(self, run_id: uuid.UUID) -> bool:
        """Return whether a waiter of ``run_id`` is registered, or woken and not done. O(1)."""
        return run_id in self._by_run or run_id in self._woken

    def waiting(self) -> int:
        """Return how many callbacks are registered (for tests and statistics)."""
        with self._lock:
            return sum(len(w) for w in self._by_run.values())

    def _wake(self, run_id: uuid.UUID, *, remember: bool) -> None:
        with self._lock:
            waiting = self._by_run.pop(run_id, None)
            if remember and waiting is not None:
                self._woken.setdefault(run_id, []).extend(waiting)
            elif not remember:
                self._woken.pop(run_id, None)
        if waiting is not None:
            for wake in waiting:
                wake()

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        """Wake the run's waiters if ``state`` settles the run (terminal or NotReady)."""
        if self._by_run and is_settled(state):
            self._wake(run.id, remember=True)

    def task_run_deleted(self, run: TaskRun) -> None:
        """Wake the run's waiters: they will find it gone."""
        if self._by_run or self._woken:
            self._wake(run.id, remember=False)

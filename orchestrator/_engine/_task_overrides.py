"""Per-orchestrator stand-ins for task functions: the seam test stubs hang on.

Every orchestrator has a small table, task key -> *stand-in*
(:attr:`Orchestrator.task_overrides <orchestrator.Orchestrator.task_overrides>`). A stand-in is a
callable ``(task, run) -> Task``: given the served task and the run about to execute,
it returns the task whose function to call instead (same signature, same timeout).
A worker asks :meth:`TaskOverrides.stand_in` just before it calls a task's function; with no entry
for the key it gets the task itself back, so the table changes nothing for other keys
and nothing at all for other orchestrators. Options that decide *whether* and *how*
a run executes (retries, tags, caching, timeouts) stay those of the served task.

The worker's side is one call, where it calls the function
(``orchestrator/workers/_execution.py``, ``RunExecutor._call``)::

    value = await self._caller.call(overrides.stand_in(task, claim.run), parameters)

An empty table costs one dict lookup per executed run.
:mod:`orchestrator.testing` builds its stubs on it (``stub_task``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, final

from .._core._errors import InvalidArgument

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from .._core._tasks import Task

__all__ = ["StandIn", "TaskOverrides"]

#: ``(served task, run about to execute) -> the task to call instead``.
StandIn = Callable[["Task[..., Any]", "TaskRun"], "Task[..., Any]"]


@final
class TaskOverrides:
    """The stand-ins of one orchestrator, by task key; safe from any thread.

    Reads (:meth:`get`, done by workers) take no lock; changes take one.
    """

    __slots__ = ("_by_key", "_lock")

    def __init__(self) -> None:
        self._by_key: dict[str, StandIn] = {}
        self._lock = threading.Lock()

    def install(self, task_key: str, stand_in: StandIn) -> None:
        """Make ``stand_in`` answer for ``task_key`` from the next executed run on.

        Raises:
            InvalidArgument: the key already has a stand-in (remove it first).
        """
        with self._lock:
            if task_key in self._by_key:
                raise InvalidArgument(
                    f"task key {task_key!r} is stubbed on this orchestrator already; undo "
                    "that stub first, or give one stub the whole script (outcomes=[...])"
                )
            self._by_key[task_key] = stand_in

    def remove(self, task_key: str, stand_in: StandIn) -> bool:
        """Remove ``stand_in`` from ``task_key``; False (nothing changed) if it is not there."""
        with self._lock:
            if self._by_key.get(task_key) is not stand_in:
                return False
            del self._by_key[task_key]
            return True

    def get(self, task_key: str) -> StandIn | None:
        """Return the stand-in of ``task_key``, or None."""
        return self._by_key.get(task_key)

    def stand_in(self, task: Task[..., Any], run: TaskRun) -> Task[..., Any]:
        """Return the task whose function a worker calls for ``run``: ``task`` unless stubbed.

        Called by a worker in the event loop, after the run's RUNNING state is committed
        and just before the call (so ``run.run_count`` is the attempt being made).
        """
        override = self._by_key.get(task.task_key)
        return task if override is None else override(task, run)

    def clear(self) -> tuple[StandIn, ...]:
        """Remove every stand-in and return them."""
        with self._lock:
            removed = tuple(self._by_key.values())
            self._by_key.clear()
            return removed

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        return f"<TaskOverrides keys={sorted(self._by_key)}>"

"""Parking: which tasks of a run executing in an event loop wait on the orchestrator itself.

Time skipping may jump the virtual clock only while every run executing in the event
loop waits on the orchestrator: on its clock, a slot turn, a future, a queue, one of its
signals. A run that awaits anything else (a real-time sleep, a socket, a subprocess, a
thread) holds virtual time still until it returns.

Two marks make that decidable without any threshold:

* **The run's execution.** A worker calls a run's function inside
  :meth:`RunExecution.enter` (through
  :meth:`~orchestrator._core._activity.Activity.execution`): the current task becomes the
  execution's *root*, and a context variable names the execution for the root and for
  every task started from it (tasks copy their parent's context).
* **Parking.** Every primitive of the orchestrator that waits (a clock sleep, a
  :class:`~orchestrator._core._wakeup.Waiter`, hence every signal, future, queue and slot
  turn) awaits through :func:`parked`. Inside a run's execution it records the current
  task as parked for the length of the await (a dict entry, removed in ``finally``);
  outside one it costs one context-variable read.

Which tasks belong to the run, and whether one that is not parked waits for its own
child tasks, is read from the event loop by :mod:`orchestrator._engine._real_work`.
Nothing here is process-wide state: the context variable holds the execution of the
task that reads it, and each execution belongs to one orchestrator's activity.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable
from contextvars import ContextVar, Token
from typing import Final, TypeVar, final

__all__ = ["RunExecution", "current_task_key", "parked"]

T = TypeVar("T")

_EXECUTION: Final[ContextVar[RunExecution | None]] = ContextVar(
    "orchestrator_run_execution", default=None
)


def current_task_key() -> int:
    """Return the ``id`` of the running asyncio or trio task (0 outside any task).

    The same number :func:`anyio.get_current_task` reports as the task's id.
    """
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_task():
        return id(trio.lowlevel.current_task())
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        return 0
    return 0 if task is None else id(task)


@final
class RunExecution:
    """One execution of a run's function in an event loop, and which of its tasks are parked.

    Args:
        registry: where the execution is listed while it runs (the activity's), guarded
            by ``lock``: listed now, taken out when it exits.
        lock: the registry's lock.

    Attributes:
        root: the ``id`` of the task that calls the function (0 until entered).
        thread: the identity of the thread whose event loop runs it.
        parked: ``id`` of each task of the execution that is parked now -> nesting depth.
    """

    __slots__ = ("_lock", "_registry", "_token", "parked", "root", "thread")

    def __init__(self, registry: dict[RunExecution, None], lock: threading.Lock) -> None:
        self._registry = registry
        self._lock = lock
        self._token: Token[RunExecution | None] | None = None
        self.root = 0
        self.thread = 0
        self.parked: dict[int, int] = {}
        with lock:
            registry[self] = None

    def __enter__(self) -> RunExecution:
        if "trio" in sys.modules:
            self.root = current_task_key()
        else:  # asyncio only: current_task_key's asyncio branch, without its call
            try:
                task = asyncio.current_task()
            except RuntimeError:  # no running loop in this thread
                task = None
            self.root = 0 if task is None else id(task)
        self.thread = threading.get_ident()
        self._token = _EXECUTION.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        token = self._token
        self._token = None
        if token is not None:
            _EXECUTION.reset(token)
        with self._lock:
            self._registry.pop(self, None)

    def __repr__(self) -> str:
        return f"<RunExecution root={self.root:#x} parked={len(self.parked)}>"


async def parked(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, recording the current task as parked on the orchestrator meanwhile.

    Only the orchestrator's own waits go through here; see the module docstring.
    """
    execution = _EXECUTION.get()
    if execution is None or execution.thread != threading.get_ident():
        return await awaitable
    key = current_task_key()
    waiting = execution.parked
    waiting[key] = waiting.get(key, 0) + 1
    try:
        return await awaitable
    finally:
        depth = waiting.pop(key, 1) - 1
        if depth:
            waiting[key] = depth

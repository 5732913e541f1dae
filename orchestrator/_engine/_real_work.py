"""Real work: find the tasks of executing runs that await something other than the orchestrator.

At an idle moment (every task of the event loop blocked, see
:func:`~orchestrator._engine._idle.settle`) time skipping asks :func:`find_real_work`
whether some run executing in this event loop holds virtual time. The tasks of a run are
the task a worker calls its function in (its
:class:`~orchestrator._core._parking.RunExecution` root) and every task started from it
through a task group or nursery, found through the parent links anyio reports
(:func:`anyio.get_running_tasks`). Each one, blocked, is in one of three places:

* **parked on the orchestrator**: inside :func:`~orchestrator._core._parking.parked` (a
  clock sleep, a signal, a future, a queue, a slot turn);
* **waiting for other tasks of the loop**: at the end of a task group or nursery block,
  in ``TaskGroup.start``, (asyncio) awaiting another task or an ``asyncio.gather``, or on
  one of the loop's own synchronisation primitives (an anyio or trio ``Event``, ``Lock``,
  ``Semaphore``, ``Condition``, ``CapacityLimiter``, memory stream or channel; asyncio's
  ``Lock``, ``Semaphore``, ``Condition``, ``Queue``), which only another task can release;
  the tasks of the run are each looked at in turn; or sleeping forever
  (``anyio.sleep_forever``, ``trio.sleep_forever``), which no real time ends, only a
  cancellation (a timeout on the orchestrator's clock, for one);
* **anywhere else**: a real-time sleep, a socket, a subprocess, a thread. This task holds
  virtual time still.

:func:`wait_for_real_work` then waits, event-driven, until one of the holding tasks is
woken by whatever it awaits (asyncio: a done callback on the future it is blocked on;
trio: an instrument told when the task is rescheduled), after which the caller settles
the loop and asks again. Runs executing in another thread's event loop are not looked at.

Costs: nothing when no run executes in the event loop; otherwise O(tasks of the loop)
per idle moment, plus a walk down the await chain of each blocked task of a run.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import threading
from collections.abc import Iterator
from types import CodeType
from typing import Any, Final, final

import anyio

from .._core._activity import Activity
from .._core._parking import RunExecution, current_task_key
from .._core._wakeup import Signal, current_async_library, wait_for_any

__all__ = ["RealWork", "find_real_work", "wait_for_real_work"]


@final
class RealWork:
    """The blocked tasks of executing runs that await something other than the orchestrator.

    Attributes:
        library: "asyncio" or "trio".
        holders: the tasks (asyncio ``Task`` or trio ``Task`` objects).
    """

    __slots__ = ("holders", "library")

    def __init__(self, library: str, holders: list[Any]) -> None:
        self.library = library
        self.holders = holders

    def __repr__(self) -> str:
        names = ", ".join(_name(task) for task in self.holders)
        return f"<RealWork {self.library}: {names}>"


def _name(task: Any) -> str:
    get_name = getattr(task, "get_name", None)
    return str(get_name() if get_name is not None else getattr(task, "name", task))


# -- where a blocked task is --------------------------------------------------------------
#: Where a task waits for other tasks of its own event loop: task group and nursery ends
#: and starts, and the loop's own synchronisation primitives; and a sleep forever, which
#: only a cancellation ends. Not ``asyncio.Event``: anyio's asyncio sockets wait on one
#: for incoming data.
_IN_LOOP: Final = {
    "asyncio": (
        "anyio:sleep_forever",
        "anyio._backends._asyncio:TaskGroup.__aexit__",
        "anyio._backends._asyncio:TaskGroup.start",
        "anyio._backends._asyncio:Event.wait",
        "anyio._backends._asyncio:Lock.acquire",
        "anyio._backends._asyncio:Semaphore.acquire",
        "anyio._backends._asyncio:CapacityLimiter.acquire_on_behalf_of",
        "asyncio:TaskGroup.__aexit__",
        "asyncio:Lock.acquire",
        "asyncio:Semaphore.acquire",
        "asyncio:Condition.wait",
        "asyncio:Queue.get",
        "asyncio:Queue.put",
    ),
    "trio": (
        "anyio:sleep_forever",
        "trio:sleep_forever",
        "trio:Nursery._nested_child_finished",
        "trio:Nursery.start",
        "trio:Event.wait",
        "trio.lowlevel:ParkingLot.park",
        "trio._channel:MemoryReceiveChannel.receive",
        "trio._channel:MemorySendChannel.send",
    ),
}


#: Real-time sleeps that wait through a sleep forever (trio's ``sleep`` is a
#: ``sleep_forever`` inside a deadline): the outermost of these and the in-loop waits
#: down the await chain decides.
_REAL_SLEEPS: Final = {"asyncio": (), "trio": ("trio:sleep", "trio:sleep_until")}


def _codes(names: tuple[str, ...]) -> frozenset[CodeType]:
    """The code of the coroutine functions ``names`` ("module:qualified.name")."""
    codes: set[CodeType] = set()
    for where in names:
        module_name, _, path = where.partition(":")
        found: Any = importlib.import_module(module_name)  # loaded already: the backend
        for part in path.split("."):
            found = getattr(found, part, None)
        code = getattr(found, "__code__", None)
        if isinstance(code, CodeType):  # a name another version lacks is left out
            codes.add(code)
    return frozenset(codes)


@functools.cache
def _joins(library: str) -> tuple[frozenset[CodeType], frozenset[CodeType]]:
    """The in-loop waits and the real sleeps of a backend, read once (library constants)."""
    return _codes(_IN_LOOP[library]), _codes(_REAL_SLEEPS[library])


def _await_chain(coro: Any) -> Iterator[CodeType]:
    """The code of each coroutine (or generator) down the chain ``coro`` awaits."""
    while coro is not None:
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is not None:
            yield code
        inner = getattr(coro, "cr_await", None)
        coro = inner if inner is not None else getattr(coro, "gi_yieldfrom", None)


def _joining(coro: Any, joins: frozenset[CodeType], sleeps: frozenset[CodeType]) -> bool:
    for code in _await_chain(coro):
        if code in sleeps:
            return False
        if code in joins:
            return True
    return False


# -- finding the holders --------------------------------------------------------------------
def find_real_work(activity: Activity) -> RealWork | None:
    """Return the tasks of runs executing in this event loop that hold virtual time, or None.

    Call it at an idle moment, from a task of the event loop (see the module docstring).
    The calling task is never a holder (a foreign loop's monitor runs inside the run).
    """
    executions = activity.executions_in(threading.get_ident())
    if not executions:
        return None
    library = current_async_library()
    if library is None:
        return None
    infos = anyio.get_running_tasks()
    children: dict[int, list[int]] = {}
    for info in infos:
        if info.parent_id is not None:
            children.setdefault(info.parent_id, []).append(info.id)
    parked: set[int] = set()
    for execution in executions:
        parked.update(execution.parked)
    objects = _task_objects(library)
    objects.pop(current_task_key(), None)  # the task asking is running, not holding
    joins, sleeps = _joins(library)
    holders = _holders(executions, children, parked, objects, joins, sleeps)
    return RealWork(library, holders) if holders else None


def _task_objects(library: str) -> dict[int, Any]:
    if library == "asyncio":
        return {id(task): task for task in asyncio.all_tasks()}
    import trio  # the running backend

    found: dict[int, Any] = {}
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        if task is None:
            continue
        found[id(task)] = task
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return found


def _holders(
    executions: tuple[RunExecution, ...],
    children: dict[int, list[int]],
    parked: set[int],
    objects: dict[int, Any],
    joins: frozenset[CodeType],
    sleeps: frozenset[CodeType],
) -> list[Any]:
    holders: list[Any] = []
    seen: set[int] = set()
    stack = [execution.root for execution in executions]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        task = objects.get(key)
        if task is None:
            continue  # finished meanwhile
        stack.extend(children.get(key, ()))
        if key in parked:
            continue
        get_coro = getattr(task, "get_coro", None)
        coro = get_coro() if get_coro is not None else getattr(task, "coro", None)
        if _joining(coro, joins, sleeps):
            continue
        awaited = _awaited_tasks(task)
        if awaited is not None:
            stack.extend(id(other) for other in awaited)
            continue
        holders.append(task)
    return holders


def _awaited_tasks(task: Any) -> list[Any] | None:
    """asyncio: the tasks ``task`` waits for when it awaits a task or a gather, else None."""
    waiter = getattr(task, "_fut_waiter", None)
    if isinstance(waiter, asyncio.Task):
        return [waiter]
    gathered = getattr(waiter, "_children", None)
    if isinstance(waiter, asyncio.Future) and isinstance(gathered, list):
        return [child for child in gathered if isinstance(child, asyncio.Task)]
    return None


# -- waiting for them ---------------------------------------------------------------------------
async def wait_for_real_work(work: RealWork, changed: Signal, seen: int) -> None:
    """Return once a holding task is woken, or ``changed`` is notified after ``seen``."""
    woken = Signal()
    if work.library == "trio":
        await _wait_trio(work, woken, changed, seen)
        return
    futures: list[asyncio.Future[Any]] = []
    for task in work.holders:
        waiter = getattr(task, "_fut_waiter", None)
        if isinstance(waiter, asyncio.Future):
            futures.append(waiter)

    def wake(_: object) -> None:
        woken.notify()

    for future in futures:
        future.add_done_callback(wake)
    try:
        if futures:
            await wait_for_any([(woken, woken.generation), (changed, seen)])
        else:  # a task blocked on nothing is runnable: look again
            await anyio.lowlevel.checkpoint()
    finally:
        for future in futures:
            future.remove_done_callback(wake)


async def _wait_trio(work: RealWork, woken: Signal, changed: Signal, seen: int) -> None:
    import trio  # the running backend

    holders = frozenset(work.holders)

    class Rescheduled(trio.abc.Instrument):
        """Notify ``woken`` when a holding task is rescheduled or exits."""

        def task_scheduled(self, task: trio.lowlevel.Task) -> None:
            if task in holders:
                woken.notify()

        def task_exited(self, task: trio.lowlevel.Task) -> None:
            if task in holders:
                woken.notify()

    instrument = Rescheduled()
    before = woken.generation
    trio.lowlevel.add_instrument(instrument)
    try:
        await wait_for_any([(woken, before), (changed, seen)])
    finally:
        trio.lowlevel.remove_instrument(instrument)

"""Foreign event loops: an event loop of its own, counted as one busy unit for time skipping.

A time skipper looks at the tasks of its own event loop only. An event loop that hosts
runs in another thread (a runner thread doing ``anyio.run(...)`` for one async task
function submitted from a flow) is a *foreign loop*: the skipper cannot see its tasks,
so the loop counts on the orchestrator's :class:`~orchestrator._core._activity.Activity`
as one busy unit (``activity.executing``), and reports itself idle by the same rules the
skipper applies to its own loop (:mod:`orchestrator._engine._idle`):

* a **monitor** task of the loop waits until the loop has settled (every other task
  blocked, :func:`~orchestrator._engine._idle.settle`) and no task of the runs executing
  in the loop awaits anything but the orchestrator
  (:func:`~orchestrator._engine._real_work.find_real_work`); then it marks the unit idle,
  unless a wake-up was posted into the loop meanwhile;
* **any wake-up posted into the loop marks it busy first**, synchronously, in the
  waker's thread: every :class:`~orchestrator._core._wakeup.Waiter` made in the loop
  (hence every clock sleep, signal, future wait, queue and slot turn) carries the loop
  unit's wake hook (see :mod:`orchestrator._core._units`). The hook marks the unit busy,
  posts the wake-up (queued in the loop before the post returns) and then bumps the
  unit's kick count and wakes the monitor: the monitor never marks the loop idle while a
  wake-up it has not seen processed is on its way.

The whole body of :func:`foreign_loop` is one run's execution (a
:class:`~orchestrator._core._parking.RunExecution` rooted at the task that enters it),
so a real-time sleep, a socket or a thread anywhere in the loop holds virtual time, as
in a run executing in the skipper's own loop. A sync blocking wait in the loop's thread
would stop the loop, and is refused by the blocking waits.

When the loop's thread is itself counted (``activity.counted()`` around
``anyio.run(...)``), the loop takes over: the thread's unit is parked while the loop
unit counts, so the two are never counted twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, final

import anyio

from .._core._activity import Activity
from .._core._parking import RunExecution, current_task_key
from .._core._units import Unit, WakeHook, current_unit, using_unit
from .._core._wakeup import Signal, Waiter, current_async_library
from ._idle import settle
from ._real_work import find_real_work, wait_for_real_work

T = TypeVar("T")

__all__ = ["LoopUnit", "block_on", "foreign_loop", "run_sync_counted"]


@final
class LoopUnit(Unit):
    """A foreign loop counted as one busy unit on an activity (see the module docstring).

    Thread-safe: the wake hook runs in whichever thread wakes a task of the loop.

    Attributes:
        kicked: notified after each wake-up posted into the loop.
    """

    __slots__ = ("_activity", "_closed", "_idle", "_kicks", "_lock", "_pending", "kicked")

    def __init__(self, activity: Activity) -> None:
        super().__init__()
        self._activity = activity
        self._lock = threading.Lock()
        self._idle = False
        self._closed = False
        self._kicks = 0
        self._pending = 0
        self.kicked = Signal()

    @property
    def activity(self) -> Activity:
        """The activity the loop is counted on."""
        return self._activity

    @property
    def idle(self) -> bool:
        """Whether the loop reports itself idle now."""
        return self._idle

    @property
    def kicks(self) -> int:
        """How many wake-ups were posted into the loop so far."""
        return self._kicks

    def parking(self) -> None:
        """None: a blocking wait in the loop's thread is refused, there is nothing to park."""
        return None

    def wake_hook(self) -> WakeHook:
        """:meth:`post`: mark the loop busy around every wake-up posted into it."""
        return self.post

    def post(self, wake: Callable[[], None]) -> None:
        """Mark the loop busy, call ``wake()`` (it posts into the loop), then tell the monitor."""
        with self._lock:
            self._pending += 1
            if self._idle:
                self._idle = False
                self._activity.mark_busy()
        try:
            wake()
        finally:
            with self._lock:
                self._pending -= 1
                self._kicks += 1
            self.kicked.notify()

    def try_idle(self, seen: int) -> bool:
        """Mark the loop idle unless a wake-up was posted since kick count ``seen``."""
        with self._lock:
            if self._pending or self._kicks != seen or self._idle or self._closed:
                return False
            self._idle = True
        self._activity.mark_idle()  # a post meanwhile marks it busy: the two commute
        return True

    def close(self) -> None:
        """The loop's body ended: busy again if idle (the caller then ends the count)."""
        with self._lock:
            self._closed = True
            was_idle = self._idle
            self._idle = False
        if was_idle:
            self._activity.mark_busy()

    def __repr__(self) -> str:
        state = "idle" if self._idle else "busy"
        return f"<LoopUnit {state} kicks={self._kicks}>"


async def _monitor(unit: LoopUnit, activity: Activity, execution: RunExecution) -> None:
    """Mark ``unit`` idle at each idle moment of this loop; wait for a kick to look again.

    The monitor runs inside the run's task tree but is machinery, not the run: it
    counts as parked on the orchestrator for anyone else who looks for real work.
    """
    me = current_task_key()
    execution.parked[me] = execution.parked.get(me, 0) + 1
    kicked = unit.kicked
    try:
        while True:
            seen_generation = kicked.generation
            seen = unit.kicks
            await settle()
            work = find_real_work(activity)
            if work is not None:
                await wait_for_real_work(work, kicked, seen_generation)
                continue
            # Nothing ran since the loop settled: this is an idle moment of the loop.
            unit.try_idle(seen)
            await kicked.wait(seen_generation)
    finally:
        execution.parked.pop(me, None)


@contextlib.asynccontextmanager
async def foreign_loop(activity: Activity) -> AsyncIterator[LoopUnit | None]:
    """Count this event loop as one busy unit on ``activity`` while the block runs.

    Enter it at the top of the loop's main task (``anyio.run(main)`` in a runner
    thread)::

        async def main() -> None:
            async with foreign_loop(orchestrator.activity):
                await task_function()

    The block runs as one run's execution; a monitor task reports the loop idle at its
    idle moments, and any wake-up into the loop marks it busy first (see the module
    docstring). Yields the unit; nested in a block of the same activity in the same
    loop it counts nothing more and yields None. Not for the time skipper's own loop,
    whose tasks it looks at directly.
    """
    outer = current_unit()
    here = threading.get_ident()
    if isinstance(outer, LoopUnit) and outer.thread == here and outer.activity is activity:
        yield None
        return
    parking = outer.parking() if outer is not None else None
    unit = LoopUnit(activity)
    execution = activity.execution()
    activity.begin()
    try:
        group = anyio.create_task_group()
        await group.__aenter__()
        try:
            group.start_soon(_monitor, unit, activity, execution)  # outside the unit
            if parking is not None:
                parking.park()  # the loop unit counts for the thread from here
            try:
                with using_unit(unit), execution:
                    yield unit
            finally:
                if parking is not None:
                    parking.resume()
        finally:
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)
    finally:
        unit.close()
        activity.end()


async def run_sync_counted(activity: Activity, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a new thread, counted on ``activity``; await its result parked.

    The thread's code counts as a busy unit (``activity.counted()``): it holds virtual
    time while it runs and not while it waits on the orchestrator. The awaiting task is
    parked meanwhile (the thread accounts for itself), and the thread hands its result
    back through a :class:`~orchestrator._core._wakeup.Waiter` *before* it stops
    counting, so the awaiting loop is busy again (or has the hand-off queued) before the
    thread can look idle. Unlike ``anyio.to_thread.run_sync``, a task awaiting this does
    not hold virtual time. The thread runs in a copy of the caller's context. If the
    awaiting task is cancelled, the thread runs on, counted, until ``fn`` returns.
    """
    waiter = Waiter.for_current_task()
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        with activity.counted():
            try:
                outcome.append((True, fn(*args)))
            except BaseException as error:  # handed back to the awaiting task
                outcome.append((False, error))
            waiter.wake()  # still counted: the loop is busy again before this thread idles

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(work,), name="orchestrator-run", daemon=True).start()
    await waiter.wait()
    ok, value = outcome[0]
    if not ok:
        raise value
    result: T = value
    return result


def block_on(activity: Activity, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``await fn(*args)`` to the end from plain code and return its value.

    The wait runs on an event loop of its own (in this thread when no loop runs here,
    else in a helper thread, so the caller's loop is never re-entered), counted as a
    foreign loop on ``activity`` (idle while it waits on the orchestrator, so time skipping
    may move the clock; busy again the moment it is woken).
    """

    async def counted() -> T:
        async with foreign_loop(activity):
            return await fn(*args)

    if current_async_library() is None:
        return anyio.run(counted)
    # Sync code called from a running event loop: wait on a loop of a helper thread.
    box: list[T] = []
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            box.append(anyio.run(counted))
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    helper = threading.Thread(target=in_thread, name="orchestrator-wait", daemon=True)
    helper.start()
    helper.join()
    if errors:
        raise errors[0]
    return box[0]

"""Idle moments: every task of the event loop blocked, and no run doing real work.

An *idle moment* is when time skipping may move a virtual clock (see
:mod:`orchestrator._engine._autojump` for the whole rule). :func:`wait_until_idle` waits
for one:

1. **No busy unit** (``activity.executing`` is 0): the event loop cannot see a thread
   or another thread's event loop, so a sync task is busy for as long as it runs, and
   counted code and foreign loops are busy except while they wait on the orchestrator
   (see :mod:`orchestrator._core._units`).
2. **The event loop has settled** (:func:`settle`): every other task is blocked.
3. **No run executing in the event loop awaits anything but the orchestrator**
   (:func:`~orchestrator._engine._real_work.find_real_work`): every task of such a run is
   parked in one of the orchestrator's own waits, or waits for its own child tasks.

Settling: on trio it is :func:`trio.testing.wait_all_tasks_blocked`, which the trio
scheduler wakes when its run queue is empty (event-driven). asyncio has no such hook
(anyio's version re-checks every 0.1 s, too slow for a skipper), so :func:`settle` does
it by hand: it yields once (``asyncio.sleep(0)``, which puts it behind every callback
that is ready now), then checks that every other task waits on a future that is not done
and that the loop's ready queue holds no callback other than settlers' own steps; if not,
it yields again. This *settling step* is the one place where the library yields in a
loop; it is bounded by the work the other tasks do (each yield lets every ready callback
run once), and it never runs while the loop is idle. The check reads two private
attributes of asyncio (``Task._fut_waiter``, the one anyio reads too, and
``loop._ready``); with a loop that lacks ``_ready`` (uvloop) only the task check is made.

Every wait is event-driven: on ``activity.changed`` for threads, on the scheduler for
settling, on the holding tasks' own wake-ups for real work. Nothing sleeps in real time.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Final

from .._core._activity import Activity
from .._core._wakeup import current_async_library
from ._real_work import find_real_work, wait_for_real_work

__all__ = ["settle", "wait_until_idle"]

# The asyncio tasks settling right now. Two settlers in one loop (two orchestrators with
# time skipping, or a skipper and a drain) must count each other as blocked, or each
# would wait for the other forever. It holds tasks only (weakly), no orchestrator state.
_SETTLING: Final[weakref.WeakSet[asyncio.Task[Any]]] = weakref.WeakSet()


# -- settling ---------------------------------------------------------------------------
async def settle() -> None:
    """Return once every other task of the running event loop is blocked.

    trio: :func:`trio.testing.wait_all_tasks_blocked` (woken by the scheduler).
    asyncio: yield until no other task is runnable and no callback is ready (see the
    module docstring). Tasks settling at the same time count each other as blocked.

    Raises:
        RuntimeError: not called from an asyncio or trio task.
    """
    library = current_async_library()
    if library == "trio":
        import trio.testing  # loaded only when trio is the running backend

        await trio.testing.wait_all_tasks_blocked()
        return
    if library != "asyncio":
        raise RuntimeError("settle() must be awaited in an asyncio or trio task")
    me = asyncio.current_task()
    assert me is not None  # current_async_library() saw a running loop and a task
    loop = asyncio.get_running_loop()
    _SETTLING.add(me)
    try:
        while True:
            await asyncio.sleep(0)
            if _asyncio_settled(loop, me):
                return
    finally:
        _SETTLING.discard(me)


def _asyncio_settled(loop: asyncio.AbstractEventLoop, me: asyncio.Task[Any]) -> bool:
    settling = _SETTLING
    for task in asyncio.all_tasks(loop):
        if task is me or task in settling:
            continue
        waiter: asyncio.Future[Any] | None = getattr(task, "_fut_waiter", None)
        if waiter is None or waiter.done():
            return False  # runnable now, or about to be
    ready = getattr(loop, "_ready", None)
    if ready:
        for handle in ready:
            if handle.cancelled():
                continue
            # A task's next step is a bound method of the task: settlers' steps are fine.
            owner = getattr(getattr(handle, "_callback", None), "__self__", None)
            if owner is not me and owner not in settling:
                return False
    return True


async def wait_until_idle(activity: Activity) -> None:
    """Return at an idle moment: no run holds virtual time and every other task is blocked.

    Waits on ``activity.changed`` while runs execute in threads, settles the loop, then
    looks at the runs executing in the loop (:func:`find_real_work`): while one of their
    tasks awaits something other than the orchestrator, waits for that task to be woken
    and starts over. Returns when all of it holds at once.
    """
    changed = activity.changed
    while True:
        seen = changed.generation
        if activity.executing:
            await changed.wait(seen)
            continue
        await settle()
        if not activity.executing:  # a thread may have started a run meanwhile
            # Nothing ran since the loop settled: the tasks are where settle() saw them.
            work = find_real_work(activity)
            if work is None:
                return
            await wait_for_real_work(work, changed, seen)

"""The futures' hang guard: a background run that no worker of its orchestrator serves.

``future.result()`` and ``await future.aresult()`` wait for a run to finish. A background
run (queued on its task key by ``orchestrator.submit`` or ``task.delay``) finishes only
when a :class:`~orchestrator.TaskWorker` serving its key claims it; with no such worker
the wait would last for ever. So, while they wait, the futures watch the one condition
that makes it hopeless:

    the run is SCHEDULED on its task key's queue, no worker registered on
    ``orchestrator.activity`` lists that key in its ``task_keys``, and no consumer waits
    on the key's queue.

When that holds for a whole grace period (``unserved_grace=``, seconds) the wait raises
:class:`~orchestrator.TaskRunStalled`, naming the run and the key. The grace period
starts again whenever a worker serving the key comes (and leaves). Nothing polls: the
guard looks again when a worker comes or goes (``activity.changed``) and once more when
the grace runs out, just before it raises.

Which clock counts the grace:

* ``result()`` from a plain thread: real seconds, like its ``timeout``.
* ``aresult()``: the orchestrator's clock when it moves by itself (a
  :class:`~orchestrator.SystemClock`) or when a :class:`~orchestrator.testing.TimeSkipper`
  drives it (``Orchestrator(..., autojump=True)``); a skipper then jumps to the end of the
  grace at the next idle moment, so a test sees the error at once and at an exact
  virtual time. On a :class:`~orchestrator.VirtualClock` that nobody drives the grace is
  counted in real seconds instead, since the virtual one would never run out.

The guard covers background runs only: a run that is PENDING or RUNNING is held by a
worker (if that worker goes away the run is handed back to the queue and watched again),
and a run on no queue was not submitted for a worker to take.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, final

from .._core._checks import check_optional_seconds
from .._core._clock import Clock, SystemClock, VirtualClock
from .._core._errors import TaskRunStalled
from .._core._states import StateType
from .._core._wakeup import wait_for_any
from ._autojump import active_time_skipper

if TYPE_CHECKING:
    from ._orchestrator import Orchestrator

__all__ = ["DEFAULT_UNSERVED_GRACE", "check_grace", "guard_async", "guard_blocking", "stalled"]

#: The grace period of ``result()``/``aresult()`` when none is given, in seconds.
DEFAULT_UNSERVED_GRACE: Final = 10.0

_REAL: Final = SystemClock()


def check_grace(value: object) -> float | None:
    """Return ``unserved_grace`` as seconds (None: no guard), refusing anything else."""
    seconds = check_optional_seconds(
        value, "unserved_grace", finite=False, expected="None or seconds >= 0"
    )
    return None if seconds is None or seconds == float("inf") else seconds


def _serves(worker: object, task_key: str) -> bool:
    keys = getattr(worker, "task_keys", None)
    return isinstance(keys, Iterable) and task_key in keys


def stalled(orchestrator: Orchestrator, run_id: uuid.UUID, grace: float) -> TaskRunStalled | None:
    """Return the error for ``run_id`` if it is a queued run nobody serves now, else None.

    Raises:
        ObjectNotFound: the run was deleted.
    """
    run = orchestrator.read_task_run(run_id)
    state = run.state
    if state is None or state.type is not StateType.SCHEDULED:
        return None
    queues = orchestrator.task_queues
    if run_id not in queues:
        return None
    key = run.task_key
    if any(_serves(worker, key) for worker in orchestrator.activity.workers):
        return None
    if queues.for_key(key).statistics().waiting_getters:
        return None
    return TaskRunStalled(
        f"task run {run.name!r} ({run_id}) cannot finish: it is {state.name}, queued on "
        f"task key {key!r}, and for {grace:g} s no worker of this orchestrator served that "
        f"key; start a TaskWorker serving this task (`async with TaskWorker(task, "
        f"orchestrator=...)`, `serve(task)` or `serve_sync(task)`) before or within "
        f"{grace:g} s of waiting, or pass a longer unserved_grace= (None: wait for ever)",
        task_run_id=run_id,
        task_key=key,
    )


def _grace_clock(orchestrator: Orchestrator) -> Clock:
    clock = orchestrator.clock
    if isinstance(clock, VirtualClock) and active_time_skipper(orchestrator) is None:
        return _REAL  # nobody moves this clock: its grace would never run out
    return clock


async def guard_async(
    orchestrator: Orchestrator, run_id: uuid.UUID, grace: float
) -> TaskRunStalled:
    """Return the error once the run stayed unserved for ``grace`` seconds (module doc).

    Runs until cancelled while the run is served; the caller cancels it when the run ends.
    """
    changed = orchestrator.activity.changed
    deadline: datetime | None = None
    clock: Clock = _REAL
    while True:
        seen = changed.generation
        error = stalled(orchestrator, run_id, grace)
        if error is None:
            deadline = None
            await changed.wait(seen)
            continue
        if deadline is None:
            clock = _grace_clock(orchestrator)
            deadline = clock.now() + timedelta(seconds=grace)
        elif clock.now() >= deadline:
            return error
        sleep: Callable[[], Awaitable[None]] = functools.partial(clock.sleep_until, deadline)
        await wait_for_any([(changed, seen)], sleep)


@final
class _Wake:
    """Wakes a blocked thread (a :class:`~orchestrator._core._wakeup.Wakeable`)."""

    __slots__ = ("event",)

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def wake(self) -> None:
        self.event.set()


def guard_blocking(
    orchestrator: Orchestrator,
    run_id: uuid.UUID,
    woken: threading.Event,
    done: Callable[[], bool],
    timeout: float | None,
    grace: float | None,
) -> TaskRunStalled | None:
    """Block this thread until ``done()``, ``timeout`` runs out, or the run stalls.

    ``woken`` is set by whoever may have made ``done()`` true (the run's future waiter);
    the guard sets it too when a worker comes or goes. Real seconds throughout. Returns
    the error once the run stayed unserved for ``grace`` seconds, None otherwise (the
    caller reads the run's state).
    """
    end = None if timeout is None else _REAL.timestamp() + timeout
    changed = orchestrator.activity.changed
    wake = _Wake(woken)
    unserved_since: float | None = None
    try:
        while True:
            woken.clear()  # before looking: a wake-up after the look is not lost
            seen = changed.generation
            if done():
                return None
            now = _REAL.timestamp()
            if end is not None and now >= end:
                return None
            limit = end
            if grace is not None:
                error = stalled(orchestrator, run_id, grace)
                if error is None:
                    unserved_since = None
                else:
                    if unserved_since is None:
                        unserved_since = now
                    expires = unserved_since + grace
                    if now >= expires:
                        return error
                    limit = expires if end is None else min(end, expires)
                if not changed.watch(wake, seen):
                    continue  # a worker came or went since the look: look again
            woken.wait(None if limit is None else limit - now)
    finally:
        changed.unwatch(wake)

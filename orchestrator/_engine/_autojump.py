"""Time skipping: move a virtual clock to its next deadline whenever all work is idle.

Every timer of an orchestrator (a retry delay, a scheduled time, a WAIT delay, a
timeout) is a task sleeping on the orchestrator's clock. On a
:class:`~orchestrator.VirtualClock` nothing moves those sleepers until someone moves the
clock. A :class:`TimeSkipper` does it for you, the way trio's ``MockClock`` autojump
does: whenever **all work is idle** and someone sleeps on the clock, the clock jumps to
the earliest deadline, the sleepers due then wake and run, and the skipper waits for
the next idle moment. A task with five retries a minute apart finishes in a few
milliseconds of real time, and every state it went through carries the exact virtual
time it would have had on the real clock.

All work is idle when three things hold at the same moment (see
:mod:`orchestrator._engine._idle`, which waits for such a moment):

* **No busy unit elsewhere.** Sync task functions run in worker threads, which the
  event loop cannot see. Workers count them on the orchestrator's
  :class:`~orchestrator._core._activity.Activity` (``begin``/``end``), and
  ``activity.executing`` must be 0: a sync task is never jumped over, so its timeout
  cannot fire before its thread returns. The same count holds sync code run inside
  ``activity.counted()`` (a sync flow body, a task runner's thread) and event loops of
  runner threads (:mod:`orchestrator._engine._foreign_loop`); such a unit is idle while
  it waits on the orchestrator (a blocking clock sleep, a blocking future wait), and
  whoever wakes it marks it busy again before waking it (:mod:`orchestrator._core._units`).
* **The event loop has settled**: every other task of the loop is blocked.
* **Every run executing in the event loop waits on the orchestrator.** A worker marks
  the task it calls an ``async`` task function in; that task and every task started from
  it (through a task group or nursery) must each be blocked in one of these places:

  - **waiting on the clock or the orchestrator's primitives**: a sleep on the
    orchestrator's clock (``orchestrator.clock.sleep``/``sleep_until``), a future of
    another run (``wait``/``aresult``, whose timeouts are clock sleeps), a wait for a
    tag concurrency slot, a task queue's ``get``/``asubmit``, any
    :class:`~orchestrator._core._wakeup.Signal` or ``Waiter`` of the orchestrator;
  - **waiting for other tasks of the loop**: at the end of a task group or nursery
    block, in ``TaskGroup.start``, (asyncio) awaiting another task or an
    ``asyncio.gather``, on the loop's own synchronisation primitives (anyio and trio
    events, locks, semaphores, conditions, capacity limiters, memory streams; asyncio's
    locks, semaphores, conditions, queues), or sleeping forever (``anyio.sleep_forever``),
    which only a cancellation ends. The run's tasks are each looked at in turn.

  Anything else holds virtual time still until it returns: a real-time ``anyio.sleep``
  or ``asyncio.sleep``, a socket, a subprocess, a thread (``to_thread.run_sync``), an
  ``asyncio.Event`` (anyio's asyncio sockets wait on one). No threshold is involved:
  the skipper looks at where each task is blocked
  (:mod:`orchestrator._engine._real_work`), and waits for a holding task to be woken by
  what it awaits. Tasks that belong to no run (the test body, a worker's loop, a server) do not
  hold time, as under trio's autojump; nor do tasks started with a bare
  ``asyncio.create_task`` while nothing of the run awaits them, and runs executing in
  another thread's event loop are not looked at.

Waking is event-driven: the skipper waits for a sleeper to appear
(``clock.wait_for_sleeper()``), for thread runs to finish (``activity.changed``), for a
holding task to be woken, or for a hold to end; it never sleeps in real time.

A flow called outside ``async with orchestrator:`` gets a skipper for the length of the
call, on a helper thread's loop (:mod:`orchestrator._engine._drive_time`). One skipper
drives one orchestrator's clock. The drain helpers of
:mod:`orchestrator.testing` take the wheel while they run (:meth:`TimeSkipper.hold`)
and give it back when they return, so the clock never jumps twice for one idle moment.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Final, final

import anyio
import attrs
from anyio.abc import TaskGroup, TaskStatus

from .._core._checks import wrong_type
from .._core._clock import Clock, VirtualClock
from .._core._errors import ArgumentValueError, WorkerError
from .._core._states import StateType
from .._core._wakeup import Signal
from ..filters import TaskRunFilter, TaskRunFilterState, TaskRunSort
from ._idle import settle, wait_until_idle

if TYPE_CHECKING:
    from ._orchestrator import Orchestrator

__all__ = [
    "TimeSkipper",
    "TimeSkipperStatistics",
    "active_time_skipper",
    "next_due",
    "settle",
    "virtual_clock_of",
    "wait_until_idle",
]

_SCHEDULED: Final = frozenset({StateType.SCHEDULED})


# -- helpers shared with the drain --------------------------------------------------------
def virtual_clock_of(orchestrator: Orchestrator, what: str) -> VirtualClock:
    """Return the orchestrator's clock, refusing any clock that is not virtual.

    Raises:
        InvalidArgument: the orchestrator runs on another clock (``what`` names the
            caller in the message).
    """
    clock = getattr(orchestrator, "clock", None)
    if not isinstance(clock, Clock):  # the facade is above this module: known by its clock
        raise wrong_type("orchestrator", orchestrator, "an Orchestrator")
    if not isinstance(clock, VirtualClock):
        raise ArgumentValueError(
            f"{what} moves time, so it needs an orchestrator on a VirtualClock; this one "
            f"runs on {clock!r}: build it with Orchestrator(VirtualClock())"
        )
    return clock


def next_due(orchestrator: Orchestrator, clock: VirtualClock) -> datetime | None:
    """The earliest time something waits for: a sleeper's deadline or a queued run's due time.

    Queued runs due now or earlier are left out: they wait for a worker, not for time.
    O(log n + k) for k queued runs already due.
    """
    deadline = clock.next_deadline()
    now = clock.now()
    queues = orchestrator.task_queues
    scheduled = orchestrator.read_task_runs(
        task_runs=TaskRunFilter(state=TaskRunFilterState(type=_SCHEDULED)),
        sort=TaskRunSort.NEXT_SCHEDULED_START_TIME_ASC,
    )
    for run in scheduled:
        due = run.next_scheduled_start_time
        if due is not None and due > now and run.id in queues:
            return due if deadline is None or due < deadline else deadline
    return deadline


def active_time_skipper(orchestrator: Orchestrator) -> TimeSkipper | None:
    """Return the :class:`TimeSkipper` driving ``orchestrator``'s clock, or None."""
    return orchestrator._engine.time_skipper


# -- the skipper -------------------------------------------------------------------------
@final
@attrs.frozen(kw_only=True)
class TimeSkipperStatistics:
    """What a :class:`TimeSkipper` has done.

    Attributes:
        running: whether it is driving the clock now.
        held: how many holds are in place (0: it jumps by itself).
        jumps: how many times it moved the clock.
        skipped: the virtual time it jumped over, in total.
        last_jump: the time it last jumped to (None before the first jump).
    """

    running: bool
    held: int
    jumps: int
    skipped: timedelta
    last_jump: datetime | None


@final
class TimeSkipper:
    """Jump an orchestrator's virtual clock to its next deadline whenever all work is idle.

    Use it as an async context manager around the code whose timers should fly::

        async with TimeSkipper(orchestrator), TaskWorker(flaky, orchestrator=orchestrator):
            future = orchestrator.submit(flaky)
            await future.wait()  # five retries a minute apart: a few ms of real time

    or start :meth:`run` in your own task group (``await group.start(skipper.run)``).
    See the module docstring for what "idle" means.

    Args:
        orchestrator: the orchestrator whose clock to drive; it must run on a
            :class:`~orchestrator.VirtualClock`.

    Raises:
        InvalidArgument: the orchestrator's clock is not virtual.
    """

    __slots__ = (
        "_activity",
        "_clock",
        "_group",
        "_holds",
        "_jumps",
        "_last_jump",
        "_orchestrator",
        "_released",
        "_running",
        "_skipped",
        "_thread",
        "driver",
    )

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._clock = virtual_clock_of(orchestrator, "TimeSkipper")
        self._orchestrator = orchestrator
        self._activity = orchestrator.activity
        self._holds = 0
        self._released = Signal()
        self._jumps = 0
        self._skipped = timedelta()
        self._last_jump: datetime | None = None
        self._running = False
        self._group: TaskGroup | None = None
        self._thread = 0
        #: What started this skipper for flow calls (None: started by its user).
        self.driver: object | None = None

    @property
    def thread(self) -> int:
        """The identity of the thread whose event loop runs it (0 when not running)."""
        return self._thread

    @property
    def orchestrator(self) -> Orchestrator:
        """The orchestrator whose clock this skipper drives."""
        return self._orchestrator

    # -- running ------------------------------------------------------------------------------
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Drive the clock until cancelled; reports started once it is registered.

        Raises:
            WorkerError: another skipper already drives this orchestrator's clock, or this
                one is already running.
        """
        self._register()
        task_status.started()
        await self._drive()

    async def _drive(self) -> None:
        try:
            clock = self._clock
            activity = self._activity
            released = self._released
            while True:
                await clock.wait_for_sleeper()
                await wait_until_idle(activity)
                seen = released.generation
                if self._holds:
                    await released.wait(seen)
                    continue
                # Nothing was awaited since the loop settled: this is still the idle moment.
                self.jump()
        finally:
            self._unregister()

    def jump(self, to: datetime | None = None) -> datetime | None:
        """Move the clock now, waking the sleepers due; return the new time.

        Args:
            to: where to move the clock (aware, not in the past); the earliest sleeper's
                deadline when None.

        Returns None, moving nothing, when ``to`` is None and nobody sleeps on the clock.
        Call it at an idle moment (the skipper and the drain helpers do), or sleepers
        woken by one jump may run only after the next.

        Raises:
            InvalidArgument: ``to`` is naive or earlier than the clock's time.
        """
        clock = self._clock
        before = clock.now()
        if to is None:
            after = clock.advance_to_next()
            if after is None:
                return None
        else:
            clock.set(to)
            after = clock.now()
        self._jumps += 1
        self._skipped += after - before
        self._last_jump = after
        return after

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Stop jumping inside the ``with`` block (for a caller that moves the clock itself).

        Holds nest; the skipper resumes when the last one ends.
        """
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                self._released.notify()

    def _register(self) -> None:
        if self._running:
            raise WorkerError("this TimeSkipper is already running")
        self._thread = threading.get_ident()  # before anyone can find it driving
        current = self._orchestrator._engine.drive_clock(self)
        if current is not None:
            self._thread = 0
            raise WorkerError(
                f"{current!r} already drives the clock of {self._orchestrator!r}; one "
                "TimeSkipper per orchestrator (stop the other one first)"
            )
        self._running = True

    def _unregister(self) -> None:
        self._running = False
        self._thread = 0
        self._orchestrator._engine.release_clock(self)

    # -- context manager ------------------------------------------------------------------
    async def __aenter__(self) -> TimeSkipper:
        self._register()
        group = anyio.create_task_group()
        await group.__aenter__()
        group.start_soon(self._drive)
        self._group = group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group = self._group
        assert group is not None, "TimeSkipper.__aexit__ without __aenter__"
        self._group = None
        group.cancel_scope.cancel()
        try:
            # The block's own exception is not the group's business: it propagates as it
            # is, not wrapped in an exception group.
            await group.__aexit__(None, None, None)
        finally:
            self._unregister()  # also when the drive task was cancelled before it started

    # -- statistics ---------------------------------------------------------------------------
    def statistics(self) -> TimeSkipperStatistics:
        """Return whether it runs, its holds, and how often and how far it jumped."""
        return TimeSkipperStatistics(
            running=self._running,
            held=self._holds,
            jumps=self._jumps,
            skipped=self._skipped,
            last_jump=self._last_jump,
        )

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<TimeSkipper {state} jumps={self._jumps} clock={self._clock!r}>"

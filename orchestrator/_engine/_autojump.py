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

All work is idle when both hold at the same moment:

* **No run executes outside the event loop.** Sync task functions run in worker
  threads, which the event loop cannot see. Workers count them on the orchestrator's
  :class:`~orchestrator._core._activity.Activity` (``begin``/``end``), and
  ``activity.executing`` must be 0. The skipper waits on ``activity.changed``, notified
  when that count drops to 0, so a long sync task is never jumped over. A worker calls
  ``end()`` in the event loop once the thread's result is back (the TaskWorker does),
  so no idle moment falls between a thread's return and the commit of its outcome.
* **The event loop has settled**: every other task of the loop is blocked. On trio
  this is :func:`trio.testing.wait_all_tasks_blocked`, which the trio scheduler wakes
  when its run queue is empty (event-driven). asyncio has no such hook (anyio's version
  re-checks every 0.1 s, too slow for a skipper), so :func:`settle` does it by hand:
  it yields once (``asyncio.sleep(0)``, which puts it behind every callback that is
  ready now), then checks that every other task waits on a future that is not done and
  that the loop's ready queue holds no callback other than settlers' own steps; if not,
  it yields again. This *settling step* is the one place where the library yields in a
  loop; it is bounded by the work the other tasks do (each yield lets every ready
  callback run once), and it never runs while the loop is idle.

Waking is event-driven: the skipper waits for a sleeper to appear
(``clock.wait_for_sleeper()``), for executing runs to finish (``activity.changed``), or
for a hold to end; it never sleeps in real time.

What the rule means for task code: an ``async`` task blocked on something other than
the orchestrator (a real-time ``anyio.sleep``, a socket) counts as idle, so the clock
may jump while it waits, as trio's autojump would. A sync task in a worker thread is
never jumped over: virtual time stands still while it runs, so its timeout cannot fire
before its thread returns. The settle check reads two private attributes of asyncio
(``Task._fut_waiter``, the one anyio reads too, and ``loop._ready``); with a loop that
lacks ``_ready`` (uvloop) only the task check is made.

One skipper drives one orchestrator's clock. The drain helpers of
:mod:`orchestrator.testing` take the wheel while they run (:meth:`TimeSkipper.hold`)
and give it back when they return, so the clock never jumps twice for one idle moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, final

import anyio
import attrs
from anyio.abc import TaskGroup, TaskStatus

from .._core._activity import Activity
from .._core._checks import wrong_type
from .._core._clock import Clock, VirtualClock
from .._core._errors import ArgumentValueError, WorkerError
from .._core._states import StateType
from .._core._wakeup import Signal, current_async_library
from ..filters import TaskRunFilter, TaskRunFilterState, TaskRunSort

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

# The asyncio tasks settling right now. Two settlers in one loop (two orchestrators with
# time skipping, or a skipper and a drain) must count each other as blocked, or each
# would wait for the other forever. It holds tasks only (weakly), no orchestrator state.
_SETTLING: Final[weakref.WeakSet[asyncio.Task[Any]]] = weakref.WeakSet()

_SCHEDULED: Final = frozenset({StateType.SCHEDULED})


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
    """Return at a moment when no run executes and every other task is blocked.

    Waits on ``activity.changed`` while runs execute, then settles the loop, and
    repeats until both hold at once (a run may start while the loop settles).
    """
    changed = activity.changed
    while True:
        seen = changed.generation
        if activity.executing:
            await changed.wait(seen)
            continue
        await settle()
        if not activity.executing:
            return


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
        current = self._orchestrator._engine.drive_clock(self)
        if current is not None:
            raise WorkerError(
                f"{current!r} already drives the clock of {self._orchestrator!r}; one "
                "TimeSkipper per orchestrator (stop the other one first)"
            )
        self._running = True

    def _unregister(self) -> None:
        self._running = False
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

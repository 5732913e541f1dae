"""Calling a task's function for a worker: in the event loop or a worker thread, with a timeout.

Async functions are awaited in the event loop. Sync functions run in a worker thread,
at most ``limit`` at a time, and are counted on the orchestrator's
:class:`~orchestrator._core._activity.Activity` while they run (the event loop cannot see
them, so time skipping and the drain helpers must be told). ``begin`` and ``end`` are
called from the event loop, around the whole hand-off, so the run's outcome is
committed before the activity can look idle.

A timeout is counted on the orchestrator's clock. For an async function it cancels the
call: a cancel scope with a real-time deadline on the :class:`~orchestrator.SystemClock`,
otherwise a helper task sleeping on the clock (exact under a
:class:`~orchestrator.VirtualClock`). A thread cannot be interrupted: at the deadline a
sync call is *abandoned* (its thread runs on and its result is ignored).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, final

import anyio
import anyio.to_thread

from .._core._clock import Clock, SystemClock

if TYPE_CHECKING:
    from .._core._activity import Activity
    from .._core._tasks import Task

__all__ = ["Caller", "TimedOut"]

T = TypeVar("T")


class TimedOut(Exception):
    """A task function ran past its timeout (raised by :meth:`Caller.call`)."""


@final
class Caller:
    """Calls task functions for one worker (see the module docstring).

    Args:
        clock: the orchestrator's clock, for timeouts.
        activity: the orchestrator's activity, told about sync calls.
        limit: the most sync calls at once (None: no limit).
    """

    __slots__ = ("_activity", "_clock", "_limit", "_threads")

    def __init__(self, clock: Clock, activity: Activity, limit: int | None) -> None:
        self._clock = clock
        self._activity = activity
        self._limit = limit
        self._threads: anyio.CapacityLimiter | None = None  # made in the event loop

    def reset(self) -> None:
        """Make a fresh thread limiter for the running event loop."""
        limit = self._limit
        self._threads = anyio.CapacityLimiter(math.inf if limit is None else limit)

    async def call(self, task: Task[..., Any], parameters: Mapping[str, Any]) -> Any:
        """Call ``task``'s function with ``parameters`` and return its result.

        Raises:
            TimedOut: the call ran past the task's ``timeout_seconds``.
            Exception: whatever the function raised.
        """
        if parameters:
            call: Callable[[], Any] = functools.partial(task.call_with_parameters, parameters)
        else:
            call = task.fn
        timeout = task.timeout_seconds
        if task.is_async:
            if timeout is None:
                return await call()
            return await self._within(call, timeout)
        if timeout is None:
            return await self._in_thread(call, False)
        return await self._within(functools.partial(self._in_thread, call, True), timeout)

    async def _in_thread(self, call: Callable[[], T], abandon: bool) -> T:
        threads = self._threads
        if threads is None:
            self.reset()
            threads = self._threads
        activity = self._activity
        activity.begin()
        try:
            return await anyio.to_thread.run_sync(call, limiter=threads, abandon_on_cancel=abandon)
        finally:
            activity.end()

    async def _within(self, call: Callable[[], Awaitable[T]], seconds: float) -> T:
        """Await ``call()``, cancelled after ``seconds`` on the clock (then TimedOut)."""
        clock = self._clock
        if type(clock) is SystemClock:
            with anyio.move_on_after(seconds):
                return await call()
            raise TimedOut
        deadline = clock.now() + timedelta(seconds=seconds)
        finished = False
        value: Any = None
        error: Exception | None = None
        async with anyio.create_task_group() as group:

            async def expire() -> None:
                await clock.sleep_until(deadline)
                group.cancel_scope.cancel()

            group.start_soon(expire)
            try:
                value = await call()
                finished = True
            except Exception as exc:  # raised after the group: no exception group
                error = exc
            group.cancel_scope.cancel()
        if error is not None:
            raise error
        if not finished:  # the expiry cancelled the call (any other cancellation propagated)
            raise TimedOut
        return value  # type: ignore[no-any-return]

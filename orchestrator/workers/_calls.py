"""Calling a task's function for a worker: in the event loop or a worker thread, with a timeout.

Async functions are awaited in the event loop. Sync functions run in a worker thread,
at most ``limit`` at a time, and are counted on the orchestrator's
:class:`~orchestrator._core._activity.Activity` while they run (the event loop cannot see
them, so time skipping and the drain helpers must be told). ``begin`` and ``end`` are
called from the event loop, around the whole hand-off, so the run's outcome is
committed before the activity can look idle. Either kind runs inside the run's context
when the worker gives one, entered in the thread that runs it, so ``get_run_context()``
and ``Orchestrator.current()`` work in a sync function's thread too.

A timeout is counted on the orchestrator's clock. For an async function it cancels the
call: a cancel scope with a real-time deadline on the :class:`~orchestrator.SystemClock`,
otherwise a helper task sleeping on the clock (exact under a
:class:`~orchestrator.VirtualClock`). A thread cannot be interrupted: at the deadline a
sync call is *abandoned* (its thread runs on and its result is ignored), and so is one
whose caller is cancelled. The caller is told of every call left running (``on_abandon``
gets its :class:`CallEnding`), and the call keeps counting on the activity until it
returns; :mod:`orchestrator.workers._abandoning` keeps the run from starting again
meanwhile. Under a :class:`~orchestrator.TimeSkipper` a running thread counts as busy,
so virtual time holds still and its virtual timeout cannot pass before it returns; on
the system clock the timeout passes in real time.

With an executor (:class:`orchestrator.executors.Executor`: a process pool, a Dask
cluster) every call, sync or async, goes there instead, shipped as bytes by
:mod:`orchestrator.executors._shipping` (a task or value that cannot be pickled fails
the call with a message naming it). It counts on the activity like a thread, from the
hand-off until the remote call is settled, and a timeout or a cancelled caller leaves it
running exactly as a thread call is left (a call not started yet is dropped instead).
The run's context is not shipped: inside a remote function ``get_run_context()`` has no
run. A call whose executing process died raises
:class:`~orchestrator.executors.ExecutorLost`.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import anyio
import anyio.to_thread

from .._core._clock import Clock, SystemClock
from .._core._run_context import RunContext, RunContextBlock, run_context
from ..executors._base import RemoteCall
from ..executors._shipping import pack_call, run_shipped, unpack_result

if TYPE_CHECKING:
    from .._core._activity import Activity
    from .._core._tasks import Task
    from ..executors._base import Executor

__all__ = ["CallEnding", "Caller", "TimedOut", "ignore_abandoned"]

T = TypeVar("T")

logger: Final = logging.getLogger("orchestrator.workers")


class TimedOut(Exception):
    """A task function ran past its timeout (raised by :meth:`Caller.call`)."""


@final
class CallEnding:
    """When a call left running returns: callbacks run from the thread that ran it.

    Thread-safe. The thread calls :meth:`start` before the call (and skips the call when
    told to) and :meth:`finish` when the call returns (or raises); the caller calls
    :meth:`leave` when it stops waiting. A call whose caller left before it started
    never starts, so a call is either awaited, left running, or never made.
    """

    __slots__ = ("_callbacks", "_left", "_lock", "_returned", "_started")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False
        self._returned = False
        self._left = False
        self._callbacks: list[Callable[[], None]] = []

    def start(self) -> bool:
        """The thread is about to make the call: False if the caller has left (skip it)."""
        with self._lock:
            if self._left:
                return False
            self._started = True
            return True

    @property
    def returned(self) -> bool:
        """Whether the call has returned."""
        return self._returned

    def leave(self) -> bool:
        """The caller stops waiting: True if the call still runs (it is abandoned)."""
        with self._lock:
            self._left = True
            return self._started and not self._returned

    def finish(self) -> bool:
        """The call returned: run the callbacks; True if it had been abandoned."""
        with self._lock:
            self._returned = True
            callbacks, self._callbacks = self._callbacks, []
            left = self._left
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a callback must not break the thread's hand-back
                logger.exception("a callback on an abandoned call's return failed")
        return left

    def when_returned(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the call returns (now, if it has)."""
        with self._lock:
            if not self._returned:
                self._callbacks.append(callback)
                return
        callback()


def _within_context(call: Callable[[], Any], context: RunContext, *, is_async: bool) -> Any:
    """``call``, run inside ``run_context(context)`` (entered in the thread that runs it)."""
    if is_async:

        async def call_async() -> Any:
            with run_context(context):
                return await call()

        return call_async

    def call_sync() -> Any:
        with run_context(context):
            return call()

    return call_sync


class _NotStarted(Exception):
    """A call skipped because its caller left first (nobody sees it)."""


def ignore_abandoned(ending: CallEnding) -> None:
    """The default ``on_abandon`` of :meth:`Caller.call`: nothing to do."""


@final
class Caller:
    """Calls task functions for one worker (see the module docstring).

    Args:
        clock: the orchestrator's clock, for timeouts.
        activity: the orchestrator's activity, told about sync calls.
        limit: the most sync calls at once (None: no limit).
        executor: where calls go (None: the event loop and threads).
        by_key: per task key, an executor that overrides ``executor``.
    """

    __slots__ = ("_activity", "_by_key", "_clock", "_executor", "_limit", "_threads")

    def __init__(
        self,
        clock: Clock,
        activity: Activity,
        limit: int | None,
        executor: Executor | None = None,
        by_key: Mapping[str, Executor] | None = None,
    ) -> None:
        self._clock = clock
        self._activity = activity
        self._limit = limit
        self._executor = executor
        self._by_key = dict(by_key) if by_key else None
        self._threads: anyio.CapacityLimiter | None = None  # made in the event loop

    def executor_for(self, task: Task[..., Any]) -> Executor | None:
        """Where ``task``'s calls go: its own executor, the default one, or None (here)."""
        by_key = self._by_key
        if by_key is None:
            return self._executor
        return by_key.get(task.task_key, self._executor)

    def reset(self) -> None:
        """Make a fresh thread limiter for the running event loop."""
        limit = self._limit
        self._threads = anyio.CapacityLimiter(math.inf if limit is None else limit)

    async def call(
        self,
        task: Task[..., Any],
        parameters: Mapping[str, Any],
        on_abandon: Callable[[CallEnding], None] = ignore_abandoned,
        context: RunContext | None = None,
        *,
        here: bool = False,
    ) -> Any:
        """Call ``task``'s function with ``parameters`` and return its result.

        It goes to the task's executor, if it has one, unless ``here`` is True (then it
        runs in this process, as without an executor: for a test's stand-in of a task).

        ``on_abandon`` is told, before this returns or raises, about a call that is left
        running: a sync call past its timeout, or one whose caller was cancelled. It gets
        the call's :class:`CallEnding`, to learn when the call returns.

        ``context``, when given, is entered around the function (in its worker thread for a
        sync one): inside, ``get_run_context()`` returns it and its orchestrator is current.

        Raises:
            TimedOut: the call ran past the task's ``timeout_seconds``.
            Exception: whatever the function raised.
        """
        executor = self._executor if self._by_key is None else self.executor_for(task)
        if executor is not None and not here:
            return await self._remote(executor, task, parameters, on_abandon)
        if parameters:
            call: Callable[[], Any] = functools.partial(task.call_with_parameters, parameters)
        else:
            call = task.fn
        timeout = task.timeout_seconds
        is_async = task.is_async
        if is_async and timeout is None:
            # The common case: entered here, in this task, with no wrapper to build.
            if context is None:
                return await call()
            with RunContextBlock(context):  # run_context(context), one call less
                return await call()
        if context is not None:
            call = _within_context(call, context, is_async=is_async)
        if timeout is None:  # a sync call (an async one returned above)
            return await self._in_thread(call, False)
        if is_async:
            return await self._within(call, timeout)
        return await self._in_thread_within(call, timeout, on_abandon)

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

    async def _in_thread_within(
        self, call: Callable[[], T], seconds: float, on_abandon: Callable[[CallEnding], None]
    ) -> T:
        """Run a sync ``call`` in a thread for at most ``seconds``; then leave it running.

        A call left running (past its timeout, or its caller cancelled) still counts on the
        activity until it returns, and ``on_abandon`` gets its :class:`CallEnding`.
        """
        threads = self._threads
        if threads is None:
            self.reset()
            threads = self._threads
        activity = self._activity
        ending = CallEnding()

        def run_and_finish() -> T:
            if not ending.start():
                raise _NotStarted  # the caller left before the thread got to it
            try:
                return call()
            finally:
                if ending.finish():  # abandoned: the event loop no longer waits for it
                    activity.end()

        activity.begin()
        try:
            return await self._within(
                functools.partial(
                    anyio.to_thread.run_sync,
                    run_and_finish,
                    limiter=threads,
                    abandon_on_cancel=True,
                ),
                seconds,
            )
        finally:
            if ending.leave():
                on_abandon(ending)  # the thread ends the activity when the call returns
            else:
                activity.end()

    async def _remote(
        self,
        executor: Executor,
        task: Task[..., Any],
        parameters: Mapping[str, Any],
        on_abandon: Callable[[CallEnding], None],
    ) -> Any:
        """Run the call in ``executor``, for at most the task's timeout; then leave it running.

        Counted on the activity from the hand-off until the remote call is settled, like a
        thread (virtual time holds still meanwhile). A call the caller stops waiting for
        (its timeout, or the caller cancelled) is asked to cancel, and if it may still run
        ``on_abandon`` gets its :class:`CallEnding`, finished when the call is settled.
        """
        payload = pack_call(task, parameters)  # a pickling error names the task or parameter
        activity = self._activity
        ending = CallEnding()
        ending.start()
        activity.begin()
        try:
            remote = executor.submit(run_shipped, payload)
        except BaseException:
            ending.finish()
            activity.end()
            raise

        def settled(_: RemoteCall[bytes]) -> None:
            if ending.finish():  # abandoned: the event loop no longer waits for it
                activity.end()

        remote.add_done_callback(settled)
        timeout = task.timeout_seconds
        try:
            if timeout is None:
                packed = await remote.result()
            else:
                packed = await self._within(remote.result, timeout)
        finally:
            if ending.leave():
                remote.cancel()  # a call not started yet is dropped (and then settled)
                if not ending.returned:
                    on_abandon(ending)  # the callback ends the activity when it is settled
            else:
                activity.end()
        return unpack_result(packed)

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

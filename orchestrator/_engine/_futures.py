"""Futures: handles on submitted task runs, woken by the engine when a run finishes.

A :class:`TaskRunFuture` names a task run of one orchestrator. Its ``state`` is always
the run's live current state; ``await future.wait()`` returns once the run is in a
terminal state; ``future.result()`` (from a thread) and ``await future.aresult()``
(from async code) return the run's result or raise the task's own exception.

Nothing polls. Each orchestrator's engine has one
:class:`~orchestrator._engine._waiters.FutureWaiters` observer (subscribed the first time
someone waits); a waiter registers a wake-up callback for its run id, and
the engine's commit of a terminal state (or the run's deletion) calls it, from
whichever thread made the change. Async waiters are
:class:`~orchestrator._core._wakeup.Waiter` objects, woken through their event loop's
thread-safe hand-off; thread waiters through a :class:`threading.Event`.

Timeouts: ``wait`` and ``aresult`` count their timeout on the orchestrator's clock, as
every timer of the library does (exact under a VirtualClock, and seen by time
skipping). ``result`` from a thread outside any event loop cannot sleep on a virtual
clock, so its timeout is real seconds. On timeout ``wait`` returns the state as it is
(check :meth:`TaskRunFuture.done`), while ``result`` and ``aresult`` raise
:class:`~orchestrator.OrchestratorTimeout`.

Hang guard: ``result`` and ``aresult`` of a background run raise
:class:`~orchestrator.TaskRunStalled` when, for ``unserved_grace`` seconds (10 by
default), the run waited on its task key's queue and no worker of the orchestrator served
that key: nothing could ever finish it. See :mod:`orchestrator._engine._unserved`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Generic, TypeVar, cast, final

import anyio

from .._core._checks import check_optional_seconds
from .._core._errors import (
    ObjectNotFound,
    OrchestratorTimeout,
    TaskRunFailed,
    TaskRunStalled,
    WorkerError,
)
from .._core._states import TERMINAL_TYPES, State, StateType
from .._core._wakeup import Waiter, current_async_library
from ._unserved import DEFAULT_UNSERVED_GRACE, check_grace, guard_async, guard_blocking

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from ._orchestrator import Orchestrator

__all__ = ["TaskRunFuture"]

R = TypeVar("R")

Wake = Callable[[], None]


def _in_event_loop() -> bool:
    return current_async_library() is not None


@final
class TaskRunFuture(Generic[R]):
    """A handle on a submitted task run: its live state, and a way to wait for its result.

    Args:
        orchestrator: the orchestrator the run belongs to.
        task_run_id: the run's id.

    Futures are cheap: they hold two references and nothing else until someone waits.
    """

    __slots__ = ("_orchestrator", "task_run_id")

    def __init__(self, orchestrator: Orchestrator, task_run_id: uuid.UUID) -> None:
        self._orchestrator = orchestrator
        self.task_run_id: uuid.UUID = task_run_id
        """The id of the run."""

    @property
    def orchestrator(self) -> Orchestrator:
        """The orchestrator the run belongs to."""
        return self._orchestrator

    @property
    def task_run(self) -> TaskRun:
        """The run's live record (read-only).

        Raises:
            ObjectNotFound: the run was deleted.
        """
        return self._orchestrator.read_task_run(self.task_run_id)

    @property
    def state(self) -> State:
        """The run's current state, read from the orchestrator now.

        Raises:
            ObjectNotFound: the run was deleted.
        """
        state = self._orchestrator.read_task_run(self.task_run_id).state
        assert state is not None  # a created run always has a state
        return state

    def done(self) -> bool:
        """Return whether the run is in a terminal state (completed, failed, crashed, cancelled).

        Raises:
            ObjectNotFound: the run was deleted.
        """
        return self.state.type in TERMINAL_TYPES

    async def wait(self, timeout: float | None = None) -> State:  # noqa: ASYNC109 - see module doc
        """Wait until the run is in a terminal state, and return that state.

        Args:
            timeout: the most seconds to wait, on the orchestrator's clock; forever when
                None. When it runs out the current state is returned as it is, like
                Prefect's ``wait``: check :meth:`done`.

        Raises:
            ObjectNotFound: the run was deleted (before or while waiting).
            InvalidArgument: a negative timeout.
        """
        check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
        state = self.state
        if state.type in TERMINAL_TYPES:
            return state
        registry = self._orchestrator._engine.watch_futures()
        waker = Waiter.for_current_task()
        run_id = self.task_run_id
        # Register first, then look again: a commit after the second look wakes us, one
        # before it is seen by the look. No lock is held across the two.
        registry.add(run_id, waker.wake)
        try:
            state = self.state
            if state.type in TERMINAL_TYPES:
                return state
            if timeout is None:
                await waker.wait()
            else:
                await self._wait_until(waker, timeout)
            return self.state
        finally:
            registry.discard(run_id, waker.wake)

    async def _wait_until(self, waker: Waiter, seconds: float) -> None:
        clock = self._orchestrator.clock
        deadline = clock.now() + timedelta(seconds=seconds)
        async with anyio.create_task_group() as group:

            async def expire() -> None:
                await clock.sleep_until(deadline)
                group.cancel_scope.cancel()

            group.start_soon(expire)
            await waker.wait()
            group.cancel_scope.cancel()

    def result(
        self, timeout: float | None = None, *, unserved_grace: float | None = DEFAULT_UNSERVED_GRACE
    ) -> R:
        """Return the run's result, waiting in this thread for the run to finish.

        Args:
            timeout: the most real seconds to block; forever when None.
            unserved_grace: the hang guard (see :mod:`orchestrator._engine._unserved`):
                raise :class:`~orchestrator.TaskRunStalled` once the run has waited this
                many real seconds on its task key's queue with no worker of the
                orchestrator serving that key. None: no guard.

        Returns:
            The data of the run's COMPLETED (or Cached) state.

        Raises:
            Exception: the task's own exception, for a run that failed with one.
            TaskRunFailed: the run crashed, was cancelled, or failed without an exception.
            TaskRunStalled: nothing served the run's task key for ``unserved_grace``.
            WorkerError: the run is not finished and this thread runs an event loop,
                where blocking would stop the very workers that finish it; use
                ``await future.wait()`` or ``await future.aresult()`` instead.
            OrchestratorTimeout: the run did not finish within ``timeout``.
            ObjectNotFound: the run was deleted.
            InvalidArgument: a negative ``timeout`` or ``unserved_grace``.
        """
        check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
        grace = check_grace(unserved_grace)
        state = self.state
        if state.type not in TERMINAL_TYPES:
            state = self._block(timeout, grace)
        return self._outcome(state)

    async def aresult(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - clock time
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R:
        """Wait for the run to finish (on the orchestrator's clock) and return its result.

        Args:
            timeout: the most seconds to wait, on the orchestrator's clock; forever when
                None.
            unserved_grace: the hang guard: raise :class:`~orchestrator.TaskRunStalled`
                once the run has waited this many seconds on its task key's queue with
                no worker of the orchestrator serving that key. Counted on the
                orchestrator's clock when it is a SystemClock or a TimeSkipper drives it
                (``autojump=True``), else in real seconds (see
                :mod:`orchestrator._engine._unserved`). None: no guard.

        Raises:
            Exception: the task's own exception, for a run that failed with one.
            TaskRunFailed: the run crashed, was cancelled, or failed without an exception.
            TaskRunStalled: nothing served the run's task key for ``unserved_grace``.
            OrchestratorTimeout: the run did not finish within ``timeout``.
            ObjectNotFound: the run was deleted.
            InvalidArgument: a negative ``timeout`` or ``unserved_grace``.
        """
        check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
        grace = check_grace(unserved_grace)
        if grace is None or self.done():
            state = await self.wait(timeout)
        else:
            state = await self._wait_guarded(timeout, grace)
        if state.type not in TERMINAL_TYPES:
            raise self._timeout(timeout, state)
        return self._outcome(state)

    async def _wait_guarded(self, limit: float | None, grace: float) -> State:
        """:meth:`wait`, raced against the hang guard."""
        stalls: list[TaskRunStalled] = []
        state: State | None = None
        async with anyio.create_task_group() as group:

            async def guard() -> None:
                stalls.append(await guard_async(self._orchestrator, self.task_run_id, grace))
                group.cancel_scope.cancel()

            group.start_soon(guard)
            state = await self.wait(limit)
            group.cancel_scope.cancel()
        if state is None:
            raise stalls[0]
        return state

    def _block(self, timeout: float | None, grace: float | None) -> State:
        if _in_event_loop():
            raise WorkerError(
                f"future.result() would block the event loop while task run {self.task_run_id} "
                "is not finished, and the loop may be what finishes it; use "
                "`await future.wait()` or `await future.aresult()` in async code"
            )
        registry = self._orchestrator._engine.watch_futures()
        woken = threading.Event()
        run_id = self.task_run_id
        registry.add(run_id, woken.set)
        try:
            stall = guard_blocking(self._orchestrator, run_id, woken, self.done, timeout, grace)
            if stall is not None:
                raise stall
            state = self.state
            if state.type not in TERMINAL_TYPES:
                raise self._timeout(timeout, state)
            return state
        finally:
            registry.discard(run_id, woken.set)

    def _timeout(self, timeout: float | None, state: State) -> OrchestratorTimeout:
        return OrchestratorTimeout(
            f"task run {self.task_run_id} did not finish within {timeout} s; it is {state.name}"
        )

    def _outcome(self, state: State) -> R:
        if state.type is StateType.COMPLETED:
            return cast("R", state.data)
        if state.type is StateType.FAILED and isinstance(state.data, Exception):
            raise state.data
        detail = f": {state.message}" if state.message else ""
        raise TaskRunFailed(f"task run {self.task_run_id} ended {state.name}{detail}")

    def __repr__(self) -> str:
        try:
            state = self.state.name
        except ObjectNotFound:
            state = "deleted"
        return f"<TaskRunFuture {self.task_run_id} {state}>"

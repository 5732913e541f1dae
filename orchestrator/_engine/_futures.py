"""Futures: handles on task runs, woken by the engine when a run settles.

A :class:`TaskRunFuture` names a task run of one orchestrator: a background run
(``task.delay``, ``orchestrator.submit``) that a TaskWorker executes, or a run a flow's
task runner executes (``task.submit`` and ``task.map`` inside a flow). Its ``state`` is
always the run's live current state. A run is *settled* when nothing more will happen to
it by itself: a terminal state, or PENDING named ``NotReady`` (an upstream run did not
complete, so it never runs).

Waiting, as in Prefect: ``wait()`` and ``result()`` block the calling thread;
``wait_async()`` and ``result_async()`` await (``aresult`` is another name for
``result_async``). A background run's future refuses to block a thread that runs an
event loop (the loop may be what finishes it); a task runner's runs execute off every
flow's loop, so their futures may be waited on with the blocking calls from async code
too.

Nothing polls. Each orchestrator's engine has one
:class:`~orchestrator._engine._waiters.FutureWaiters` observer (subscribed the first time
someone waits); a waiter registers a wake-up callback for its run id, and the engine's
commit of a settled state (or the run's deletion) calls it, from whichever thread made
the change. Async waiters are :class:`~orchestrator._core._wakeup.Waiter` objects, woken
through their event loop's thread-safe hand-off; thread waiters through a
:class:`threading.Event`.

Timeouts: ``wait_async`` and ``result_async`` count their timeout on the orchestrator's
clock, as every timer of the library does (exact under a VirtualClock, and seen by time
skipping); ``wait`` and ``result`` block a thread, and count real seconds. On timeout
the waits return the state as it is (check :meth:`TaskRunFuture.done`), while the
results raise :class:`~orchestrator.OrchestratorTimeout`.

Hang guard: ``result`` and ``result_async`` of a background run raise
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

from .._core._checks import check_bool, check_optional_seconds
from .._core._errors import (
    ObjectNotFound,
    OrchestratorTimeout,
    TaskRunFailed,
    TaskRunStalled,
    UnfinishedRun,
    WorkerError,
)
from .._core._states import State, StateType, is_settled
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
    """A handle on a task run: its live state, and ways to wait for its result.

    Args:
        orchestrator: the orchestrator the run belongs to.
        task_run_id: the run's id.
        background: whether a TaskWorker executes the run (its future then refuses to
            block an event loop's thread); False for a flow's task-runner runs.

    Futures are cheap: they hold three references and nothing else until someone waits.
    """

    __slots__ = ("_orchestrator", "background", "task_run_id")

    def __init__(
        self, orchestrator: Orchestrator, task_run_id: uuid.UUID, *, background: bool = True
    ) -> None:
        self._orchestrator = orchestrator
        self.task_run_id: uuid.UUID = task_run_id
        """The id of the run."""
        self.background: bool = background
        """Whether a TaskWorker executes the run (False: a flow's task runner does)."""

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
        """Return whether the run is settled: terminal, or left NotReady by an upstream run.

        Raises:
            ObjectNotFound: the run was deleted.
        """
        return is_settled(self.state)

    # -- blocking --------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> State:
        """Block until the run is settled, and return its state.

        Args:
            timeout: the most real seconds to block; forever when None. When it runs out
                the current state is returned as it is, like Prefect's ``wait``: check
                :meth:`done`.

        Raises:
            WorkerError: a background run is not settled and this thread runs an event
                loop; use ``await future.wait_async()``.
            ObjectNotFound: the run was deleted (before or while waiting).
            InvalidArgument: a negative timeout.
        """
        check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
        state = self.state
        if is_settled(state):
            return state
        return self._block(timeout, None)

    def result(
        self,
        timeout: float | None = None,
        raise_on_failure: bool = True,
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R:
        """Block until the run is settled, and return its result.

        Args:
            timeout: the most real seconds to block; forever when None.
            raise_on_failure: raise the run's failure (default); False returns it.
            unserved_grace: the hang guard of a background run (see
                :mod:`orchestrator._engine._unserved`): raise
                :class:`~orchestrator.TaskRunStalled` once the run has waited this many
                real seconds on its task key's queue with no worker of the orchestrator
                serving that key. None: no guard.

        Returns:
            The data of the run's COMPLETED (or Cached) state; with
            ``raise_on_failure=False``, the failure of a failed, crashed or cancelled run.

        Raises:
            Exception: the task's own exception, for a run that failed with one.
            TaskRunFailed: the run crashed, was cancelled, or failed without an exception.
            UnfinishedRun: the run is NotReady (an upstream run did not complete).
            TaskRunStalled: nothing served the run's task key for ``unserved_grace``.
            WorkerError: a background run is not finished and this thread runs an event
                loop, where blocking would stop the very workers that finish it; use
                ``await future.result_async()`` instead.
            OrchestratorTimeout: the run did not settle within ``timeout``.
            ObjectNotFound: the run was deleted.
            InvalidArgument: a negative ``timeout`` or ``unserved_grace``.
        """
        check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
        check_bool(raise_on_failure, "raise_on_failure")
        grace = check_grace(unserved_grace) if self.background else None
        state = self.state
        if not is_settled(state):
            state = self._block(timeout, grace)
            if not is_settled(state):
                raise self._timeout(timeout, state)
        return self._outcome(state, raise_on_failure)

    def _block(self, timeout: float | None, grace: float | None) -> State:
        if self.background and _in_event_loop():
            raise WorkerError(
                f"future.result() would block the event loop while task run {self.task_run_id} "
                "is not finished, and the loop may be what finishes it; use "
                "`await future.wait_async()` or `await future.result_async()` in async code"
            )
        registry = self._orchestrator._engine.watch_futures()
        woken = threading.Event()
        run_id = self.task_run_id
        registry.add(run_id, woken.set)
        try:
            stall = guard_blocking(self._orchestrator, run_id, woken, self.done, timeout, grace)
            if stall is not None:
                raise stall
            return self.state
        finally:
            registry.discard(run_id, woken.set)

    # -- async -----------------------------------------------------------------------------------
    async def wait_async(self, timeout: float | None = None) -> State:  # noqa: ASYNC109 - clock time
        """Wait until the run is settled, and return its state.

        Args:
            timeout: the most seconds to wait, on the orchestrator's clock; forever when
                None. When it runs out the current state is returned as it is: check
                :meth:`done`.

        Raises:
            ObjectNotFound: the run was deleted (before or while waiting).
            InvalidArgument: a negative timeout.
        """
        check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
        state = self.state
        if is_settled(state):
            return state
        registry = self._orchestrator._engine.watch_futures()
        waker = Waiter.for_current_task()
        run_id = self.task_run_id
        # Register first, then look again: a commit after the second look wakes us, one
        # before it is seen by the look. No lock is held across the two.
        registry.add(run_id, waker.wake)
        try:
            state = self.state
            if is_settled(state):
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

    async def result_async(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - clock time
        raise_on_failure: bool = True,
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R:
        """Wait for the run to settle (on the orchestrator's clock) and return its result.

        ``aresult`` is another name for this method.

        Args:
            timeout: the most seconds to wait, on the orchestrator's clock; forever when
                None.
            raise_on_failure: raise the run's failure (default); False returns it.
            unserved_grace: the hang guard of a background run: raise
                :class:`~orchestrator.TaskRunStalled` once the run has waited this many
                seconds on its task key's queue with no worker of the orchestrator
                serving that key. Counted on the orchestrator's clock when it is a
                SystemClock or a TimeSkipper drives it (``autojump=True``), else in real
                seconds (see :mod:`orchestrator._engine._unserved`). None: no guard.

        Raises:
            Exception: the task's own exception, for a run that failed with one.
            TaskRunFailed: the run crashed, was cancelled, or failed without an exception.
            UnfinishedRun: the run is NotReady (an upstream run did not complete).
            TaskRunStalled: nothing served the run's task key for ``unserved_grace``.
            OrchestratorTimeout: the run did not settle within ``timeout``.
            ObjectNotFound: the run was deleted.
            InvalidArgument: a negative ``timeout`` or ``unserved_grace``.
        """
        check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
        check_bool(raise_on_failure, "raise_on_failure")
        grace = check_grace(unserved_grace) if self.background else None
        if grace is None or self.done():
            state = await self.wait_async(timeout)
        else:
            state = await self._wait_guarded(timeout, grace)
        if not is_settled(state):
            raise self._timeout(timeout, state)
        return self._outcome(state, raise_on_failure)

    aresult = result_async

    async def _wait_guarded(self, limit: float | None, grace: float) -> State:
        """:meth:`wait_async`, raced against the hang guard."""
        stalls: list[TaskRunStalled] = []
        state: State | None = None
        async with anyio.create_task_group() as group:

            async def guard() -> None:
                stalls.append(await guard_async(self._orchestrator, self.task_run_id, grace))
                group.cancel_scope.cancel()

            group.start_soon(guard)
            state = await self.wait_async(limit)
            group.cancel_scope.cancel()
        if state is None:
            raise stalls[0]
        return state

    # -- outcomes --------------------------------------------------------------------------------
    def _timeout(self, timeout: float | None, state: State) -> OrchestratorTimeout:
        return OrchestratorTimeout(
            f"task run {self.task_run_id} did not finish within {timeout} s; it is {state.name}"
        )

    def _outcome(self, state: State, raise_on_failure: bool) -> R:
        if state.type is StateType.COMPLETED:
            return cast("R", state.data)
        if not is_settled(state) or state.type is StateType.PENDING:
            detail = f": {state.message}" if state.message else ""
            raise UnfinishedRun(f"task run {self.task_run_id} is {state.name}{detail}")
        error = state.data
        if not (state.type is StateType.FAILED and isinstance(error, Exception)):
            detail = f": {state.message}" if state.message else ""
            error = TaskRunFailed(f"task run {self.task_run_id} ended {state.name}{detail}")
        if raise_on_failure:
            raise error
        return cast("R", error)

    def __repr__(self) -> str:
        try:
            state = self.state.name
        except ObjectNotFound:
            state = "deleted"
        return f"<TaskRunFuture {self.task_run_id} {state}>"

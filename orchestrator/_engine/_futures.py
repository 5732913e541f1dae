"""Futures: handles on submitted task runs, woken by the engine when a run finishes.

A :class:`TaskRunFuture` names a task run of one orchestrator. Its ``state`` is always
the run's live current state; ``await future.wait()`` returns once the run is in a
terminal state; ``future.result()`` (from a thread) and ``await future.aresult()``
(from async code) return the run's result or raise the task's own exception.

Nothing polls. Each orchestrator gets one :class:`FutureWaiters` observer (made the
first time someone waits); a waiter registers a wake-up callback for its run id, and
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
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Generic, TypeVar, cast, final

import anyio

from .._core._errors import (
    InvalidArgument,
    ObjectNotFound,
    OrchestratorTimeout,
    TaskRunFailed,
    WorkerError,
)
from .._core._events import Observer
from .._core._states import TERMINAL_TYPES, State, StateType
from .._core._wakeup import Waiter, current_async_library

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from ._orchestrator import Orchestrator

__all__ = ["FutureWaiters", "TaskRunFuture", "future_waiters"]

R = TypeVar("R")

Wake = Callable[[], None]


@final
class FutureWaiters(Observer):
    """The wake-up callbacks of everyone waiting on a run of one orchestrator.

    Subscribed to its orchestrator; calls and forgets a run's callbacks when the run
    reaches a terminal state or is deleted. Registering costs O(1); a commit with
    nobody waiting costs one dict lookup. Callbacks must not block: they are called
    under the engine's lock.
    """

    __slots__ = ("_by_run", "_lock")

    def __init__(self) -> None:
        self._by_run: dict[uuid.UUID, list[Wake]] = {}
        # A leaf lock: nothing is called while it is held, so it never nests the other
        # way round with the engine's lock.
        self._lock = threading.Lock()

    def add(self, run_id: uuid.UUID, wake: Wake) -> None:
        """Call ``wake`` when run ``run_id`` finishes or is deleted."""
        with self._lock:
            waiting = self._by_run.get(run_id)
            if waiting is None:
                self._by_run[run_id] = [wake]
            else:
                waiting.append(wake)

    def discard(self, run_id: uuid.UUID, wake: Wake) -> None:
        """Forget ``wake`` (no error if it was already called or never added)."""
        with self._lock:
            waiting = self._by_run.get(run_id)
            if waiting is None:
                return
            try:
                waiting.remove(wake)
            except ValueError:
                return
            if not waiting:
                del self._by_run[run_id]

    def waiting(self) -> int:
        """Return how many callbacks are registered (for tests and statistics)."""
        with self._lock:
            return sum(len(w) for w in self._by_run.values())

    def _wake(self, run_id: uuid.UUID) -> None:
        with self._lock:
            waiting = self._by_run.pop(run_id, None)
        if waiting is not None:
            for wake in waiting:
                wake()

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        """Wake the run's waiters if ``state`` is terminal."""
        if self._by_run and state.type in TERMINAL_TYPES:
            self._wake(run.id)

    def task_run_deleted(self, run: TaskRun) -> None:
        """Wake the run's waiters: they will find it gone."""
        if self._by_run:
            self._wake(run.id)


def future_waiters(orchestrator: Orchestrator) -> FutureWaiters:
    """Return the orchestrator's :class:`FutureWaiters`, subscribing one the first time."""
    # Under the engine's lock, so two first waiters cannot subscribe two registries.
    with orchestrator._lock:
        registry = orchestrator._future_waiters
        if registry is None:
            registry = FutureWaiters()
            orchestrator.subscribe(registry)
            orchestrator._future_waiters = registry
    return registry


def _in_event_loop() -> bool:
    return current_async_library() is not None


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
    ):
        raise InvalidArgument(f"timeout must be None or seconds >= 0, got {timeout!r}")


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
        _check_timeout(timeout)
        state = self.state
        if state.type in TERMINAL_TYPES:
            return state
        registry = future_waiters(self._orchestrator)
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

    def result(self, timeout: float | None = None) -> R:
        """Return the run's result, waiting in this thread for the run to finish.

        Args:
            timeout: the most real seconds to block; forever when None.

        Returns:
            The data of the run's COMPLETED (or Cached) state.

        Raises:
            Exception: the task's own exception, for a run that failed with one.
            TaskRunFailed: the run crashed, was cancelled, or failed without an exception.
            WorkerError: the run is not finished and this thread runs an event loop,
                where blocking would stop the very workers that finish it; use
                ``await future.wait()`` or ``await future.aresult()`` instead.
            OrchestratorTimeout: the run did not finish within ``timeout``.
            ObjectNotFound: the run was deleted.
        """
        _check_timeout(timeout)
        state = self.state
        if state.type not in TERMINAL_TYPES:
            state = self._block(timeout)
        return self._outcome(state)

    async def aresult(self, timeout: float | None = None) -> R:  # noqa: ASYNC109 - clock time
        """Wait for the run to finish (on the orchestrator's clock) and return its result.

        Raises:
            Exception: the task's own exception, for a run that failed with one.
            TaskRunFailed: the run crashed, was cancelled, or failed without an exception.
            OrchestratorTimeout: the run did not finish within ``timeout``.
            ObjectNotFound: the run was deleted.
        """
        state = await self.wait(timeout)
        if state.type not in TERMINAL_TYPES:
            raise self._timeout(timeout, state)
        return self._outcome(state)

    def _block(self, timeout: float | None) -> State:
        if _in_event_loop():
            raise WorkerError(
                f"future.result() would block the event loop while task run {self.task_run_id} "
                "is not finished, and the loop may be what finishes it; use "
                "`await future.wait()` or `await future.aresult()` in async code"
            )
        registry = future_waiters(self._orchestrator)
        event = threading.Event()
        run_id = self.task_run_id
        registry.add(run_id, event.set)
        try:
            state = self.state
            if state.type not in TERMINAL_TYPES:
                event.wait(timeout)
                state = self.state
                if state.type not in TERMINAL_TYPES:
                    raise self._timeout(timeout, state)
            return state
        finally:
            registry.discard(run_id, event.set)

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

"""Futures: handles on task runs, woken by the engine when a run settles.

A :class:`TaskRunFuture` names a task run of one orchestrator. Its ``state`` is always
the run's live current state. A run is *settled* when its state is terminal, or PENDING
"NotReady" (a run it depended on did not complete, so it never runs; see
:mod:`orchestrator._core._settled`). Waiting, as Prefect's futures do:

* ``future.wait()`` and ``future.result()`` block the calling thread;
* ``await future.wait_async()`` and ``await future.result_async()`` (alias
  ``aresult``) await in async code.

``wait`` returns the settled state (or the state as it is when its timeout runs out);
``result`` returns the run's value, raises the task's own exception (or returns it with
``raise_on_failure=False``), and raises :class:`~orchestrator.UnfinishedRun` for a
NotReady run.

Background runs and task-runner runs: a *background* run (``task.delay``,
``orchestrator.submit``) is finished by a :class:`~orchestrator.TaskWorker`, which may
serve in this very event loop, so blocking a running loop on it could hang for ever: the
blocking calls refuse, with a clear error, to wait for it there. A task-runner run
(submitted inside a flow, ``background=False``) executes off the caller's event loop, so
blocking on it is allowed anywhere.

Nothing polls: see :mod:`orchestrator._engine._future_waits`. Timeouts of the async
forms count on the orchestrator's clock; those of the blocking forms in real seconds. On
timeout ``wait`` returns the state as it is (check :meth:`TaskRunFuture.done`), while the
``result`` forms raise :class:`~orchestrator.OrchestratorTimeout`.

Hang guard (background runs only): the ``result`` forms raise
:class:`~orchestrator.TaskRunStalled` when, for ``unserved_grace`` seconds (10 by
default), the run waited on its task key's queue and no worker of the orchestrator served
that key: nothing could ever finish it. See :mod:`orchestrator._engine._unserved`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Generic, Literal, TypeVar, cast, final, overload

from .._core._checks import check_bool, check_optional_seconds
from .._core._errors import ObjectNotFound, TaskRunFailed, UnfinishedRun, WorkerError
from .._core._settled import is_not_ready, is_settled
from .._core._states import State, StateType
from .._core._summary import STATE_COLOURS, format_time, summary_html
from .._core._wakeup import current_async_library
from ._future_waits import (
    current_state,
    timed_out,
    wait_guarded_async,
    wait_settled_async,
    wait_settled_blocking,
)
from ._unserved import DEFAULT_UNSERVED_GRACE, check_grace

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from ._orchestrator import Orchestrator

__all__ = ["TaskRunFuture", "outcome_of"]

R = TypeVar("R", covariant=True)


def _check_timeout(timeout: object) -> float | None:
    return check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")


def outcome_of(run_id: uuid.UUID, state: State, raise_on_failure: bool) -> object:
    """The value of a settled ``state`` of run ``run_id``, as ``result()`` gives it.

    Raises:
        UnfinishedRun: the run is not terminal (NotReady).
        Exception: with ``raise_on_failure``, the task's own exception, or
            :class:`~orchestrator.TaskRunFailed` for a run that ended without a result.
    """
    if state.type is StateType.COMPLETED:
        return state.data
    if not state.is_final():
        detail = f": {state.message}" if state.message else ""
        why = "it never ran" if is_not_ready(state) else "it has not finished"
        raise UnfinishedRun(
            f"task run {run_id} has no result: {why}, it is {state.name}{detail}",
            task_run_id=run_id,
            state_message=state.message,
        )
    if state.type is StateType.FAILED and isinstance(state.data, Exception):
        error: Exception = state.data
    else:
        detail = f": {state.message}" if state.message else ""
        error = TaskRunFailed(f"task run {run_id} ended {state.name}{detail}")
    if raise_on_failure:
        raise error
    return error


@final
class TaskRunFuture(Generic[R]):
    """A handle on a task run: its live state, and ways to wait for it and its result.

    Args:
        orchestrator: the orchestrator the run belongs to.
        task_run_id: the run's id.
        background: whether a TaskWorker finishes the run (``task.delay``,
            ``orchestrator.submit``); then the blocking calls refuse to block a running
            event loop. False for runs that execute elsewhere (a flow's task runner),
            which may be waited on with the blocking calls from anywhere.

    Futures are cheap: they hold three references and nothing else until someone waits.

    Raises:
        InvalidArgument: ``background`` is not a bool.
    """

    __slots__ = ("_orchestrator", "background", "task_run_id")

    def __init__(
        self, orchestrator: Orchestrator, task_run_id: uuid.UUID, *, background: bool = True
    ) -> None:
        self._orchestrator = orchestrator
        self.task_run_id: uuid.UUID = task_run_id
        """The id of the run."""
        self.background: bool = check_bool(background, "background")
        """Whether a TaskWorker finishes the run (blocking waits refuse a running loop)."""

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
        return current_state(self._orchestrator, self.task_run_id)

    def done(self) -> bool:
        """Return whether the run is settled: terminal, or NotReady (it will never run).

        Raises:
            ObjectNotFound: the run was deleted.
        """
        return is_settled(self.state)

    # -- blocking ------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> State:
        """Block this thread until the run is settled, and return its state.

        Args:
            timeout: the most real seconds to block; forever when None. When it runs out
                the current state is returned as it is, like Prefect's ``wait``: check
                :meth:`done`.

        Raises:
            WorkerError: a background run is not settled and this thread runs an event
                loop (use ``await future.wait_async()``).
            ObjectNotFound: the run was deleted (before or while waiting).
            InvalidArgument: a negative timeout.
        """
        seconds = _check_timeout(timeout)
        state = self.state
        if is_settled(state):
            return state
        self._refuse_to_block_a_loop("wait()")
        return wait_settled_blocking(self._orchestrator, self.task_run_id, seconds, None)

    @overload
    def result(
        self,
        timeout: float | None = None,
        raise_on_failure: Literal[True] = True,
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R: ...

    @overload
    def result(
        self,
        timeout: float | None = None,
        raise_on_failure: bool = True,
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R | Exception: ...

    def result(
        self,
        timeout: float | None = None,
        raise_on_failure: bool = True,
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R | Exception:
        """Return the run's result, blocking this thread until the run is settled.

        Args:
            timeout: the most real seconds to block; forever when None.
            raise_on_failure: when False, a failed, crashed or cancelled run's error is
                returned instead of raised.
            unserved_grace: the hang guard of a background run (see
                :mod:`orchestrator._engine._unserved`): raise
                :class:`~orchestrator.TaskRunStalled` once the run has waited this
                many real seconds on its task key's queue with no worker of the
                orchestrator serving that key. None: no guard.

        Returns:
            The data of the run's COMPLETED (or Cached) state; with
            ``raise_on_failure=False``, the error of a run that did not complete.

        Raises:
            Exception: the task's own exception, for a run that failed with one.
            TaskRunFailed: the run crashed, was cancelled, or failed without an exception.
            UnfinishedRun: the run is NotReady (a run it depended on did not complete).
            TaskRunStalled: nothing served the run's task key for ``unserved_grace``.
            WorkerError: a background run is not settled and this thread runs an event
                loop, where blocking would stop the very workers that finish it; use
                ``await future.result_async()`` instead.
            OrchestratorTimeout: the run did not settle within ``timeout``.
            ObjectNotFound: the run was deleted.
            InvalidArgument: a bad ``timeout``, ``raise_on_failure`` or ``unserved_grace``.
        """
        seconds = _check_timeout(timeout)
        check_bool(raise_on_failure, "raise_on_failure")
        grace = check_grace(unserved_grace) if self.background else None
        state = self.state
        if not is_settled(state):
            self._refuse_to_block_a_loop("result()")
            state = wait_settled_blocking(self._orchestrator, self.task_run_id, seconds, grace)
            if not is_settled(state):
                raise timed_out(self.task_run_id, timeout, state)
        return cast("R | Exception", outcome_of(self.task_run_id, state, raise_on_failure))

    def _refuse_to_block_a_loop(self, call: str) -> None:
        if self.background and current_async_library() is not None:
            raise WorkerError(
                f"future.{call} would block the event loop while background task run "
                f"{self.task_run_id} is not finished, and the loop may be what finishes it; "
                "use `await future.wait_async()` or `await future.result_async()` in async "
                "code"
            )

    # -- async ---------------------------------------------------------------------------------
    async def wait_async(self, timeout: float | None = None) -> State:  # noqa: ASYNC109 - clock
        """Wait until the run is settled, and return its state.

        Args:
            timeout: the most seconds to wait, on the orchestrator's clock; forever when
                None. When it runs out the current state is returned as it is: check
                :meth:`done`.

        Raises:
            ObjectNotFound: the run was deleted (before or while waiting).
            InvalidArgument: a negative timeout.
        """
        seconds = _check_timeout(timeout)
        return await wait_settled_async(self._orchestrator, self.task_run_id, seconds)

    @overload
    async def result_async(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - clock time
        raise_on_failure: Literal[True] = True,
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R: ...

    @overload
    async def result_async(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - clock time
        raise_on_failure: bool = True,
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R | Exception: ...

    async def result_async(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - clock time
        raise_on_failure: bool = True,
        *,
        unserved_grace: float | None = DEFAULT_UNSERVED_GRACE,
    ) -> R | Exception:
        """Wait for the run to settle (on the orchestrator's clock) and return its result.

        ``aresult`` is the same method under its older name.

        Args:
            timeout: the most seconds to wait, on the orchestrator's clock; forever when
                None.
            raise_on_failure: when False, a failed, crashed or cancelled run's error is
                returned instead of raised.
            unserved_grace: the hang guard of a background run: raise
                :class:`~orchestrator.TaskRunStalled` once the run has waited this many
                seconds on its task key's queue with no worker of the orchestrator
                serving that key. Counted on the orchestrator's clock when it is a
                SystemClock or a TimeSkipper drives it (``autojump=True``), else in real
                seconds (see :mod:`orchestrator._engine._unserved`). None: no guard.

        Raises:
            Exception: the task's own exception, for a run that failed with one.
            TaskRunFailed: the run crashed, was cancelled, or failed without an exception.
            UnfinishedRun: the run is NotReady (a run it depended on did not complete).
            TaskRunStalled: nothing served the run's task key for ``unserved_grace``.
            OrchestratorTimeout: the run did not settle within ``timeout``.
            ObjectNotFound: the run was deleted.
            InvalidArgument: a bad ``timeout``, ``raise_on_failure`` or ``unserved_grace``.
        """
        seconds = _check_timeout(timeout)
        check_bool(raise_on_failure, "raise_on_failure")
        grace = check_grace(unserved_grace) if self.background else None
        orchestrator, run_id = self._orchestrator, self.task_run_id
        if grace is None or self.done():
            state = await wait_settled_async(orchestrator, run_id, seconds)
        else:
            state = await wait_guarded_async(orchestrator, run_id, seconds, grace)
        if not is_settled(state):
            raise timed_out(run_id, timeout, state)
        return cast("R | Exception", outcome_of(run_id, state, raise_on_failure))

    aresult = result_async
    """The same as :meth:`result_async` (its older name)."""

    def __repr__(self) -> str:
        try:
            run = self._orchestrator.read_task_run(self.task_run_id)
        except ObjectNotFound:
            return f"<TaskRunFuture {self.task_run_id} deleted>"
        state = "no state" if run.state is None else run.state.name
        return f"<TaskRunFuture {run.name!r} {state} {self.task_run_id}>"

    def _repr_html_(self) -> str:
        try:
            run = self._orchestrator.read_task_run(self.task_run_id)
        except ObjectNotFound:
            rows = [("id", str(self.task_run_id)), ("state", "deleted")]
            return summary_html("Task run future", rows)
        state = run.state
        rows = [
            ("id", str(run.id)),
            ("task key", run.task_key),
            ("state", "no state" if state is None else state.name),
            ("since", format_time(run.state_timestamp)),
            ("runs", str(run.run_count)),
        ]
        colours: list[str | None] = [None, None]
        colours.append(None if state is None else STATE_COLOURS[state.type])
        if state is not None and state.message:
            rows.append(("message", state.message))
        if state is not None and state.type is StateType.COMPLETED:
            value = repr(state.data)
            rows.append(("result", value if len(value) <= 200 else value[:199] + "…"))
        rows.append(("run by", "a task worker" if self.background else "a flow's task runner"))
        return summary_html(f"Task run future {run.name!r}", rows, colours=colours)

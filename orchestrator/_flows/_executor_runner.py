"""ExecutorTaskRunner: a flow's submitted tasks call their functions in an executor.

``@flow(task_runner=ExecutorTaskRunner(executor))`` (or ``task_runner=executor``) keeps
every submitted task run's orchestration here, as :class:`ThreadPoolTaskRunner` does:
the run is created at once, its upstream futures are waited for, its states go through
the orchestrator's policies (retries, tag concurrency slots, the cache), all in a runner
thread of this process. Only the function call leaves: each attempt ships the task (by
reference) and its resolved parameters (by value) to the executor, sync and async
functions alike (an async one runs under ``asyncio.run`` where it lands), and awaits the
result without holding a thread of the executor's. ``submit``, ``map``, futures, ``wait``
and ``result()`` behave as with the thread runner.

Across the boundary:

* a remote exception fails the attempt, with the text of its remote traceback in the
  state's message; a task, parameter or result that cannot be pickled fails the run with
  a message naming it;
* the executing process died (:class:`~orchestrator.executors.ExecutorLost`): the run is
  *Crashed*, or straight to AwaitingRetry when its retry policy allows another attempt;
* a timeout holds on the orchestrator's clock: the attempt ends TimedOut and the call is
  left running; the next attempt of that run starts its call only once the one left
  running has ended (so two attempts of one run never run at once);
* a remote call counts as busy on the orchestrator's activity, as a thread does, so
  virtual time stands still while it runs.

The runner does not own the executor: it is shared by the flow's runs and never closed
here (close it yourself, or use it as a context manager around the flow's calls).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import uuid
from collections.abc import Mapping
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, final

from .._core._check_basics import wrong_type
from .._core._states import State, StateDetails, StateType
from ..executors._base import RemoteCall
from ..executors._shipping import pack_call, run_shipped, unpack_result
from ..policies import clamped_poisson_delay, retry_delay_seconds
from ._task_runners import RunnerThreads, run_in_own_loop

if TYPE_CHECKING:
    from .._core._activity import Activity
    from .._core._tasks import Task
    from .._engine._orchestrator import Orchestrator
    from ..executors._base import Executor, ExecutorLost
    from ._task_runs import TaskRunCall

__all__ = ["ExecutorTaskRunner", "RemoteAttempts", "is_executor", "lost_proposal"]

logger: Final = logging.getLogger("orchestrator.engine")


def is_executor(value: object) -> bool:
    """Whether ``value`` looks like an :class:`~orchestrator.executors.Executor`."""
    return callable(getattr(value, "submit", None)) and callable(getattr(value, "close", None))


@final
class ExecutorTaskRunner:
    """Runs the functions of a flow's submitted task runs in an executor.

    Args:
        executor: where the functions run: a
            :class:`~orchestrator.executors.ProcessPoolExecutor`, a
            :class:`~orchestrator.executors.DaskExecutor`, or any
            :class:`~orchestrator.executors.Executor`. Not closed by the runner.

    Raises:
        InvalidArgument: ``executor`` is not an executor.
    """

    __slots__ = ("_executor", "_threads")

    def __init__(self, executor: Executor) -> None:
        if not is_executor(executor):
            raise wrong_type(
                "executor",
                executor,
                "an orchestrator.executors.Executor (with submit and close), such as "
                "ProcessPoolExecutor() or DaskExecutor(client)",
            )
        self._executor = executor
        self._threads = RunnerThreads("orchestrator-remote")

    @property
    def executor(self) -> Executor:
        """Where the functions run."""
        return self._executor

    def duplicate(self) -> ExecutorTaskRunner:
        """A fresh, unstarted runner on the same executor (one per flow run)."""
        return ExecutorTaskRunner(self._executor)

    def __enter__(self) -> ExecutorTaskRunner:
        # A thread per submitted run: it waits (for upstream runs, slots, the remote call)
        # and proposes states; the work itself is in the executor. Unbounded, as in the
        # thread runner, so a run waiting on another never starves it.
        self._threads.start(sys.maxsize)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._threads.stop()

    def submit(self, call: TaskRunCall, *, is_async: bool, backend: str | None) -> None:
        """Start orchestrating ``call`` in a runner thread; its function goes to the executor.

        Args:
            call: the created task run.
            is_async: whether the task's function is async (it runs remotely either way).
            backend: the async library of the submitting flow, for the runner thread's loop.

        Raises:
            RuntimeError: the runner is not started (only a running flow submits).
        """
        activity = call.orchestrator.activity
        remote = RemoteAttempts(self._executor, activity)
        self._threads.run(activity, run_in_own_loop, call, backend or "asyncio", remote)

    def __repr__(self) -> str:
        return f"ExecutorTaskRunner({self._executor!r})"


@final
class RemoteAttempts:
    """Calls one run's function in an executor, attempt after attempt, never two at once.

    Each call counts as busy on ``activity`` from the hand-off until the remote call is
    settled. An attempt whose caller stops waiting (a timeout) leaves its call running,
    still counted; the next attempt waits for it to end before it ships its own call.

    Args:
        executor: where the calls run.
        activity: the orchestrator's activity.
    """

    __slots__ = ("_activity", "_executor", "_left")

    def __init__(self, executor: Executor, activity: Activity) -> None:
        self._executor = executor
        self._activity = activity
        self._left: RemoteCall[bytes] | None = None

    async def ready(self) -> None:
        """Wait until the call the previous attempt left running, if any, has ended."""
        left = self._left
        if left is not None:
            with contextlib.suppress(Exception):  # its outcome was given up already
                await left.result()
            self._left = None

    async def __call__(self, task: Task[..., Any], parameters: Mapping[str, Any]) -> Any:
        """Call ``task``'s function with ``parameters`` in the executor; return its value.

        Call :meth:`ready` first: a call is shipped only once the previous one ended.

        Raises:
            ExecutorLost: the process running the call died.
            pickle.PicklingError: the task, a parameter or the result cannot be pickled.
            Exception: whatever the function raised (with its remote traceback).
        """
        await self.ready()  # at once, when the driver waited for it already
        payload = pack_call(task, parameters)
        activity = self._activity
        activity.begin()
        try:
            remote: RemoteCall[bytes] = self._executor.submit(run_shipped, payload)
        except BaseException:
            activity.end()
            raise
        try:
            packed = await remote.result()
        except BaseException:
            if remote.done():
                activity.end()
            else:  # left running: counted until it ends, and waited for by the next attempt
                self._left = remote
                remote.add_done_callback(lambda _: activity.end())
                remote.cancel()  # a call not started yet is dropped (and so settled)
            raise
        activity.end()
        return unpack_result(packed)


def lost_proposal(
    orchestrator: Orchestrator, run_id: uuid.UUID, exc: ExecutorLost, details: StateDetails
) -> State:
    """The proposal for an attempt whose process died: Crashed, or AwaitingRetry.

    A run its retry policy lets run again goes straight to AwaitingRetry (with the
    policy's delay and jitter), so it never looks finished; otherwise it ends Crashed.
    ``details`` are the attempt's Running details (its cache key), kept by the retry.
    """
    message = f"Crashed: the executor lost the call: {exc}"
    run = orchestrator.read_task_run(run_id)
    policy = run.empirical_policy
    retries = policy.retries
    if retries is None or run.run_count > retries:
        return State(type=StateType.CRASHED, name="Crashed", message=message)
    delay = retry_delay_seconds(policy, run.run_count)
    factor = policy.retry_jitter_factor
    if factor and delay > 0:
        delay = clamped_poisson_delay(orchestrator.random, delay, factor)
    due = orchestrator.clock.now() + timedelta(seconds=delay)
    return State(
        type=StateType.SCHEDULED,
        name="AwaitingRetry",
        message=f"{message}; retrying",
        details=details.replace(scheduled_time=due),
    )

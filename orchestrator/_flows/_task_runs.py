"""One task run executed in this process: created, resolved, attempted, finished.

A task called directly, or submitted to a flow's task runner, becomes a
:class:`TaskRunCall`. It creates the run at once (PENDING, through the orchestrator,
with the task's retry policy, tags, cache key and run name; inside a flow, attached to
the flow run), so its future exists before it starts. Then, where it executes:

1. **Resolve** the upstream runs (futures and states among the arguments, and
   ``wait_for``): wait for each to settle; if one did not complete, the run is left
   PENDING named ``NotReady`` and never runs (:mod:`orchestrator._flows._resolve`).
2. **Attempt** (:func:`~orchestrator._flows._steps.attempts`): Running (or Cached on a
   cache hit), the call inside the run's context, Completed or Failed, retries on the
   orchestrator's clock, tag concurrency slots, a timeout as TimedOut.

A sync function runs in the thread that executes the run (the caller's for a direct
call, a runner thread for a submitted run); an async one in the running event loop. A
run submitted to an :class:`~orchestrator.ExecutorTaskRunner` is executed from a runner
thread's loop with a *remote function* that calls the function in an executor instead
(:mod:`orchestrator._flows._executor_runner`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, final

from .._core._outcomes import OrchestrationResult
from .._core._run_context import TaskRunContext, run_context
from .._core._settled import NOT_READY
from .._core._states import State, StateDetails, StateType
from .._engine._futures import TaskRunFuture
from .._engine._run_hooks import RunHooks
from ..executors._base import ExecutorLost, remote_traceback
from ._drivers import CallTimedOut, call_async, call_blocking, drive_async, drive_blocking
from ._executor_runner import lost_proposal
from ._resolve import find_futures, find_states, not_ready_message, substitute
from ._steps import Outcome, attempts, completed, crashed, failed

if TYPE_CHECKING:
    from .._core._tasks import Task
    from .._engine._orchestrator import Orchestrator

__all__ = ["RemoteFunction", "TaskRunCall"]

_NO_DETAILS: Final = StateDetails()


class RemoteFunction(Protocol):
    """Calls a task's function somewhere else (an executor), one attempt at a time."""

    async def ready(self) -> None:
        """Wait until the previous attempt's call, if left running, has ended."""

    async def __call__(self, task: Task[..., Any], parameters: Mapping[str, Any]) -> Any:
        """Call ``task``'s function with ``parameters`` there; return its value."""


@final
class TaskRunCall:
    """A task run of ``task`` with ``parameters``, created now, executed by :meth:`run_*`.

    Args:
        orchestrator: where the run lives.
        task: the task.
        parameters: the call's arguments bound to the task's parameter names; futures
            and states among them are upstream runs.
        wait_for: more upstream runs, waited for but not passed.
        flow_run_id: the flow run the task run belongs to, or None.
    """

    __slots__ = ("_parameters", "_task", "_wait_for", "future", "orchestrator", "task_run_id")

    def __init__(
        self,
        orchestrator: Orchestrator,
        task: Task[..., Any],
        parameters: dict[str, Any],
        *,
        wait_for: Sequence[TaskRunFuture[Any]] = (),
        flow_run_id: uuid.UUID | None = None,
    ) -> None:
        self.orchestrator: Orchestrator = orchestrator
        """Where the run lives."""
        self._task = task
        self._parameters = parameters
        self._wait_for = tuple(wait_for)
        run_id = orchestrator.new_id()
        upstream = find_futures(parameters.values()) or find_states(parameters.values())
        name = None
        if task.task_run_name is not None and not upstream:
            name = task.render_run_name(parameters)
        orchestrator.create_task_run(
            task.task_key,
            id=run_id,
            flow_run_id=flow_run_id,
            name=name or f"{task.name}-{run_id.hex[:8]}",
            policy=task.policy,
            tags=task.tags,
            task_inputs=_inputs(parameters, self._wait_for),
        )
        self.task_run_id: uuid.UUID = run_id
        """The run's id."""
        self.future: TaskRunFuture[Any] = TaskRunFuture(orchestrator, run_id, background=False)
        """The run's future (waitable from any thread and from async code)."""

    # -- resolving ------------------------------------------------------------------------------
    def _upstream(self) -> list[TaskRunFuture[Any]]:
        return [*find_futures(self._parameters.values()), *self._wait_for]

    def _ready(self, upstream: list[TaskRunFuture[Any]]) -> dict[str, Any] | None:
        """The resolved parameters, or None after marking the run NotReady.

        ``upstream`` is :meth:`_upstream`, every run of which has settled by now.
        """
        states = find_states(self._parameters.values())
        message = not_ready_message(upstream, states)
        if message is not None:
            not_ready = State(type=StateType.PENDING, name=NOT_READY, message=message)
            self.orchestrator.set_task_run_state(self.task_run_id, not_ready, force=True)
            return None
        if len(upstream) == len(self._wait_for) and not states:
            return self._parameters  # no future or state among the arguments
        resolved = {name: substitute(value) for name, value in self._parameters.items()}
        if self._task.task_run_name is not None:
            name = self._task.render_run_name(resolved)
            if name is not None:
                self.orchestrator.update_task_run(self.task_run_id, name=name)
        return resolved

    # -- executing ------------------------------------------------------------------------------
    def run_blocking(self) -> State:
        """Execute the run from plain code (a sync task); return its final state.

        The thread counts as busy on the orchestrator's activity for the whole run, and
        idle while it waits on the orchestrator (upstream runs, a retry delay, a slot),
        so time skipping never jumps over the function nor between two of its states.
        """
        with self.orchestrator.activity.counted():
            return self._run_blocking()

    def _run_blocking(self) -> State:
        upstream = self._upstream()
        for future in upstream:
            future.wait()
        parameters = self._ready(upstream)
        if parameters is None:
            return self.future.state
        task = self._task
        context = self._context(parameters)
        details = self._running_details(parameters)
        hooks = self._hooks(context)

        def invoke() -> Any:
            with run_context(context):
                return task.call_with_parameters(parameters)

        def call() -> Outcome:
            hooks.started_blocking()
            try:
                value = call_blocking(self.orchestrator, invoke, task.timeout_seconds)
            except Exception as exc:
                proposal = self._failed(exc)
                return Outcome(hooks.final_failure(proposal) or proposal)
            return Outcome(self._completed(value, details))

        machine = attempts(self.task_run_id, self._propose, details)
        try:
            final: State = drive_blocking(self.orchestrator, machine, call)
        except BaseException as exc:
            self._propose(crashed(exc))
            raise
        hooks.finished_blocking(final)
        return final

    async def run_async(self, remote: RemoteFunction | None = None) -> State:
        """Execute the run in the running event loop (an async task); return its final state.

        With ``remote``, each attempt's call goes through it (sync and async functions
        alike) instead of being awaited here.
        """
        upstream = self._upstream()
        for future in upstream:
            await future.wait_async()
        parameters = self._ready(upstream)
        if parameters is None:
            return self.future.state
        task = self._task
        context = self._context(parameters)
        details = self._running_details(parameters)
        hooks = self._hooks(context)

        async def invoke() -> Any:
            if remote is not None:  # counted busy by the remote function itself
                return await remote(task, parameters)
            with run_context(context), self.orchestrator.activity.execution_here():
                return await task.call_with_parameters(parameters)

        async def call() -> Outcome:
            await hooks.started_async()
            try:
                value = await call_async(self.orchestrator, invoke, task.timeout_seconds)
            except ExecutorLost as exc:
                return Outcome(lost_proposal(self.orchestrator, self.task_run_id, exc, details))
            except Exception as exc:
                proposal = self._failed(exc)
                return Outcome(await hooks.final_failure_async(proposal) or proposal)
            return Outcome(self._completed(value, details))

        machine = attempts(self.task_run_id, self._propose, details)
        try:
            # A retry proposes Running only once the call its previous attempt left
            # running remotely has ended: until then the run stays AwaitingRetry.
            after_sleep = None if remote is None else remote.ready
            final: State = await drive_async(self.orchestrator, machine, call, after_sleep)
        except BaseException as exc:
            self._propose(crashed(exc))
            raise
        await hooks.finished_async(final)
        return final

    def _context(self, parameters: Mapping[str, Any]) -> TaskRunContext:
        return TaskRunContext(
            orchestrator=self.orchestrator,
            task=self._task,
            task_run_id=self.task_run_id,
            parameters=parameters,
        )

    def _hooks(self, context: TaskRunContext) -> RunHooks:
        orchestrator = self.orchestrator
        return RunHooks(
            self._task,
            functools.partial(orchestrator.read_task_run, self.task_run_id),
            context,
            orchestrator.activity,
        )

    # -- states ---------------------------------------------------------------------------------
    def _propose(self, state: State) -> OrchestrationResult:
        result = self.orchestrator.set_task_run_state(self.task_run_id, state)
        if result.state is None:
            run = self.orchestrator.read_task_run(self.task_run_id)
            return OrchestrationResult(run.state, result.status, result.details)
        return result

    def _running_details(self, parameters: Mapping[str, Any]) -> StateDetails:
        task = self._task
        cache_key = None
        if task.cache_key_fn is not None:
            cache_key = task.cache_key(parameters, self._context(parameters))
        if cache_key is None and not task.refresh_cache:
            return _NO_DETAILS
        return StateDetails(cache_key=cache_key, refresh_cache=True if task.refresh_cache else None)

    def _completed(self, value: Any, details: StateDetails) -> State:
        cache_key = details.cache_key
        if cache_key is None:
            return completed(value, _NO_DETAILS)
        expiration: datetime | None = None
        if self._task.cache_expiration is not None:
            try:
                expiration = self.orchestrator.clock.now() + self._task.cache_expiration
            except OverflowError:
                expiration = None  # past the year 9999: the entry never expires
        return completed(value, StateDetails(cache_key=cache_key, cache_expiration=expiration))

    def _failed(self, exc: Exception) -> State:
        """The proposal for a call that raised ``exc`` (or ran out of time)."""
        if isinstance(exc, CallTimedOut):
            message = f"Task run exceeded its timeout of {self._task.timeout_seconds:g} s"
            return failed(message, TimeoutError(message), _NO_DETAILS, "TimedOut")
        message = f"Task run encountered an exception: {exc!r}"
        text = remote_traceback(exc)
        if text:  # it ran in an executor: where it was raised, over there
            message = f"{message}\n\nRemote traceback:\n{text.rstrip()}"
        return failed(message, exc, _NO_DETAILS)


def _inputs(
    parameters: Mapping[str, Any], wait_for: Sequence[TaskRunFuture[Any]]
) -> dict[str, Any]:
    """Prefect's ``task_inputs``: for each parameter, the upstream runs it came from."""
    inputs: dict[str, Any] = {
        name: [str(future.task_run_id) for future in find_futures([value])]
        for name, value in parameters.items()
    }
    if wait_for:
        inputs["wait_for"] = [str(future.task_run_id) for future in wait_for]
    return inputs

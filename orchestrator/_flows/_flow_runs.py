"""One flow run executed in this process, from the call of a :class:`Workflow` to its end.

:func:`call_flow` binds the arguments, picks the orchestrator (the current one, or a
fresh default one on the system clock: nothing is process-wide) and runs a
:class:`FlowRunCall`: the flow's record (by name), the flow run (PENDING, with the
flow's retry policy; a subflow also gets a task run in its parent flow run, which the
engine keeps in step with the subflow's state), then the attempts of
:mod:`orchestrator._flows._steps`. Each attempt runs the body inside the run's context
with a fresh copy of the flow's task runner, which it leaves (waiting for every task
submitted to it) before the attempt's outcome is proposed.

The final state comes from the body's return value or exception only (as in Prefect
3): a task run that failed does not fail the flow unless its future or state is
returned (or its result was asked for inside the body). Futures returned are replaced
by their final states (:func:`state_from_return`).
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, final

import anyio

from .._core._current import CURRENT
from .._core._outcomes import OrchestrationResult
from .._core._run_context import FlowRunContext, current_flow_context, run_context
from .._core._states import State, StateDetails, StateType
from .._engine._drive_time import drive_time, drive_time_async
from .._engine._futures import TaskRunFuture
from .._engine._orchestrator import Orchestrator
from .._engine._run_hooks import RunHooks
from ._drivers import CallTimedOut, call_async, call_blocking, drive_async, drive_blocking
from ._resolve import replace_leaves
from ._steps import Outcome, attempts, completed, crashed, failed

if TYPE_CHECKING:
    from ._workflow import Workflow

__all__ = [
    "FlowRunCall",
    "call_flow",
    "driving_time",
    "driving_time_async",
    "state_from_return",
    "target_orchestrator",
]

_NO_DETAILS: Final = StateDetails()
_FAILED_TYPES: Final = frozenset({StateType.FAILED, StateType.CRASHED})


@contextlib.contextmanager
def driving_time(orchestrator: Orchestrator) -> Iterator[None]:
    """Around a call from outside any flow: make sure something drives virtual time.

    With ``autojump=True`` on a virtual clock, a skipper moves the clock whenever all
    work is idle (see :mod:`orchestrator._engine._drive_time`); inside a flow the
    outermost call already did this.
    """
    if current_flow_context() is not None:
        yield
        return
    with drive_time(orchestrator):
        yield


@contextlib.asynccontextmanager
async def driving_time_async(orchestrator: Orchestrator) -> AsyncIterator[None]:
    """:func:`driving_time`, for a call awaited in an event loop."""
    if current_flow_context() is not None:
        yield
        return
    async with drive_time_async(orchestrator):
        yield


def target_orchestrator() -> Orchestrator:
    """The current orchestrator, or a fresh default one (system clock) when none is."""
    found = CURRENT.get()
    if isinstance(found, Orchestrator):
        return found
    return Orchestrator()


def call_flow(
    workflow: Workflow[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    return_state: bool,
) -> Any:
    """Run ``workflow(*args, **kwargs)`` as a flow run; its value, or its final state."""
    parameters = workflow.bind_parameters(*args, **kwargs)
    orchestrator = target_orchestrator()
    if workflow.is_async:
        return _call_async(orchestrator, workflow, parameters, return_state)
    with driving_time(orchestrator):
        state = FlowRunCall(orchestrator, workflow, parameters).run_blocking()
    return state if return_state else state.result()


async def _call_async(
    orchestrator: Orchestrator,
    workflow: Workflow[..., Any],
    parameters: dict[str, Any],
    return_state: bool,
) -> Any:
    async with driving_time_async(orchestrator):
        state = await FlowRunCall(orchestrator, workflow, parameters).run_async()
    return state if return_state else state.result()


@final
class FlowRunCall:
    """A flow run of ``workflow`` with ``parameters``, created now."""

    __slots__ = ("_orchestrator", "_parameters", "_workflow", "flow_run_id")

    def __init__(
        self, orchestrator: Orchestrator, workflow: Workflow[..., Any], parameters: dict[str, Any]
    ) -> None:
        self._orchestrator = orchestrator
        self._workflow = workflow
        self._parameters = parameters
        flow = orchestrator.create_flow(workflow.name, tags=workflow.tags)
        parent = current_flow_context()
        parent_task_run_id = None
        if parent is not None and parent.orchestrator is orchestrator:
            # A subflow: a task run in the parent flow run stands for it.
            created = orchestrator.create_task_run(
                workflow.name, flow_run_id=parent.flow_run_id, name=workflow.name
            )
            parent_task_run_id = created.run.id
        run = orchestrator.create_flow_run(
            flow.id,
            name=self._run_name(),
            state=State(type=StateType.PENDING, name="Pending"),
            parameters=parameters,
            tags=workflow.tags,
            policy=workflow.policy,
            parent_task_run_id=parent_task_run_id,
            flow_version=workflow.version,
        )
        self.flow_run_id: uuid.UUID = run.id
        """The flow run's id."""

    def _run_name(self) -> str | None:
        spec = self._workflow.flow_run_name
        if spec is None:
            return None
        if isinstance(spec, str):
            return spec.format_map(self._parameters)
        return spec()

    def _context(self) -> FlowRunContext:
        return FlowRunContext(
            orchestrator=self._orchestrator,
            flow=self._workflow,
            flow_run_id=self.flow_run_id,
            parameters=self._parameters,
            task_runner=self._workflow.task_runner.duplicate(),
        )

    def _hooks(self) -> RunHooks:
        orchestrator = self._orchestrator
        return RunHooks(
            self._workflow,
            functools.partial(orchestrator.read_flow_run, self.flow_run_id),
            self._context(),
            orchestrator.activity,
        )

    def _propose(self, state: State) -> OrchestrationResult:
        result = self._orchestrator.set_flow_run_state(self.flow_run_id, state)
        if result.state is None:
            run = self._orchestrator.read_flow_run(self.flow_run_id)
            return OrchestrationResult(run.state, result.status, result.details)
        return result

    def run_blocking(self) -> State:
        """Run the sync body's attempts from plain code; return the final state.

        The calling thread counts as busy for the whole run (the body is real work), and
        idle while it waits on the orchestrator (futures, retry delays, slots).
        """
        with self._orchestrator.activity.counted():
            return self._run_blocking()

    def _run_blocking(self) -> State:
        workflow = self._workflow
        hooks = self._hooks()

        def call() -> Outcome:
            hooks.started_blocking()
            context = self._context()

            def body() -> Any:
                with run_context(context), context.task_runner:
                    return workflow.call_with_parameters(self._parameters)

            try:
                value = call_blocking(self._orchestrator, body, workflow.timeout_seconds)
            except Exception as exc:
                return self._failed(exc)
            return Outcome(state_from_return(value))

        machine = attempts(self.flow_run_id, self._propose, _NO_DETAILS)
        try:
            final: State = drive_blocking(self._orchestrator, machine, call)
        except BaseException as exc:
            hooks.finished_blocking(self._propose(crashed(exc)).state)
            raise
        hooks.finished_blocking(final)
        return final

    async def run_async(self) -> State:
        """Run the async body's attempts in the running event loop; return the final state."""
        workflow = self._workflow
        hooks = self._hooks()

        async def call() -> Outcome:
            await hooks.started_async()
            context = self._context()
            runner = context.task_runner

            async def body() -> Any:
                with run_context(context), self._orchestrator.activity.execution_here():
                    runner.__enter__()
                    try:
                        return await workflow.call_with_parameters(self._parameters)
                    finally:
                        # Leaving the runner waits for its runs: off the event loop, and
                        # shielded, so a cancelled flow still shuts its pool down.
                        with anyio.CancelScope(shield=True):
                            await anyio.to_thread.run_sync(runner.__exit__, None, None, None)

            try:
                value = await call_async(self._orchestrator, body, workflow.timeout_seconds)
            except Exception as exc:
                return self._failed(exc)
            return Outcome(state_from_return(value))

        machine = attempts(self.flow_run_id, self._propose, _NO_DETAILS)
        try:
            final: State = await drive_async(self._orchestrator, machine, call)
        except BaseException as exc:
            crash = self._propose(crashed(exc)).state
            with anyio.CancelScope(shield=True):
                await hooks.finished_async(crash)
            raise
        await hooks.finished_async(final)
        return final

    def _failed(self, exc: Exception) -> Outcome:
        """The outcome of a body that raised ``exc`` (or ran out of time)."""
        if isinstance(exc, CallTimedOut):
            seconds = self._workflow.timeout_seconds
            message = f"Flow run exceeded its timeout of {seconds:g} s"
            return Outcome(failed(message, TimeoutError(message), _NO_DETAILS, "TimedOut"))
        message = f"Flow run encountered an exception: {exc!r}"
        return Outcome(failed(message, exc, _NO_DETAILS))


def state_from_return(value: Any) -> State:
    """The state a flow's return value gives it (Prefect 3's rule).

    A returned future stands for its run's final state. A returned state ends the flow
    in the same kind of state: Completed, whose result is the returned state itself when
    it is a run's state (a task's ``return_state=True`` or a future's, as Prefect hands
    it back) and the state's data when the body built it; or Failed with its message
    and failure. A
    returned collection of states ends it Failed when one of them failed or is not final,
    and Completed (with the states as its data) otherwise. Any other value completes it.
    """
    resolved = _futures_to_states(value)
    if isinstance(resolved, State):
        if resolved.type is StateType.COMPLETED:
            # A committed state (it has a timestamp) is a run's: hand the state back.
            data = resolved if resolved.timestamp is not None else resolved.data
            return completed(data, _NO_DETAILS)
        return _failed_from(resolved)
    states = _states_in(resolved)
    if states:
        bad = [state for state in states if state.type in _FAILED_TYPES]
        if bad:
            message = f"{len(bad)}/{len(states)} states failed."
            return State(type=StateType.FAILED, name="Failed", message=message, data=resolved)
        unfinished = [state for state in states if state.type is not StateType.COMPLETED]
        if unfinished:
            message = f"{len(unfinished)}/{len(states)} states are not final."
            return State(type=StateType.FAILED, name="Failed", message=message, data=resolved)
    return completed(resolved, _NO_DETAILS)


def _failed_from(state: State) -> State:
    if state.type in _FAILED_TYPES:
        return State(type=StateType.FAILED, name="Failed", message=state.message, data=state.data)
    if state.type is StateType.CANCELLED:
        return State(type=StateType.CANCELLED, name="Cancelled", message=state.message)
    message = f"the flow returned a {state.name} state, which is not final"
    # A run's state (committed: it has a timestamp) is handed back whole, as Prefect
    # does: a NotReady run's state says why it never ran.
    data = state if state.timestamp is not None else state.data
    return State(type=StateType.FAILED, name="Failed", message=message, data=data)


def _futures_to_states(value: Any) -> Any:
    """``value`` with every future inside it replaced by its run's settled state."""
    return replace_leaves(value, _settled_state, sets_as_lists=True)


def _settled_state(leaf: TaskRunFuture[Any] | State) -> Any:
    return leaf.wait() if isinstance(leaf, TaskRunFuture) else leaf


def _states_in(value: Any) -> list[State]:
    if isinstance(value, list | tuple | set):
        items = list(value)
    elif type(value) is dict:
        items = list(value.values())
    else:
        return []
    return [item for item in items if isinstance(item, State)]

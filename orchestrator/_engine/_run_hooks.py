"""Calling a run's state hooks and its retry condition, after the commit, never fatally.

Whatever executes a run (an inline task call, a flow's task runner, a TaskWorker, a flow
call) builds one :class:`RunHooks` for it. It calls :meth:`RunHooks.started_blocking`
(or ``started_async``) as each attempt starts Running, and
:meth:`RunHooks.finished_blocking` (or ``finished_async``) with the state the run ended
in. The hooks that state calls (``on_running``; ``on_completion``, ``on_failure``, and
for flows ``on_cancellation`` and ``on_crashed``) run in order, in the run's context (so
``get_run_context()`` and ``get_run_logger()`` work in a hook), each with ``(task or
flow, run record, state)``. An async hook is awaited (from plain code, on an event loop
of its own). A hook that raises is logged on the run (kept with the run's log lines,
with its traceback, and sent to the ``orchestrator.runs`` logger) and the next hook still
runs: a hook never changes a state.

:meth:`RunHooks.final_failure` asks a task's ``retry_condition_fn`` whether a failure
with retries left may be retried, and when it says no (or raises) marks the Failed
proposal ``retriable=False``: the retry rule then lets it end the run, and its decision
says why.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, final

from .._core._hook_options import hook_name_for
from .._core._run_context import RunContext, TaskRunContext, run_context
from .._core._states import State, StateType
from ._foreign_loop import block_on

if TYPE_CHECKING:
    from .._core._activity import Activity
    from .._core._hook_options import Hook, HookMethods

__all__ = ["RunHooks"]

_FAILED: Final = StateType.FAILED
_FINAL: Final = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)


async def _awaited_in(context: RunContext, awaitable: Awaitable[Any]) -> Any:
    with run_context(context):
        return await awaitable


@final
class RunHooks:
    """The hooks of one run.

    Args:
        owner: the task or flow (its ``hooks_for`` picks the hooks of a state).
        read_run: returns the run's current record (passed to each hook).
        context: the run's context, entered around each hook.
        activity: the orchestrator's activity (an async hook called from plain code runs
            on a loop of its own, counted on it).
    """

    __slots__ = ("_activity", "_context", "_owner", "_read_run")

    def __init__(
        self,
        owner: HookMethods,
        read_run: Callable[[], Any],
        context: RunContext,
        activity: Activity,
    ) -> None:
        self._owner = owner
        self._read_run = read_run
        self._context = context
        self._activity = activity

    def _call_blocking(self, fn: Callable[..., Any], state: State) -> Any:
        with run_context(self._context):
            result = fn(self._owner, self._read_run(), state)
        if inspect.isawaitable(result):
            return block_on(self._activity, _awaited_in, self._context, result)
        return result

    async def _call_async(self, fn: Callable[..., Any], state: State) -> Any:
        with run_context(self._context):
            result = fn(self._owner, self._read_run(), state)
            if inspect.isawaitable(result):
                result = await result
        return result

    # -- hooks ----------------------------------------------------------------------------------
    def started_blocking(self) -> None:
        """Call the ``on_running`` hooks from plain code (an attempt is Running now)."""
        self._hooks_blocking(self._running())

    async def started_async(self) -> None:
        """Call the ``on_running`` hooks in the running event loop."""
        await self._hooks_async(self._running())

    def finished_blocking(self, state: State | None) -> None:
        """Call the hooks of the run's final ``state`` from plain code (none unless final)."""
        if state is not None and state.type in _FINAL:
            self._hooks_blocking(state)

    async def finished_async(self, state: State | None) -> None:
        """Call the hooks of the run's final ``state`` in the running event loop."""
        if state is not None and state.type in _FINAL:
            await self._hooks_async(state)

    def _running(self) -> State | None:
        if not self._owner.hooks_for(StateType.RUNNING):
            return None
        state: State | None = self._read_run().state
        return state if state is not None and state.type is StateType.RUNNING else None

    def _hooks_blocking(self, state: State | None) -> None:
        if state is None:
            return
        for hook in self._owner.hooks_for(state.type):
            try:
                self._call_blocking(hook, state)
            except Exception as exc:
                self._report(hook, state, exc)

    async def _hooks_async(self, state: State | None) -> None:
        if state is None:
            return
        hooks = self._owner.hooks_for(state.type)
        if not hooks:
            return
        # Real work: time skipping holds the virtual clock while a hook awaits anything
        # but the orchestrator.
        with self._activity.execution_here():
            for hook in hooks:
                try:
                    await self._call_async(hook, state)
                except Exception as exc:
                    self._report(hook, state, exc)

    def _report(self, hook: Hook, state: State, exc: Exception) -> None:
        owner = self._owner
        self._logger().error(
            "the %s hook %s of %s %r raised %r; the run stays %s",
            hook_name_for(state.type),
            _name_of(hook),
            owner.hook_owner,
            getattr(owner, "name", owner),
            exc,
            state.name,
            exc_info=exc,
        )

    def _logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """The run's logger: a line on it is kept with the run and goes to ``orchestrator.runs``."""
        context = self._context
        if isinstance(context, TaskRunContext):
            return context.orchestrator.run_logger(task_run_id=context.task_run_id)
        return context.orchestrator.run_logger(flow_run_id=context.flow_run_id)

    # -- retry condition ----------------------------------------------------------------------
    def final_failure(self, proposal: State) -> State | None:
        """The Failed ``proposal`` marked final if the retry condition refuses a retry.

        Returns None when the proposal stands as it is (not a failure, no condition, no
        retry left, or the condition allows the retry). Otherwise asks the condition
        (from plain code) and returns the proposal to make instead.
        """
        condition = self._condition(proposal)
        if condition is None:
            return None
        try:
            allowed = bool(self._call_blocking(condition, proposal))
        except Exception as exc:
            return self._refused(proposal, condition, exc)
        return None if allowed else self._refused(proposal, condition, None)

    async def final_failure_async(self, proposal: State) -> State | None:
        """:meth:`final_failure`, asking the condition in the running event loop."""
        condition = self._condition(proposal)
        if condition is None:
            return None
        try:
            with self._activity.execution_here():
                allowed = bool(await self._call_async(condition, proposal))
        except Exception as exc:
            return self._refused(proposal, condition, exc)
        return None if allowed else self._refused(proposal, condition, None)

    def _condition(self, proposal: State) -> Callable[..., Any] | None:
        if proposal.type is not _FAILED or proposal.details.retriable is False:
            return None
        condition: Callable[..., Any] | None = getattr(self._owner, "retry_condition_fn", None)
        if condition is None:
            return None
        run = self._read_run()
        retries = run.empirical_policy.retries
        if retries is None or run.run_count > retries:
            return None  # no retry left: nothing to ask
        return condition

    def _refused(
        self, proposal: State, condition: Callable[..., Any], error: Exception | None
    ) -> State:
        why = (
            f"retry_condition_fn {_name_of(condition)} returned False"
            if error is None
            else f"retry_condition_fn {_name_of(condition)} raised {error!r}"
        )
        if error is not None:
            self._report_condition(why, error)
        message = f"{proposal.message}; not retried: {why}" if proposal.message else why
        return State(
            type=proposal.type,
            name=proposal.name,
            message=message,
            data=proposal.data,
            details=proposal.details.replace(retriable=False),
        )

    def _report_condition(self, why: str, error: Exception) -> None:
        self._logger().error("%s; the failure is final", why, exc_info=error)


def _name_of(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)

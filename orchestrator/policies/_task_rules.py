"""Task-run rules about caching, terminal states, the parent flow run and renaming.

Each rule is a small frozen class whose fields are its configuration; what it must
remember between its hooks goes in ``ctx.parameters`` under a key of its own.
"""

from __future__ import annotations

from typing import ClassVar, Final, final

import attrs

from .._core._checks import check_positive_int
from .._core._errors import ObjectNotFound
from .._core._models import TaskRun
from .._core._states import TERMINAL_TYPES, Paused, StateType
from .._rules._context import TransitionContext
from .._rules._rule import Rule, StateTypes

__all__ = [
    "CacheInsertion",
    "CacheRetrieval",
    "HandleTaskTerminalStateTransitions",
    "PreventRunningTasksFromStoppedFlows",
    "RenameReruns",
    "UpdateFlowRunTrackerOnTasks",
]

_RUNNING: Final = StateType.RUNNING
_TO_RUNNING: Final[StateTypes] = frozenset({StateType.RUNNING})
_TO_COMPLETED: Final[StateTypes] = frozenset({StateType.COMPLETED})
#: A run in a terminal state cannot go to these: they describe a run that is live.
_NOT_FROM_TERMINAL: Final = frozenset({StateType.CANCELLING, StateType.PAUSED, StateType.CRASHED})
_FLOW_NOT_RUNNING: Final = "The enclosing flow must be running to begin task execution."

_RUN_COUNT: Final = "HandleTaskTerminalStateTransitions.run_count"
_OVERSIZED_KEY: Final = "CacheInsertion.oversized_key"


@final
@attrs.frozen
class CacheRetrieval(Rule):
    """→RUNNING: answer from the cache when a live entry exists for the proposal's key.

    A proposal with a ``cache_key`` (and no truthy ``refresh_cache``) is rejected into a
    fresh copy, named "Cached", of the newest live entry's state: the run completes
    with the cached result without running. Later →RUNNING rules then do not apply.
    """

    to_states: ClassVar[StateTypes] = _TO_RUNNING

    def before(self, ctx: TransitionContext) -> None:
        """Look the proposal's cache key up and reject into the cached state on a hit."""
        proposed = ctx.proposed
        if proposed is None:
            return
        details = proposed.details
        key = details.cache_key
        if not key or details.refresh_cache:
            return
        hit = ctx.services.lookup_cache(key, ctx.now)
        if hit is not None:
            ctx.reject(hit.copy(name="Cached"), "Retrieved state from cache")


@final
@attrs.frozen
class HandleTaskTerminalStateTransitions(Rule):
    """Terminal→any: protect finished runs, and give a re-run a fresh retry budget.

    * to CANCELLING, PAUSED or CRASHED: ABORT ("Run is already <TYPE>.");
    * from COMPLETED with a result (``data`` is not None): REJECT, the run stays
      completed, whatever the proposal;
    * otherwise a non-final proposal resets ``run_count`` to 0, and a →RUNNING proposal
      is renamed "Retrying" when the parent flow run is on a later attempt than the one
      the task last ran in.

    The cleanup restores ``run_count`` when a later rule changed the transition.
    """

    from_states: ClassVar[StateTypes] = frozenset(TERMINAL_TYPES)

    def before(self, ctx: TransitionContext) -> None:
        """Abort, reject or let the run leave its terminal state."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None:
            return
        run = ctx.task_run
        ctx.parameters[_RUN_COUNT] = run.run_count
        if proposed.type in _NOT_FROM_TERMINAL:
            ctx.abort(f"Run is already {initial.type.value}.")
            return
        if initial.type is StateType.COMPLETED and initial.has_result:
            ctx.reject(None, "This run is already completed.")
            return
        if not proposed.is_final():
            run.run_count = 0
        if proposed.type is _RUNNING and run.flow_run_id is not None:
            flow_run = ctx.services.read_flow_run(run.flow_run_id)
            if flow_run is not None and run.flow_run_run_count < flow_run.run_count:
                ctx.rename("Retrying")

    def cleanup(self, ctx: TransitionContext) -> None:
        """Give the run back the run count it had before this transition."""
        run_count = ctx.parameters.get(_RUN_COUNT)
        if run_count is not None:
            ctx.task_run.run_count = run_count


@final
@attrs.frozen
class PreventRunningTasksFromStoppedFlows(Rule):
    """→RUNNING: a task of a flow run may start only while that flow run is RUNNING.

    A paused flow run rejects the task into PAUSED "NotReady" (with the flow's pause
    timeout and reschedule flag); a flow run in any other state, or with no state,
    aborts it. Runs with no flow run, and runs whose flow run is gone, pass.
    """

    to_states: ClassVar[StateTypes] = _TO_RUNNING

    def before(self, ctx: TransitionContext) -> None:
        """Check the parent flow run's state."""
        run = ctx.run
        if type(run) is not TaskRun:  # the property's check, without its call
            run = ctx.task_run  # refuses a flow run
        if run.flow_run_id is None:
            return
        flow_run = ctx.services.read_flow_run(run.flow_run_id)
        if flow_run is None:
            return
        flow_state = flow_run.state
        if flow_state is None:
            ctx.abort(_FLOW_NOT_RUNNING)
        elif flow_state.type is StateType.PAUSED:
            details = flow_state.details
            not_ready = Paused(
                name="NotReady",
                pause_timeout=details.pause_timeout,
                reschedule=details.pause_reschedule,
            )
            ctx.reject(
                not_ready, f"Flow run {flow_run.id} is paused; the task can run once it resumes."
            )
        elif flow_state.type is not _RUNNING:
            ctx.abort(_FLOW_NOT_RUNNING)


@final
@attrs.frozen
class RenameReruns(Rule):
    """→RUNNING: name a run that ran before "Retrying" (after AwaitingRetry) or "Rerunning".

    A background run comes back from AwaitingRetry through a worker's deferred PENDING
    claim; having run before, such a run is retrying too.
    """

    to_states: ClassVar[StateTypes] = _TO_RUNNING

    def before(self, ctx: TransitionContext) -> None:
        """Rename the proposal when the run has run before."""
        initial = ctx.initial
        if initial is None or ctx.proposed is None or ctx.run.run_count <= 0:
            return
        retrying = initial.name == "AwaitingRetry" or (
            initial.type is StateType.PENDING and initial.details.deferred
        )
        ctx.rename("Retrying" if retrying else "Rerunning")


@final
@attrs.frozen
class UpdateFlowRunTrackerOnTasks(Rule):
    """→RUNNING: once running, remember which attempt of its flow run the task ran in.

    The after-hook copies the flow run's ``run_count`` to the task's
    ``flow_run_run_count``.

    Raises:
        ObjectNotFound: (from the after-hook) the task's flow run no longer exists.
    """

    to_states: ClassVar[StateTypes] = _TO_RUNNING

    def after(self, ctx: TransitionContext) -> None:
        """Copy the flow run's run count onto the task run."""
        run = ctx.run
        if type(run) is not TaskRun:  # the property's check, without its call
            run = ctx.task_run  # refuses a flow run
        if run.flow_run_id is None:
            return
        flow_run = ctx.services.read_flow_run(run.flow_run_id)
        if flow_run is None:
            raise ObjectNotFound(
                "flow run", run.flow_run_id, f"unable to read the flow run of task run {run.id}"
            )
        run.flow_run_run_count = flow_run.run_count


@final
@attrs.frozen
class CacheInsertion(Rule):
    """→COMPLETED: record the committed state under its ``cache_key``.

    A key longer than ``max_key_length`` characters gets a REJECT that still commits
    the proposal as it is, with the reason, and caches nothing.

    Args:
        max_key_length: the longest cache key accepted, at least 1.
    """

    to_states: ClassVar[StateTypes] = _TO_COMPLETED
    max_key_length: int = 2000

    def __attrs_post_init__(self) -> None:
        check_positive_int(self.max_key_length, "max_key_length")

    def before(self, ctx: TransitionContext) -> None:
        """Refuse to cache a state whose key is too long."""
        proposed = ctx.proposed
        if proposed is None:
            return
        key = proposed.details.cache_key
        if key is not None and len(key) > self.max_key_length:
            ctx.parameters[_OVERSIZED_KEY] = True
            ctx.reject(
                proposed,
                f"Cache key exceeded maximum allowed length of {self.max_key_length} characters.",
            )

    def after(self, ctx: TransitionContext) -> None:
        """Insert the committed COMPLETED state into the cache."""
        validated = ctx.validated
        if validated is None or validated is ctx.initial:
            return
        # Not fizzled, so the committed state is the COMPLETED this rule was compiled for.
        details = validated.details
        key = details.cache_key
        if key and _OVERSIZED_KEY not in ctx.parameters:
            ctx.services.insert_cache(key, details.cache_expiration, validated)

"""Rules for background (deferred) task runs: claims, stored parameters and queueing."""

from __future__ import annotations

from typing import ClassVar, Final, final

import attrs

from .._core._models import TaskRun
from .._core._states import StateType
from .._rules._context import TransitionContext
from .._rules._rule import Rule, StateTypes

__all__ = ["CopyTaskParametersID", "EnqueueScheduledTasks", "PreventPendingTransitions"]

_PENDING: Final = StateType.PENDING


@final
@attrs.frozen
class PreventPendingTransitions(Rule):
    """PENDING, CANCELLING, RUNNING or CANCELLED→PENDING: one claim per run.

    A second claimant proposing PENDING is aborted ("This run is in a <TYPE> state and
    cannot transition to a PENDING state."). Only a PENDING run moving on to a
    differently named PENDING other than "Pending" (Pending → Submitting →
    InfrastructurePending) passes, and keeps the scheduled time and deployment
    concurrency lease of the state it leaves.
    """

    from_states: ClassVar[StateTypes] = frozenset(
        {StateType.PENDING, StateType.CANCELLING, StateType.RUNNING, StateType.CANCELLED}
    )
    to_states: ClassVar[StateTypes] = frozenset({_PENDING})

    def before(self, ctx: TransitionContext) -> None:
        """Abort the claim unless it is a PENDING sub-step."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None:
            return
        name = proposed.name
        if initial.type is _PENDING and name != initial.name and name != "Pending":
            details = initial.details
            ctx.update_details(
                scheduled_time=details.scheduled_time,
                deployment_concurrency_lease_id=details.deployment_concurrency_lease_id,
            )
            return
        ctx.abort(
            f"This run is in a {initial.type.value} state and cannot transition to a PENDING state."
        )


@final
@attrs.frozen
class CopyTaskParametersID(Rule):
    """SCHEDULED or PENDING→PENDING or RUNNING: keep pointing at the stored parameters."""

    from_states: ClassVar[StateTypes] = frozenset({StateType.SCHEDULED, _PENDING})
    to_states: ClassVar[StateTypes] = frozenset({_PENDING, StateType.RUNNING})

    def before(self, ctx: TransitionContext) -> None:
        """Copy ``task_parameters_id`` from the initial state if the proposal has none."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None or proposed.details.task_parameters_id is not None:
            return
        parameters_id = initial.details.task_parameters_id
        if parameters_id is not None:
            ctx.update_details(task_parameters_id=parameters_id)


@final
@attrs.frozen
class EnqueueScheduledTasks(Rule):
    """Universal: put a run that just committed a deferred SCHEDULED state on its queue.

    An "AwaitingRetry" state goes on the task key's retry queue, any other on its
    scheduled queue. Universal so that a failure rejected into AwaitingRetry is queued
    too, whichever policy ran.
    """

    universal: ClassVar[bool] = True
    after_states: ClassVar[StateTypes] = frozenset({StateType.SCHEDULED})

    def after(self, ctx: TransitionContext) -> None:
        """Enqueue the run when this transition committed a deferred SCHEDULED state."""
        validated = ctx.validated
        if validated is None or validated is ctx.initial:
            return
        if validated.type is StateType.SCHEDULED and validated.details.deferred:
            run = ctx.run
            if type(run) is not TaskRun:  # the property's check, without its call
                run = ctx.task_run  # refuses a flow run
            ctx.services.enqueue(run, retry=validated.name == "AwaitingRetry")

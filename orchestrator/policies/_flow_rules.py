"""Flow-run rules: terminal states, cancellation, pauses, lateness and retries.

The flow-run counterparts of the task-run rules, for the flow policies of
:mod:`orchestrator.policies._flow_policies`. Generic rules (the claim guard, the
scheduled-time copy and wait) are shared with task runs and live with them.

Rules that change the run (its :class:`~orchestrator.FlowRunPolicy`) remember the
policy they replaced in ``ctx.parameters`` and put it back in ``cleanup`` when a later
rule changed the transition.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Final, final

import attrs

from .._core._models import FlowRun, FlowRunPolicy
from .._core._states import (
    ALL_STATE_TYPES,
    TERMINAL_TYPES,
    AwaitingRetry,
    Cancelled,
    Failed,
    StateType,
)
from .._rules._context import TransitionContext
from .._rules._rule import Rule, StateTypes

__all__ = [
    "BypassCancellingFlowRunsWithNoInfra",
    "EnforceCancellingToCancelledTransition",
    "EnsureOnlyScheduledFlowsMarkedLate",
    "HandleFlowTerminalStateTransitions",
    "HandlePausingFlows",
    "HandleResumingPausedFlows",
    "PreventDuplicateTransitions",
    "PreventResultDataLoss",
    "RetryFailedFlows",
]

_SCHEDULED: Final = StateType.SCHEDULED
_RUNNING: Final = StateType.RUNNING
_PAUSED: Final = StateType.PAUSED
_CANCELLING: Final = StateType.CANCELLING
_CANCELLED: Final = StateType.CANCELLED
#: A run in a terminal state cannot go to these: they describe a run that is live.
_NOT_FROM_TERMINAL: Final = frozenset({_CANCELLING, _PAUSED, StateType.CRASHED})
#: Where a paused run may go: on (RUNNING), back to a worker (SCHEDULED), or to an end.
_RESUMABLE_TO: Final = frozenset({_RUNNING, _SCHEDULED, *TERMINAL_TYPES})


def _flow_run(ctx: TransitionContext) -> FlowRun:
    run = ctx.run
    if not isinstance(run, FlowRun):
        raise TypeError(
            f"flow rules apply to flow runs, not to {run!r}; use a task policy for task runs"
        )
    return run


def _change_policy(rule: Rule, ctx: TransitionContext, run: FlowRun, **changes: Any) -> None:
    """Replace the run's policy with ``changes`` applied; ``rule`` keeps the original."""
    ctx.parameters.setdefault(f"{rule.name}.policy", run.empirical_policy)
    run.empirical_policy = attrs.evolve(run.empirical_policy, **changes)


def _restore_policy(rule: Rule, ctx: TransitionContext) -> None:
    """Give the run back the policy it had before ``rule`` changed it (if it did)."""
    saved = ctx.parameters.get(f"{rule.name}.policy")
    if isinstance(saved, FlowRunPolicy):
        _flow_run(ctx).empirical_policy = saved


@final
@attrs.frozen
class PreventDuplicateTransitions(Rule):
    """Any→any: a proposal carrying the current state's ``transition_id`` is a replay.

    It is rejected with no new state ("This run has already made this transition."),
    so a client that retries a request it believes lost does not commit it twice.
    """

    from_states: ClassVar[StateTypes] = frozenset(StateType)

    def before(self, ctx: TransitionContext) -> None:
        """Reject a proposal whose transition id equals the current state's."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None:
            return
        transition_id = proposed.details.transition_id
        if transition_id is not None and transition_id == initial.details.transition_id:
            ctx.reject(None, "This run has already made this transition.")


@final
@attrs.frozen
class HandleFlowTerminalStateTransitions(Rule):
    """Terminal→any: protect finished flow runs; let the others be run again.

    * to CANCELLING, PAUSED or CRASHED: ABORT ("Run is already <TYPE>.");
    * from COMPLETED with a result to a non-final state, or to COMPLETED without a
      result: REJECT, the run stays completed with its result (FAILED, CANCELLED and
      COMPLETED with a new result are accepted, as in the reference);
    * to SCHEDULED without a deployment: ABORT (nothing would ever pick the run up);
    * otherwise a non-final proposal clears the pause bookkeeping (``pause_keys``,
      ``resuming``) and sets ``retry_type`` to ``"reschedule"`` (to SCHEDULED) or None.

    Unlike the task rule, ``run_count`` is kept: a flow run's attempts keep counting.
    """

    from_states: ClassVar[StateTypes] = frozenset(TERMINAL_TYPES)

    def before(self, ctx: TransitionContext) -> None:
        """Abort, reject, or reset the pause and retry bookkeeping."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None:
            return
        run = _flow_run(ctx)
        if proposed.type in _NOT_FROM_TERMINAL:
            ctx.abort(f"Run is already {initial.type.value}.")
            return
        if initial.type is StateType.COMPLETED and initial.has_result:
            # As in the reference: a completed run with a result may still end otherwise
            # (FAILED, CANCELLED, COMPLETED with a new result), never run again, and
            # never lose its result to a result-less completion.
            if not proposed.is_final():
                ctx.reject(None, "This run is already completed.")
                return
            if proposed.type is StateType.COMPLETED and not proposed.has_result:
                ctx.reject(None, "This run is already completed.")
                return
        if proposed.type is _SCHEDULED and run.deployment_id is None:
            ctx.abort(
                "Cannot reschedule a flow run that has no deployment: no worker would pick it "
                "up. Create a new flow run instead."
            )
            return
        if not proposed.is_final():
            _change_policy(
                self,
                ctx,
                run,
                pause_keys=frozenset(),
                resuming=False,
                retry_type="reschedule" if proposed.type is _SCHEDULED else None,
            )

    def cleanup(self, ctx: TransitionContext) -> None:
        """Put the run's policy back as it was."""
        _restore_policy(self, ctx)


@final
@attrs.frozen
class PreventResultDataLoss(Rule):
    """COMPLETED→COMPLETED: completing again without a result must not drop the first one.

    Part of the minimal flow policy, so forced proposals keep results too.
    """

    from_states: ClassVar[StateTypes] = frozenset({StateType.COMPLETED})
    to_states: ClassVar[StateTypes] = frozenset({StateType.COMPLETED})

    def before(self, ctx: TransitionContext) -> None:
        """Reject a result-less completion of a run that completed with a result."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None:
            return
        if initial.has_result and not proposed.has_result:
            ctx.reject(None, "This run already completed with a result; it is kept.")


@final
@attrs.frozen
class EnforceCancellingToCancelledTransition(Rule):
    """CANCELLING→anything but CANCELLED: refused, the run stays CANCELLING.

    Once cancellation is requested, only the confirmation that the run stopped may
    follow (the worker that tears the infrastructure down proposes CANCELLED).
    """

    from_states: ClassVar[StateTypes] = frozenset({_CANCELLING})
    to_states: ClassVar[StateTypes] = ALL_STATE_TYPES - {_CANCELLED}

    def before(self, ctx: TransitionContext) -> None:
        """Reject with no new state."""
        if ctx.proposed is None:
            return
        ctx.reject(
            None,
            "Cannot transition flows that are cancelling to anything other than cancelled.",
        )


@final
@attrs.frozen
class BypassCancellingFlowRunsWithNoInfra(Rule):
    """→CANCELLING: a run with nothing to tear down is CANCELLED straight away.

    That is a SCHEDULED run with no ``infrastructure_pid``, a run whose state is named
    "Resuming", and a suspended run (PAUSED with ``pause_reschedule``): no process
    runs for them, so nobody would ever confirm the cancellation.
    """

    to_states: ClassVar[StateTypes] = frozenset({_CANCELLING})

    def before(self, ctx: TransitionContext) -> None:
        """Reject into Cancelled when no infrastructure exists."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None:
            return
        run = _flow_run(ctx)
        if initial.type is _PAUSED and initial.details.pause_reschedule:
            reason = "A suspended flow run has no infrastructure to cancel."
        elif initial.name == "Resuming":
            reason = "A resuming flow run has no infrastructure to cancel yet."
        elif initial.type is _SCHEDULED and not run.infrastructure_pid:
            reason = "Cancellation requested for a flow run with no infrastructure."
        else:
            return
        ctx.reject(Cancelled(message=proposed.message), reason)


@final
@attrs.frozen
class EnsureOnlyScheduledFlowsMarkedLate(Rule):
    """→SCHEDULED "Late": only a run that is waiting, and not late already, can be late.

    From any type but SCHEDULED the "Late" proposal is rejected with no new state. From
    a state already named "Late" it is rejected too: the run keeps that state (its id
    and timestamp), as a second pass of the reference's late-runs marking leaves it.
    """

    from_states: ClassVar[StateTypes] = frozenset(StateType)
    to_states: ClassVar[StateTypes] = frozenset({_SCHEDULED})

    def before(self, ctx: TransitionContext) -> None:
        """Reject a "Late" proposal with no new state."""
        initial, proposed = ctx.initial, ctx.proposed
        if proposed is None or proposed.name != "Late":
            return
        if initial is None or initial.type is not _SCHEDULED:
            ctx.reject(None, "Only scheduled flows can be marked late.")
        elif initial.name == "Late":
            ctx.reject(None, "This flow run is already marked late.")


@final
@attrs.frozen
class HandlePausingFlows(Rule):
    """→PAUSED: only a RUNNING flow run pauses, and each ``pause_key`` pauses it once.

    * a run with no state: ABORT; a run that is not RUNNING: REJECT (no new state);
    * a ``pause_key`` the run has already paused on: REJECT (the pause already fired);
    * a pause that reschedules (a suspension): ABORT for subflows and for runs with no
      deployment, since nothing could start them again.

    Once the pause is committed its key is added to the run's ``pause_keys``.
    """

    to_states: ClassVar[StateTypes] = frozenset({_PAUSED})

    def before(self, ctx: TransitionContext) -> None:
        """Refuse pauses that cannot or should not happen."""
        initial, proposed = ctx.initial, ctx.proposed
        if proposed is None:
            return
        verb = "suspend" if proposed.name == "Suspended" else "pause"
        if initial is None:
            ctx.abort(f"Cannot {verb} flows with no state.")
            return
        if initial.type is not _RUNNING:
            ctx.reject(None, f"Cannot {verb} flows that are not currently running.")
            return
        run = _flow_run(ctx)
        details = proposed.details
        if details.pause_key is not None and details.pause_key in run.empirical_policy.pause_keys:
            ctx.reject(None, f"This {verb} has already fired.")
            return
        if details.pause_reschedule:
            if run.parent_task_run_id is not None:
                ctx.abort(f"Cannot {verb} subflows.")
            elif run.deployment_id is None:
                ctx.abort(f"Cannot {verb} flows without a deployment.")

    def after(self, ctx: TransitionContext) -> None:
        """Remember the pause key, so the same pause cannot fire again."""
        validated = ctx.validated
        if validated is None or validated is ctx.initial or validated.type is not _PAUSED:
            return
        key = validated.details.pause_key
        if key is not None:
            run = _flow_run(ctx)
            run.empirical_policy = attrs.evolve(
                run.empirical_policy, pause_keys=run.empirical_policy.pause_keys | {key}
            )


@final
@attrs.frozen
class HandleResumingPausedFlows(Rule):
    """PAUSED→any: a paused run resumes to RUNNING or SCHEDULED, or ends.

    * to PENDING, PAUSED or CANCELLING: REJECT (no new state);
    * from a suspension (``pause_reschedule``) without a deployment: REJECT;
    * past its ``pause_timeout``: REJECT into FAILED "The flow was paused and never
      resumed.";
    * otherwise the run is marked ``resuming``, so its next entry into RUNNING
      continues the same attempt (``run_count`` does not grow); the mark is cleared
      when a RUNNING or final state is committed.

    The mark is set before the commit (the reference sets it after, so a direct
    PAUSED→RUNNING there counts as a new attempt): resuming is never a new attempt here.
    """

    from_states: ClassVar[StateTypes] = frozenset({_PAUSED})

    def before(self, ctx: TransitionContext) -> None:
        """Refuse or time out the resumption, or mark the run as resuming."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None:
            return
        if proposed.type not in _RESUMABLE_TO:
            ctx.reject(
                None,
                f"This run cannot transition to the {proposed.type.value} state from the "
                f"{initial.type.value} state.",
            )
            return
        run = _flow_run(ctx)
        details = initial.details
        if details.pause_reschedule and run.deployment_id is None:
            ctx.reject(None, "Cannot reschedule a suspended flow run without a deployment.")
            return
        if details.pause_timeout is not None and details.pause_timeout < ctx.now:
            verb = "suspended" if initial.name == "Suspended" else "paused"
            ctx.reject(
                Failed(message=f"The flow was {verb} and never resumed."),
                "The flow run's pause has timed out and can no longer resume.",
            )
            return
        _change_policy(self, ctx, run, resuming=True)

    def cleanup(self, ctx: TransitionContext) -> None:
        """Put the run's policy back as it was."""
        _restore_policy(self, ctx)


@final
@attrs.frozen
class RetryFailedFlows(Rule):
    """RUNNING→FAILED: retry a flow run that has retries left.

    With ``retries`` set and ``run_count <= retries`` the failure is rejected into
    SCHEDULED "AwaitingRetry" due ``now + retry_delay``, keeping its message and data,
    and the run's ``retry_type`` becomes ``"in_process"`` (the process that failed
    retries it: work pools do not hand it to a worker); its pause bookkeeping
    (``pause_keys``, ``resuming``) is reset for the new attempt. Otherwise FAILED stands
    and ``retry_type`` is cleared.
    """

    from_states: ClassVar[StateTypes] = frozenset({_RUNNING})
    to_states: ClassVar[StateTypes] = frozenset({StateType.FAILED})

    def before(self, ctx: TransitionContext) -> None:
        """Reject the failure into AwaitingRetry when a retry is left."""
        proposed = ctx.proposed
        if proposed is None:
            return
        run = _flow_run(ctx)
        policy = run.empirical_policy
        if policy.retries is None or run.run_count > policy.retries:
            if policy.retry_type is not None:
                _change_policy(self, ctx, run, retry_type=None)
            return
        delay = policy.retry_delay or 0.0
        retry = AwaitingRetry(
            ctx.now + timedelta(seconds=delay), message=proposed.message, data=proposed.data
        )
        ctx.reject(retry, "Retrying")
        # A new attempt: its pauses are its own (the same pause_key may pause it again).
        _change_policy(
            self, ctx, run, retry_type="in_process", pause_keys=frozenset(), resuming=False
        )

    def cleanup(self, ctx: TransitionContext) -> None:
        """Put the run's policy back as it was."""
        _restore_policy(self, ctx)

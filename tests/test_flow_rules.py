"""The flow-run rules and policies, one rule at a time, without an orchestrator."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator import (
    Cancelled,
    Cancelling,
    Completed,
    Failed,
    FlowRunPolicy,
    Late,
    Paused,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateDetails,
    StateType,
    Suspended,
    TransitionContext,
    VirtualClock,
    WaitDetails,
    rule,
)
from orchestrator.policies import (
    BypassCancellingFlowRunsWithNoInfra,
    CopyScheduledTime,
    EnforceCancellingToCancelledTransition,
    EnsureOnlyScheduledFlowsMarkedLate,
    HandleFlowTerminalStateTransitions,
    HandlePausingFlows,
    HandleResumingPausedFlows,
    PreventDuplicateTransitions,
    PreventPendingTransitions,
    PreventResultDataLoss,
    RetryFailedFlows,
    WaitForScheduledTime,
    core_flow_policy,
    minimal_flow_policy,
)
from tests.helpers import StubServices, make_context, make_flow_run, make_task_run, run_rules

START = datetime(2026, 1, 1, tzinfo=UTC)
DEPLOYMENT = uuid.UUID(int=0xDE9)
TERMINAL = [StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED]
NON_TERMINAL = [
    StateType.SCHEDULED,
    StateType.PENDING,
    StateType.RUNNING,
    StateType.PAUSED,
    StateType.CANCELLING,
]
#: A persisted result: anything but None counts.
RESULT = {"type": "reference", "storage_key": "abc"}


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


def state_of(state_type: StateType, details: StateDetails | None = None) -> State:
    return State(type=state_type, details=StateDetails() if details is None else details)


def reason(ctx: TransitionContext) -> str | None:
    """The reason of a REJECT, WAIT or ABORT."""
    return getattr(ctx.details, "reason", None)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


# -- scheduled time (shared with task runs) ---------------------------------------------------


@pytest.mark.parametrize("initial", [StateType.SCHEDULED, StateType.PENDING], ids=str)
def test_running_after_scheduled_time_is_not_delayed(
    clock: VirtualClock, services: StubServices, initial: StateType
) -> None:
    run = make_flow_run()
    details = StateDetails(scheduled_time=at(-300))
    ctx = make_context(
        run, state_of(initial, details=details), Running(), clock=clock, services=services
    )
    run_rules([WaitForScheduledTime()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert ctx.validated is not None
    assert ctx.validated.type is StateType.RUNNING


@pytest.mark.parametrize("initial", [StateType.SCHEDULED, StateType.PENDING], ids=str)
def test_running_before_scheduled_time_waits_exactly(
    clock: VirtualClock, services: StubServices, initial: StateType
) -> None:
    run = make_flow_run()
    details = StateDetails(scheduled_time=at(300))
    ctx = make_context(
        run, state_of(initial, details=details), Running(), clock=clock, services=services
    )
    run_rules([WaitForScheduledTime()], ctx)
    assert ctx.status is SetStateStatus.WAIT
    assert ctx.proposed is None
    assert isinstance(ctx.details, WaitDetails)
    assert ctx.details.delay_seconds == 300.0
    assert run.state_type is initial


@pytest.mark.parametrize("proposed", TERMINAL, ids=str)
def test_scheduled_time_wait_does_not_apply_to_other_types(proposed: StateType) -> None:
    assert not WaitForScheduledTime().applies_to(StateType.SCHEDULED, proposed)


def test_scheduled_time_is_copied_to_the_claim(clock: VirtualClock, services: StubServices) -> None:
    run = make_flow_run()
    ctx = make_context(run, Scheduled(at(-300)), Pending(), clock=clock, services=services)
    run_rules([CopyScheduledTime()], ctx)
    assert ctx.validated is not None
    assert ctx.validated.type is StateType.PENDING
    assert ctx.validated.details.scheduled_time == at(-300)


@pytest.mark.parametrize("proposed", [*TERMINAL, StateType.RUNNING], ids=str)
def test_scheduled_time_copy_does_not_apply_to_other_types(proposed: StateType) -> None:
    assert not CopyScheduledTime().applies_to(StateType.SCHEDULED, proposed)


# -- terminal states -------------------------------------------------------------------------


@pytest.mark.parametrize("initial", TERMINAL, ids=str)
@pytest.mark.parametrize(
    "proposed", [StateType.CRASHED, StateType.CANCELLING, StateType.PAUSED], ids=str
)
def test_terminal_runs_cannot_crash_pause_or_cancel(
    clock: VirtualClock, services: StubServices, initial: StateType, proposed: StateType
) -> None:
    run = make_flow_run(deployment_id=DEPLOYMENT)
    ctx = make_context(run, state_of(initial), state_of(proposed), clock=clock, services=services)
    run_rules([HandleFlowTerminalStateTransitions()], ctx)
    assert ctx.status is SetStateStatus.ABORT
    assert reason(ctx) == f"Run is already {initial.value}."
    assert run.state_type is initial


@pytest.mark.parametrize("proposed", [StateType.PENDING, StateType.RUNNING], ids=str)
def test_completed_without_result_may_run_again(
    clock: VirtualClock, services: StubServices, proposed: StateType
) -> None:
    policy = FlowRunPolicy(pause_keys=frozenset({"k"}), resuming=True, retry_type="in_process")
    run = make_flow_run(empirical_policy=policy, run_count=3)
    ctx = make_context(run, Completed(), state_of(proposed), clock=clock, services=services)
    run_rules([HandleFlowTerminalStateTransitions()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_type is proposed
    assert run.empirical_policy == FlowRunPolicy()
    assert run.run_count == 3 + (proposed is StateType.RUNNING)  # not reset, unlike tasks


@pytest.mark.parametrize("initial", TERMINAL, ids=str)
def test_rescheduling_a_terminal_run_needs_a_deployment(
    clock: VirtualClock, services: StubServices, initial: StateType
) -> None:
    run = make_flow_run()
    ctx = make_context(run, state_of(initial), Scheduled(), clock=clock, services=services)
    run_rules([HandleFlowTerminalStateTransitions()], ctx)
    assert ctx.status is SetStateStatus.ABORT
    assert "no deployment" in str(reason(ctx))


def test_rescheduling_with_a_deployment_sets_retry_type(
    clock: VirtualClock, services: StubServices
) -> None:
    run = make_flow_run(deployment_id=DEPLOYMENT)
    ctx = make_context(run, Failed(), Scheduled(at(60)), clock=clock, services=services)
    run_rules([HandleFlowTerminalStateTransitions()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.empirical_policy.retry_type == "reschedule"
    assert run.next_scheduled_start_time == at(60)


@pytest.mark.parametrize(
    "proposed",
    [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.COMPLETED],
    ids=str,
)
def test_completed_with_result_is_kept(
    clock: VirtualClock, services: StubServices, proposed: StateType
) -> None:
    run = make_flow_run(deployment_id=DEPLOYMENT)
    ctx = make_context(run, Completed(RESULT), state_of(proposed), clock=clock, services=services)
    completed = run.state
    run_rules([HandleFlowTerminalStateTransitions()], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert reason(ctx) == "This run is already completed."
    assert ctx.validated is completed
    assert run.state is completed


@pytest.mark.parametrize("initial", [None, *NON_TERMINAL], ids=str)
@pytest.mark.parametrize("proposed", list(StateType), ids=str)
def test_terminal_rule_ignores_non_terminal_runs(
    initial: StateType | None, proposed: StateType
) -> None:
    assert not HandleFlowTerminalStateTransitions().applies_to(initial, proposed)


def test_terminal_rule_cleanup_restores_the_policy(
    clock: VirtualClock, services: StubServices
) -> None:
    policy = FlowRunPolicy(pause_keys=frozenset({"k"}), resuming=True)
    run = make_flow_run(empirical_policy=policy)
    ctx = make_context(run, Failed(), Running(), clock=clock, services=services)

    @rule()
    def refuse(ctx: TransitionContext) -> None:
        ctx.reject(None, "no")

    run_rules([HandleFlowTerminalStateTransitions(), refuse], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert run.empirical_policy is policy


# -- result data loss -------------------------------------------------------------------------


def test_completing_again_without_a_result_keeps_the_first(
    clock: VirtualClock, services: StubServices
) -> None:
    run = make_flow_run()
    ctx = make_context(run, Completed(RESULT), Completed(), clock=clock, services=services)
    run_rules(minimal_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert run.state is not None
    assert run.state.data == RESULT


@pytest.mark.parametrize(("first", "second"), [(None, RESULT), (RESULT, {"type": "other"})])
def test_completing_again_with_a_result_is_allowed(
    clock: VirtualClock, services: StubServices, first: object, second: object
) -> None:
    run = make_flow_run()
    ctx = make_context(run, Completed(first), Completed(second), clock=clock, services=services)
    run_rules([PreventResultDataLoss()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state is not None
    assert run.state.data == second


# -- the claim guard --------------------------------------------------------------------------

BANNED = [StateType.CANCELLING, StateType.CANCELLED, StateType.RUNNING, StateType.PENDING]


@pytest.mark.parametrize("initial", BANNED, ids=str)
def test_second_claim_is_aborted(
    clock: VirtualClock, services: StubServices, initial: StateType
) -> None:
    run = make_flow_run()
    ctx = make_context(run, state_of(initial), Pending(), clock=clock, services=services)
    run_rules([PreventPendingTransitions()], ctx)
    assert ctx.status is SetStateStatus.ABORT
    assert reason(ctx) == (
        f"This run is in a {initial.value} state and cannot transition to a PENDING state."
    )
    assert run.state_type is initial


@pytest.mark.parametrize("initial", BANNED, ids=str)
def test_core_flow_policy_refuses_a_second_claim(
    clock: VirtualClock, services: StubServices, initial: StateType
) -> None:
    run = make_flow_run()
    ctx = make_context(run, state_of(initial), Pending(), clock=clock, services=services)
    current = run.state
    run_rules(core_flow_policy(), ctx)
    # CANCELLING is held by the cancelling rule (REJECT) before the claim guard (ABORT).
    expected = SetStateStatus.REJECT if initial is StateType.CANCELLING else SetStateStatus.ABORT
    assert ctx.status is expected
    assert run.state is current


def _other_pairs() -> list[tuple[StateType, StateType]]:
    return [
        (a, b) for a in StateType for b in StateType if not (a in BANNED and b is StateType.PENDING)
    ]


@pytest.mark.parametrize(("initial", "proposed"), _other_pairs(), ids=str)
def test_every_other_transition_passes_the_claim_guard(
    clock: VirtualClock, services: StubServices, initial: StateType, proposed: StateType
) -> None:
    run = make_flow_run()
    ctx = make_context(run, state_of(initial), state_of(proposed), clock=clock, services=services)
    run_rules([PreventPendingTransitions()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_type is proposed


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Pending", "Submitting"),
        ("Submitting", "InfrastructurePending"),
        ("Pending", "InfrastructurePending"),
    ],
)
def test_claim_sub_steps_are_accepted(
    clock: VirtualClock, services: StubServices, first: str, second: str
) -> None:
    run = make_flow_run()
    ctx = make_context(
        run, Pending(name=first), Pending(name=second), clock=clock, services=services
    )
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_name == second


@pytest.mark.parametrize("first", ["Pending", "Submitting", "InfrastructurePending"])
def test_back_to_plain_pending_is_aborted(
    clock: VirtualClock, services: StubServices, first: str
) -> None:
    run = make_flow_run()
    ctx = make_context(run, Pending(name=first), Pending(), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.ABORT
    assert run.state_name == first


def test_claim_sub_step_keeps_the_scheduled_time_and_lease(
    clock: VirtualClock, services: StubServices
) -> None:
    lease = uuid.UUID(int=7)
    run = make_flow_run()
    details = StateDetails(scheduled_time=at(-60), deployment_concurrency_lease_id=lease)
    ctx = make_context(
        run, Pending(details=details), Pending(name="Submitting"), clock=clock, services=services
    )
    run_rules([PreventPendingTransitions()], ctx)
    assert ctx.validated is not None
    assert ctx.validated.details.scheduled_time == at(-60)
    assert ctx.validated.details.deployment_concurrency_lease_id == lease


# -- cancellation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "proposed", [t for t in StateType if t is not StateType.CANCELLED], ids=str
)
def test_cancelling_only_ends_cancelled(
    clock: VirtualClock, services: StubServices, proposed: StateType
) -> None:
    run = make_flow_run(infrastructure_pid="42")
    ctx = make_context(run, Cancelling(), state_of(proposed), clock=clock, services=services)
    cancelling = run.state
    run_rules([EnforceCancellingToCancelledTransition()], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert ctx.validated is cancelling
    assert run.state_type is StateType.CANCELLING


def test_cancelling_to_cancelled_is_accepted(clock: VirtualClock, services: StubServices) -> None:
    run = make_flow_run(infrastructure_pid="42")
    ctx = make_context(run, Cancelling(), Cancelled(), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_type is StateType.CANCELLED


@pytest.mark.parametrize(
    "proposed", [t for t in StateType if t is not StateType.CANCELLED], ids=str
)
def test_cancelled_runs_are_not_held_by_the_cancelling_rule(proposed: StateType) -> None:
    assert not EnforceCancellingToCancelledTransition().applies_to(StateType.CANCELLED, proposed)


@pytest.mark.parametrize(
    ("initial", "pid"),
    [
        (Scheduled(), None),
        (Scheduled(name="Resuming"), "42"),
        (Suspended(), "42"),
    ],
    ids=["scheduled-no-pid", "resuming", "suspended"],
)
def test_cancelling_a_run_with_no_infrastructure_cancels_it(
    clock: VirtualClock, services: StubServices, initial: State, pid: str | None
) -> None:
    run = make_flow_run(infrastructure_pid=pid)
    ctx = make_context(run, initial, Cancelling(message="stop"), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert run.state is not None
    assert run.state.type is StateType.CANCELLED
    assert run.state.message == "stop"


@pytest.mark.parametrize(
    ("initial", "pid"),
    [(Scheduled(), "42"), (Running(), None), (Pending(), None), (Paused(), None)],
    ids=["scheduled-with-pid", "running", "pending", "paused"],
)
def test_cancelling_a_run_with_infrastructure_waits_for_it(
    clock: VirtualClock, services: StubServices, initial: State, pid: str | None
) -> None:
    run = make_flow_run(infrastructure_pid=pid)
    ctx = make_context(run, initial, Cancelling(), clock=clock, services=services)
    run_rules([BypassCancellingFlowRunsWithNoInfra()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_type is StateType.CANCELLING


def test_forced_cancel_of_a_scheduled_run_still_bypasses(
    clock: VirtualClock, services: StubServices
) -> None:
    run = make_flow_run()
    ctx = make_context(run, Scheduled(), Cancelling(), clock=clock, services=services)
    run_rules(minimal_flow_policy(), ctx)
    assert run.state_type is StateType.CANCELLED


# -- duplicates and lateness ------------------------------------------------------------------


def test_replayed_transition_is_rejected(clock: VirtualClock, services: StubServices) -> None:
    transition = uuid.UUID(int=99)
    run = make_flow_run()
    details = StateDetails(transition_id=transition)
    ctx = make_context(
        run, Running(details=details), Running(details=details), clock=clock, services=services
    )
    current = run.state
    run_rules([PreventDuplicateTransitions()], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert run.state is current


@pytest.mark.parametrize(
    ("first", "second"), [(uuid.UUID(int=1), uuid.UUID(int=2)), (None, None)], ids=str
)
def test_distinct_transitions_pass(
    clock: VirtualClock, services: StubServices, first: uuid.UUID | None, second: uuid.UUID | None
) -> None:
    run = make_flow_run()
    ctx = make_context(
        run,
        Running(details=StateDetails(transition_id=first)),
        Completed(details=StateDetails(transition_id=second)),
        clock=clock,
        services=services,
    )
    run_rules([PreventDuplicateTransitions()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT


@pytest.mark.parametrize("initial", [t for t in StateType if t is not StateType.SCHEDULED], ids=str)
def test_only_scheduled_runs_can_be_late(
    clock: VirtualClock, services: StubServices, initial: StateType
) -> None:
    run = make_flow_run()
    ctx = make_context(run, state_of(initial), Late(), clock=clock, services=services)
    run_rules([EnsureOnlyScheduledFlowsMarkedLate()], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert run.state_type is initial


def test_scheduled_run_can_be_late(clock: VirtualClock, services: StubServices) -> None:
    run = make_flow_run()
    ctx = make_context(run, Scheduled(at(-10)), Late(at(-10)), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_name == "Late"


# -- pausing and resuming ---------------------------------------------------------------------


def test_a_running_flow_pauses_once_per_key(clock: VirtualClock, services: StubServices) -> None:
    run = make_flow_run()
    ctx = make_context(run, Running(), Paused(pause_key="step-1"), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.empirical_policy.pause_keys == frozenset({"step-1"})
    ctx = make_context(run, Running(), Paused(pause_key="step-1"), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert reason(ctx) == "This pause has already fired."
    assert run.state_type is StateType.RUNNING


@pytest.mark.parametrize(
    "initial", [StateType.SCHEDULED, StateType.PENDING, StateType.CANCELLING], ids=str
)
def test_only_running_flows_pause(
    clock: VirtualClock, services: StubServices, initial: StateType
) -> None:
    run = make_flow_run()
    ctx = make_context(run, state_of(initial), Paused(), clock=clock, services=services)
    run_rules([HandlePausingFlows()], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert reason(ctx) == "Cannot pause flows that are not currently running."


def test_pausing_a_run_with_no_state_is_aborted(
    clock: VirtualClock, services: StubServices
) -> None:
    run = make_flow_run()
    ctx = make_context(run, None, Suspended(), clock=clock, services=services)
    run_rules([HandlePausingFlows()], ctx)
    assert ctx.status is SetStateStatus.ABORT
    assert reason(ctx) == "Cannot suspend flows with no state."


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"parent_task_run_id": uuid.UUID(int=5), "deployment_id": DEPLOYMENT},
            "Cannot suspend subflows.",
        ),
        ({}, "Cannot suspend flows without a deployment."),
    ],
    ids=["subflow", "no-deployment"],
)
def test_suspensions_need_a_top_level_deployed_run(
    clock: VirtualClock, services: StubServices, fields: dict[str, Any], expected: str
) -> None:
    run = make_flow_run(**fields)
    ctx = make_context(run, Running(), Suspended(), clock=clock, services=services)
    run_rules([HandlePausingFlows()], ctx)
    assert ctx.status is SetStateStatus.ABORT
    assert reason(ctx) == expected


def test_suspending_a_deployed_run_is_accepted(clock: VirtualClock, services: StubServices) -> None:
    run = make_flow_run(deployment_id=DEPLOYMENT)
    ctx = make_context(run, Running(), Suspended(), clock=clock, services=services)
    run_rules([HandlePausingFlows()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_name == "Suspended"


@pytest.mark.parametrize(
    "proposed", [StateType.PENDING, StateType.PAUSED, StateType.CANCELLING], ids=str
)
def test_paused_runs_resume_only_to_running_scheduled_or_an_end(
    clock: VirtualClock, services: StubServices, proposed: StateType
) -> None:
    run = make_flow_run()
    ctx = make_context(run, Paused(), state_of(proposed), clock=clock, services=services)
    run_rules([HandleResumingPausedFlows()], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert run.state_type is StateType.PAUSED
    assert not run.empirical_policy.resuming


@pytest.mark.parametrize("proposed", [StateType.RUNNING, StateType.SCHEDULED, *TERMINAL], ids=str)
def test_resuming_marks_the_run(
    clock: VirtualClock, services: StubServices, proposed: StateType
) -> None:
    run = make_flow_run(run_count=1)
    ctx = make_context(
        run, Paused(pause_timeout=at(60)), state_of(proposed), clock=clock, services=services
    )
    run_rules([HandleResumingPausedFlows()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_type is proposed
    assert run.empirical_policy.resuming


def test_an_expired_pause_fails_the_run(clock: VirtualClock, services: StubServices) -> None:
    run = make_flow_run()
    ctx = make_context(run, Paused(pause_timeout=at(-1)), Running(), clock=clock, services=services)
    run_rules([HandleResumingPausedFlows()], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert run.state is not None
    assert run.state.type is StateType.FAILED
    assert run.state.message == "The flow was paused and never resumed."
    assert not run.empirical_policy.resuming


def test_a_suspended_run_without_deployment_cannot_be_rescheduled(
    clock: VirtualClock, services: StubServices
) -> None:
    run = make_flow_run()
    ctx = make_context(run, Suspended(), Scheduled(name="Resuming"), clock=clock, services=services)
    run_rules([HandleResumingPausedFlows()], ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert run.state_name == "Suspended"


# -- retries ----------------------------------------------------------------------------------


def test_a_failed_flow_with_retries_left_awaits_retry(
    clock: VirtualClock, services: StubServices
) -> None:
    run = make_flow_run(empirical_policy=FlowRunPolicy(retries=2, retry_delay=30))
    ctx = make_context(run, Running(), Failed(message="boom"), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.REJECT
    assert reason(ctx) == "Retrying"
    assert run.state is not None
    assert (run.state.type, run.state.name) == (StateType.SCHEDULED, "AwaitingRetry")
    assert run.state.details.scheduled_time == at(30)
    assert run.state.message == "boom"
    assert run.empirical_policy.retry_type == "in_process"
    assert run.next_scheduled_start_time == at(30)


def test_retry_delay_defaults_to_now(clock: VirtualClock, services: StubServices) -> None:
    run = make_flow_run(empirical_policy=FlowRunPolicy(retries=1))
    ctx = make_context(run, Running(), Failed(), clock=clock, services=services)
    run_rules([RetryFailedFlows()], ctx)
    assert run.state is not None
    assert run.state.details.scheduled_time == START


@pytest.mark.parametrize(("retries", "run_count"), [(None, 1), (0, 1), (2, 3)])
def test_a_flow_out_of_retries_fails(
    clock: VirtualClock, services: StubServices, retries: int | None, run_count: int
) -> None:
    policy = FlowRunPolicy(retries=retries, retry_type="in_process")
    run = make_flow_run(empirical_policy=policy)
    ctx = make_context(run, Running(), Failed(), clock=clock, services=services)
    run.run_count = run_count
    run_rules([RetryFailedFlows()], ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_type is StateType.FAILED
    assert run.empirical_policy.retry_type is None


def test_a_retry_accepts_awaiting_retry_through_the_whole_policy(
    clock: VirtualClock, services: StubServices
) -> None:
    run = make_flow_run(empirical_policy=FlowRunPolicy(retries=1))
    ctx = make_context(run, Running(), Failed(), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert run.state_name == "AwaitingRetry"
    ctx = make_context(run, None, Running(), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.run_count == 2
    ctx = make_context(run, None, Failed(), clock=clock, services=services)
    run_rules(core_flow_policy(), ctx)
    assert ctx.status is SetStateStatus.ACCEPT
    assert run.state_type is StateType.FAILED


def test_flow_rules_refuse_task_runs(clock: VirtualClock, services: StubServices) -> None:
    run = make_task_run()
    ctx = make_context(run, Running(), Failed(), clock=clock, services=services)
    with pytest.raises(TypeError, match="flow rules apply to flow runs"):
        run_rules([RetryFailedFlows()], ctx)

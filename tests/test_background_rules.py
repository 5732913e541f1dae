"""The rules of ``orchestrator.policies._background_rules``: claims, stored parameters, queueing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from orchestrator import (
    Completed,
    Failed,
    Pending,
    Policy,
    Running,
    Scheduled,
    SetStateStatus,
    StateDetails,
    StateType,
    VirtualClock,
)
from orchestrator._core._outcomes import AbortDetails
from orchestrator.policies import (
    CopyTaskParametersID,
    PreventPendingTransitions,
    background_task_policy,
    core_task_policy,
)
from tests.helpers import (
    ABORT,
    ACCEPT,
    REJECT,
    TERMINAL,
    WAIT,
    StubServices,
    force_state,
    make_task_run,
    propose,
    state_of,
    transition,
    type_id,
)


class TestCopyTaskParametersID:
    PARAMETERS_ID = uuid.UUID(int=0xABC)

    @pytest.mark.parametrize("initial_type", [StateType.SCHEDULED, StateType.PENDING], ids=type_id)
    @pytest.mark.parametrize("proposed_type", [StateType.PENDING, StateType.RUNNING], ids=type_id)
    def test_the_parameters_id_is_copied(
        self,
        initial_type: StateType,
        proposed_type: StateType,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        initial = state_of(
            initial_type, details=StateDetails(task_parameters_id=self.PARAMETERS_ID)
        )
        ctx = propose(
            [CopyTaskParametersID()],
            make_task_run(),
            initial,
            state_of(proposed_type),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        assert ctx.validated is not None
        assert ctx.validated.type is proposed_type
        assert ctx.validated.details.task_parameters_id == self.PARAMETERS_ID

    def test_a_proposal_with_its_own_id_keeps_it(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        own = uuid.UUID(int=0xDEF)
        ctx = propose(
            [CopyTaskParametersID()],
            make_task_run(),
            Scheduled(details=StateDetails(task_parameters_id=self.PARAMETERS_ID)),
            Pending(details=StateDetails(task_parameters_id=own)),
            clock=clock,
            services=services,
        )
        assert ctx.validated is not None
        assert ctx.validated.details.task_parameters_id == own

    @pytest.mark.parametrize("initial_type", [StateType.SCHEDULED, StateType.PENDING], ids=type_id)
    @pytest.mark.parametrize("proposed_type", TERMINAL, ids=type_id)
    def test_not_copied_for_other_transitions(
        self,
        initial_type: StateType,
        proposed_type: StateType,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        assert not CopyTaskParametersID().applies_to(initial_type, proposed_type)
        initial = state_of(
            initial_type, details=StateDetails(task_parameters_id=self.PARAMETERS_ID)
        )
        ctx = propose(
            [CopyTaskParametersID()],
            make_task_run(),
            initial,
            state_of(proposed_type),
            clock=clock,
            services=services,
        )
        assert ctx.validated is not None
        assert ctx.validated.details.task_parameters_id is None


# -- claims of background runs -------------------------------------------------------------------

BANNED_BEFORE_PENDING = [
    StateType.CANCELLING,
    StateType.CANCELLED,
    StateType.RUNNING,
    StateType.PENDING,
]


class TestPreventPendingTransitions:
    RULES = (PreventPendingTransitions(),)

    @pytest.mark.parametrize("initial_type", BANNED_BEFORE_PENDING, ids=type_id)
    def test_a_second_claim_is_aborted(
        self, initial_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run()
        ctx = propose(
            self.RULES, run, state_of(initial_type), Pending(), clock=clock, services=services
        )
        assert ctx.status is ABORT
        assert ctx.details == AbortDetails(
            f"This run is in a {initial_type.value} state and cannot transition to a PENDING state."
        )
        assert run.state_type is initial_type

    @pytest.mark.parametrize(
        ("initial_type", "proposed_type"),
        [
            pytest.param(i, p, id=f"{i.name}-to-{p.name}")
            for i in StateType
            for p in StateType
            if not (p is StateType.PENDING and i in BANNED_BEFORE_PENDING)
        ],
    )
    def test_every_other_transition_is_accepted(
        self,
        initial_type: StateType,
        proposed_type: StateType,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        ctx = propose(
            self.RULES,
            make_task_run(),
            state_of(initial_type),
            state_of(proposed_type),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT

    @pytest.mark.parametrize(
        ("initial_name", "proposed_name", "status"),
        [
            ("Pending", "Submitting", ACCEPT),
            ("Submitting", "InfrastructurePending", ACCEPT),
            ("Pending", "InfrastructurePending", ACCEPT),
            ("Pending", "Pending", ABORT),
            ("Submitting", "Pending", ABORT),
            ("InfrastructurePending", "Pending", ABORT),
            ("Submitting", "Submitting", ABORT),
        ],
    )
    def test_pending_sub_steps_are_allowed_once(
        self,
        initial_name: str,
        proposed_name: str,
        status: SetStateStatus,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        ctx = propose(
            self.RULES,
            make_task_run(),
            Pending(name=initial_name),
            Pending(name=proposed_name),
            clock=clock,
            services=services,
        )
        assert ctx.status is status

    def test_a_pending_sub_step_keeps_the_scheduled_time_and_lease(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        lease = uuid.UUID(int=0x1EA5E)
        when = clock.now() - timedelta(seconds=30)
        initial = Pending(
            details=StateDetails(scheduled_time=when, deployment_concurrency_lease_id=lease)
        )
        ctx = propose(
            self.RULES,
            make_task_run(),
            initial,
            Pending(name="Submitting"),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        assert ctx.validated is not None
        assert ctx.validated.details.scheduled_time == when
        assert ctx.validated.details.deployment_concurrency_lease_id == lease


# -- enqueueing background runs -------------------------------------------------------------------


class TestEnqueueScheduledTasks:
    def test_a_deferred_scheduled_run_goes_on_the_scheduled_queue(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run()
        ctx = transition(
            background_task_policy(),
            run,
            Scheduled(deferred=True),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        assert services.enqueued == [(run, False)]

    @pytest.mark.parametrize("policy", [core_task_policy, background_task_policy])
    def test_a_deferred_retry_goes_on_the_retry_queue(
        self, policy: Callable[[], Policy], clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run(retries=1, retry_delay=5)
        force_state(run, Running(), clock)
        ctx = transition(
            policy(),
            run,
            Failed(details=StateDetails(deferred=True)),
            clock=clock,
            services=services,
        )
        assert ctx.status is REJECT
        assert run.state_name == "AwaitingRetry"
        assert services.enqueued == [(run, True)]

    def test_runs_that_are_not_deferred_are_not_queued(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        transition(core_task_policy(), make_task_run(), Scheduled(), clock=clock, services=services)
        assert services.enqueued == []

    def test_a_run_waiting_in_a_deferred_scheduled_state_is_not_queued_twice(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run()
        force_state(run, Scheduled(clock.now() + timedelta(seconds=9), deferred=True), clock)
        ctx = transition(background_task_policy(), run, Running(), clock=clock, services=services)
        assert ctx.status is WAIT
        assert ctx.validated is run.state
        assert services.enqueued == []

    def test_nothing_is_queued_when_nothing_was_committed(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run()
        force_state(run, Completed("result"), clock)
        ctx = transition(
            background_task_policy(),
            run,
            Scheduled(deferred=True),
            clock=clock,
            services=services,
        )
        assert ctx.status is REJECT
        assert ctx.proposed is None
        assert services.enqueued == []

"""The rules of ``orchestrator.policies._timing_rules``: scheduled times and retries."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest

from orchestrator import (
    Failed,
    Pending,
    Running,
    Scheduled,
    State,
    StateDetails,
    StateType,
    TransitionContext,
    VirtualClock,
)
from orchestrator._core._errors import InvalidArgument
from orchestrator._core._outcomes import RejectDetails, WaitDetails
from orchestrator.policies import (
    CopyScheduledTime,
    RetryFailedTasks,
    WaitForScheduledTime,
    clamped_poisson_delay,
    retry_delay_seconds,
)
from tests.helpers import (
    ACCEPT,
    REJECT,
    TERMINAL,
    WAIT,
    StubServices,
    make_context,
    make_task_run,
    propose,
    run_rules,
    state_of,
    type_id,
)

# -- scheduled time ---------------------------------------------------------------------------


class TestWaitForScheduledTime:
    @pytest.mark.parametrize("initial_type", [StateType.SCHEDULED, StateType.PENDING], ids=type_id)
    def test_running_after_the_scheduled_time_is_not_delayed(
        self, initial_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        initial = state_of(
            initial_type, details=StateDetails(scheduled_time=clock.now() - timedelta(minutes=5))
        )
        ctx = propose(
            [WaitForScheduledTime()],
            make_task_run(),
            initial,
            Running(),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        assert ctx.validated is not None
        assert ctx.validated.type is StateType.RUNNING

    @pytest.mark.parametrize("initial_type", [StateType.SCHEDULED, StateType.PENDING], ids=type_id)
    def test_running_before_the_scheduled_time_waits_exactly_until_then(
        self, initial_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run()
        initial = state_of(
            initial_type, details=StateDetails(scheduled_time=clock.now() + timedelta(minutes=5))
        )
        ctx = propose(
            [WaitForScheduledTime()], run, initial, Running(), clock=clock, services=services
        )
        assert ctx.status is WAIT
        assert ctx.proposed is None
        assert ctx.details == WaitDetails(300.0, "Scheduled time is in the future")
        assert ctx.validated is run.state
        assert run.state_type is initial_type
        assert run.run_count == 0

    @pytest.mark.parametrize(
        ("ahead", "delay"),
        [
            pytest.param(timedelta(microseconds=1), 1e-06, id="1us"),
            pytest.param(timedelta(seconds=1.4), 1.4, id="1.4s"),
            pytest.param(timedelta(0), None, id="now"),
        ],
    )
    def test_the_delay_is_not_rounded(
        self,
        ahead: timedelta,
        delay: float | None,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        initial = Scheduled(clock.now() + ahead)
        ctx = propose(
            [WaitForScheduledTime()],
            make_task_run(),
            initial,
            Running(),
            clock=clock,
            services=services,
        )
        if delay is None:
            assert ctx.status is ACCEPT
        else:
            assert ctx.status is WAIT
            assert ctx.details == WaitDetails(delay, "Scheduled time is in the future")

    def test_no_scheduled_time_means_no_wait(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        ctx = propose(
            [WaitForScheduledTime()],
            make_task_run(),
            Pending(),
            Running(),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT

    @pytest.mark.parametrize("proposed_type", TERMINAL, ids=type_id)
    def test_does_not_apply_to_other_transitions(
        self, proposed_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        assert not WaitForScheduledTime().applies_to(StateType.SCHEDULED, proposed_type)
        initial = Scheduled(clock.now() + timedelta(minutes=5))
        ctx = propose(
            [WaitForScheduledTime()],
            make_task_run(),
            initial,
            state_of(proposed_type),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT


class TestCopyScheduledTime:
    def test_scheduled_time_is_copied_from_scheduled_to_pending(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        when = clock.now() - timedelta(minutes=5)
        ctx = propose(
            [CopyScheduledTime()],
            make_task_run(),
            Scheduled(when),
            Pending(),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        assert ctx.validated is not None
        assert ctx.validated.type is StateType.PENDING
        assert ctx.validated.details.scheduled_time == when

    def test_nothing_to_copy_from_a_state_without_a_time(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run()
        ctx = TransitionContext(
            run=run, initial=Scheduled(), proposed=Pending(), now=clock.now(), services=services
        )
        CopyScheduledTime().before(ctx)
        assert ctx.proposed == Pending()

    def test_a_proposal_with_its_own_time_keeps_it(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        own = clock.now() + timedelta(hours=1)
        ctx = propose(
            [CopyScheduledTime()],
            make_task_run(),
            Scheduled(clock.now()),
            Pending(details=StateDetails(scheduled_time=own)),
            clock=clock,
            services=services,
        )
        assert ctx.validated is not None
        assert ctx.validated.details.scheduled_time == own

    @pytest.mark.parametrize("proposed_type", [*TERMINAL, StateType.RUNNING], ids=type_id)
    def test_not_copied_for_other_transitions(
        self, proposed_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        assert not CopyScheduledTime().applies_to(StateType.SCHEDULED, proposed_type)
        ctx = propose(
            [CopyScheduledTime()],
            make_task_run(),
            Scheduled(clock.now() - timedelta(1)),
            state_of(proposed_type),
            clock=clock,
            services=services,
        )
        assert ctx.validated is not None
        assert ctx.validated.details.scheduled_time is None


# -- retries -----------------------------------------------------------------------------------


def retry_context(
    clock: VirtualClock,
    services: StubServices,
    *,
    run_count: int,
    proposed: State | None = None,
    rule_under_test: RetryFailedTasks | None = None,
    rng: random.Random | None = None,
    **policy: object,
) -> TransitionContext:
    run = make_task_run(**policy)  # type: ignore[arg-type]
    ctx = make_context(
        run,
        Running(),
        Failed() if proposed is None else proposed,
        clock=clock,
        services=services,
        rng=rng,
    )
    run.run_count = run_count  # as if it had entered RUNNING that many times
    return run_rules([RetryFailedTasks() if rule_under_test is None else rule_under_test], ctx)


class TestRetryFailedTasks:
    def test_a_failure_with_retries_left_awaits_a_retry(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        error = ValueError("boom")
        ctx = retry_context(
            clock, services, run_count=2, retries=2, proposed=Failed(error, message="it failed")
        )
        assert ctx.status is REJECT
        assert ctx.details == RejectDetails("Retrying")
        retry = ctx.validated
        assert retry is not None
        assert (retry.type, retry.name) == (StateType.SCHEDULED, "AwaitingRetry")
        assert (retry.message, retry.data) == ("it failed", error)
        assert retry.details.scheduled_time == clock.now()
        assert ctx.run.next_scheduled_start_time == clock.now()
        assert ctx.run.end_time is None

    def test_the_configured_delay_is_used(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        ctx = retry_context(clock, services, run_count=2, retries=2, retry_delay=10)
        assert ctx.validated is not None
        assert ctx.validated.details.scheduled_time == clock.now() + timedelta(seconds=10)

    @pytest.mark.parametrize(
        ("run_count", "delays", "expected"),
        [
            pytest.param(1, [2, 3, 5, 7, 11], 2, id="retry-1"),
            pytest.param(2, [2, 3, 5, 7, 11], 3, id="retry-2"),
            pytest.param(3, [2, 3, 5, 7, 11], 5, id="retry-3"),
            pytest.param(4, [2, 3, 5, 7, 11], 7, id="retry-4"),
            pytest.param(5, [2, 3, 5, 7, 11], 11, id="retry-5"),
            pytest.param(6, [2, 3, 5, 7], 7, id="past-the-list-repeats-the-last"),
            pytest.param(0, [2, 3, 5, 7], 7, id="run-count-0-takes-the-last"),
        ],
    )
    def test_a_list_of_delays_is_indexed_by_attempt(
        self,
        run_count: int,
        delays: list[float],
        expected: float,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        ctx = retry_context(clock, services, run_count=run_count, retries=6, retry_delay=delays)
        assert ctx.status is REJECT
        assert ctx.validated is not None
        assert ctx.validated.details.scheduled_time == clock.now() + timedelta(seconds=expected)

    def test_jitter_spreads_the_delay_through_the_jitter_function(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        def upper_bound(rng: random.Random, mean: float, factor: float) -> float:
            return mean * (1 + factor)

        ctx = retry_context(
            clock,
            services,
            run_count=2,
            retries=2,
            retry_delay=10,
            retry_jitter_factor=9,
            rule_under_test=RetryFailedTasks(jitter=upper_bound),
        )
        assert ctx.validated is not None
        assert ctx.validated.details.scheduled_time == clock.now() + timedelta(seconds=100)

    def test_jitter_draws_from_the_contexts_random_source(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        ctx = retry_context(
            clock,
            services,
            run_count=1,
            retries=1,
            retry_delay=10,
            retry_jitter_factor=0.5,
            rng=random.Random(1234),
        )
        expected = clamped_poisson_delay(random.Random(1234), 10.0, 0.5)
        assert 0 < expected < 15
        assert ctx.validated is not None
        assert ctx.validated.details.scheduled_time == clock.now() + timedelta(seconds=expected)

    def test_jitter_with_zero_delay_is_not_drawn(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        def never(rng: random.Random, mean: float, factor: float) -> float:
            raise AssertionError("no jitter on a zero delay")

        ctx = retry_context(
            clock,
            services,
            run_count=1,
            retries=2,
            retry_jitter_factor=0.5,
            rule_under_test=RetryFailedTasks(jitter=never),
        )
        assert ctx.validated is not None
        assert ctx.validated.details.scheduled_time == clock.now()

    @pytest.mark.parametrize(
        ("run_count", "retries", "retriable"),
        [
            pytest.param(3, 2, None, id="out-of-retries"),
            pytest.param(1, None, None, id="no-retries"),
            pytest.param(1, 0, None, id="zero-retries"),
            pytest.param(1, 2, False, id="not-retriable"),
        ],
    )
    def test_the_failure_is_accepted(
        self,
        run_count: int,
        retries: int | None,
        retriable: bool | None,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        ctx = retry_context(
            clock,
            services,
            run_count=run_count,
            retries=retries,
            proposed=Failed(details=StateDetails(retriable=retriable)),
        )
        assert ctx.status is ACCEPT
        assert ctx.run.state_type is StateType.FAILED
        assert ctx.run.end_time == clock.now()

    def test_a_failure_named_awaiting_retry_is_not_retried_when_not_retriable(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        proposed = Failed(name="AwaitingRetry", details=StateDetails(retriable=False))
        ctx = retry_context(clock, services, run_count=1, retries=2, proposed=proposed)
        assert ctx.status is ACCEPT
        assert ctx.run.state_name == "AwaitingRetry"

    def test_the_retry_keeps_the_failures_details(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        parameters_id = uuid.UUID(int=7)
        proposed = Failed(details=StateDetails(deferred=True, task_parameters_id=parameters_id))
        ctx = retry_context(
            clock, services, run_count=1, retries=1, retry_delay=3, proposed=proposed
        )
        assert ctx.validated is not None
        details = ctx.validated.details
        assert (details.deferred, details.task_parameters_id) == (True, parameters_id)
        assert details.scheduled_time == clock.now() + timedelta(seconds=3)

    @pytest.mark.parametrize("initial_type", [StateType.PENDING, StateType.SCHEDULED], ids=type_id)
    def test_a_failure_before_running_is_never_retried(
        self, initial_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        assert not RetryFailedTasks().applies_to(initial_type, StateType.FAILED)
        ctx = propose(
            [RetryFailedTasks()],
            make_task_run(retries=3),
            state_of(initial_type),
            Failed(),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT

    def test_its_repr_names_the_jitter_function(self) -> None:
        assert repr(RetryFailedTasks()) == "RetryFailedTasks(jitter=clamped_poisson_delay)"


class TestRetryDelays:
    @pytest.mark.parametrize(
        ("delay", "run_count", "expected"),
        [(None, 1, 0.0), (4, 9, 4.0), ([], 1, 0.0), ([1, 2], 1, 1.0), ([1, 2], 0, 2.0)],
    )
    def test_retry_delay_seconds(
        self, delay: float | list[float] | None, run_count: int, expected: float
    ) -> None:
        run = make_task_run(retry_delay=delay)
        assert retry_delay_seconds(run.empirical_policy, run_count) == expected

    def test_clamped_poisson_delays_stay_under_their_bound(self) -> None:
        rng = random.Random(2026)
        draws = [clamped_poisson_delay(rng, 10.0, 0.3) for _ in range(20_000)]
        assert min(draws) >= 0.0
        assert max(draws) < 13.0
        assert max(draws) > 12.9  # the bound is reached, not just approached from afar
        assert 5.0 < sum(draws) / len(draws) < 6.0  # below the mean: the tail is cut

    @pytest.mark.parametrize(("u", "expected"), [(0.0, 0.0)])
    def test_the_smallest_draw_is_zero(self, u: float, expected: float) -> None:
        class Fixed(random.Random):
            def random(self) -> float:
                return u

        assert clamped_poisson_delay(Fixed(), 10.0, 0.5) == expected

    def test_no_mean_gives_no_delay_and_a_negative_factor_is_refused(self) -> None:
        assert clamped_poisson_delay(random.Random(0), 0.0, 0.5) == 0.0
        with pytest.raises(InvalidArgument, match="a jitter factor must be >= 0, got -1"):
            clamped_poisson_delay(random.Random(0), 10.0, -1)

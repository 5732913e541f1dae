"""The rules of ``orchestrator.policies._task_rules``: caching, terminal states, the parent
flow run, the flow-run tracker and rerun names (the reference's 8.1 catalogue).

Each test builds a task run whose initial state was committed 5 s ago on a virtual
clock, runs the listed rules on a proposal and commits the outcome as the engine does,
then asserts what a caller would observe.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from orchestrator import (
    AwaitingRetry,
    Completed,
    Failed,
    FlowRun,
    Paused,
    Pending,
    Rule,
    Running,
    Scheduled,
    State,
    StateDetails,
    StateType,
    TransitionContext,
    VirtualClock,
    rule,
)
from orchestrator._core._errors import InvalidArgument, ObjectNotFound
from orchestrator._core._outcomes import AbortDetails, RejectDetails
from orchestrator._core._states import ALL_STATE_TYPES
from orchestrator.policies import (
    CacheInsertion,
    CacheRetrieval,
    CopyScheduledTime,
    CopyTaskParametersID,
    HandleTaskTerminalStateTransitions,
    PreventPendingTransitions,
    PreventRunningTasksFromStoppedFlows,
    RenameReruns,
    RetryFailedTasks,
    UpdateFlowRunTrackerOnTasks,
    WaitForScheduledTime,
)
from tests.helpers import (
    ABORT,
    ACCEPT,
    NON_TERMINAL,
    REJECT,
    TERMINAL,
    StubServices,
    force_state,
    make_context,
    make_flow_run,
    make_task_run,
    propose,
    rejecting_into,
    state_of,
    type_id,
)

# -- caching -----------------------------------------------------------------------------------


class TestCaching:
    RULES = (CacheInsertion(), CacheRetrieval())

    @pytest.mark.parametrize(
        ("expires_in", "hit"),
        [
            pytest.param(timedelta(days=-1), False, id="past"),
            pytest.param(timedelta(days=1), True, id="future"),
            pytest.param(None, True, id="never"),
        ],
    )
    def test_set_and_retrieve_unexpired_cached_states(
        self,
        expires_in: timedelta | None,
        hit: bool,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        expiration = None if expires_in is None else clock.now() + expires_in
        keyed = StateDetails(cache_key="cache-hit", cache_expiration=expiration)
        first = make_task_run()
        ctx = propose(
            self.RULES,
            first,
            Running(),
            Completed("result", details=keyed),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        second = make_task_run()
        ctx = propose(
            self.RULES,
            second,
            Pending(),
            Running(details=keyed),
            clock=clock,
            services=services,
        )
        validated = ctx.validated
        assert validated is not None
        if not hit:
            assert ctx.status is ACCEPT
            assert validated.name == "Running"
            return
        assert ctx.status is REJECT
        assert ctx.details == RejectDetails("Retrieved state from cache")
        assert (validated.type, validated.name, validated.data) == (
            StateType.COMPLETED,
            "Cached",
            "result",
        )
        assert validated.details.task_run_id == second.id
        assert second.run_count == 0
        assert second.start_time == second.end_time == clock.now()

    def test_states_without_a_cache_key_are_not_cached(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        ctx = propose(
            self.RULES, make_task_run(), Running(), Completed(1), clock=clock, services=services
        )
        assert ctx.status is ACCEPT
        assert services.cache.statistics().entries == 0

    def test_refresh_cache_skips_the_lookup(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.cache.insert("k", None, Completed("old"))
        ctx = propose(
            self.RULES,
            make_task_run(),
            Pending(),
            Running(details=StateDetails(cache_key="k", refresh_cache=True)),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT

    def test_insertion_tolerates_an_error_before_commit(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        @rule(to_states=[StateType.COMPLETED])
        def broken(ctx: TransitionContext) -> None:
            raise ValueError("broken before commit")

        with pytest.raises(ValueError, match="broken before commit"):
            propose(
                [CacheInsertion(), broken],
                make_task_run(),
                Running(),
                Completed(1, details=StateDetails(cache_key="k")),
                clock=clock,
                services=services,
            )
        assert services.cache.statistics().entries == 0

    @pytest.mark.parametrize(
        "proposed_type", [t for t in StateType if t is not StateType.COMPLETED], ids=type_id
    )
    def test_only_completed_states_are_cached(
        self, proposed_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        keyed = StateDetails(cache_key="cache-hit")
        ctx = propose(
            self.RULES,
            make_task_run(),
            Running(),
            state_of(proposed_type, details=keyed),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        ctx = propose(
            self.RULES,
            make_task_run(),
            Pending(),
            Running(details=keyed),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        assert services.cache.statistics().entries == 0

    def test_an_over_long_key_commits_the_state_but_caches_nothing(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        proposed = Completed("result", details=StateDetails(cache_key="k" * 5000))
        run = make_task_run()
        ctx = propose(self.RULES, run, Running(), proposed, clock=clock, services=services)
        assert ctx.status is REJECT
        assert ctx.details == RejectDetails(
            "Cache key exceeded maximum allowed length of 2000 characters."
        )
        assert run.state is ctx.validated
        assert run.state_type is StateType.COMPLETED
        assert services.cache.statistics().entries == 0

    def test_a_key_of_exactly_the_maximum_length_is_cached(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        key = "k" * 10
        ctx = propose(
            [CacheInsertion(max_key_length=10)],
            make_task_run(),
            Running(),
            Completed(1, details=StateDetails(cache_key=key)),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        assert services.cache.lookup(key, clock.now()) is ctx.validated

    @pytest.mark.parametrize("length", [0, -1, True, 2.5])
    def test_max_key_length_must_be_a_positive_integer(self, length: int) -> None:
        with pytest.raises(InvalidArgument, match="max_key_length must be an integer >= 1"):
            CacheInsertion(max_key_length=length)


# -- the flow run tracker and re-runs -----------------------------------------------------------


class TestUpdatingFlowRunTrackerOnTasks:
    @pytest.mark.parametrize("initial_type", sorted(ALL_STATE_TYPES, key=type_id), ids=type_id)
    @pytest.mark.parametrize("flow_run_count", [5, 42])
    def test_task_runs_track_their_flow_runs_attempt(
        self,
        initial_type: StateType | None,
        flow_run_count: int,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        flow_run = services.add_flow_run(make_flow_run(run_count=flow_run_count))
        run = make_task_run(flow_run=flow_run, flow_run_run_count=1)
        initial = None if initial_type is None else state_of(initial_type)
        ctx = propose(
            [UpdateFlowRunTrackerOnTasks()],
            run,
            initial,
            Running(),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT
        assert run.flow_run_run_count == flow_run_count

    def test_a_missing_flow_run_raises_an_informative_error(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        flow_run = make_flow_run(run_count=42)  # never added: unreadable
        run = make_task_run(flow_run=flow_run, flow_run_run_count=1)
        with pytest.raises(ObjectNotFound) as raised:
            propose(
                [UpdateFlowRunTrackerOnTasks()],
                run,
                Pending(),
                Running(),
                clock=clock,
                services=services,
            )
        assert str(raised.value) == (
            f"flow run {flow_run.id} was not found: "
            f"unable to read the flow run of task run {run.id}"
        )
        assert run.flow_run_run_count == 1

    def test_runs_without_a_flow_run_are_left_alone(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run(flow_run_run_count=3)
        propose(
            [UpdateFlowRunTrackerOnTasks()],
            run,
            Pending(),
            Running(),
            clock=clock,
            services=services,
        )
        assert run.flow_run_run_count == 3


class TestPermitRerunningFailedTaskRuns:
    RULES = (HandleTaskTerminalStateTransitions(), UpdateFlowRunTrackerOnTasks())

    @pytest.mark.parametrize(
        ("flow_run_count", "tracked", "name"),
        [
            pytest.param(4, 2, "Retrying", id="flow-on-a-later-attempt"),
            pytest.param(3, 3, "Running", id="flow-on-the-same-attempt"),
        ],
    )
    def test_a_failed_run_can_run_again(
        self,
        flow_run_count: int,
        tracked: int,
        name: str,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        flow_run = services.add_flow_run(make_flow_run(run_count=flow_run_count))
        run = make_task_run(flow_run=flow_run, run_count=2, flow_run_run_count=tracked)
        ctx = propose(self.RULES, run, Failed("test"), Running(), clock=clock, services=services)
        assert ctx.status is ACCEPT
        assert ctx.validated is not None
        assert ctx.validated.name == name
        assert run.run_count == 1  # reset to 0, then this entry into RUNNING
        assert run.flow_run_run_count == flow_run_count
        assert run.end_time is None

    def test_a_later_rule_changing_the_transition_undoes_the_reset(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        flow_run = services.add_flow_run(make_flow_run(run_count=4))
        run = make_task_run(flow_run=flow_run, run_count=2, flow_run_run_count=2)
        ctx = propose(
            [*self.RULES, rejecting_into(Completed())],
            run,
            Failed(),
            Running(),
            clock=clock,
            services=services,
        )
        assert ctx.status is REJECT
        assert run.state_type is StateType.COMPLETED
        assert run.run_count == 2
        assert run.flow_run_run_count == 2


class TestRenameReruns:
    @pytest.mark.parametrize(
        ("initial", "run_count", "name"),
        [
            pytest.param(Scheduled(), 2, "Rerunning", id="rerun"),
            pytest.param(AwaitingRetry(), 2, "Retrying", id="retry"),
            pytest.param(Scheduled(), 0, "Running", id="first-run"),
            pytest.param(
                Pending(details=StateDetails(deferred=True)), 1, "Retrying", id="claimed-retry"
            ),
            pytest.param(Pending(), 1, "Rerunning", id="plain-pending-rerun"),
        ],
    )
    def test_runs_that_ran_before_are_renamed(
        self,
        initial: State,
        run_count: int,
        name: str,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        run = make_task_run(run_count=run_count, retries=2)
        ctx = propose([RenameReruns()], run, initial, Running(), clock=clock, services=services)
        assert ctx.status is ACCEPT
        assert run.state_type is StateType.RUNNING
        assert run.state_name == name


# -- terminal states -----------------------------------------------------------------------------


class TestHandleTaskTerminalStateTransitions:
    RULES = (HandleTaskTerminalStateTransitions(),)

    @pytest.mark.parametrize("initial_type", TERMINAL, ids=type_id)
    @pytest.mark.parametrize(
        "proposed_type",
        [StateType.CRASHED, StateType.CANCELLING, StateType.PAUSED],
        ids=type_id,
    )
    def test_a_finished_run_cannot_become_live_again_this_way(
        self,
        initial_type: StateType,
        proposed_type: StateType,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        run = make_task_run(run_count=3)
        ctx = propose(
            self.RULES,
            run,
            state_of(initial_type),
            state_of(proposed_type),
            clock=clock,
            services=services,
        )
        assert ctx.status is ABORT
        assert ctx.details == AbortDetails(f"Run is already {initial_type.value}.")
        assert ctx.validated is run.state
        assert run.state_type is initial_type
        assert run.run_count == 3

    @pytest.mark.parametrize(
        "proposed_type", [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING], ids=type_id
    )
    def test_completed_without_a_result_may_run_again(
        self, proposed_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run(run_count=3)
        ctx = propose(
            self.RULES, run, Completed(), state_of(proposed_type), clock=clock, services=services
        )
        assert ctx.status is ACCEPT
        assert run.state_type is proposed_type
        assert run.run_count == (1 if proposed_type is StateType.RUNNING else 0)
        assert run.end_time is None

    @pytest.mark.parametrize(
        "result", [{"type": "reference", "key": "abc"}, 42, "text", 0, False], ids=repr
    )
    @pytest.mark.parametrize(
        "proposed_type",
        [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.FAILED],
        ids=type_id,
    )
    def test_completed_with_a_result_stays_completed(
        self,
        result: object,
        proposed_type: StateType,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        run = make_task_run(run_count=1)
        ctx = propose(
            self.RULES,
            run,
            Completed(result),
            state_of(proposed_type),
            clock=clock,
            services=services,
        )
        assert ctx.status is REJECT
        assert ctx.details == RejectDetails("This run is already completed.")
        assert ctx.validated is run.state
        assert run.state is not None
        assert (run.state_type, run.state.data) == (StateType.COMPLETED, result)
        assert run.run_count == 1

    def test_a_cleanup_without_a_remembered_run_count_changes_nothing(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run(run_count=4)
        ctx = make_context(run, Failed(), None, clock=clock, services=services)
        HandleTaskTerminalStateTransitions().cleanup(ctx)
        assert run.run_count == 4

    def test_a_final_proposal_keeps_the_run_count(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run(run_count=2)
        ctx = propose(self.RULES, run, Failed(), Completed(), clock=clock, services=services)
        assert ctx.status is ACCEPT
        assert run.run_count == 2

    @pytest.mark.parametrize(
        ("initial_type", "proposed_type"),
        [
            pytest.param(i, p, id=f"{type_id(i)}-to-{type_id(p)}")
            for i in [None, *NON_TERMINAL]
            for p in StateType
        ],
    )
    def test_does_not_apply_to_runs_that_are_not_finished(
        self,
        initial_type: StateType | None,
        proposed_type: StateType,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        assert not HandleTaskTerminalStateTransitions().applies_to(initial_type, proposed_type)
        initial = None if initial_type is None else state_of(initial_type)
        ctx = propose(
            self.RULES,
            make_task_run(),
            initial,
            state_of(proposed_type),
            clock=clock,
            services=services,
        )
        assert ctx.status is ACCEPT


# -- the parent flow run -------------------------------------------------------------------------


class TestPreventRunningTasksFromStoppedFlows:
    RULES = (PreventRunningTasksFromStoppedFlows(),)

    def flow_run_in(self, services: StubServices, flow_state: State | None) -> FlowRun:
        return services.add_flow_run(make_flow_run(state=flow_state))

    def test_tasks_of_a_running_flow_run_may_run(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        run = make_task_run(flow_run=self.flow_run_in(services, Running()))
        ctx = propose(self.RULES, run, Pending(), Running(), clock=clock, services=services)
        assert ctx.status is ACCEPT
        assert run.state_type is StateType.RUNNING

    @pytest.mark.parametrize(
        "flow_type",
        [None, *(t for t in StateType if t not in (StateType.RUNNING, StateType.PAUSED))],
        ids=type_id,
    )
    def test_tasks_of_a_stopped_flow_run_are_aborted(
        self, flow_type: StateType | None, clock: VirtualClock, services: StubServices
    ) -> None:
        flow_state = None if flow_type is None else state_of(flow_type)
        run = make_task_run(flow_run=self.flow_run_in(services, flow_state))
        ctx = propose(self.RULES, run, Pending(), Running(), clock=clock, services=services)
        assert ctx.status is ABORT
        assert ctx.details == AbortDetails(
            "The enclosing flow must be running to begin task execution."
        )
        assert ctx.validated is run.state
        assert run.state_type is StateType.PENDING

    def test_tasks_of_a_paused_flow_run_are_not_ready(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        timeout = clock.now() + timedelta(minutes=5)
        flow_state = force_state(
            make_flow_run(), Paused(pause_timeout=timeout, reschedule=True), clock
        )
        flow_run = self.flow_run_in(services, flow_state)
        run = make_task_run(flow_run=flow_run)
        ctx = propose(self.RULES, run, Pending(), Running(), clock=clock, services=services)
        assert ctx.status is REJECT
        assert ctx.details == RejectDetails(
            f"Flow run {flow_run.id} is paused; the task can run once it resumes."
        )
        not_ready = ctx.validated
        assert not_ready is not None
        assert (not_ready.type, not_ready.name) == (StateType.PAUSED, "NotReady")
        assert not_ready.id is not None
        assert not_ready.id != flow_state.id
        assert not_ready.details.pause_timeout == timeout
        assert not_ready.details.pause_reschedule is True
        assert not_ready.details.task_run_id == run.id

    def test_tasks_without_a_readable_flow_run_pass(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        for run in [make_task_run(), make_task_run(flow_run=make_flow_run())]:
            ctx = propose(self.RULES, run, Pending(), Running(), clock=clock, services=services)
            assert ctx.status is ACCEPT


# -- rules called directly on a context missing a state they read do nothing -----------------

RULES_AND_STATES_THEY_READ: list[tuple[Callable[[], Rule], str]] = [
    (CacheRetrieval, "proposed"),
    (HandleTaskTerminalStateTransitions, "initial"),
    (HandleTaskTerminalStateTransitions, "proposed"),
    (RenameReruns, "initial"),
    (RenameReruns, "proposed"),
    (CacheInsertion, "proposed"),
    (CopyScheduledTime, "initial"),
    (CopyScheduledTime, "proposed"),
    (WaitForScheduledTime, "initial"),
    (RetryFailedTasks, "proposed"),
    (PreventPendingTransitions, "initial"),
    (PreventPendingTransitions, "proposed"),
    (CopyTaskParametersID, "initial"),
    (CopyTaskParametersID, "proposed"),
]


@pytest.mark.parametrize(
    ("make_rule", "missing"),
    [pytest.param(r, m, id=f"{r.__name__}-without-{m}") for r, m in RULES_AND_STATES_THEY_READ],
)
def test_rules_called_without_a_state_they_read_change_nothing(
    make_rule: Callable[[], Rule], missing: str, clock: VirtualClock, services: StubServices
) -> None:
    run = make_task_run(run_count=1, retries=3)
    details = StateDetails(scheduled_time=clock.now() + timedelta(1), cache_key="k")
    services.cache.insert("k", None, Completed())
    if missing == "initial":
        ctx = make_context(run, None, Pending(details=details), clock=clock, services=services)
    else:
        ctx = make_context(run, Scheduled(details=details), None, clock=clock, services=services)
    proposed = ctx.proposed
    make_rule().before(ctx)
    assert ctx.status is ACCEPT
    assert ctx.proposed is proposed
    assert run.run_count == 1

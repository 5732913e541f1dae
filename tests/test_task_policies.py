"""The built-in task policies: their order, their configuration, worked traces (ref. 3.4)."""

from __future__ import annotations

from datetime import timedelta

from orchestrator import (
    Completed,
    Failed,
    Paused,
    Pending,
    Policy,
    Rule,
    Running,
    StateDetails,
    StateType,
    VirtualClock,
)
from orchestrator._core._outcomes import WaitDetails
from orchestrator.policies import (
    CacheInsertion,
    CacheRetrieval,
    CopyScheduledTime,
    CopyTaskParametersID,
    EnqueueScheduledTasks,
    HandleTaskTerminalStateTransitions,
    PreventPendingTransitions,
    PreventRunningTasksFromStoppedFlows,
    ReleaseTaskConcurrencySlots,
    RenameReruns,
    RetryFailedTasks,
    SecureTaskConcurrencySlots,
    UpdateFlowRunTrackerOnTasks,
    WaitForScheduledTime,
    background_task_policy,
    core_task_policy,
    minimal_task_policy,
)
from tests.helpers import (
    ACCEPT,
    REJECT,
    StubServices,
    force_state,
    make_flow_run,
    make_task_run,
    transition,
)

# -- the policies ---------------------------------------------------------------------------------


def rule_types(policy: Policy) -> list[type[Rule]]:
    return [type(item) for item in policy]


def test_the_core_policy_runs_the_rules_in_order() -> None:
    assert rule_types(core_task_policy()) == [
        CacheRetrieval,
        HandleTaskTerminalStateTransitions,
        PreventRunningTasksFromStoppedFlows,
        SecureTaskConcurrencySlots,
        CopyScheduledTime,
        WaitForScheduledTime,
        RetryFailedTasks,
        RenameReruns,
        UpdateFlowRunTrackerOnTasks,
        CacheInsertion,
        ReleaseTaskConcurrencySlots,
        EnqueueScheduledTasks,
    ]


def test_the_background_policy_runs_the_rules_in_order() -> None:
    assert rule_types(background_task_policy()) == [
        PreventPendingTransitions,
        CacheRetrieval,
        HandleTaskTerminalStateTransitions,
        CopyScheduledTime,
        CopyTaskParametersID,
        WaitForScheduledTime,
        RetryFailedTasks,
        RenameReruns,
        UpdateFlowRunTrackerOnTasks,
        CacheInsertion,
        ReleaseTaskConcurrencySlots,
        EnqueueScheduledTasks,
    ]


def test_the_minimal_policy_only_releases_slots() -> None:
    assert repr(minimal_task_policy()) == "MinimalTaskPolicy(ReleaseTaskConcurrencySlots)"


def test_policy_factories_configure_their_rules() -> None:
    core = list(core_task_policy(slot_wait_seconds=2.5, max_cache_key_length=64))
    assert SecureTaskConcurrencySlots(wait_seconds=2.5) in core
    assert CacheInsertion(max_key_length=64) in core
    assert CacheInsertion(max_key_length=64) in list(
        background_task_policy(max_cache_key_length=64)
    )
    assert core_task_policy() is not core_task_policy()
    assert repr(SecureTaskConcurrencySlots(wait_seconds=2.5)) == (
        "SecureTaskConcurrencySlots(wait_seconds=2.5)"
    )
    assert repr(CacheInsertion()) == "CacheInsertion(max_key_length=2000)"


def test_a_cache_hit_skips_every_later_running_rule(
    clock: VirtualClock, services: StubServices
) -> None:
    services.slots.upsert("a", 0, now=clock.now())  # would abort
    flow_run = services.add_flow_run(make_flow_run(state=Paused(), run_count=3))
    services.cache.insert("k", None, Completed("cached"))
    run = make_task_run(flow_run=flow_run, tags=["a"], flow_run_run_count=1)
    force_state(run, Pending(), clock)
    ctx = transition(
        core_task_policy(),
        run,
        Running(details=StateDetails(cache_key="k")),
        clock=clock,
        services=services,
    )
    assert ctx.status is REJECT
    assert (run.state_name, run.run_count, run.flow_run_run_count) == ("Cached", 0, 1)
    assert services.cache.statistics().entries == 1


# -- worked traces through the core policy (reference 3.4) ---------------------------------------


def test_trace_a_first_run(clock: VirtualClock, services: StubServices) -> None:
    flow_run = services.add_flow_run(make_flow_run(state=Running(), run_count=1))
    services.slots.upsert("db", 2, now=clock.now())
    run = make_task_run(flow_run=flow_run, tags=["db"])
    force_state(run, Pending(), clock)
    clock.advance(3)
    ctx = transition(core_task_policy(), run, Running(), clock=clock, services=services)
    assert ctx.status is ACCEPT
    assert (run.state_name, run.run_count, run.flow_run_run_count) == ("Running", 1, 1)
    assert run.start_time == clock.now()
    assert services.active_slots("db") == 1


def test_trace_failures_with_retries(clock: VirtualClock, services: StubServices) -> None:
    policy = core_task_policy()
    services.slots.upsert("db", 1, now=clock.now())
    run = make_task_run(tags=["db"], retries=2, retry_delay=[2, 5])
    force_state(run, Pending(), clock)
    start = clock.now()
    assert transition(policy, run, Running(), clock=clock, services=services).status is ACCEPT

    clock.advance(1)
    ctx = transition(policy, run, Failed(), clock=clock, services=services)
    assert ctx.status is REJECT
    assert run.state_name == "AwaitingRetry"
    assert run.next_scheduled_start_time == start + timedelta(seconds=3)
    assert (run.total_run_time, run.end_time, services.active_slots("db")) == (1.0, None, 0)

    clock.advance(1.5)
    ctx = transition(policy, run, Running(), clock=clock, services=services)
    assert ctx.details == WaitDetails(0.5, "Scheduled time is in the future")
    assert services.active_slots("db") == 0

    clock.advance(0.5)
    ctx = transition(policy, run, Running(), clock=clock, services=services)
    assert ctx.status is ACCEPT
    assert (run.state_name, run.run_count, services.active_slots("db")) == ("Retrying", 2, 1)

    ctx = transition(policy, run, Failed(), clock=clock, services=services)
    assert run.next_scheduled_start_time == clock.now() + timedelta(seconds=5)
    clock.advance(5)
    assert transition(policy, run, Running(), clock=clock, services=services).status is ACCEPT
    assert run.run_count == 3

    clock.advance(2)
    ctx = transition(policy, run, Failed(), clock=clock, services=services)
    assert ctx.status is ACCEPT
    assert run.state_type is StateType.FAILED
    assert run.end_time == clock.now()
    assert run.total_run_time == 3.0
    assert services.active_slots("db") == 0


def test_trace_a_manual_rerun(clock: VirtualClock, services: StubServices) -> None:
    flow_run = services.add_flow_run(make_flow_run(state=Running(), run_count=2))
    run = make_task_run(flow_run=flow_run, run_count=1, flow_run_run_count=1)
    failed = force_state(run, Failed(), clock)
    clock.advance(60)
    ctx = transition(core_task_policy(), run, Running(), clock=clock, services=services)
    assert ctx.status is ACCEPT
    assert (run.state_name, run.run_count) == ("Retrying", 1)
    assert (run.start_time, run.end_time) == (failed.timestamp, None)
    assert run.flow_run_run_count == 2

"""The Orchestrator's task-run API: create, read, update, delete, set state, decisions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import (
    Cancelled,
    Cancelling,
    Completed,
    Failed,
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    Orchestrator,
    Paused,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateDetails,
    StateType,
    TaskRunPolicy,
    VirtualClock,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock=clock, seed=1)


def seconds(n: float) -> datetime:
    return START + timedelta(seconds=n)


# -- create ----------------------------------------------------------------------------------


def test_create_without_state_is_pending(orch: Orchestrator) -> None:
    run, created = orch.create_task_run("extract")
    assert created
    assert run.state is not None
    assert run.state_type is StateType.PENDING
    assert run.state.timestamp == START
    assert run.expected_start_time == START
    assert run.run_count == 0
    assert orch.read_task_run_states(run.id) == [run.state]
    orch.check_invariants()


def test_create_with_running_state_is_running(orch: Orchestrator) -> None:
    run = orch.create_task_run("extract", state=Running()).run
    assert run.state_type is StateType.RUNNING
    assert run.run_count == 1
    assert run.start_time == START


def test_create_is_idempotent_on_flow_run_task_key_and_dynamic_key(orch: Orchestrator) -> None:
    flow = orch.create_flow("etl")
    flow_run = orch.create_flow_run(flow.id, labels={"team": "data", "env": "dev"})
    first = orch.create_task_run(
        "extract", flow_run_id=flow_run.id, dynamic_key="0", labels={"env": "prod"}
    )
    again = orch.create_task_run(
        "extract", flow_run_id=flow_run.id, dynamic_key="0", state=Running(), tags={"x"}
    )
    assert first.created
    assert not again.created
    assert again.run is first.run
    assert again.run.state_type is StateType.PENDING  # the new state was ignored
    assert again.run.tags == frozenset()
    assert first.run.labels == {
        "team": "data",
        "env": "prod",
        "orchestrator.flow.id": str(flow.id),
        "orchestrator.flow-run.id": str(flow_run.id),
    }
    other = orch.create_task_run("extract", flow_run_id=flow_run.id, dynamic_key="1")
    assert other.created
    assert other.run.id != first.run.id


def test_create_is_idempotent_for_autonomous_runs_too(orch: Orchestrator) -> None:
    first = orch.create_task_run("extract", dynamic_key="k")
    again = orch.create_task_run("extract", dynamic_key="k")
    assert not again.created
    assert again.run is first.run
    assert orch.count_task_runs() == 1


def test_create_without_dynamic_key_always_creates(orch: Orchestrator) -> None:
    a = orch.create_task_run("extract").run
    b = orch.create_task_run("extract").run
    assert a.id != b.id
    assert a.dynamic_key != b.dynamic_key


def test_client_supplied_id_is_honoured_and_cannot_be_reused(orch: Orchestrator) -> None:
    run_id = uuid.UUID(int=42)
    run = orch.create_task_run("extract", id=run_id, dynamic_key="a").run
    assert run.id == run_id
    with pytest.raises(ObjectAlreadyExists, match="already used"):
        orch.create_task_run("extract", id=run_id, dynamic_key="b")
    assert orch.count_task_runs() == 1


def test_new_id_is_reproducible_under_a_seed() -> None:
    first, second, other = (Orchestrator(VirtualClock(START), seed=seed) for seed in (11, 11, 12))
    ids = [first.new_id() for _ in range(5)]
    assert [second.new_id() for _ in range(5)] == ids
    assert len(set(ids)) == 5
    assert all(isinstance(new, uuid.UUID) and new.version == 4 for new in ids)
    assert [other.new_id() for _ in range(5)] != ids
    # One source for new_id and the orchestrator's own ids: they stay in step.
    assert first.create_task_run("extract").run.id == second.create_task_run("extract").run.id
    assert first.new_id() == second.new_id()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task_key": ""}, "task_key must be a non-empty string"),
        ({"task_key": "k", "tags": "abc"}, "not the string"),
        ({"task_key": "k", "tags": [""]}, "every tag must be a non-empty string"),
        ({"task_key": "k", "state": "RUNNING"}, "state must be a State"),
        ({"task_key": "k", "policy": {"retries": 1}}, "policy must be a TaskRunPolicy"),
        ({"task_key": "k", "id": "not-a-uuid"}, "id must be a UUID"),
        ({"task_key": "k", "cache_expiration": datetime(2030, 1, 1)}, "no timezone"),
    ],
)
def test_bad_create_arguments_create_nothing(
    orch: Orchestrator, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        orch.create_task_run(**kwargs)  # type: ignore[arg-type]
    assert orch.count_task_runs() == 0
    orch.check_invariants()


def test_create_in_a_missing_flow_run_is_not_found(orch: Orchestrator) -> None:
    with pytest.raises(ObjectNotFound, match="flow run"):
        orch.create_task_run("extract", flow_run_id=uuid.UUID(int=5))
    assert orch.count_task_runs() == 0


# -- read / update / delete --------------------------------------------------------------------


def test_read_unknown_run_is_a_key_error(orch: Orchestrator) -> None:
    missing = uuid.UUID(int=7)
    with pytest.raises(KeyError) as info:
        orch.read_task_run(missing)
    assert isinstance(info.value, ObjectNotFound)
    assert (
        str(info.value)
        == f"task run {missing} was not found: check the id, or whether it was deleted"
    )


def test_update_renames(orch: Orchestrator, clock: VirtualClock) -> None:
    run = orch.create_task_run("extract").run
    clock.advance(3)
    assert orch.update_task_run(run.id, name="renamed").name == "renamed"
    assert run.updated == seconds(3)
    with pytest.raises(InvalidArgument):
        orch.update_task_run(run.id, name="")
    assert run.name == "renamed"
    orch.check_invariants()


def test_delete_removes_run_states_and_decisions(orch: Orchestrator) -> None:
    run = orch.create_task_run("extract").run
    orch.set_task_run_state(run.id, Running())
    orch.delete_task_run(run.id)
    with pytest.raises(ObjectNotFound):
        orch.read_task_run(run.id)
    with pytest.raises(ObjectNotFound):
        orch.read_task_run_states(run.id)
    with pytest.raises(ObjectNotFound):
        orch.delete_task_run(run.id)
    # A deleted run is an unknown run: its decisions are gone with it (issue 9).
    with pytest.raises(ObjectNotFound):
        orch.read_decisions(run.id)
    assert orch.statistics().decisions == 0
    orch.check_invariants()


def test_delete_frees_the_slot_of_a_running_run(orch: Orchestrator) -> None:
    orch.create_concurrency_limit("db", 1)
    holder = orch.create_task_run("a", tags={"db"}).run
    orch.set_task_run_state(holder.id, Running())
    assert orch.read_concurrency_limit("db").active_slots == {holder.id}
    orch.delete_task_run(holder.id)
    assert orch.read_concurrency_limit("db").active_slots == frozenset()
    orch.check_invariants()


# -- set state (catalogue: api/test_task_runs.py) -------------------------------------------------


@pytest.mark.parametrize("with_flow_run", [False, True], ids=["autonomous", "in-flow-run"])
def test_running_with_a_custom_name_is_accepted(orch: Orchestrator, with_flow_run: bool) -> None:
    flow_run_id = None
    if with_flow_run:
        flow_run = orch.create_flow_run(orch.create_flow("f").id, state=Running())
        flow_run_id = flow_run.id
    run = orch.create_task_run("t", flow_run_id=flow_run_id).run
    result = orch.set_task_run_state(run.id, Running(name="Sprinting"))
    assert result.status is SetStateStatus.ACCEPT
    assert result.state is run.state
    assert run.state_name == "Sprinting"
    assert run.run_count == 1


def test_reproposing_the_current_type_is_accepted(orch: Orchestrator) -> None:
    run = orch.create_task_run("t").run
    assert orch.set_task_run_state(run.id, Pending()).status is SetStateStatus.ACCEPT
    assert orch.set_task_run_state(run.id, Running()).status is SetStateStatus.ACCEPT
    assert orch.set_task_run_state(run.id, Running()).status is SetStateStatus.ACCEPT
    assert run.run_count == 2
    assert [s.type for s in orch.read_task_run_states(run.id)] == [
        StateType.PENDING,
        StateType.PENDING,
        StateType.RUNNING,
        StateType.RUNNING,
    ]


def test_failure_with_retries_is_rejected_into_awaiting_retry(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    run = orch.create_task_run("t", policy=TaskRunPolicy(retries=1, retry_delay=30)).run
    orch.set_task_run_state(run.id, Running())
    clock.advance(4)
    result = orch.set_task_run_state(run.id, Failed(message="boom"))
    assert result.status is SetStateStatus.REJECT
    assert result.state is not None
    assert result.state.type is StateType.SCHEDULED
    assert result.state.name == "AwaitingRetry"
    assert result.state.message == "boom"
    assert result.state.details.scheduled_time == seconds(34)
    assert run.next_scheduled_start_time == seconds(34)
    assert run.total_run_time == 4.0
    assert run.end_time is None


def test_forced_failure_is_accepted(orch: Orchestrator) -> None:
    run = orch.create_task_run("t", policy=TaskRunPolicy(retries=1)).run
    orch.set_task_run_state(run.id, Running())
    result = orch.set_task_run_state(run.id, Failed(), force=True)
    assert result.status is SetStateStatus.ACCEPT
    assert run.state_type is StateType.FAILED
    assert run.end_time == START


def test_setting_state_of_a_run_whose_flow_run_was_deleted_is_not_found(
    orch: Orchestrator,
) -> None:
    flow_run = orch.create_flow_run(orch.create_flow("f").id, state=Running())
    run = orch.create_task_run("t", flow_run_id=flow_run.id).run
    orch.delete_flow_run(flow_run.id)
    with pytest.raises(ObjectNotFound):
        orch.set_task_run_state(run.id, Running())


@pytest.mark.parametrize(
    "current",
    [Pending(), Running(), Cancelled(), Cancelling()],
    ids=["pending", "running", "cancelled", "cancelling"],
)
def test_a_second_deferred_claim_is_aborted(orch: Orchestrator, current: State) -> None:
    run = orch.create_task_run("t", state=Scheduled(deferred=True)).run
    orch.set_task_run_state(run.id, current, force=True)
    claim = Pending(details=StateDetails(deferred=True))
    result = orch.set_task_run_state(run.id, claim)
    assert result.status is SetStateStatus.ABORT
    assert result.state is run.state
    assert run.state_type is current.type


def test_over_long_cache_key_is_written_but_not_cached(orch: Orchestrator) -> None:
    run = orch.create_task_run("t").run
    orch.set_task_run_state(run.id, Running())
    key = "k" * 5000
    result = orch.set_task_run_state(run.id, Completed(details=StateDetails(cache_key=key)))
    assert result.status is SetStateStatus.REJECT
    assert result.details.reason == (
        "Cache key exceeded maximum allowed length of 2000 characters."
    )
    assert run.state_type is StateType.COMPLETED
    other = orch.create_task_run("t").run
    hit = orch.set_task_run_state(other.id, Running(details=StateDetails(cache_key=key)))
    assert hit.status is SetStateStatus.ACCEPT


def test_bad_proposals_change_nothing(orch: Orchestrator) -> None:
    run = orch.create_task_run("t").run
    with pytest.raises(InvalidArgument, match="state must be a State"):
        orch.set_task_run_state(run.id, "RUNNING")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="no timezone"):
        orch.set_task_run_state(run.id, Running(timestamp=datetime(2026, 1, 1)))
    assert len(orch.read_task_run_states(run.id)) == 1
    assert orch.read_decisions(run.id)[-1].proposed_type is StateType.PENDING


# -- worked traces of the core policy (reference 3.4), on exact virtual times -------------------


def test_trace_failure_with_list_delays(orch: Orchestrator, clock: VirtualClock) -> None:
    run = orch.create_task_run("t", policy=TaskRunPolicy(retries=2, retry_delay=[2, 5])).run
    orch.set_task_run_state(run.id, Running())
    first = orch.set_task_run_state(run.id, Failed())
    assert first.state is not None
    assert first.state.details.scheduled_time == seconds(2)
    early = orch.set_task_run_state(run.id, Running())
    assert early.status is SetStateStatus.WAIT
    assert early.details.delay_seconds == 2.0  # type: ignore[union-attr]
    clock.advance(2)
    again = orch.set_task_run_state(run.id, Running())
    assert (again.status, run.state_name, run.run_count) == (SetStateStatus.ACCEPT, "Retrying", 2)
    second = orch.set_task_run_state(run.id, Failed())
    assert second.state is not None
    assert second.state.details.scheduled_time == seconds(7)
    clock.advance(5)
    orch.set_task_run_state(run.id, Running())
    final = orch.set_task_run_state(run.id, Failed())
    assert final.status is SetStateStatus.ACCEPT
    assert (run.state_type, run.run_count, run.end_time) == (StateType.FAILED, 3, seconds(7))


def test_trace_cache_hit(orch: Orchestrator, clock: VirtualClock) -> None:
    details = StateDetails(cache_key="users", cache_expiration=seconds(60))
    first = orch.create_task_run("t").run
    orch.set_task_run_state(first.id, Running(details=details))
    orch.set_task_run_state(first.id, Completed(data=[1, 2], details=details))
    clock.advance(10)
    second = orch.create_task_run("t").run
    hit = orch.set_task_run_state(second.id, Running(details=details))
    assert hit.status is SetStateStatus.REJECT
    assert (second.state_name, second.state_type, second.run_count) == (
        "Cached",
        StateType.COMPLETED,
        0,
    )
    assert second.state is not None
    assert second.state.data == [1, 2]
    assert second.state.details.task_run_id == second.id
    assert (second.start_time, second.end_time) == (seconds(10), seconds(10))
    clock.advance(60)
    third = orch.create_task_run("t").run
    assert orch.set_task_run_state(third.id, Running(details=details)).status is (
        SetStateStatus.ACCEPT
    )


def test_trace_manual_rerun_from_failed(orch: Orchestrator, clock: VirtualClock) -> None:
    run = orch.create_task_run("t").run
    orch.set_task_run_state(run.id, Running())
    orch.set_task_run_state(run.id, Failed())
    assert run.end_time == START
    clock.advance(9)
    result = orch.set_task_run_state(run.id, Running())
    assert result.status is SetStateStatus.ACCEPT
    assert (run.run_count, run.state_name) == (1, "Running")
    assert run.state is not None
    assert run.state.timestamp == seconds(9)
    assert orch.read_task_run(run.id).end_time is None


def test_completed_with_a_result_is_protected(orch: Orchestrator) -> None:
    run = orch.create_task_run("t").run
    orch.set_task_run_state(run.id, Running())
    orch.set_task_run_state(run.id, Completed(data=0))
    result = orch.set_task_run_state(run.id, Running())
    assert result.status is SetStateStatus.REJECT
    assert result.state is run.state
    assert run.state_type is StateType.COMPLETED


def test_trace_parent_flow_not_running(orch: Orchestrator) -> None:
    flow = orch.create_flow("f")
    paused = orch.create_flow_run(flow.id, state=Paused(pause_timeout=seconds(300)))
    run = orch.create_task_run("t", flow_run_id=paused.id).run
    result = orch.set_task_run_state(run.id, Running())
    assert result.status is SetStateStatus.REJECT
    assert (run.state_type, run.state_name) == (StateType.PAUSED, "NotReady")
    assert run.state is not None
    assert run.state.details.pause_timeout == seconds(300)
    pending = orch.create_flow_run(flow.id)
    other = orch.create_task_run("t", flow_run_id=pending.id).run
    aborted = orch.set_task_run_state(other.id, Running())
    assert aborted.status is SetStateStatus.ABORT
    assert other.state_type is StateType.PENDING


# -- concurrency and the decision log -----------------------------------------------------------


def test_waiting_for_a_slot_is_explained(orch: Orchestrator, clock: VirtualClock) -> None:
    orch.create_concurrency_limit("db", 1)
    first = orch.create_task_run("a", tags={"db"}).run
    second = orch.create_task_run("b", tags={"db"}).run
    orch.set_task_run_state(first.id, Running())
    waited = orch.set_task_run_state(second.id, Running())
    assert waited.status is SetStateStatus.WAIT
    assert waited.details.wait_for == ("tag:db",)  # type: ignore[union-attr]
    decision = orch.read_decisions(second.id)[-1]
    assert decision.status is SetStateStatus.WAIT
    assert decision.rule == "SecureTaskConcurrencySlots"
    assert decision.state_name == "Pending"
    assert "db" in (decision.reason or "")
    assert "WAIT" in orch.explain(second.id)
    clock.advance(1)
    orch.set_task_run_state(first.id, Completed())
    assert orch.set_task_run_state(second.id, Running()).status is SetStateStatus.ACCEPT
    assert orch.read_concurrency_limit("db").active_slots == {second.id}
    orch.check_invariants()


def test_zero_limit_aborts_and_takes_nothing(orch: Orchestrator) -> None:
    orch.create_concurrency_limit("never", 0)
    orch.create_concurrency_limit("db", 5)
    run = orch.create_task_run("a", tags={"never", "db"}).run
    result = orch.set_task_run_state(run.id, Running())
    assert result.status is SetStateStatus.ABORT
    assert "is 0 and will deadlock" in (result.details.reason or "")
    assert orch.read_concurrency_limit("db").active_slots == frozenset()


def test_a_raising_rule_aborts_and_reraises(clock: VirtualClock) -> None:
    from orchestrator import Policy, TransitionContext, rule

    @rule(to_states=[StateType.RUNNING])
    def explode(ctx: TransitionContext) -> None:
        raise LookupError("no such thing")

    orch = Orchestrator(clock=clock, seed=1, task_policy=Policy(explode))
    run = orch.create_task_run("t").run
    with pytest.raises(LookupError, match="no such thing"):
        orch.set_task_run_state(run.id, Running())
    assert run.state_type is StateType.PENDING
    decision = orch.read_decisions(run.id)[-1]
    assert decision.status is SetStateStatus.ABORT
    assert decision.rule == "explode"
    assert "LookupError" in (decision.reason or "")


def test_injected_task_policy_is_honoured(clock: VirtualClock) -> None:
    from orchestrator import Policy

    orch = Orchestrator(clock=clock, seed=1, task_policy=Policy(name="Anything goes"))
    run = orch.create_task_run("t", policy=TaskRunPolicy(retries=3)).run
    orch.set_task_run_state(run.id, Running())
    assert orch.set_task_run_state(run.id, Failed()).status is SetStateStatus.ACCEPT
    assert orch.task_policy.name == "Anything goes"


def test_two_orchestrators_share_nothing(clock: VirtualClock) -> None:
    a = Orchestrator(clock=clock, seed=1)
    b = Orchestrator(clock=clock, seed=1)
    a.create_concurrency_limit("db", 1)
    run = a.create_task_run("t").run
    assert b.count_task_runs() == 0
    assert b.read_concurrency_limits() == []
    with pytest.raises(ObjectNotFound):
        b.read_task_run(run.id)


def test_same_seed_gives_the_same_ids(clock: VirtualClock) -> None:
    first = [Orchestrator(clock=clock, seed=3).create_task_run("t").run.id for _ in range(2)]
    assert first[0] == first[1]


def test_every_proposal_is_in_the_decision_log(orch: Orchestrator, clock: VirtualClock) -> None:
    run = orch.create_task_run("t", state=Scheduled(seconds(5)), policy=TaskRunPolicy(retries=1))
    orch.set_task_run_state(run.run.id, Pending())
    orch.set_task_run_state(run.run.id, Running())  # too early: WAIT
    clock.advance(5)
    orch.set_task_run_state(run.run.id, Running())
    orch.set_task_run_state(run.run.id, Failed())  # retried: REJECT into AwaitingRetry
    orch.set_task_run_state(run.run.id, Cancelled(), force=True)
    rows = [
        (
            d.timestamp,
            d.from_type,
            d.proposed_name,
            d.status,
            d.state_name,
            d.rule,
            d.forced,
            d.policy,
        )
        for d in orch.read_decisions(run.run.id)
    ]
    core, minimal = orch.task_policy.name, "MinimalTaskPolicy"
    S, P, R = StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING
    accept, wait, reject = SetStateStatus.ACCEPT, SetStateStatus.WAIT, SetStateStatus.REJECT
    assert rows == [
        (START, None, "Scheduled", accept, "Scheduled", None, True, minimal),
        (START, S, "Pending", accept, "Pending", None, False, core),
        (START, P, "Running", wait, "Pending", "WaitForScheduledTime", False, core),
        (seconds(5), P, "Running", accept, "Running", None, False, core),
        (seconds(5), R, "Failed", reject, "AwaitingRetry", "RetryFailedTasks", False, core),
        (seconds(5), S, "Cancelled", accept, "Cancelled", None, True, minimal),
    ]

"""The Orchestrator's flow-run API, the flow policy end to end, and task runs inside flow runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import (
    Cancelled,
    Cancelling,
    Completed,
    Failed,
    FlowRun,
    FlowRunPolicy,
    InvalidArgument,
    ObjectNotFound,
    Observer,
    Orchestrator,
    Paused,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateType,
    VirtualClock,
)
from orchestrator.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunSort,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock=clock, seed=1)


@pytest.fixture
def flow_id(orch: Orchestrator) -> uuid.UUID:
    return orch.create_flow("etl").id


def reason(result: object) -> str | None:
    return getattr(getattr(result, "details", None), "reason", None)


# -- flows and flow runs ------------------------------------------------------------------------


def test_flows_are_unique_by_name(orch: Orchestrator) -> None:
    a = orch.create_flow("a", tags=["x"])
    assert orch.create_flow("a") is a
    b = orch.create_flow("b")
    assert orch.read_flow(a.id) is a
    assert orch.read_flows() == [a, b]
    assert orch.read_flows(flows=FlowFilter(name=FlowFilterName(any_=["b"]))) == [b]
    with pytest.raises(ObjectNotFound):
        orch.read_flow(uuid.UUID(int=1))
    with pytest.raises(InvalidArgument):
        orch.create_flow("")


def test_create_read_and_delete_a_flow_run(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    run = orch.create_flow_run(flow_id, name="first", parameters={"x": 1}, tags=["t"])
    assert (run.name, run.parameters, run.tags) == ("first", {"x": 1}, frozenset({"t"}))
    assert run.state_type is StateType.PENDING
    assert orch.read_flow_run(run.id) is run
    assert orch.read_flow_run_states(run.id) == [run.state]
    orch.delete_flow_run(run.id)
    with pytest.raises(ObjectNotFound):
        orch.read_flow_run(run.id)
    orch.check_invariants()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"state": "Running"},
        {"policy": {"retries": 1}},
        {"parameters": [1]},
        {"labels": "x"},
        {"work_queue_name": "q"},
        {"tags": "t"},
    ],
    ids=str,
)
def test_bad_flow_runs_create_nothing(
    orch: Orchestrator, flow_id: uuid.UUID, kwargs: dict[str, object]
) -> None:
    with pytest.raises(InvalidArgument):
        orch.create_flow_run(flow_id, **kwargs)  # type: ignore[arg-type]
    assert orch.count_flow_runs() == 0


def test_missing_references_create_nothing(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    missing = uuid.UUID(int=77)
    for kwargs in ({"parent_task_run_id": missing}, {"deployment_id": missing}):
        with pytest.raises(ObjectNotFound):
            orch.create_flow_run(flow_id, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ObjectNotFound, match="create_flow"):
        orch.create_flow_run(missing)
    assert orch.count_flow_runs() == 0


def test_query_and_count_flow_runs(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    first = orch.create_flow_run(flow_id, name="b", state=Running())
    clock.advance(1)
    second = orch.create_flow_run(flow_id, name="a")
    running = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))
    )
    assert orch.read_flow_runs(flow_runs=running) == [first]
    assert orch.read_flow_runs(sort=FlowRunSort.NAME_ASC) == [second, first]
    assert orch.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_ASC, offset=1) == [second]
    assert orch.count_flow_runs() == 2
    assert orch.count_flow_runs(flow_runs=running) == 1
    with pytest.raises(InvalidArgument):
        orch.read_flow_runs(limit=-1)


def test_update_a_flow_run(clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID) -> None:
    run = orch.create_flow_run(flow_id, labels={"a": "1", "b": "2"})
    changes: list[dict[str, object]] = []

    class Recorder(Observer):
        def flow_run_updated(self, run: FlowRun, change: object) -> None:
            changes.append(dict(change))  # type: ignore[call-overload]

    orch.subscribe(Recorder())
    clock.advance(2)
    orch.update_flow_run(run.id, infrastructure_pid="4242", labels={"b": None, "c": "3"})
    assert run.infrastructure_pid == "4242"
    # The flow's id label is automatic (issue 10).
    assert run.labels == {"orchestrator.flow.id": str(flow_id), "a": "1", "c": "3"}
    assert run.updated == at(2)
    orch.update_flow_run(run.id, name="renamed")
    assert run.name == "renamed"
    assert changes == [
        {
            "infrastructure_pid": "4242",
            "labels": {"orchestrator.flow.id": str(flow_id), "a": "1", "c": "3"},
        },
        {"name": "renamed"},
    ]
    with pytest.raises(InvalidArgument):
        orch.update_flow_run(run.id, infrastructure_pid=4242)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        orch.update_flow_run(run.id, labels={"x": 1})  # type: ignore[dict-item]
    assert run.infrastructure_pid == "4242"
    orch.check_invariants()


# -- the flow policy through the orchestrator ------------------------------------------------


def test_the_core_flow_policy_is_the_default(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    assert orch.flow_policy.name == "CoreFlowPolicy"
    run = orch.create_flow_run(flow_id, state=Scheduled())
    assert orch.set_flow_run_state(run.id, Pending()).status is SetStateStatus.ACCEPT
    second = orch.set_flow_run_state(run.id, Pending())
    assert second.status is SetStateStatus.ABORT
    assert reason(second) == (
        "This run is in a PENDING state and cannot transition to a PENDING state."
    )
    assert orch.set_flow_run_state(run.id, Pending(name="Submitting")).status is (
        SetStateStatus.ACCEPT
    )
    assert orch.read_flow_run_states(run.id)[-1].details.scheduled_time == START


def test_force_uses_the_minimal_flow_policy(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    run = orch.create_flow_run(flow_id, state=Completed({"result": 1}))
    refused = orch.set_flow_run_state(run.id, Running())
    assert refused.status is SetStateStatus.REJECT
    forced = orch.set_flow_run_state(run.id, Running(), force=True)
    assert forced.status is SetStateStatus.ACCEPT
    assert run.state_type is StateType.RUNNING
    decisions = orch.read_decisions(run.id)
    assert [d.policy for d in decisions] == [
        "MinimalFlowPolicy",
        "CoreFlowPolicy",
        "MinimalFlowPolicy",
    ]


def test_a_running_run_waits_for_its_scheduled_time(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    run = orch.create_flow_run(flow_id, state=Scheduled(at(90)))
    orch.set_flow_run_state(run.id, Pending())
    result = orch.set_flow_run_state(run.id, Running())
    assert result.status is SetStateStatus.WAIT
    assert result.details.delay_seconds == 90.0  # type: ignore[union-attr]
    clock.advance(90)
    assert orch.set_flow_run_state(run.id, Running()).status is SetStateStatus.ACCEPT
    assert run.start_time == at(90)


def test_flow_retries_await_retry(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    run = orch.create_flow_run(flow_id, policy=FlowRunPolicy(retries=1, retry_delay=10))
    orch.set_flow_run_state(run.id, Running())
    result = orch.set_flow_run_state(run.id, Failed(message="boom"))
    assert result.status is SetStateStatus.REJECT
    assert result.state is not None
    assert (result.state.name, result.state.details.scheduled_time) == ("AwaitingRetry", at(10))
    assert result.state.message == "boom"
    clock.advance(10)
    assert orch.set_flow_run_state(run.id, Running()).status is SetStateStatus.ACCEPT
    assert run.run_count == 2
    assert orch.set_flow_run_state(run.id, Failed()).status is SetStateStatus.ACCEPT
    assert (run.state_type, run.empirical_policy.retry_type) == (StateType.FAILED, None)
    assert run.end_time == at(10)


def test_cancelling_a_scheduled_run_cancels_it(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    run = orch.create_flow_run(flow_id, state=Scheduled(at(60)))
    result = orch.set_flow_run_state(run.id, Cancelling())
    assert result.status is SetStateStatus.REJECT
    assert run.state_type is StateType.CANCELLED


def test_a_cancelling_run_only_ends_cancelled(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    run = orch.create_flow_run(flow_id, state=Running())
    orch.update_flow_run(run.id, infrastructure_pid="99")
    assert orch.set_flow_run_state(run.id, Cancelling()).status is SetStateStatus.ACCEPT
    assert orch.set_flow_run_state(run.id, Completed()).status is SetStateStatus.REJECT
    assert run.state_type is StateType.CANCELLING
    assert orch.set_flow_run_state(run.id, Cancelled()).status is SetStateStatus.ACCEPT


# -- pausing and resuming ------------------------------------------------------------------------


def test_resuming_continues_the_same_attempt(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    run = orch.create_flow_run(flow_id, state=Running())
    assert run.run_count == 1
    assert orch.set_flow_run_state(run.id, Paused(pause_key="k")).status is SetStateStatus.ACCEPT
    assert orch.set_flow_run_state(run.id, Running()).status is SetStateStatus.ACCEPT
    assert run.run_count == 1
    assert not run.empirical_policy.resuming
    assert run.empirical_policy.pause_keys == frozenset({"k"})
    again = orch.set_flow_run_state(run.id, Paused(pause_key="k"))
    assert again.status is SetStateStatus.REJECT
    assert run.state_type is StateType.RUNNING


def test_a_suspended_run_resumes_through_a_worker(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    run = orch.create_flow_run_from_deployment(deployment.id, state=Running())
    orch.set_flow_run_state(run.id, Paused(reschedule=True, name="Suspended"))
    orch.set_flow_run_state(run.id, Scheduled(name="Resuming"))
    assert run.empirical_policy.resuming
    assert orch.get_scheduled_flow_runs("pool") == [run]
    orch.set_flow_run_state(run.id, Pending())
    orch.set_flow_run_state(run.id, Running())
    assert run.run_count == 1
    assert not run.empirical_policy.resuming


def test_a_resuming_run_does_not_count_a_new_attempt(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    run = orch.create_flow_run(flow_id, policy=FlowRunPolicy(resuming=True))
    orch.set_flow_run_state(run.id, Running())  # PENDING -> RUNNING while resuming
    assert (run.run_count, run.empirical_policy.resuming) == (0, False)
    for _ in range(42):
        orch.set_flow_run_state(run.id, Running(), force=True)
    assert run.run_count == 42
    orch.set_flow_run_state(run.id, Paused())
    orch.set_flow_run_state(run.id, Running())  # PAUSED -> RUNNING
    assert (run.run_count, run.empirical_policy.resuming) == (42, False)


# -- task runs inside flow runs ------------------------------------------------------------------


def test_a_task_runs_only_while_its_flow_runs(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    flow_run = orch.create_flow_run(flow_id)
    task, _ = orch.create_task_run("extract", flow_run_id=flow_run.id)
    refused = orch.set_task_run_state(task.id, Running())
    assert refused.status is SetStateStatus.ABORT
    assert reason(refused) == "The enclosing flow must be running to begin task execution."
    orch.set_flow_run_state(flow_run.id, Running())
    assert orch.set_task_run_state(task.id, Running()).status is SetStateStatus.ACCEPT
    assert task.flow_run_run_count == 1


def test_a_paused_flow_makes_its_tasks_not_ready(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    flow_run = orch.create_flow_run(flow_id, state=Running())
    task, _ = orch.create_task_run("extract", flow_run_id=flow_run.id)
    orch.set_flow_run_state(flow_run.id, Paused(pause_timeout=at(300), reschedule=False))
    result = orch.set_task_run_state(task.id, Running())
    assert result.status is SetStateStatus.REJECT
    assert result.state is not None
    assert (result.state.type, result.state.name) == (StateType.PAUSED, "NotReady")
    assert result.state.details.pause_timeout == at(300)
    assert flow_run.state is not None
    assert result.state.id != flow_run.state.id


def test_tasks_rerun_in_a_retried_flow_are_retrying(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    flow_run = orch.create_flow_run(flow_id, state=Running(), policy=FlowRunPolicy(retries=1))
    task, _ = orch.create_task_run("extract", flow_run_id=flow_run.id)
    orch.set_task_run_state(task.id, Running())
    orch.set_task_run_state(task.id, Failed())
    assert (task.flow_run_run_count, task.state_type) == (1, StateType.FAILED)
    orch.set_flow_run_state(flow_run.id, Failed())
    assert flow_run.state_name == "AwaitingRetry"
    orch.set_flow_run_state(flow_run.id, Running())
    assert flow_run.run_count == 2
    rerun = orch.set_task_run_state(task.id, Running())
    assert rerun.status is SetStateStatus.ACCEPT
    assert task.state_name == "Retrying"
    assert (task.run_count, task.flow_run_run_count) == (1, 2)


def test_a_subflow_is_mirrored_on_its_parent_task(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    parent = orch.create_flow_run(flow_id, state=Running())
    task, _ = orch.create_task_run("child-flow", flow_run_id=parent.id)
    orch.set_task_run_state(task.id, Running())
    child = orch.create_flow_run(orch.create_flow("child").id, parent_task_run_id=task.id)
    orch.set_flow_run_state(child.id, Running())
    orch.set_flow_run_state(child.id, Failed(message="child failed"))
    assert task.state is not None
    assert (task.state.type, task.state.message) == (StateType.FAILED, "child failed")
    assert task.state.details.child_flow_run_id == child.id
    assert child.state is not None
    assert child.state.details.task_run_id == task.id
    assert child.state.details.flow_run_id == child.id
    task_states = orch.read_task_run_states(task.id)
    mirrored = [s.type for s in task_states if s.details.child_flow_run_id == child.id]
    assert mirrored == [StateType.PENDING, StateType.RUNNING, StateType.FAILED]
    assert all(s.id != c.id for s in task_states for c in orch.read_flow_run_states(child.id))
    orch.check_invariants()


def test_mirroring_survives_a_deleted_parent_task(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    parent = orch.create_flow_run(flow_id, state=Running())
    task, _ = orch.create_task_run("child-flow", flow_run_id=parent.id)
    child = orch.create_flow_run(flow_id, parent_task_run_id=task.id)
    orch.delete_task_run(task.id)
    assert orch.set_flow_run_state(child.id, Running()).status is SetStateStatus.ACCEPT


def test_deleting_a_flow_run_deletes_its_tasks(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    flow_run = orch.create_flow_run(flow_id, state=Running())
    task, _ = orch.create_task_run("extract", flow_run_id=flow_run.id)
    orch.delete_flow_run(flow_run.id)
    with pytest.raises(ObjectNotFound):
        orch.read_task_run(task.id)
    orch.check_invariants()


def test_state_of_an_unknown_flow_run_is_not_found(orch: Orchestrator) -> None:
    with pytest.raises(ObjectNotFound):
        orch.set_flow_run_state(uuid.UUID(int=3), Running())
    with pytest.raises(InvalidArgument):
        orch.set_flow_run_state(uuid.UUID(int=3), "Running")  # type: ignore[arg-type]
    state: State = Running(timestamp=datetime(2026, 1, 1))
    with pytest.raises(InvalidArgument, match="no timezone"):
        orch.set_flow_run_state(uuid.UUID(int=3), state)

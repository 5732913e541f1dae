"""Issue 10, work pools and flow-run labels: where Prefect's documented behaviour was missed.

* queue priorities stay unique within a pool (a taken priority moves the others down);
* ``create_flow_run_from_deployment(work_queue_name=<new>)`` creates that queue;
* ``get_scheduled_flow_runs`` has no upper bound by default, and takes
  ``scheduled_after`` and ``respect_queue_priorities``;
* runs of paused queues do not count against the pool's concurrency limit;
* flow runs carry their flow's (and deployment's) id as labels; the client's labels win.

All on the virtual clock, with exact times.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    VirtualClock,
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


def schedule(orch: Orchestrator, flow_id: uuid.UUID, queue: str, when: float) -> uuid.UUID:
    run = orch.create_flow_run(
        flow_id, state=Scheduled(at(when)), work_pool_name="pool", work_queue_name=queue
    )
    return run.id


def priorities(orch: Orchestrator, pool: str = "pool") -> dict[str, int]:
    return {q.name: q.priority for q in orch.read_work_queues(pool)}


def due_ids(orch: Orchestrator, **kwargs: object) -> list[uuid.UUID]:
    return [run.id for run in orch.get_scheduled_flow_runs("pool", **kwargs)]  # type: ignore[arg-type]


# -- queue priorities ---------------------------------------------------------------------------


def test_a_new_queue_with_a_taken_priority_moves_default_down(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect: priorities are unique; a queue created at priority 1 pushes "default" to 2,
    so the new queue is served first."""
    orch.create_work_pool("pool")
    in_default = schedule(orch, flow_id, "default", -20)
    clock.advance(5)
    urgent = orch.create_work_queue("pool", "urgent", priority=1)
    assert urgent.priority == 1
    assert priorities(orch) == {"urgent": 1, "default": 2}
    default = orch.read_work_queue("pool", "default")
    assert default.updated == at(5)
    in_urgent = schedule(orch, flow_id, "urgent", -10)
    assert due_ids(orch) == [in_urgent, in_default]


def test_moves_cascade_only_as_far_as_needed(clock: VirtualClock, orch: Orchestrator) -> None:
    """The fewest moves that keep priorities unique: a queue moves down only when the
    priority it holds is taken, and then pushes the next one only if that one collides."""
    orch.create_work_pool("pool")  # default: 1
    orch.create_work_queue("pool", "b")  # 2
    orch.create_work_queue("pool", "c", priority=4)
    clock.advance(1)
    orch.create_work_queue("pool", "x", priority=2)
    assert priorities(orch) == {"default": 1, "x": 2, "b": 3, "c": 4}
    assert orch.read_work_queue("pool", "c").updated == at(0)  # 4 was free: c did not move
    orch.update_work_queue("pool", "c", priority=1)
    assert priorities(orch) == {"c": 1, "default": 2, "x": 3, "b": 4}
    orch.update_work_queue("pool", "x", priority=4)
    assert priorities(orch) == {"c": 1, "default": 2, "x": 4, "b": 5}
    orch.update_work_queue("pool", "x", priority=4)  # its own priority: nothing moves
    assert priorities(orch) == {"c": 1, "default": 2, "x": 4, "b": 5}


def test_priorities_of_one_pool_do_not_move_another_pools_queues(orch: Orchestrator) -> None:
    orch.create_work_pool("pool")
    orch.create_work_pool("other")
    orch.create_work_queue("pool", "q", priority=1)
    assert priorities(orch, "other") == {"default": 1}
    assert priorities(orch) == {"q": 1, "default": 2}


def test_a_refused_priority_changes_nothing(orch: Orchestrator) -> None:
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "q")
    with pytest.raises(InvalidArgument, match="priority"):
        orch.update_work_queue("pool", "q", priority=0)
    with pytest.raises(InvalidArgument, match="priority"):
        orch.create_work_queue("pool", "r", priority=-1)
    assert priorities(orch) == {"default": 1, "q": 2}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.one_of(st.none(), st.integers(1, 7))),
        min_size=1,
        max_size=12,
    )
)
def test_priorities_stay_unique_and_the_others_keep_their_order(
    steps: list[tuple[int, int | None]],
) -> None:
    """Any sequence of creations and priority changes: priorities stay unique, the queue
    given a priority holds it, and the other queues keep their relative order."""
    orch = Orchestrator(clock=VirtualClock(START), seed=1)
    orch.create_work_pool("pool")
    for index, (target, priority) in enumerate(steps):
        before = list(priorities(orch))
        names = before
        if target < len(names) and priority is not None:
            name = sorted(names)[target]
            orch.update_work_queue("pool", name, priority=priority)
        else:
            name = f"q{index}"
            queue = orch.create_work_queue("pool", name, priority=priority)
            priority = queue.priority
        after = priorities(orch)
        assert len(set(after.values())) == len(after), after
        assert after[name] == priority
        others_after = [n for n in sorted(after, key=after.__getitem__) if n != name]
        assert others_after == [n for n in before if n != name]


# -- a new queue from create_flow_run_from_deployment -----------------------------------------


def test_a_deployment_run_for_a_new_queue_creates_it(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect: a flow run of a deployment for a queue the pool lacks creates the queue."""
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "b")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    clock.advance(7)
    run = orch.create_flow_run_from_deployment(deployment.id, work_queue_name="adhoc")
    assert run.work_pool_name == "pool"
    assert run.work_queue_name == "adhoc"
    queue = orch.read_work_queue("pool", "adhoc")
    assert (queue.priority, queue.concurrency_limit, queue.is_paused) == (3, None, False)
    assert queue.created == at(7)
    assert due_ids(orch, work_queue_names=["adhoc"]) == [run.id]
    again = orch.create_flow_run_from_deployment(deployment.id, work_queue_name="adhoc")
    assert [q.name for q in orch.read_work_queues("pool")] == ["default", "b", "adhoc"]
    assert due_ids(orch, work_queue_names=["adhoc"]) == [run.id, again.id]
    assert orch.read_deployment(deployment.id).work_queue_name == "default"
    orch.check_invariants()


def test_a_refused_deployment_run_leaves_no_new_queue(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    with pytest.raises(InvalidArgument, match="scheduled_time"):
        orch.create_flow_run_from_deployment(
            deployment.id,
            work_queue_name="adhoc",
            state=Scheduled(scheduled_time="soon"),  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidArgument, match="env"):
        orch.create_flow_run_from_deployment(
            deployment.id,
            work_queue_name="adhoc",
            job_variables={"env": {"X": 1}},
        )
    assert [q.name for q in orch.read_work_queues("pool")] == ["default"]
    assert orch.count_flow_runs() == 0
    orch.check_invariants()


# -- get_scheduled_flow_runs -------------------------------------------------------------------


def test_without_scheduled_before_there_is_no_upper_bound(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect: ``scheduled_before`` and ``scheduled_after`` bound the scheduled time only
    when given (both inclusive)."""
    orch.create_work_pool("pool")
    past = schedule(orch, flow_id, "default", -10)
    soon = schedule(orch, flow_id, "default", 30)
    later = schedule(orch, flow_id, "default", 3600)
    assert due_ids(orch) == [past, soon, later]
    assert due_ids(orch, scheduled_before=at(30)) == [past, soon]
    assert due_ids(orch, scheduled_after=at(30)) == [soon, later]
    assert due_ids(orch, scheduled_after=at(0), scheduled_before=at(30)) == [soon]
    assert due_ids(orch, scheduled_after=at(31), scheduled_before=at(3599)) == []
    assert due_ids(orch, limit=2) == [past, soon]


def test_queue_priorities_can_be_ignored(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    """Prefect: ``respect_queue_priorities=False`` orders the runs of every queue by
    scheduled time; each queue's limit and the pool's still apply."""
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "low", priority=5, concurrency_limit=2)
    low_first = schedule(orch, flow_id, "low", -30)
    default_run = schedule(orch, flow_id, "default", -20)
    low_second = schedule(orch, flow_id, "low", -10)
    low_third = schedule(orch, flow_id, "low", -5)
    assert due_ids(orch) == [default_run, low_first, low_second]
    by_time = due_ids(orch, respect_queue_priorities=False)
    assert by_time == [low_first, default_run, low_second]
    assert low_third not in by_time  # "low" gives at most its 2 free slots
    assert due_ids(orch, respect_queue_priorities=False, limit=1) == [low_first]
    orch.update_work_pool("pool", concurrency_limit=2)
    assert due_ids(orch, respect_queue_priorities=False) == [low_first, default_run]
    assert due_ids(orch) == [default_run, low_first]


def test_runs_in_paused_queues_do_not_count_against_the_pool_limit(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect: a pool's free slots are its limit minus the PENDING and RUNNING runs of
    its unpaused queues."""
    orch.create_work_pool("pool", concurrency_limit=1)
    orch.create_work_queue("pool", "side")
    busy = schedule(orch, flow_id, "side", -30)
    waiting = schedule(orch, flow_id, "default", -10)
    orch.set_flow_run_state(busy, Pending())
    orch.set_flow_run_state(busy, Running())
    assert due_ids(orch) == []  # the pool's one slot is taken by "side"
    orch.update_work_queue("pool", "side", is_paused=True)
    assert due_ids(orch) == [waiting]
    orch.update_work_queue("pool", "side", is_paused=False)
    assert due_ids(orch) == []
    orch.check_invariants()


# -- automatic labels ---------------------------------------------------------------------------


def test_a_flow_run_is_labelled_with_its_flows_id(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    """Prefect: a flow run carries its flow's id as a label."""
    run = orch.create_flow_run(flow_id, labels={"team": "data"})
    assert run.labels == {"orchestrator.flow.id": str(flow_id), "team": "data"}
    assert orch.read_flow_run(run.id).labels == run.labels
    plain = orch.create_flow_run(flow_id)
    assert plain.labels == {"orchestrator.flow.id": str(flow_id)}


def test_a_deployment_run_is_labelled_with_its_deployments_id(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect: a deployment's flow run also carries the deployment's id."""
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    run = orch.create_flow_run_from_deployment(deployment.id)
    assert run.labels == {
        "orchestrator.flow.id": str(flow_id),
        "orchestrator.deployment.id": str(deployment.id),
    }


def test_the_clients_labels_win(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    run = orch.create_flow_run_from_deployment(
        deployment.id,
        labels={"orchestrator.flow.id": "mine", "orchestrator.deployment.id": "ours", "x": "1"},
    )
    assert run.labels == {
        "orchestrator.flow.id": "mine",
        "orchestrator.deployment.id": "ours",
        "x": "1",
    }
    removed = orch.update_flow_run(run.id, labels={"orchestrator.deployment.id": None})
    assert removed.labels == {"orchestrator.flow.id": "mine", "x": "1"}


def test_task_runs_of_a_flow_run_inherit_its_automatic_labels(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Task runs take their flow run's labels, so they carry the deployment's id too."""
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    flow_run = orch.create_flow_run_from_deployment(deployment.id)
    task_run = orch.create_task_run("extract", flow_run_id=flow_run.id).run
    assert task_run.labels == {
        "orchestrator.flow.id": str(flow_id),
        "orchestrator.deployment.id": str(deployment.id),
        "orchestrator.flow-run.id": str(flow_run.id),
    }

"""Issue 10, the rest of the flow-run surface, against Prefect's documented behaviour.

* renaming a work queue (the default one included) with ``update_work_queue(name=...)``:
  its runs, the pool's run indexes and its deployments follow, and a renamed default queue
  stays the pool's default.

All on the virtual clock, with exact times.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import (
    Completed,
    InvalidArgument,
    ObjectAlreadyExists,
    Orchestrator,
    Pending,
    Scheduled,
    VirtualClock,
)
from orchestrator.filters import FlowRunFilter, FlowRunFilterWorkQueueName

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    orch = Orchestrator(clock=clock, seed=1)
    orch.create_work_pool("pool")
    return orch


@pytest.fixture
def flow_id(orch: Orchestrator) -> uuid.UUID:
    return orch.create_flow("etl").id


def schedule(
    orch: Orchestrator, flow_id: uuid.UUID, when: float, queue: str | None = None
) -> uuid.UUID:
    run = orch.create_flow_run(
        flow_id, state=Scheduled(at(when)), work_pool_name="pool", work_queue_name=queue
    )
    return run.id


# -- renaming the default work queue ------------------------------------------------------------


def test_renaming_the_default_queue_moves_its_runs_deployments_and_default_role(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect: runs and deployments refer to the queue itself, so a rename carries them;
    the pool's default queue is the same queue under its new name."""
    due = schedule(orch, flow_id, 10)
    done = orch.create_flow_run(flow_id, state=Completed(), work_pool_name="pool").id
    busy = orch.create_flow_run(flow_id, state=Pending(), work_pool_name="pool").id
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    clock.advance(5)

    queue = orch.update_work_queue("pool", "default", name="main")

    assert queue.name == "main"
    assert queue.updated == at(5)
    assert [q.name for q in orch.read_work_queues("pool")] == ["main"]
    assert orch.read_work_pool("pool").default_queue_name == "main"
    for run_id in (due, done, busy):
        assert orch.read_flow_run(run_id).work_queue_name == "main"
    assert orch.read_deployment(deployment.id).work_queue_name == "main"
    assert orch.read_deployment(deployment.id).updated == at(5)
    # The store's queue index and the pool's due and active indexes follow.
    by_queue = FlowRunFilter(work_queue_name=FlowRunFilterWorkQueueName(any_=["main"]))
    assert {run.id for run in orch.read_flow_runs(flow_runs=by_queue)} == {due, done, busy}
    old = FlowRunFilter(work_queue_name=FlowRunFilterWorkQueueName(any_=["default"]))
    assert orch.read_flow_runs(flow_runs=old) == []
    assert [r.id for r in orch.get_scheduled_flow_runs("pool", work_queue_names=["main"])] == [due]
    with pytest.raises(Exception, match="default"):
        orch.read_work_queue("pool", "default")
    # A run created without a queue name goes to the renamed default queue.
    later = schedule(orch, flow_id, 20)
    assert orch.read_flow_run(later).work_queue_name == "main"
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [due, later]
    # ... and so does a deployment created without one.
    assert orch.create_deployment(flow_id, "e", work_pool_name="pool").work_queue_name == "main"
    # The renamed default still cannot be deleted; the name "default" is free again.
    with pytest.raises(InvalidArgument, match="'main' is the default queue"):
        orch.delete_work_queue("pool", "main")
    orch.create_work_queue("pool", "default")
    orch.delete_work_queue("pool", "default")
    orch.check_invariants()


def test_renaming_keeps_the_order_of_runs_due_at_the_same_time(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Runs due together keep their creation order after the rename (no re-filing)."""
    orch.create_work_queue("pool", "side", priority=2)
    ids = [schedule(orch, flow_id, 10, "side") for _ in range(3)]
    orch.update_work_queue("pool", "side", name="lane", priority=1)
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == ids
    assert {q.name: q.priority for q in orch.read_work_queues("pool")} == {
        "lane": 1,
        "default": 2,
    }
    orch.check_invariants()


def test_renaming_only_touches_the_queue_of_that_pool(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """A queue of the same name in another pool keeps its runs and its name."""
    orch.create_work_pool("other")
    other = orch.create_flow_run(flow_id, state=Scheduled(at(1)), work_pool_name="other").id
    schedule(orch, flow_id, 1)
    orch.update_work_queue("pool", "default", name="main")
    assert orch.read_flow_run(other).work_queue_name == "default"
    assert orch.read_work_pool("other").default_queue_name == "default"
    assert [r.id for r in orch.get_scheduled_flow_runs("other")] == [other]
    orch.check_invariants()


def test_renaming_to_a_taken_name_is_refused_and_changes_nothing(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Queue names are unique within a pool; a refused update changes nothing at all."""
    orch.create_work_queue("pool", "side")
    run = schedule(orch, flow_id, 1)
    clock.advance(3)
    with pytest.raises(ObjectAlreadyExists, match="already has a queue named 'side'"):
        orch.update_work_queue("pool", "default", name="side", priority=5, is_paused=True)
    default = orch.read_work_queue("pool", "default")
    assert (default.priority, default.is_paused, default.updated) == (1, False, START)
    assert orch.read_flow_run(run).work_queue_name == "default"
    assert orch.read_work_pool("pool").default_queue_name == "default"
    orch.check_invariants()


def test_renaming_to_its_own_name_is_a_plain_update(orch: Orchestrator) -> None:
    queue = orch.update_work_queue("pool", "default", name="default", concurrency_limit=3)
    assert (queue.name, queue.concurrency_limit) == ("default", 3)
    orch.check_invariants()

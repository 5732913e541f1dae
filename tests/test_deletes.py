"""Deleting runs gives everything back: queue room, stored parameters, state histories.

One by one (``delete_task_run``, ``delete_flow_run``) and in bulk (``delete_task_runs``,
``delete_flow_runs``), a deleted run leaves nothing behind: its queue entry goes (so its
key accepts submissions again and a waiting ``asubmit`` wakes), its stored parameters,
slots, decisions and states go, and ``statistics()`` shows it.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
import uuid
from typing import Any

import anyio
import pytest

from orchestrator import (
    Completed,
    FlowRun,
    InvalidArgument,
    ObjectNotFound,
    Observer,
    Orchestrator,
    QueueFull,
    Running,
    State,
    StateDetails,
    StateType,
    TaskRun,
    TaskRunFuture,
    VirtualClock,
    task,
)
from orchestrator._core._indexes import should_shrink, shrink
from orchestrator.filters import DeploymentFilter, FlowFilter, FlowRunFilter, TaskRunFilter
from orchestrator.testing import make_flow_run, make_task_run


@task(task_key="jobs.send")
def send(to: str) -> str:
    return f"sent to {to}"


DEFERRED = State(type=StateType.SCHEDULED, details=StateDetails(deferred=True))


@pytest.fixture
def orch() -> Orchestrator:
    orchestrator = Orchestrator(VirtualClock(), seed=3)
    orchestrator.configure_task_key("jobs.send", scheduled_size=2)
    return orchestrator


def queued(orch: Orchestrator) -> int:
    return orch.task_queues.statistics().queues["jobs.send"].scheduled


# -- queue entries ---------------------------------------------------------------------------


def test_a_key_whose_queued_runs_were_deleted_accepts_submissions(orch: Orchestrator) -> None:
    first, second = orch.submit(send, "ada"), orch.submit(send, "bob")
    with pytest.raises(QueueFull):
        orch.submit(send, "cy")
    assert len(orch.result_store) == 2
    orch.delete_task_run(first.task_run_id)
    orch.delete_task_run(second.task_run_id)
    # Nothing is left queued or stored for the deleted runs: the key is empty.
    assert queued(orch) == 0
    assert len(orch.task_queues) == 0
    assert len(orch.result_store) == 0
    orch.check_invariants()
    third, fourth = orch.submit(send, "cy"), orch.submit(send, "di")
    assert queued(orch) == 2
    assert orch.task_queues.for_key("jobs.send").get_nowait().id == third.task_run_id
    assert orch.task_queues.for_key("jobs.send").get_nowait().id == fourth.task_run_id
    # No stale entry was met on the way: the deleted runs' entries had gone.
    assert orch.task_queues.statistics().dropped == 0


def test_deleting_a_flow_run_removes_the_queue_entries_of_its_task_runs(
    orch: Orchestrator,
) -> None:
    flow = orch.create_flow("nightly")
    flow_run = orch.create_flow_run(flow.id)
    for name in ("a", "b"):
        orch.create_task_run("jobs.send", flow_run_id=flow_run.id, name=name, state=DEFERRED)
    assert queued(orch) == 2
    with pytest.raises(QueueFull):
        orch.submit(send, "ada")
    orch.delete_flow_run(flow_run.id)
    assert queued(orch) == 0
    orch.submit(send, "ada")
    assert queued(orch) == 1
    orch.check_invariants()


def test_deleting_a_run_that_is_not_queued_leaves_the_queue_alone(orch: Orchestrator) -> None:
    kept = orch.submit(send, "ada")
    other = orch.create_task_run("jobs.send").run  # Pending: never queued
    orch.delete_task_run(other.id)
    assert queued(orch) == 1
    assert orch.task_queues.for_key("jobs.send").get_nowait().id == kept.task_run_id


async def test_a_waiting_asubmit_returns_once_a_queued_run_is_deleted(
    orch: Orchestrator,
) -> None:
    first, _ = orch.submit(send, "ada"), orch.submit(send, "bob")
    submitted: list[TaskRunFuture[Any]] = []
    async with anyio.create_task_group() as group:

        async def submit() -> None:
            submitted.append(await orch.asubmit(send, "cy"))

        group.start_soon(submit)
        await anyio.wait_all_tasks_blocked()
        assert submitted == []
        assert orch.task_queues.statistics().queues["jobs.send"].waiting_for_room == 1
        orch.delete_task_run(first.task_run_id)
    assert len(submitted) == 1
    assert submitted[0].state.name == "Scheduled"
    assert queued(orch) == 2
    assert orch.task_queues.statistics().queues["jobs.send"].waiting_for_room == 0
    orch.check_invariants()


async def test_a_waiting_asubmit_returns_once_a_flow_run_with_queued_runs_is_deleted(
    orch: Orchestrator,
) -> None:
    flow = orch.create_flow("nightly")
    flow_run = orch.create_flow_run(flow.id)
    for name in ("a", "b"):
        orch.create_task_run("jobs.send", flow_run_id=flow_run.id, name=name, state=DEFERRED)
    submitted: list[uuid.UUID] = []
    async with anyio.create_task_group() as group:

        async def submit() -> None:
            submitted.append((await orch.asubmit(send, "cy")).task_run_id)

        group.start_soon(submit)
        await anyio.wait_all_tasks_blocked()
        assert submitted == []
        orch.delete_flow_run(flow_run.id)
    assert [run.id for run in orch.read_task_runs()] == submitted
    orch.check_invariants()


# -- statistics: the stored states -----------------------------------------------------------


def test_statistics_count_the_stored_states_and_deleting_runs_frees_them(
    orch: Orchestrator,
) -> None:
    assert (orch.statistics().task_run_states, orch.statistics().flow_run_states) == (0, 0)
    flow = orch.create_flow("nightly")
    flow_run = orch.create_flow_run(flow.id)  # Pending
    orch.set_flow_run_state(flow_run.id, Running())
    child = orch.create_task_run("child", flow_run_id=flow_run.id).run  # Pending
    orch.set_task_run_state(child.id, Running())
    orch.set_task_run_state(child.id, Completed())
    alone = orch.create_task_run("alone").run  # Pending
    orch.set_task_run_state(alone.id, Running())
    stats = orch.statistics()
    assert (stats.task_runs, stats.task_run_states) == (2, 5)
    assert (stats.flow_runs, stats.flow_run_states) == (1, 2)
    orch.delete_task_run(alone.id)
    assert orch.statistics().task_run_states == 3
    orch.delete_flow_run(flow_run.id)
    stats = orch.statistics()
    assert (stats.task_runs, stats.task_run_states, stats.flow_runs, stats.flow_run_states) == (
        0,
        0,
        0,
        0,
    )
    assert stats.decisions == 0


# -- bulk deletes ----------------------------------------------------------------------------


class Deletions(Observer):
    """Records the ids of deleted runs, in the order the orchestrator reports them."""

    def __init__(self) -> None:
        self.task_runs: list[uuid.UUID] = []
        self.flow_runs: list[uuid.UUID] = []

    def task_run_deleted(self, run: TaskRun) -> None:
        self.task_runs.append(run.id)

    def flow_run_deleted(self, run: FlowRun) -> None:
        self.flow_runs.append(run.id)


def test_delete_task_runs_deletes_what_the_filter_matches_as_delete_task_run_does(
    orch: Orchestrator,
) -> None:
    orch.create_concurrency_limit("db", 1)
    done = [make_task_run(orch, "COMPLETED", task_key="etl.load") for _ in range(3)]
    holder = orch.create_task_run("etl.load", tags=["db"]).run
    orch.set_task_run_state(holder.id, Running())  # holds the only "db" slot
    queued_run = orch.submit(send, "ada")
    kept = make_task_run(orch, "FAILED", task_key="etl.load")
    deletions = Deletions()
    orch.subscribe(deletions)
    matching = TaskRunFilter(state=["COMPLETED", "RUNNING", "SCHEDULED"])
    assert orch.count_task_runs(task_runs=matching) == 5
    assert orch.delete_task_runs(task_runs=matching) == 5
    assert [run.id for run in orch.read_task_runs()] == [kept.id]
    assert sorted(deletions.task_runs) == sorted(
        [*(run.id for run in done), holder.id, queued_run.task_run_id]
    )
    limit = orch.read_concurrency_limit("db")
    assert limit.active_slots == frozenset()  # the slot came back
    assert queued(orch) == 0  # its queue entry...
    assert len(orch.result_store) == 0  # ...and its parameters
    with pytest.raises(ObjectNotFound):  # its decisions went with it
        orch.read_decisions(holder.id)
    stats = orch.statistics()
    assert (stats.task_runs, stats.task_run_states) == (1, 3)  # Pending, Running, Failed
    orch.check_invariants()


def test_delete_task_runs_with_the_cross_entity_filters(orch: Orchestrator) -> None:
    nightly, hourly = orch.create_flow("nightly"), orch.create_flow("hourly")
    deployment = orch.create_deployment(nightly.id, "prod")
    deployed = orch.create_flow_run(nightly.id, deployment_id=deployment.id)
    manual = orch.create_flow_run(nightly.id)
    other = orch.create_flow_run(hourly.id)
    runs = {
        name: orch.create_task_run(name, flow_run_id=flow_run.id).run
        for name, flow_run in [("a", deployed), ("b", manual), ("c", other)]
    }
    alone = orch.create_task_run("d").run
    assert orch.delete_task_runs(deployments=DeploymentFilter(id=[deployment.id])) == 1
    assert orch.delete_task_runs(flows=FlowFilter(name=["nightly"])) == 1
    assert orch.delete_task_runs(flow_runs=FlowRunFilter(id=[uuid.uuid4()])) == 0
    left = {run.id for run in orch.read_task_runs()}
    assert left == {runs["c"].id, alone.id}
    # The flow runs themselves are left alone.
    assert orch.count_flow_runs() == 3
    orch.check_invariants()


def test_delete_task_runs_without_a_filter_deletes_every_task_run(orch: Orchestrator) -> None:
    assert orch.delete_task_runs() == 0
    flow_run = orch.create_flow_run(orch.create_flow("nightly").id)
    orch.create_task_run("a", flow_run_id=flow_run.id)
    for state in ("PENDING", "RUNNING", "COMPLETED"):
        make_task_run(orch, state)
    assert orch.delete_task_runs() == 4
    stats = orch.statistics()
    assert (stats.task_runs, stats.task_run_states, stats.decisions) == (0, 0, 1)
    assert (stats.flow_runs, stats.flow_run_states) == (1, 1)  # only task runs go
    orch.check_invariants()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"task_runs": "COMPLETED"}, "task_runs must be a TaskRunFilter or None, got 'COMPLETED'"),
        ({"flow_runs": 3}, "flow_runs must be a FlowRunFilter or None, got 3"),
        ({"flows": ["f"]}, "flows must be a FlowFilter or None, got ['f']"),
        ({"deployments": {}}, "deployments must be a DeploymentFilter or None, got {}"),
    ],
)
def test_a_bad_filter_deletes_nothing(
    orch: Orchestrator, arguments: dict[str, Any], message: str
) -> None:
    make_task_run(orch, "COMPLETED")
    orch.create_flow_run(orch.create_flow("nightly").id)
    with pytest.raises(InvalidArgument) as info:
        orch.delete_task_runs(**arguments)
    assert str(info.value) == message
    if "task_runs" not in arguments:
        with pytest.raises(InvalidArgument) as info:
            orch.delete_flow_runs(**arguments)
        assert str(info.value) == message
    assert (orch.count_task_runs(), orch.count_flow_runs()) == (1, 1)
    orch.check_invariants()


def test_delete_flow_runs_deletes_the_matching_flow_runs_with_their_task_runs(
    orch: Orchestrator,
) -> None:
    hourly = orch.create_flow("hourly")
    doomed = [make_flow_run(orch, "COMPLETED", flow_name="nightly") for _ in range(2)]
    running = make_flow_run(orch, "RUNNING", flow_name="nightly")
    other = make_flow_run(orch, "COMPLETED", flow_name="hourly")
    children = [orch.create_task_run("t", flow_run_id=run.id).run for run in (*doomed, running)]
    parent_task = orch.create_task_run("parent", flow_run_id=running.id).run
    subflow = orch.create_flow_run(hourly.id, parent_task_run_id=parent_task.id)
    deletions = Deletions()
    orch.subscribe(deletions)
    completed_nightly = FlowRunFilter(state=["COMPLETED"])
    deleted = orch.delete_flow_runs(flow_runs=completed_nightly, flows=FlowFilter(name=["nightly"]))
    assert deleted == 2
    assert sorted(deletions.flow_runs) == sorted(run.id for run in doomed)
    assert sorted(deletions.task_runs) == sorted(child.id for child in children[:2])
    assert {run.id for run in orch.read_flow_runs()} == {running.id, other.id, subflow.id}
    # Without a filter: every flow run, with every task run that has one.
    assert orch.delete_flow_runs() == 3
    assert (orch.count_flow_runs(), orch.count_task_runs()) == (0, 0)
    stats = orch.statistics()
    assert (stats.flow_run_states, stats.task_run_states, stats.decisions) == (0, 0, 0)
    orch.check_invariants()


# -- memory ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "one-by-one"])
def test_memory_comes_back_after_the_runs_are_deleted(bulk: bool) -> None:
    orch = Orchestrator(VirtualClock(), seed=1)
    flow = orch.create_flow("nightly")

    def run_many(count: int) -> None:
        for number in range(count):
            flow_run = orch.create_flow_run(flow.id, state=Running())
            run = orch.create_task_run("job", flow_run_id=flow_run.id, tags=["t"]).run
            orch.set_task_run_state(run.id, Running())
            orch.set_task_run_state(run.id, Completed(number))
            orch.set_flow_run_state(flow_run.id, Completed())
            alone = orch.create_task_run("alone").run
            orch.set_task_run_state(alone.id, Running())

    def delete_all() -> None:
        if bulk:
            orch.delete_flow_runs()
            orch.delete_task_runs()
        else:
            for flow_run in orch.read_flow_runs():
                orch.delete_flow_run(flow_run.id)
            for task_run in orch.read_task_runs():
                orch.delete_task_run(task_run.id)

    run_many(50)  # warm up: the first runs allocate what every later one reuses
    delete_all()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run_many(2_500)
        grown = tracemalloc.get_traced_memory()[0] - before
        delete_all()
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    stats = orch.statistics()
    assert (stats.task_runs, stats.flow_runs, stats.task_run_states, stats.decisions) == (
        0,
        0,
        0,
        0,
    )
    assert grown > 5_000_000
    # What stays is a constant, not a share of the runs: containers are shrunk until
    # they are small (under COMPACT_FLOOR entries, a few hundred KiB in all), then kept.
    # (Measured: the same ~200 KiB after 2,500 or 10,000 runs of each kind.)
    assert left < grown / 100 + 256 * 1024, f"{left} of {grown} bytes still held"
    orch.check_invariants()


def test_shrink_keeps_identity_order_and_contents() -> None:
    numbers = {f"k{n}": n for n in range(5000)}
    for n in range(4990):
        del numbers[f"k{n}"]
    same = numbers
    before = sys.getsizeof(numbers)
    shrink(numbers)
    assert numbers is same
    assert list(numbers.items()) == [(f"k{n}", n) for n in range(4990, 5000)]
    assert sys.getsizeof(numbers) < before / 10
    values = set(range(5000))
    values.difference_update(range(4995))
    shrink(values)
    assert values == set(range(4995, 5000))
    assert (should_shrink(255, 1025), should_shrink(257, 1025), should_shrink(10, 1024)) == (
        True,
        False,
        False,
    )

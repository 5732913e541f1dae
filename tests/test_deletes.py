"""Deleting runs gives everything back: queue room, stored parameters, state histories.

One by one (``delete_task_run``, ``delete_flow_run``) and in bulk (``delete_task_runs``,
``delete_flow_runs``), a deleted run leaves nothing behind: its queue entry goes (so its
key accepts submissions again and a waiting ``asubmit`` wakes), its stored parameters,
slots, decisions and states go, and ``statistics()`` shows it.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest

from orchestrator import (
    Completed,
    Orchestrator,
    QueueFull,
    Running,
    State,
    StateDetails,
    StateType,
    TaskRunFuture,
    VirtualClock,
    task,
)


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

"""Claim leases, their sweeper, conditional proposals, and waking slot waiters in turn."""

from __future__ import annotations

import uuid
from datetime import timedelta

import anyio
import pytest

from orchestrator import (
    Completed,
    InvalidArgument,
    ObjectNotFound,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateDetails,
    VirtualClock,
    task,
)
from orchestrator._engine._leases import PendingLeases
from orchestrator.workers import TaskWorker
from tests.worker_helpers import Commits, history, names, outcome


@task(task_key="job")
def job(x: int) -> int:
    return x + 1


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock, seed=2)


def claim(orch: Orchestrator, run_id: object) -> State:
    """Claim a run by hand, as a worker would, and return the committed claim."""
    result = orch.set_task_run_state(run_id, Pending(details=StateDetails(deferred=True)))  # type: ignore[arg-type]
    assert result.status is SetStateStatus.ACCEPT
    assert result.state is not None
    return result.state


# -- conditional proposals ------------------------------------------------------------------------
def test_a_conditional_proposal_applies_only_to_the_state_it_expects(orch: Orchestrator) -> None:
    run_id = orch.submit(job, 1).task_run_id
    scheduled = orch.read_task_run(run_id).state
    assert scheduled is not None
    claimed = claim(orch, run_id)
    # the run moved on from `scheduled`: nothing is proposed
    assert orch.set_task_run_state_if(run_id, Running(), current=scheduled) is None
    result = orch.set_task_run_state_if(run_id, Running(), current=claimed)
    assert result is not None
    assert result.status is SetStateStatus.ACCEPT
    assert names(orch, run_id) == ["Scheduled", "Pending", "Running"]
    orch.delete_task_run(run_id)
    assert orch.set_task_run_state_if(run_id, Completed(1), current=claimed) is None


def test_a_conditional_proposal_needs_a_committed_state(orch: Orchestrator) -> None:
    run_id = orch.submit(job, 1).task_run_id
    with pytest.raises(InvalidArgument, match="must be a committed state"):
        orch.set_task_run_state_if(run_id, Running(), current=Running())


def test_the_method_checks_its_arguments(orch: Orchestrator) -> None:
    run_id = orch.submit(job, 1).task_run_id
    state = orch.read_task_run(run_id).state
    assert state is not None
    with pytest.raises(InvalidArgument, match="state must be a State"):
        orch.set_task_run_state_if(run_id, "Running", current=state)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="task_run_id must be a UUID"):
        orch.set_task_run_state_if("nope", Running(), current=state)  # type: ignore[arg-type]
    result = orch.set_task_run_state_if(run_id, Pending(), current=state)
    assert result is not None
    assert result.status is SetStateStatus.ACCEPT


# -- the lease table ------------------------------------------------------------------------------
def test_holding_renewing_and_releasing(orch: Orchestrator, clock: VirtualClock) -> None:
    start = clock.now()
    leases = orch.pending_leases
    assert orch.pending_leases is leases  # one per orchestrator
    assert orch.pending_leases is leases
    first = orch.submit(job, 1).task_run_id
    second = orch.submit(job, 2).task_run_id
    assert leases.hold(first, claim(orch, first), 60) == start + timedelta(seconds=60)
    leases.hold(second, claim(orch, second), 30)
    assert (len(leases), first in leases, leases.next_expiry()) == (
        2,
        True,
        start + timedelta(seconds=30),
    )
    clock.advance(10)
    renewed = orch.read_task_run(second).state
    assert renewed is not None
    leases.hold(second, renewed, 100)
    assert leases.expiry(second) == start + timedelta(seconds=110)
    assert leases.next_expiry() == start + timedelta(seconds=60)
    assert leases.release(first)
    assert not leases.release(first)
    assert (leases.expiry(first), leases.next_expiry()) == (None, start + timedelta(seconds=110))
    stats = leases.statistics()
    assert (stats.held, stats.granted, stats.expired, stats.sweepers) == (1, 3, 0, 0)
    leases.check_invariants()
    assert repr(leases) == "<PendingLeases held=1>"


def test_only_committed_claims_are_leased(orch: Orchestrator) -> None:
    leases = orch.pending_leases
    run_id = orch.submit(job, 1).task_run_id
    scheduled = orch.read_task_run(run_id).state
    assert scheduled is not None
    with pytest.raises(InvalidArgument, match="only a committed PENDING claim"):
        leases.hold(run_id, scheduled, 10)
    with pytest.raises(InvalidArgument, match="only a committed PENDING claim"):
        leases.hold(run_id, Pending(), 10)
    with pytest.raises(InvalidArgument, match="seconds must be a number of seconds > 0"):
        leases.hold(run_id, claim(orch, run_id), 0)
    assert len(leases) == 0


def test_stale_items_are_compacted(orch: Orchestrator) -> None:
    leases = PendingLeases(orch.clock, orch.set_task_run_state_if)
    run_id = orch.submit(job, 1).task_run_id
    state = claim(orch, run_id)
    for seconds in range(1, 500):
        leases.hold(run_id, state, float(seconds))
    leases.release(run_id)
    leases.check_invariants()  # the heap did not keep 499 dead items


def test_sweep_puts_an_expired_claim_back_on_its_queue(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()
    leases = orch.pending_leases
    future = orch.submit(job, 1)
    parameters_id = future.state.details.task_parameters_id
    leases.hold(future.task_run_id, claim(orch, future.task_run_id), 30)
    clock.advance(29.5)
    assert leases.sweep() == 0
    clock.advance(0.5)
    assert leases.sweep() == 1
    assert history(orch, future, start) == [
        ("Scheduled", 0.0),
        ("Pending", 0.0),
        ("AwaitingRetry", 30.0),
    ]
    state = future.state
    assert state.message == (
        "the claim's lease of 30 s ran out while the run was PENDING; it is back on its queue"
    )
    assert state.details.task_parameters_id == parameters_id
    assert orch.task_queues.for_key("job").retry_count == 1
    assert (len(leases), leases.statistics().expired) == (0, 1)


def test_sweep_drops_the_lease_of_a_run_that_moved_on(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    leases = orch.pending_leases
    run_id = orch.submit(job, 1).task_run_id
    leases.hold(run_id, claim(orch, run_id), 5)
    orch.set_task_run_state(run_id, Running())
    clock.advance(5)
    assert leases.sweep() == 0
    assert len(leases) == 0
    assert names(orch, run_id)[-1] == "Running"


def test_claim_task_run_leases_the_claim(orch: Orchestrator) -> None:
    run_id = orch.submit(job, 1).task_run_id
    result = orch.claim_task_run(run_id, lease_seconds=45)
    assert result is not None
    assert result.status is SetStateStatus.ACCEPT
    assert orch.pending_leases.expiry(run_id) == orch.clock.now() + timedelta(seconds=45)
    assert orch.claim_task_run(run_id) is None  # not SCHEDULED any more
    with pytest.raises(InvalidArgument, match="lease_seconds must be"):
        orch.claim_task_run(run_id, lease_seconds=-1)
    with pytest.raises(ObjectNotFound):
        orch.claim_task_run(uuid.UUID(int=1))


# -- the sweeper ----------------------------------------------------------------------------------
async def test_the_sweeper_sleeps_until_the_next_expiry(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()
    leases = orch.pending_leases
    first = orch.submit(job, 1).task_run_id
    second = orch.submit(job, 2).task_run_id
    async with anyio.create_task_group() as group:
        await group.start(leases.run)
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() is None  # no lease: no sleeper
        leases.hold(first, claim(orch, first), 300)
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() == start + timedelta(seconds=300)
        leases.hold(second, claim(orch, second), 60)  # earlier: the sweeper re-arms
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() == start + timedelta(seconds=60)
        leases.release(second)
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() == start + timedelta(seconds=300)
        assert leases.statistics().sweepers == 1
        clock.advance_to_next()
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() is None  # swept, and nothing left to wait for
        group.cancel_scope.cancel()
    assert names(orch, first) == ["Scheduled", "Pending", "AwaitingRetry"]
    assert names(orch, second) == ["Scheduled", "Pending"]
    assert leases.statistics().sweepers == 0


async def test_a_claim_nobody_follows_up_is_run_by_a_worker(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    # Someone claims a run and goes away; the serving worker's sweeper hands it back
    # when the lease runs out, and the worker runs it.
    start = clock.now()
    future = orch.submit(job, 41)
    orch.claim_task_run(future.task_run_id, lease_seconds=60)
    async with TaskWorker(job, orchestrator=orch):
        await anyio.wait_all_tasks_blocked()
        assert future.state.name == "Pending"
        assert clock.next_deadline() == start + timedelta(seconds=60)
        clock.advance(60)
        assert await outcome(future) == 42
    assert history(orch, future, start) == [
        ("Scheduled", 0.0),
        ("Pending", 0.0),
        ("AwaitingRetry", 60.0),
        ("Pending", 60.0),
        ("Running", 60.0),
        ("Completed", 60.0),
    ]


async def test_a_waiting_claim_is_leased_and_renewed(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()
    gate = anyio.Event()

    @task(task_key="hold", tags=["solo"])
    async def hold(x: int) -> int:
        await gate.wait()
        return x

    orch.create_concurrency_limit("solo", 1)
    commits = Commits(orch)
    leases = orch.pending_leases
    async with TaskWorker(hold, orchestrator=orch, pending_lease_seconds=20):
        futures = [orch.submit(hold, i) for i in range(2)]
        await commits.until(lambda: len(leases) == 1)
        waiting = next(f for f in futures if f.state.name == "Pending")
        assert leases.expiry(waiting.task_run_id) == start + timedelta(seconds=30)  # 10 + 20
        clock.advance(10)  # the WAIT's delay passed: it proposes again, and renews
        await commits.until(
            lambda: leases.expiry(waiting.task_run_id) != start + timedelta(seconds=30)
        )
        assert leases.expiry(waiting.task_run_id) == start + timedelta(seconds=40)
        gate.set()
        assert sorted([await outcome(f) for f in futures]) == [0, 1]
    assert len(leases) == 0
    assert names(orch, waiting)[-3:] == ["Pending", "Running", "Completed"]


# -- turns ----------------------------------------------------------------------------------------
async def test_a_waiter_wakes_only_when_its_turn_comes(orch: Orchestrator) -> None:
    orch.create_concurrency_limit("db", 1)
    holder, first, second = (orch.create_task_run("k", tags=["db"]).run.id for _ in range(3))
    assert orch.set_task_run_state(holder, Running()).status is SetStateStatus.ACCEPT
    results = {run_id: orch.set_task_run_state(run_id, Running()) for run_id in (first, second)}
    assert {r.status for r in results.values()} == {SetStateStatus.WAIT}
    woken: list[object] = []

    async def wait(run_id: object) -> None:
        await orch.wait_for_turn(run_id, results[run_id])  # type: ignore[index, arg-type]
        woken.append(run_id)

    async with anyio.create_task_group() as group:
        group.start_soon(wait, second)
        group.start_soon(wait, first)
        await anyio.wait_all_tasks_blocked()
        orch.set_task_run_state(holder, Completed(1))  # one slot frees: the head's turn
        await anyio.wait_all_tasks_blocked()
        assert woken == [first]
        assert orch.set_task_run_state(first, Running()).status is SetStateStatus.ACCEPT
        orch.set_task_run_state(first, Completed(2))
        await anyio.wait_all_tasks_blocked()
        assert woken == [first, second]


async def test_deleting_the_limit_wakes_every_waiter(orch: Orchestrator) -> None:
    orch.create_concurrency_limit("db", 1)
    holder, waiter = (orch.create_task_run("k", tags=["db"]).run.id for _ in range(2))
    orch.set_task_run_state(holder, Running())
    result = orch.set_task_run_state(waiter, Running())
    assert result.status is SetStateStatus.WAIT
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(orch.wait_for_turn, waiter, result)
            await anyio.wait_all_tasks_blocked()
            orch.delete_concurrency_limit("db")


async def test_a_wait_for_anything_else_is_its_delay(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()
    run_id = orch.create_task_run("k", state=Scheduled(start + timedelta(seconds=7))).run.id
    result = orch.set_task_run_state(run_id, Running())
    assert result.status is SetStateStatus.WAIT
    other = orch.create_task_run("k").run.id
    accepted = orch.set_task_run_state(other, Running())
    await orch.wait_for_turn(other, accepted)  # not a WAIT: returns at once
    async with anyio.create_task_group() as group:
        group.start_soon(orch.wait_for_turn, run_id, result)
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() == start + timedelta(seconds=7)
        clock.advance(7)

"""Issue 10, deployment concurrency limits, as Prefect documents them.

A deployment's ``concurrency_limit`` bounds how many of its flow runs are PENDING or
RUNNING at once. A run refused a slot goes back to SCHEDULED "AwaitingConcurrencySlot",
due 30 s later; freed slots go to the waiting runs first come first served; a run
holding a slot is never blocked by itself and keeps its lease id from PENDING to
RUNNING; slots come back when a run leaves PENDING/RUNNING or is deleted. All on the
virtual clock, with exact times.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

import orchestrator._engine._commits as engine_module
from orchestrator import (
    Cancelled,
    Completed,
    Failed,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    StateType,
    VirtualClock,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
ACCEPT, REJECT, ABORT, WAIT = (
    SetStateStatus.ACCEPT,
    SetStateStatus.REJECT,
    SetStateStatus.ABORT,
    SetStateStatus.WAIT,
)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock=clock, seed=3)


def deployment(orch: Orchestrator, limit: int | None) -> uuid.UUID:
    flow_id = orch.create_flow("etl").id
    return orch.create_deployment(flow_id, "nightly", concurrency_limit=limit).id


def new_run(orch: Orchestrator, deployment_id: uuid.UUID) -> uuid.UUID:
    return orch.create_flow_run_from_deployment(deployment_id).id


def state_of(orch: Orchestrator, run_id: uuid.UUID) -> tuple[StateType, str]:
    state = orch.read_flow_run(run_id).state
    assert state is not None
    return state.type, state.name


def test_a_full_deployment_sends_the_run_back_to_await_a_slot(
    clock: VirtualClock, orch: Orchestrator
) -> None:
    dep = deployment(orch, 1)
    first, second = new_run(orch, dep), new_run(orch, dep)
    clock.advance(5)
    taken = orch.set_flow_run_state(first, Pending())
    assert taken.status is ACCEPT
    assert taken.state is not None
    lease = taken.state.details.deployment_concurrency_lease_id
    assert lease is not None
    refused = orch.set_flow_run_state(second, Pending())
    assert refused.status is REJECT
    assert refused.state is not None
    assert refused.state.type is StateType.SCHEDULED
    assert refused.state.name == "AwaitingConcurrencySlot"
    assert refused.state.details.scheduled_time == at(35)
    assert refused.state.timestamp == at(5)
    assert orch.read_flow_run(second).next_scheduled_start_time == at(35)
    # PENDING -> RUNNING keeps the slot (never blocked by itself) and the lease id.
    clock.advance(1)
    running = orch.set_flow_run_state(first, Running())
    assert running.status is ACCEPT
    assert running.state is not None
    assert running.state.details.deployment_concurrency_lease_id == lease
    clock.advance(29)  # t = 35: the waiting run is due, but the slot is still held
    assert orch.set_flow_run_state(second, Pending()).status is REJECT
    assert orch.read_flow_run(second).next_scheduled_start_time == at(65)
    clock.advance(1)
    assert orch.set_flow_run_state(first, Completed()).status is ACCEPT
    clock.advance(29)  # t = 65
    again = orch.set_flow_run_state(second, Pending())
    assert again.status is ACCEPT
    assert again.state is not None
    assert again.state.timestamp == at(65)
    assert again.state.details.deployment_concurrency_lease_id not in (None, lease)
    orch.check_invariants()


def test_freed_slots_go_first_come_first_served(clock: VirtualClock, orch: Orchestrator) -> None:
    dep = deployment(orch, 1)
    holder, early, late, fresh = (new_run(orch, dep) for _ in range(4))
    assert orch.set_flow_run_state(holder, Pending()).status is ACCEPT
    clock.advance(1)
    assert orch.set_flow_run_state(early, Pending()).status is REJECT
    clock.advance(1)
    assert orch.set_flow_run_state(late, Pending()).status is REJECT
    clock.advance(1)
    assert orch.set_flow_run_state(holder, Failed()).status is ACCEPT
    clock.advance(40)
    # One free slot, and "early" waited first: neither "late" nor a newcomer takes it.
    assert orch.set_flow_run_state(late, Pending()).status is REJECT
    assert orch.set_flow_run_state(fresh, Pending()).status is REJECT
    assert orch.set_flow_run_state(early, Pending()).status is ACCEPT
    orch.check_invariants()
    # A waiting run that gives up its place (cancelled) lets the next one in.
    assert orch.set_flow_run_state(early, Completed()).status is ACCEPT
    assert orch.set_flow_run_state(late, Cancelled()).status is ACCEPT
    clock.advance(30)
    assert orch.set_flow_run_state(fresh, Pending()).status is ACCEPT
    orch.check_invariants()


def test_the_limit_bounds_pending_and_running_together(orch: Orchestrator) -> None:
    dep = deployment(orch, 2)
    a, b, c = (new_run(orch, dep) for _ in range(3))
    assert orch.set_flow_run_state(a, Pending()).status is ACCEPT
    assert orch.set_flow_run_state(b, Running()).status is ACCEPT  # SCHEDULED -> RUNNING
    assert orch.set_flow_run_state(c, Pending()).status is REJECT
    assert state_of(orch, c) == (StateType.SCHEDULED, "AwaitingConcurrencySlot")
    orch.check_invariants()


def test_a_limit_of_zero_aborts(orch: Orchestrator) -> None:
    dep = deployment(orch, 0)
    run = new_run(orch, dep)
    result = orch.set_flow_run_state(run, Pending())
    assert result.status is ABORT
    assert "deployment concurrency limit is 0" in str(result.details)
    assert state_of(orch, run) == (StateType.SCHEDULED, "Scheduled")


def test_runs_without_a_limit_or_a_deployment_are_free(orch: Orchestrator) -> None:
    dep = deployment(orch, None)
    runs = [new_run(orch, dep) for _ in range(5)]
    assert all(orch.set_flow_run_state(r, Running()).status is ACCEPT for r in runs)
    result = orch.set_flow_run_state(runs[0], Pending())
    assert result.status is ABORT  # the claim guard, not a slot
    assert orch.read_flow_run(runs[1]).state is not None
    orch.check_invariants()


def test_a_slot_taken_by_a_transition_that_waits_is_given_back(
    clock: VirtualClock, orch: Orchestrator
) -> None:
    dep = deployment(orch, 1)
    later = orch.create_flow_run_from_deployment(dep, state=Scheduled(at(60))).id
    now = new_run(orch, dep)
    waited = orch.set_flow_run_state(later, Running())
    assert waited.status is WAIT  # not due for 60 s: the slot it took is given back
    assert state_of(orch, later) == (StateType.SCHEDULED, "Scheduled")
    assert orch.set_flow_run_state(now, Running()).status is ACCEPT
    orch.check_invariants()


def test_deleting_a_run_or_forcing_it_out_frees_its_slot(orch: Orchestrator) -> None:
    dep = deployment(orch, 1)
    a, b, c = (new_run(orch, dep) for _ in range(3))
    assert orch.set_flow_run_state(a, Running()).status is ACCEPT
    orch.delete_flow_run(a)
    assert orch.set_flow_run_state(b, Running()).status is ACCEPT
    assert orch.set_flow_run_state(b, Completed(), force=True).status is ACCEPT
    assert orch.set_flow_run_state(c, Running()).status is ACCEPT
    orch.check_invariants()


def test_deleting_the_deployment_drops_its_limit(orch: Orchestrator) -> None:
    dep = deployment(orch, 1)
    a, b = new_run(orch, dep), new_run(orch, dep)
    assert orch.set_flow_run_state(a, Running()).status is ACCEPT
    orch.delete_deployment(dep)
    orch.check_invariants()
    assert orch.set_flow_run_state(b, Running()).status is ACCEPT
    orch.check_invariants()


def test_limit_changes_apply_to_later_admissions(clock: VirtualClock, orch: Orchestrator) -> None:
    dep = deployment(orch, None)
    a, b, c, d = (new_run(orch, dep) for _ in range(4))
    assert orch.set_flow_run_state(a, Running()).status is ACCEPT
    assert orch.set_flow_run_state(b, Pending()).status is ACCEPT
    # A limit set while two runs are under way counts them: nothing more gets in.
    updated = orch.update_deployment(dep, concurrency_limit=2)
    assert updated.concurrency_limit == 2
    assert orch.read_deployment(dep).concurrency_limit == 2
    assert orch.set_flow_run_state(c, Pending()).status is REJECT
    orch.check_invariants()
    # Lowering keeps the holders (b still moves on to RUNNING); raising lets c in.
    orch.update_deployment(dep, concurrency_limit=1)
    assert orch.set_flow_run_state(b, Running()).status is ACCEPT
    orch.update_deployment(dep, concurrency_limit=3)
    clock.advance(30)
    assert orch.set_flow_run_state(c, Pending()).status is ACCEPT
    assert orch.set_flow_run_state(d, Pending()).status is REJECT
    # None removes the limit and its line of waiting runs.
    orch.update_deployment(dep, concurrency_limit=None)
    assert orch.read_deployment(dep).concurrency_limit is None
    assert orch.set_flow_run_state(d, Pending()).status is ACCEPT
    orch.check_invariants()


def test_other_updates_keep_the_limit(orch: Orchestrator) -> None:
    dep = deployment(orch, 1)
    orch.update_deployment(dep, paused=True)
    assert orch.read_deployment(dep).concurrency_limit == 1
    a, b = new_run(orch, dep), new_run(orch, dep)
    assert orch.set_flow_run_state(a, Pending()).status is ACCEPT
    assert orch.set_flow_run_state(b, Pending()).status is REJECT


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_a_bad_limit_is_refused_and_changes_nothing(orch: Orchestrator, bad: object) -> None:
    flow_id = orch.create_flow("etl").id
    with pytest.raises(Exception, match="concurrency_limit"):
        orch.create_deployment(flow_id, "d", concurrency_limit=bad)  # type: ignore[arg-type]
    assert orch.read_deployments() == []
    dep = orch.create_deployment(flow_id, "d", concurrency_limit=1)
    with pytest.raises(Exception, match="concurrency_limit"):
        orch.update_deployment(dep.id, paused=True, concurrency_limit=bad)  # type: ignore[arg-type]
    assert orch.read_deployment(dep.id).concurrency_limit == 1
    assert orch.read_deployment(dep.id).paused is False


def test_pending_sub_steps_keep_the_slot_and_the_lease(orch: Orchestrator) -> None:
    dep = deployment(orch, 1)
    run, other = new_run(orch, dep), new_run(orch, dep)
    pending = orch.set_flow_run_state(run, Pending())
    assert pending.state is not None
    lease = pending.state.details.deployment_concurrency_lease_id
    submitting = orch.set_flow_run_state(run, Pending(name="Submitting"))
    assert submitting.status is ACCEPT
    assert submitting.state is not None
    assert submitting.state.details.deployment_concurrency_lease_id == lease
    running = orch.set_flow_run_state(run, Running())
    assert running.state is not None
    assert running.state.details.deployment_concurrency_lease_id == lease
    assert orch.set_flow_run_state(other, Pending()).status is REJECT
    orch.check_invariants()


def test_a_forced_entry_takes_no_slot(orch: Orchestrator) -> None:
    """As in Prefect, a forced proposal bypasses the rule that takes the slot."""
    dep = deployment(orch, 1)
    forced, normal = new_run(orch, dep), new_run(orch, dep)
    result = orch.set_flow_run_state(forced, Running(), force=True)
    assert result.status is ACCEPT
    assert result.state is not None
    assert result.state.details.deployment_concurrency_lease_id is None
    assert orch.set_flow_run_state(normal, Running()).status is ACCEPT
    orch.check_invariants()


def test_a_commit_that_fails_gives_the_slot_back(
    monkeypatch: pytest.MonkeyPatch, orch: Orchestrator
) -> None:
    dep = deployment(orch, 1)
    first, second = new_run(orch, dep), new_run(orch, dep)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine_module, "apply_bookkeeping", broken)
    failed = orch.set_flow_run_state(first, Pending())
    assert failed.status is ABORT
    assert state_of(orch, first) == (StateType.SCHEDULED, "Scheduled")
    orch.check_invariants()
    monkeypatch.undo()
    assert orch.set_flow_run_state(second, Pending()).status is ACCEPT
    orch.check_invariants()

"""The global bookkeeping of committed states (the reference's 8.2), for task and flow runs.

Each test commits states by hand, stamped at exact times, and applies
:func:`apply_bookkeeping` directly, as the engine does on every commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import attrs
import pytest

from orchestrator import (
    Completed,
    Failed,
    FlowRun,
    Pending,
    Running,
    Scheduled,
    State,
    StateDetails,
    StateType,
    TaskRun,
    VirtualClock,
)
from orchestrator._rules._bookkeeping import apply_bookkeeping, details_for_run
from tests.helpers import TERMINAL, make_flow_run, make_task_run, state_of, type_id

NOW = VirtualClock().now()


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def stamped(state: State, seconds: float = 0.0) -> State:
    """``state`` as committed ``seconds`` after NOW."""
    return attrs.evolve(state, id=uuid.uuid4(), timestamp=at(seconds))


@pytest.fixture(params=["task", "flow"])
def run(request: pytest.FixtureRequest) -> TaskRun | FlowRun:
    return make_task_run() if request.param == "task" else make_flow_run()


def commit(run: TaskRun | FlowRun, state: State, seconds: float = 0.0) -> State:
    new = stamped(state, seconds)
    apply_bookkeeping(run, run.state, new)
    return new


@pytest.mark.parametrize("state_type", list(StateType), ids=type_id)
def test_the_committed_state_becomes_the_runs_state(
    run: TaskRun | FlowRun, state_type: StateType
) -> None:
    new = commit(run, state_of(state_type), 3)
    assert run.state is new
    assert (run.state_type, run.state_name, run.state_timestamp) == (
        state_type,
        new.name,
        at(3),
    )


def test_the_state_name_is_the_committed_states(run: TaskRun | FlowRun) -> None:
    commit(run, Scheduled(at(5), name="Later"))
    assert run.state_name == "Later"


def test_a_scheduled_state_sets_the_next_scheduled_start(run: TaskRun | FlowRun) -> None:
    commit(run, Scheduled(at(42)))
    assert (run.next_scheduled_start_time, run.start_time) == (at(42), None)


def test_leaving_scheduled_clears_the_next_scheduled_start(run: TaskRun | FlowRun) -> None:
    commit(run, Scheduled(at(42)))
    commit(run, Pending(), 1)
    assert (run.next_scheduled_start_time, run.start_time) == (None, None)


@pytest.mark.parametrize(
    ("first", "start_time"),
    [
        pytest.param(Pending(), None, id="PENDING"),
        pytest.param(Running(), at(7), id="RUNNING"),
        pytest.param(Completed(), at(7), id="COMPLETED"),
    ],
)
def test_the_expected_start_is_the_first_states_time(
    run: TaskRun | FlowRun, first: State, start_time: datetime | None
) -> None:
    commit(run, first, 7)
    assert (run.expected_start_time, run.start_time) == (at(7), start_time)


def test_the_expected_start_of_a_scheduled_run_is_its_scheduled_time(
    run: TaskRun | FlowRun,
) -> None:
    in_ten_days = NOW + timedelta(days=10)
    commit(run, Scheduled(in_ten_days))
    commit(run, Scheduled(at(60)), 1)
    assert run.expected_start_time == in_ten_days


def test_the_start_time_is_the_first_entry_into_running(run: TaskRun | FlowRun) -> None:
    commit(run, Pending())
    commit(run, Running(), 2)
    commit(run, Failed(), 3)
    commit(run, Running(), 4)
    assert run.start_time == at(2)


@pytest.mark.parametrize(("before", "after"), [(0, 1), (41, 42)])
def test_each_entry_into_running_counts(run: TaskRun | FlowRun, before: int, after: int) -> None:
    commit(run, Pending())
    run.run_count = before
    commit(run, Running(), 1)
    assert run.run_count == after
    commit(run, Running(), 2)
    assert run.run_count == after + 1


def test_running_without_counting(run: TaskRun | FlowRun) -> None:
    apply_bookkeeping(run, None, stamped(Running()), count_runs=False)
    assert (run.run_count, run.start_time) == (0, NOW)


def test_time_spent_running_is_summed(run: TaskRun | FlowRun) -> None:
    commit(run, Running(), -42)
    commit(run, Completed())
    assert run.total_run_time == 42.0
    commit(run, Running(), 10)
    commit(run, Failed(), 10.5)
    assert run.total_run_time == 42.5


def test_time_not_spent_running_is_not_counted(run: TaskRun | FlowRun) -> None:
    commit(run, Pending(), -42)
    commit(run, Completed())
    assert run.total_run_time == 0.0


@pytest.mark.parametrize("final_type", TERMINAL, ids=type_id)
def test_a_final_state_sets_the_end_time(run: TaskRun | FlowRun, final_type: StateType) -> None:
    commit(run, Running(), 1)
    commit(run, state_of(final_type), 9)
    assert (run.start_time, run.end_time) == (at(1), at(9))


def test_a_run_that_ends_without_running_starts_when_it_ends(run: TaskRun | FlowRun) -> None:
    commit(run, Pending())
    commit(run, Completed(), 4)
    assert (run.start_time, run.end_time) == (at(4), at(4))


@pytest.mark.parametrize("final_type", TERMINAL, ids=type_id)
def test_leaving_a_final_state_clears_the_end_time(
    run: TaskRun | FlowRun, final_type: StateType
) -> None:
    commit(run, Running())
    commit(run, state_of(final_type), 1)
    commit(run, Running(), 2)
    assert run.end_time is None
    commit(run, Completed(), 3)
    assert run.end_time == at(3)


def test_final_to_final_keeps_the_end_time(run: TaskRun | FlowRun) -> None:
    commit(run, Running())
    commit(run, Completed(), 1)
    commit(run, Failed(), 2)
    assert run.end_time == at(1)


# -- state details ------------------------------------------------------------------------------


def test_task_run_details_carry_the_runs_ids() -> None:
    flow_run = make_flow_run()
    run = make_task_run(flow_run=flow_run)
    details = details_for_run(run, StateDetails(cache_key="k"))
    assert (details.flow_run_id, details.task_run_id, details.cache_key) == (
        flow_run.id,
        run.id,
        "k",
    )
    assert details_for_run(run, details) is details


def test_flow_run_details_carry_the_parent_task_run() -> None:
    parent = uuid.uuid4()
    subflow = make_flow_run(parent_task_run_id=parent)
    details = details_for_run(subflow, StateDetails())
    assert (details.flow_run_id, details.task_run_id) == (subflow.id, parent)
    plain = make_flow_run()
    assert details_for_run(plain, StateDetails()).task_run_id is None

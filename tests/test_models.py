"""Records: TaskRunPolicy validation and the derived run-time fields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from orchestrator import InvalidArgument, State, StateType, TaskRun, TaskRunPolicy

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_policy_accepts_numbers_and_lists() -> None:
    assert TaskRunPolicy(retries=2, retry_delay=5).retry_delay == 5.0
    assert TaskRunPolicy(retry_delay=[1, 2.5]).retry_delay == (1.0, 2.5)
    assert TaskRunPolicy(retry_delay=[0] * 50).retry_delay == (0.0,) * 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retry_delay": [1] * 51}, "more than 50 retry delays"),
        # Issue 9: delays and the jitter factor must be finite; messages say so.
        ({"retry_jitter_factor": -0.1}, "retry_jitter_factor must be None or a finite number >= 0"),
        ({"retries": -1}, "retries must be None or an integer >= 0"),
        ({"retry_delay": -3}, "retry_delay must be a finite number of seconds >= 0"),
        ({"retry_delay": [1, -2]}, "every delay in retry_delay must be a finite number of seconds"),
        ({"retry_delay": True}, "retry_delay must be a finite number of seconds >= 0"),
        ({"retry_delay": float("nan")}, "retry_delay must be a finite number of seconds >= 0"),
        ({"retry_delay": [float("inf")]}, "every delay in retry_delay must be a finite number"),
        ({"retry_jitter_factor": float("nan")}, "retry_jitter_factor must be None or a finite"),
    ],
)
def test_policy_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        TaskRunPolicy(**kwargs)  # type: ignore[arg-type]


def make_run(**fields: object) -> TaskRun:
    return TaskRun(
        id=uuid.UUID(int=1),
        name="r",
        task_key="k",
        dynamic_key="0",
        created=T0,
        updated=T0,
        **fields,  # type: ignore[arg-type]
    )


def test_estimated_run_time_counts_the_current_running_state() -> None:
    running = State(type=StateType.RUNNING, timestamp=T0)
    run = make_run(state=running, total_run_time=10.0)
    assert run.estimated_run_time(T0 + timedelta(seconds=5)) == 15.0
    done = attrs.evolve(running, type=StateType.COMPLETED)
    run.state = done
    assert run.estimated_run_time(T0 + timedelta(seconds=5)) == 10.0


def test_estimated_start_time_delta() -> None:
    later = T0 + timedelta(seconds=30)
    late = make_run(expected_start_time=T0, start_time=later)
    assert late.estimated_start_time_delta(later) == 30
    early = make_run(expected_start_time=later, start_time=T0)
    assert early.estimated_start_time_delta(later) == 0
    waiting = make_run(expected_start_time=T0, state=State(type=StateType.SCHEDULED, timestamp=T0))
    assert waiting.estimated_start_time_delta(T0 + timedelta(seconds=7)) == 7
    final = make_run(expected_start_time=T0, state=State(type=StateType.CANCELLED, timestamp=T0))
    assert final.estimated_start_time_delta(T0 + timedelta(seconds=7)) == 0
    assert make_run().estimated_start_time_delta(T0) == 0


def test_denormalised_state_fields_follow_the_state() -> None:
    run = make_run()
    assert (run.state_type, run.state_name, run.state_timestamp, run.state_id) == (
        None,
        None,
        None,
        None,
    )
    state = State(type=StateType.PENDING, timestamp=T0, id=uuid.UUID(int=9))
    run.state = state
    assert (run.state_type, run.state_name, run.state_timestamp, run.state_id) == (
        StateType.PENDING,
        "Pending",
        T0,
        uuid.UUID(int=9),
    )

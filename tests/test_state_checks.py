"""Proposed states are checked field by field before any rule sees them.

Every public call that takes a state from its caller refuses a malformed one with an
``InvalidArgument`` naming the field (``state.details.scheduled_time``), and changes
nothing: no run, no state, no decision, no index entry.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateDetails,
    StateType,
    VirtualClock,
)
from orchestrator._core._state_checks import CHECKED_DETAIL_FIELDS, check_state

START = datetime(2026, 1, 1, tzinfo=UTC)
AWARE = "an aware datetime, such as datetime(2026, 1, 1, tzinfo=UTC)"


@pytest.fixture
def orch() -> Orchestrator:
    return Orchestrator(clock=VirtualClock(START), seed=7)


def totals(orch: Orchestrator) -> tuple[object, ...]:
    """Counts a refused call must leave as they were."""
    stats = orch.statistics()
    return (stats.task_runs, stats.flow_runs, stats.decisions, orch.task_queues.statistics())


# -- construction refuses what would fail obscurely later --------------------------------------


def test_a_state_type_given_as_a_string_is_refused_at_construction() -> None:
    with pytest.raises(InvalidArgument) as caught:
        State(type="RUNNING")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "type must be a StateType, such as StateType.RUNNING, got 'RUNNING'"
    )
    with pytest.raises(InvalidArgument, match="type must be a StateType"):
        State(type="RUNNING", name="Running")  # type: ignore[arg-type]


def test_details_that_are_not_state_details_are_refused_at_construction() -> None:
    with pytest.raises(InvalidArgument) as caught:
        State(type=StateType.RUNNING, details="x")  # type: ignore[arg-type]
    assert str(caught.value) == "details must be a StateDetails, such as StateDetails(), got 'x'"
    with pytest.raises(InvalidArgument, match="details must be a StateDetails"):
        Running().copy(details={"cache_key": "k"})


# -- the check, field by field -------------------------------------------------------------------


def test_every_field_of_state_details_is_checked() -> None:
    fields = [field.name for field in attrs.fields(StateDetails)]
    assert sorted(CHECKED_DETAIL_FIELDS) == sorted(fields)
    assert len(set(CHECKED_DETAIL_FIELDS)) == len(CHECKED_DETAIL_FIELDS)


@pytest.mark.parametrize("field", [field.name for field in attrs.fields(StateDetails)])
def test_a_wrong_type_in_any_detail_is_refused_by_name(field: str) -> None:
    junk: dict[str, Any] = {field: b"junk"}
    state = Running(details=StateDetails(**junk))
    with pytest.raises(InvalidArgument) as caught:
        check_state(state)
    assert str(caught.value).startswith(f"state.details.{field} must be ")
    assert str(caught.value).endswith("got b'junk'")


BAD_STATES: list[tuple[State, str]] = [
    (
        Scheduled(scheduled_time="later"),  # type: ignore[arg-type]
        f"state.details.scheduled_time must be {AWARE}, got 'later'",
    ),
    (
        Scheduled(scheduled_time=datetime(2026, 1, 2)),
        f"state.details.scheduled_time must be {AWARE}, got datetime.datetime(2026, 1, 2, 0, 0) "
        "(it has no timezone; pass one with a tzinfo)",
    ),
    (
        Running(details=StateDetails(cache_expiration="tomorrow")),  # type: ignore[arg-type]
        f"state.details.cache_expiration must be {AWARE}, got 'tomorrow'",
    ),
    (
        Running(details=StateDetails(pause_timeout=START.date())),  # type: ignore[arg-type]
        f"state.details.pause_timeout must be {AWARE}, got datetime.date(2026, 1, 1)",
    ),
    (Running(timestamp="now"), f"state.timestamp must be {AWARE}, got 'now'"),  # type: ignore[arg-type]
    (
        Running(timestamp=datetime(2026, 1, 1)),
        f"state.timestamp must be {AWARE}, got datetime.datetime(2026, 1, 1, 0, 0) "
        "(it has no timezone; pass one with a tzinfo)",
    ),
    (Running(name=""), "state.name must be a non-empty string, got ''"),
    (Running(name=5), "state.name must be a non-empty string, got 5"),  # type: ignore[arg-type]
    (Running(message=5), "state.message must be None or a string, got 5"),  # type: ignore[arg-type]
    (Running().copy(id="abc"), "state.id must be None or a UUID, got 'abc'"),
    (
        Running(details=StateDetails(task_run_id="1234")),  # type: ignore[arg-type]
        "state.details.task_run_id must be None or a UUID, got '1234'",
    ),
    (
        Running(details=StateDetails(cache_key=123)),  # type: ignore[arg-type]
        "state.details.cache_key must be None or a string, got 123",
    ),
    (
        Scheduled(deferred="no"),  # type: ignore[arg-type]
        "state.details.deferred must be True or False, got 'no'",
    ),
    (
        Running(details=StateDetails(retriable=0)),  # type: ignore[arg-type]
        "state.details.retriable must be None, True or False, got 0",
    ),
    (
        Running(details=StateDetails(run_input_keyset={"a": 1})),  # type: ignore[dict-item]
        "state.details.run_input_keyset must be None or a mapping of strings to strings, "
        "got {'a': 1} at 'a'",
    ),
    (
        Running(details=StateDetails(run_input_keyset=["a"])),  # type: ignore[arg-type]
        "state.details.run_input_keyset must be None or a mapping of strings to strings, got ['a']",
    ),
]


@pytest.mark.parametrize(("state", "message"), BAD_STATES)
def test_malformed_proposals_are_refused_naming_the_field(state: State, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_state(state)
    assert str(caught.value) == message


def test_a_state_whose_type_was_forced_in_is_refused() -> None:
    state = Running()
    object.__setattr__(state, "type", "RUNNING")
    with pytest.raises(InvalidArgument, match=r"^state\.type must be a StateType"):
        check_state(state)


def test_well_formed_details_of_every_kind_pass() -> None:
    class Key(str):
        pass

    class Moment(datetime):
        pass

    plus_two = timezone(timedelta(hours=2))
    details = StateDetails(
        flow_run_id=uuid.uuid4(),
        task_run_id=uuid.uuid4(),
        child_flow_run_id=uuid.uuid4(),
        scheduled_time=datetime(2026, 1, 1, 2, tzinfo=plus_two),
        cache_key=Key("k"),
        cache_expiration=Moment(2027, 1, 1, tzinfo=UTC),
        refresh_cache=True,
        deferred=True,
        untrackable_result=True,
        pause_timeout=START,
        pause_reschedule=True,
        pause_key="p",
        run_input_keyset={"a": "b"},
        retriable=False,
        transition_id=uuid.uuid4(),
        task_parameters_id=uuid.uuid4(),
        traceparent="00-abc",
        deployment_concurrency_lease_id=uuid.uuid4(),
    )
    state = Scheduled(details=details, timestamp=START, name="Later")
    assert check_state(state) is state
    assert check_state(Pending(message="m")) is not None


# -- every entry point refuses before changing anything -----------------------------------------


@pytest.mark.parametrize(("state", "message"), BAD_STATES)
def test_set_task_run_state_refuses_and_changes_nothing(
    orch: Orchestrator, state: State, message: str
) -> None:
    other = orch.create_task_run("k", state=Scheduled(START + timedelta(hours=1))).run
    run = orch.create_task_run("k").run
    before = totals(orch)
    with pytest.raises(InvalidArgument) as caught:
        orch.set_task_run_state(run.id, state)
    assert str(caught.value) == message
    with pytest.raises(InvalidArgument):
        orch.set_task_run_state(run.id, state, force=True)
    assert totals(orch) == before
    assert [s.name for s in orch.read_task_run_states(run.id)] == ["Pending"]
    assert other.state_name == "Scheduled"
    orch.check_invariants()
    orch.delete_task_run(run.id)
    orch.check_invariants()


@pytest.mark.parametrize(("state", "message"), BAD_STATES[:4])
def test_set_flow_run_state_refuses_and_changes_nothing(
    orch: Orchestrator, state: State, message: str
) -> None:
    flow = orch.create_flow("f")
    orch.create_flow_run(flow.id, state=Scheduled(START + timedelta(hours=1)))
    run = orch.create_flow_run(flow.id)
    before = totals(orch)
    with pytest.raises(InvalidArgument) as caught:
        orch.set_flow_run_state(run.id, state)
    assert str(caught.value) == message
    assert totals(orch) == before
    assert [s.name for s in orch.read_flow_run_states(run.id)] == ["Pending"]
    orch.check_invariants()
    orch.delete_flow_run(run.id)
    orch.check_invariants()


def test_set_task_run_state_if_checks_both_states(orch: Orchestrator) -> None:
    run = orch.create_task_run("k").run
    current = run.state
    assert current is not None
    with pytest.raises(InvalidArgument, match=r"^state\.details\.scheduled_time must be an aware"):
        orch.set_task_run_state_if(run.id, Scheduled(datetime(2026, 2, 1)), current=current)
    with pytest.raises(InvalidArgument) as caught:
        orch.set_task_run_state_if(run.id, Running(), current="Pending")  # type: ignore[arg-type]
    assert str(caught.value) == "current must be a committed State (run.state), got 'Pending'"
    assert [s.name for s in orch.read_task_run_states(run.id)] == ["Pending"]


def test_creations_refuse_a_malformed_initial_state(orch: Orchestrator) -> None:
    orch.create_task_run("k", state=Scheduled(START + timedelta(hours=1)))
    flow = orch.create_flow("f")
    orch.create_flow_run(flow.id, state=Scheduled(START + timedelta(hours=1)))
    pool = orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow.id, "d", work_pool_name=pool.name)
    before = totals(orch)
    tomorrow: Any = "tomorrow"
    expected = f"state.details.scheduled_time must be {AWARE}, got 'tomorrow'"
    with pytest.raises(InvalidArgument) as caught:
        orch.create_task_run("k", state=Scheduled(scheduled_time=tomorrow))
    assert str(caught.value) == expected
    with pytest.raises(InvalidArgument) as caught:
        orch.create_flow_run(flow.id, state=Scheduled(scheduled_time=tomorrow))
    assert str(caught.value) == expected
    with pytest.raises(InvalidArgument) as caught:
        orch.create_flow_run_from_deployment(
            deployment.id, state=Scheduled(scheduled_time=datetime(2026, 1, 2))
        )
    assert "no timezone" in str(caught.value)
    assert totals(orch) == before
    assert orch.get_scheduled_flow_runs(pool.name, scheduled_before=START + timedelta(days=9)) == []
    orch.check_invariants()


def test_a_well_formed_aware_non_utc_time_is_committed(orch: Orchestrator) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 1, 1, 5, tzinfo=plus_two)  # 03:00 UTC
    run = orch.create_task_run("k", state=Scheduled(START + timedelta(hours=4))).run
    result = orch.set_task_run_state(run.id, Scheduled(local), force=True)
    assert result.status is SetStateStatus.ACCEPT
    assert run.next_scheduled_start_time == START + timedelta(hours=3)
    orch.check_invariants()

"""States: types, names, predicates and constructors."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from orchestrator import (
    AwaitingRetry,
    Cached,
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    Late,
    Paused,
    Pending,
    Retrying,
    Running,
    Scheduled,
    State,
    StateDetails,
    StateType,
    Suspended,
    TimedOut,
)
from orchestrator._core._states import TERMINAL_TYPES, default_state_name

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_terminal_set_is_exactly_the_four_final_types() -> None:
    assert {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED} == (
        TERMINAL_TYPES
    )
    assert [t for t in StateType if t.is_terminal] == [
        StateType.COMPLETED,
        StateType.FAILED,
        StateType.CANCELLED,
        StateType.CRASHED,
    ]


@pytest.mark.parametrize(
    ("state_type", "name"),
    [
        (StateType.SCHEDULED, "Scheduled"),
        (StateType.CANCELLING, "Cancelling"),
        (StateType.COMPLETED, "Completed"),
    ],
)
def test_default_names(state_type: StateType, name: str) -> None:
    assert default_state_name(state_type) == name
    assert State(type=state_type).name == name


@pytest.mark.parametrize(
    ("state", "state_type", "name"),
    [
        (Scheduled(), StateType.SCHEDULED, "Scheduled"),
        (AwaitingRetry(T), StateType.SCHEDULED, "AwaitingRetry"),
        (Late(), StateType.SCHEDULED, "Late"),
        (Pending(), StateType.PENDING, "Pending"),
        (Pending(name="Submitting"), StateType.PENDING, "Submitting"),
        (Running(), StateType.RUNNING, "Running"),
        (Retrying(), StateType.RUNNING, "Retrying"),
        (Completed(), StateType.COMPLETED, "Completed"),
        (Cached(), StateType.COMPLETED, "Cached"),
        (Failed(), StateType.FAILED, "Failed"),
        (TimedOut(), StateType.FAILED, "TimedOut"),
        (Crashed(), StateType.CRASHED, "Crashed"),
        (Cancelled(), StateType.CANCELLED, "Cancelled"),
        (Cancelling(), StateType.CANCELLING, "Cancelling"),
        (Paused(), StateType.PAUSED, "Paused"),
        (Suspended(), StateType.PAUSED, "Suspended"),
    ],
    ids=lambda v: v.name if isinstance(v, StateType) else None,
)
def test_constructors(state: State, state_type: StateType, name: str) -> None:
    assert state.type is state_type
    assert state.name == name
    assert state.id is None
    assert state.timestamp is None


def test_predicates_match_exactly_one_type() -> None:
    predicates = {
        StateType.SCHEDULED: "is_scheduled",
        StateType.PENDING: "is_pending",
        StateType.RUNNING: "is_running",
        StateType.COMPLETED: "is_completed",
        StateType.FAILED: "is_failed",
        StateType.CRASHED: "is_crashed",
        StateType.CANCELLED: "is_cancelled",
        StateType.CANCELLING: "is_cancelling",
        StateType.PAUSED: "is_paused",
    }
    for state_type in StateType:
        state = State(type=state_type)
        truths = {t for t, method in predicates.items() if getattr(state, method)()}
        assert truths == {state_type}
        assert state.is_final() == (state_type in TERMINAL_TYPES)


def test_scheduled_details() -> None:
    state = Scheduled(T, deferred=True)
    assert state.details.scheduled_time == T
    assert state.details.deferred is True
    assert Scheduled().details == StateDetails()


def test_paused_details() -> None:
    state = Suspended(pause_timeout=T, pause_key="k")
    assert state.details.pause_timeout == T
    assert state.details.pause_reschedule is True
    assert state.details.pause_key == "k"


def test_states_are_immutable_and_copy_is_fresh() -> None:
    state = attrs.evolve(Completed(data=3), timestamp=T)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        state.name = "x"  # type: ignore[misc]
    copy = state.copy(name="Cached")
    assert copy.timestamp is None
    assert copy.id is None
    assert copy.data == 3
    assert copy.name == "Cached"


def test_has_result_accepts_any_data() -> None:
    assert Completed(data=0).has_result
    assert Completed(data="x").has_result
    assert not Completed().has_result

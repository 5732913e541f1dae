"""The journal's codec and serializers: every record and value comes back as it went in.

Same types all the way down (a tuple stays a tuple, a frozenset a frozenset, a datetime
keeps its zone), a task run's drawn key stays drawn, a value with no tag goes through
the serializer, and a value the serializer refuses is named by where it was.
"""

from __future__ import annotations

import decimal
import fractions
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orchestrator
from orchestrator._core._drawn_keys import DRAWN_KEY
from orchestrator._core._models import FlowRun, TaskRun, TaskRunPolicy, has_drawn_key
from orchestrator._core._state_record import State, StateDetails, StateType
from orchestrator._journal._codec import Codec
from orchestrator._journal._errors import (
    JournalError,
    JournalSerializationError,
)
from orchestrator._journal._serializers import JsonSerializer, PickleSerializer

# -- strategies -----------------------------------------------------------------------------
ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone.min])
times = st.datetimes(timezones=ZONES)
aware = st.datetimes(timezones=st.just(UTC))
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.uuids()
    | times
    | st.timedeltas()
    | st.binary(max_size=8)  # these three have no tag: the serializer stores them
    | st.decimals(allow_nan=False)
    | st.fractions()
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.frozensets(hashables, max_size=4)
        | st.sets(hashables, max_size=4)
    ),
    max_leaves=12,
)
maybe_ids = st.none() | st.uuids()
details = st.builds(
    StateDetails,
    flow_run_id=maybe_ids,
    task_run_id=maybe_ids,
    scheduled_time=st.none() | aware,
    cache_key=st.none() | st.text(max_size=8),
    cache_expiration=st.none() | aware,
    refresh_cache=st.none() | st.booleans(),
    deferred=st.booleans(),
    run_input_keyset=st.none() | st.dictionaries(st.text(max_size=4), st.text(max_size=4)),
    retriable=st.none() | st.booleans(),
    task_parameters_id=maybe_ids,
)
states = st.builds(
    State,
    type=st.sampled_from(StateType),
    name=st.text(max_size=10),
    timestamp=st.none() | aware,
    message=st.none() | st.text(max_size=10),
    data=values,
    details=details,
    id=maybe_ids,
)
task_runs = st.builds(
    TaskRun,
    id=st.uuids(),
    name=st.text(max_size=10),
    task_key=st.text(max_size=10),
    dynamic_key=st.just(DRAWN_KEY) | st.text(max_size=10),
    flow_run_id=maybe_ids,
    empirical_policy=st.builds(
        TaskRunPolicy,
        retries=st.none() | st.integers(0, 5),
        retry_delay=st.none() | st.integers(0, 60),
    ),
    tags=st.frozensets(st.text(max_size=5), max_size=3),
    labels=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    state=st.none() | states,
    run_count=st.integers(0, 10),
    start_time=st.none() | aware,
    total_run_time=st.floats(0, 1e6),
    created=aware,
    updated=aware,
)


def same(left: Any, right: Any) -> bool:
    """Equal, and of the same types all the way down (``1 == 1.0 == True`` is not enough)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, datetime):
        return bool(left == right and left.tzinfo == right.tzinfo)
    return bool(left == right)


def fields(record: Any) -> dict[str, Any]:
    """A record's fields as its class keeps them (a drawn key as the marker)."""
    state: dict[str, Any] = record.__getstate__()
    if isinstance(record, TaskRun) and has_drawn_key(record):
        state["dynamic_key"] = DRAWN_KEY
    return state


# -- the codec ------------------------------------------------------------------------------
@settings(deadline=None)
@given(values)
def test_a_value_comes_back_equal_and_of_the_same_types(value: Any) -> None:
    codec = Codec()
    assert same(codec.decode(codec.encode(value)), value)


@settings(deadline=None)
@given(states)
def test_a_state_with_details_comes_back_equal(state: State) -> None:
    codec = Codec()
    back = codec.decode(codec.encode(state))
    assert back == state
    assert back.id == state.id
    assert back.details == state.details


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(task_runs)
def test_a_task_run_comes_back_with_every_field_and_its_drawn_key(run: TaskRun) -> None:
    codec = Codec()
    back = codec.decode(codec.encode(run))
    assert type(back) is TaskRun
    assert has_drawn_key(back) == has_drawn_key(run)
    assert back.dynamic_key == run.dynamic_key
    assert fields(back) == fields(run)


def test_a_flow_run_round_trips() -> None:
    codec = Codec()
    now = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    run = FlowRun(
        id=uuid.uuid4(),
        name="nightly",
        flow_id=uuid.uuid4(),
        parameters={"x": (1, 2.5), "when": now},
        created=now,
        updated=now,
        inputs={"approve": True},
    )
    back = codec.decode(codec.encode(run))
    assert fields(back) == fields(run)


@pytest.mark.parametrize(
    "value",
    [
        decimal.Decimal("1.10"),
        fractions.Fraction(1, 3),
        b"\x00bytes",
        complex(1, 2),
        date(2026, 1, 1),
        datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Paris")),
        {"nested": [decimal.Decimal("2")]},
    ],
)
def test_a_value_with_no_tag_goes_through_the_serializer(value: Any) -> None:
    codec = Codec(PickleSerializer())
    text = codec.encode(value)
    assert '"$v"' in text
    back = codec.decode(text)
    assert same(back, value)
    if isinstance(value, datetime):
        assert back.tzinfo == value.tzinfo  # the named zone, not a fixed offset


def test_an_unserialisable_value_names_where_it_was_and_what_it_is() -> None:
    codec = Codec()
    state = State(type=StateType.COMPLETED, name="Completed", data={"rows": [1, lambda: 2]})
    with pytest.raises(JournalSerializationError) as caught:
        codec.encode(state, where="the result of task run 42")
    error = caught.value
    assert isinstance(error, TypeError)
    assert isinstance(error, JournalError)
    assert isinstance(error, orchestrator.OrchestratorError)
    assert "the result of task run 42 at .data['rows'][1]" in str(error)
    assert error.value_type == "builtins.function"


def test_the_json_serializer_refuses_what_json_cannot_say() -> None:
    codec = Codec(JsonSerializer())
    assert codec.decode(codec.encode({"a": 1})) == {"a": 1}
    with pytest.raises(JournalSerializationError, match=r"decimal\.Decimal"):
        codec.encode({"price": decimal.Decimal("1.5")})
    with pytest.raises(JournalSerializationError):
        codec.encode(b"bytes")


def test_the_json_serializer_keeps_json_values() -> None:
    serializer = JsonSerializer()
    value = {"a": [1, 2.5, None, True, "x"]}
    assert serializer.loads(serializer.dumps(value)) == value


def test_a_record_of_an_unknown_class_or_tag_is_refused_when_decoded() -> None:
    codec = Codec()
    with pytest.raises(ValueError, match="unknown class"):
        codec.decode('{"$a": "Nope", "f": {}}')
    with pytest.raises(ValueError, match="unknown tag"):
        codec.decode('{"$zz": 1}')
    with pytest.raises(ValueError, match="do not match"):
        codec.decode('{"$a": "StateDetails", "f": {"color": 1}}')

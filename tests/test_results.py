"""The result store and the task-parameter helpers."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from orchestrator import (
    InvalidArgument,
    ObjectNotFound,
    Scheduled,
    StateDetails,
    TaskRun,
    VirtualClock,
)
from orchestrator._core._tasks import task
from orchestrator._store._results import (
    ResultStore,
    ResultStoreStatistics,
    parameters_key,
    read_parameters,
    should_try_to_read_parameters,
    store_parameters,
)

PARAMS_ID = uuid.UUID(int=0xABC)


def make_task_run(**fields: Any) -> TaskRun:
    now = VirtualClock().now()
    return TaskRun(
        id=uuid.UUID(int=1),
        name="r",
        task_key="k",
        dynamic_key="0",
        created=now,
        updated=now,
        **fields,
    )


def test_write_read_exists_delete() -> None:
    store = ResultStore()
    value = object()
    assert not store.exists("k")
    store.write("k", value)
    assert store.exists("k")
    assert "k" in store
    assert len(store) == 1
    assert store.read("k") is value  # kept as the very object, not a copy
    store.write("k", 2)
    assert store.read("k") == 2
    store.delete("k")
    assert not store.exists("k")
    assert len(store) == 0


def test_missing_key_is_a_clear_key_error() -> None:
    store = ResultStore()
    with pytest.raises(ObjectNotFound) as info:
        store.read("nope")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "result nope was not found: it was never written, or it was deleted"
    with pytest.raises(ObjectNotFound, match="result nope was not found"):
        store.delete("nope")
    store.delete("nope", missing_ok=True)
    assert store.statistics().deletes == 0


@pytest.mark.parametrize("key", ["", 1, None, b"k"])
def test_keys_must_be_non_empty_strings(key: object) -> None:
    store = ResultStore()
    with pytest.raises(InvalidArgument, match="non-empty string"):
        store.write(key, 1)  # type: ignore[arg-type]
    assert len(store) == 0


def test_statistics_count_entries_and_operations() -> None:
    store = ResultStore()
    store.write("a", 1)
    store.write("b", 2)
    store.write("a", 3)
    store.read("a")
    with pytest.raises(ObjectNotFound):
        store.read("missing")  # a failed read is not counted
    store.delete("b")
    assert store.statistics() == ResultStoreStatistics(entries=1, writes=3, reads=1, deletes=1)
    assert repr(store) == "<ResultStore entries=1>"


def test_writes_from_many_threads_are_all_counted() -> None:
    store = ResultStore()

    def write(offset: int) -> None:
        for i in range(1000):
            store.write(f"{offset}-{i}", i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.statistics() == ResultStoreStatistics(
        entries=4000, writes=4000, reads=0, deletes=0
    )


def test_parameters_round_trip_under_their_own_key() -> None:
    store = ResultStore()
    payload = [1, 2]
    params = {"x": 1, "items": payload}
    store_parameters(store, PARAMS_ID, params)
    assert parameters_key(PARAMS_ID) == f"parameters/{PARAMS_ID}"
    assert store.exists(f"parameters/{PARAMS_ID}")
    params["x"] = 99  # the caller's dict is copied...
    read = read_parameters(store, PARAMS_ID)
    assert read == {"x": 1, "items": [1, 2]}
    assert read["items"] is payload  # ...but values are kept by reference
    read["x"] = 5  # the reader's dict is its own
    assert read_parameters(store, PARAMS_ID) == {"x": 1, "items": [1, 2]}


def test_reading_missing_parameters_names_the_identifier() -> None:
    with pytest.raises(ObjectNotFound) as info:
        read_parameters(ResultStore(), PARAMS_ID)
    assert str(info.value) == (
        f"task parameters {PARAMS_ID} was not found: "
        "they were never stored, or were deleted with their run"
    )


def test_reading_something_that_is_not_parameters_is_refused() -> None:
    store = ResultStore()
    store.write(parameters_key(PARAMS_ID), "not a dict")
    with pytest.raises(InvalidArgument, match="is not a parameters mapping: 'not a dict'"):
        read_parameters(store, PARAMS_ID)


@pytest.mark.parametrize(
    ("identifier", "parameters", "message"),
    [
        ("not-a-uuid", {}, "identifier must be a UUID"),
        (PARAMS_ID, [("x", 1)], "parameters must be a mapping"),
        (PARAMS_ID, {1: "x"}, "parameter names must be strings, got 1"),
    ],
)
def test_store_parameters_refuses_bad_input_and_stores_nothing(
    identifier: object, parameters: object, message: str
) -> None:
    store = ResultStore()
    with pytest.raises(InvalidArgument, match=message):
        store_parameters(store, identifier, parameters)  # type: ignore[arg-type]
    assert len(store) == 0


def test_read_parameters_refuses_a_non_uuid() -> None:
    with pytest.raises(InvalidArgument, match="identifier must be a UUID, got 'x'"):
        read_parameters(ResultStore(), "x")  # type: ignore[arg-type]


@task
def takes_two(x: int, y: int = 0) -> int:
    return x + y


@task
def takes_none() -> int:
    return 1


def test_should_read_parameters_when_the_task_takes_them_and_the_state_has_an_id() -> None:
    with_id = make_task_run(
        state=Scheduled(deferred=True, details=StateDetails(task_parameters_id=PARAMS_ID))
    )
    without_id = make_task_run(state=Scheduled(deferred=True))
    no_state = make_task_run()
    assert should_try_to_read_parameters(takes_two, with_id) is True
    assert should_try_to_read_parameters(takes_two, without_id) is False
    assert should_try_to_read_parameters(takes_two, no_state) is False
    assert should_try_to_read_parameters(takes_none, with_id) is False

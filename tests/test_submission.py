"""Submission: a call of a task becomes a deferred Scheduled run with stored parameters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from orchestrator import (
    InvalidArgument,
    NoFlowRunning,
    QueueFull,
    StateType,
    TaskRunPolicy,
    VirtualClock,
)
from orchestrator._core._tasks import task
from orchestrator._engine import _submission as submission
from orchestrator._engine._futures import TaskRunFuture
from orchestrator._engine._orchestrator import Orchestrator
from orchestrator._engine._submission import asubmit_task, submit_task
from orchestrator._store._results import read_parameters

T0 = VirtualClock().now()


@task(
    task_key="math.add",
    retries=2,
    retry_delay_seconds=[1, 5],
    tags=["math"],
    task_run_name="add-{x}-{y}",
    cache_key_fn=lambda params: f"add:{params['x']}:{params['y']}",
    cache_expiration=timedelta(hours=1),
)
def add(x: int, y: int = 10) -> int:
    return x + y


@task(task_key="ping")
def ping() -> str:
    return "pong"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock=clock, seed=7)


def assert_nothing_created(orch: Orchestrator) -> None:
    assert orch.count_task_runs() == 0
    assert len(orch.result_store) == 0
    assert len(orch.task_queues) == 0
    orch.check_invariants()


def test_submit_creates_a_deferred_scheduled_run(orch: Orchestrator) -> None:
    future = orch.submit(add, 1)
    assert isinstance(future, TaskRunFuture)
    run = orch.read_task_run(future.task_run_id)
    assert run.task_key == "math.add"
    assert run.dynamic_key == f"math.add-{run.id.hex}"
    assert run.flow_run_id is None
    assert run.name == "add-1-10"
    assert run.tags == frozenset({"math"})
    assert run.empirical_policy == TaskRunPolicy(retries=2, retry_delay=(1.0, 5.0))
    assert run.cache_key == "add:1:10"
    assert run.cache_expiration == T0 + timedelta(hours=1)
    state = run.state
    assert state is not None
    assert state.type is StateType.SCHEDULED
    assert state.name == "Scheduled"
    assert state.details.deferred is True
    assert state.details.scheduled_time == T0
    assert state.details.task_run_id == run.id
    assert orch.read_task_run_states(run.id) == [state]
    # The background policy queued it on its key.
    stats = orch.task_queues.statistics().queues["math.add"]
    assert (stats.scheduled, stats.retry) == (1, 0)
    orch.check_invariants()


def test_parameters_are_stored_under_the_states_parameters_id(orch: Orchestrator) -> None:
    future = orch.submit(add, 1, y=2)
    state = future.state
    parameters_id = state.details.task_parameters_id
    assert isinstance(parameters_id, uuid.UUID)
    assert read_parameters(orch.result_store, parameters_id) == {"x": 1, "y": 2}
    assert orch.result_store.exists(f"parameters/{parameters_id}")
    assert len(orch.result_store) == 1


def test_a_task_without_parameters_stores_nothing(orch: Orchestrator) -> None:
    future = orch.submit(ping)
    assert future.state.details.task_parameters_id is None
    assert len(orch.result_store) == 0
    run = orch.read_task_run(future.task_run_id)
    assert run.name == f"ping-{run.id.hex[:8]}"
    assert run.cache_key is None
    assert run.cache_expiration is None


def test_arguments_that_do_not_bind_raise_type_error_and_create_nothing(
    orch: Orchestrator,
) -> None:
    with pytest.raises(TypeError) as info:
        orch.submit(add, 1, 2, 3)  # type: ignore[call-overload]
    assert str(info.value) == "too many positional arguments"
    with pytest.raises(TypeError, match="missing a required argument: 'x'"):
        orch.submit(add)  # type: ignore[call-overload]
    assert_nothing_created(orch)


def test_a_full_queue_refuses_the_submission_and_leaves_nothing_behind(
    orch: Orchestrator,
) -> None:
    orch.configure_task_key("math.add", scheduled_size=1)
    first = orch.submit(add, 1)
    with pytest.raises(QueueFull, match=r"the scheduled queue of task key 'math\.add' is full"):
        orch.submit(add, 2)
    assert [r.id for r in orch.read_task_runs()] == [first.task_run_id]
    # Only the first run's parameters are stored.
    assert len(orch.result_store) == 1
    first_id = first.state.details.task_parameters_id
    assert first_id is not None
    assert orch.result_store.exists(f"parameters/{first_id}")
    orch.check_invariants()


def test_a_failing_creation_deletes_the_stored_parameters(
    orch: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        assert len(orch.result_store) == 1  # the parameters were stored first...
        raise RuntimeError("store is down")

    # The creation a submission makes (its arguments are checked already).
    monkeypatch.setattr(submission, "create_checked_task_run", refuse)
    with pytest.raises(RuntimeError, match="store is down"):
        orch.submit(add, 1)
    assert len(orch.result_store) == 0  # ...and removed again


def test_a_failing_creation_without_parameters_raises_as_is(
    orch: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("store is down")

    # The creation a submission makes (its arguments are checked already).
    monkeypatch.setattr(submission, "create_checked_task_run", refuse)
    with pytest.raises(RuntimeError, match="store is down"):
        orch.submit(ping)
    assert len(orch.result_store) == 0


def test_a_run_name_that_cannot_be_rendered_creates_nothing(orch: Orchestrator) -> None:
    named = task(task_key="named", task_run_name="job-{x.missing}")(lambda x: x)
    with pytest.raises(InvalidArgument, match=r"task_run_name 'job-\{x.missing\}' cannot be"):
        orch.submit(named, 1)
    assert_nothing_created(orch)


def test_a_cache_key_function_that_raises_creates_nothing(orch: Orchestrator) -> None:
    def broken(params: dict[str, Any]) -> str:
        raise LookupError("no key today")

    keyed = task(task_key="keyed", cache_key_fn=broken)(lambda x: x)
    with pytest.raises(InvalidArgument, match="cache key of task '<lambda>'") as caught:
        orch.submit(keyed, 1)
    assert isinstance(caught.value.__cause__, LookupError)  # the function's own error
    assert_nothing_created(orch)


def test_no_expiration_without_a_cache_key(orch: Orchestrator) -> None:
    declines = task(task_key="declines", cache_key_fn=lambda p: None, cache_expiration=60)(
        lambda x: x
    )
    run = orch.read_task_run(orch.submit(declines, 1).task_run_id)
    assert (run.cache_key, run.cache_expiration) == (None, None)
    forever = task(task_key="forever", cache_key_fn=lambda p: "k")(lambda x: x)
    run = orch.read_task_run(orch.submit(forever, 1).task_run_id)
    assert (run.cache_key, run.cache_expiration) == ("k", None)


def test_submitting_something_that_is_not_a_task(orch: Orchestrator) -> None:
    with pytest.raises(InvalidArgument, match="submit takes a task made with @task"):
        submit_task(orch, add.fn, (1,), {})  # type: ignore[arg-type]
    assert_nothing_created(orch)


def test_a_scheduled_time_in_the_future(orch: Orchestrator) -> None:
    later = T0 + timedelta(minutes=5)
    future = add.apply_async((1,), {"y": 3}, scheduled_time=later, orchestrator=orch)
    state = future.state
    assert state.details.scheduled_time == later
    assert orch.read_task_run(future.task_run_id).next_scheduled_start_time == later
    assert orch.read_task_run(future.task_run_id).expected_start_time == later
    assert orch.task_queues.next_due() == later
    parameters_id = state.details.task_parameters_id
    assert parameters_id is not None
    assert read_parameters(orch.result_store, parameters_id) == {"x": 1, "y": 3}


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (datetime(2026, 1, 1), "scheduled_time 2026-01-01T00:00:00 has no timezone"),
        ("2026-01-01", "scheduled_time must be an aware datetime or None"),
    ],
)
def test_a_bad_scheduled_time_creates_nothing(orch: Orchestrator, when: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        submit_task(orch, add, (1,), {}, scheduled_time=when)
    assert_nothing_created(orch)


def test_scheduled_time_in_another_timezone_is_stored_in_utc(orch: Orchestrator) -> None:
    from datetime import timezone

    plus_two = timezone(timedelta(hours=2))
    future = submit_task(
        orch, ping, (), {}, scheduled_time=datetime(2026, 1, 1, 2, 30, tzinfo=plus_two)
    )
    assert future.state.details.scheduled_time == datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


def test_delay_and_apply_async_use_the_current_orchestrator(orch: Orchestrator) -> None:
    with pytest.raises(RuntimeError, match="no current orchestrator"):
        add.delay(1)
    with orch:
        delayed = add.delay(1)
        applied = add.apply_async((3,))
    assert [delayed.orchestrator, applied.orchestrator] == [orch] * 2
    names = sorted(r.name for r in orch.read_task_runs())
    assert names == ["add-1-10", "add-3-10"]
    assert_nothing_more_than(orch, 2)


def test_submit_outside_a_flow_points_to_delay_and_creates_nothing(orch: Orchestrator) -> None:
    with orch, pytest.raises(NoFlowRunning, match=r"add\.delay\(\.\.\.\) for a background run"):
        add.submit(2)
    with orch, pytest.raises(NoFlowRunning, match=r"add\.map\(\) runs the task on a flow"):
        add.map([1, 2])
    assert_nothing_more_than(orch, 0)


def assert_nothing_more_than(orch: Orchestrator, runs: int) -> None:
    assert orch.count_task_runs() == runs
    assert len(orch.result_store) == runs
    orch.check_invariants()


def test_the_same_seed_gives_the_same_ids() -> None:
    first = Orchestrator(clock=VirtualClock(), seed=42).submit(add, 1)
    second = Orchestrator(clock=VirtualClock(), seed=42).submit(add, 1)
    assert first.task_run_id == second.task_run_id
    assert first.state.details.task_parameters_id == second.state.details.task_parameters_id


def test_with_options_copies_share_the_key_and_carry_their_options(orch: Orchestrator) -> None:
    tagged = add.with_options(tags=["other"], retries=0)
    run = orch.read_task_run(orch.submit(tagged, 1).task_run_id)
    assert run.task_key == "math.add"
    assert run.tags == frozenset({"other"})
    assert run.empirical_policy.retries == 0


# -- async submission ------------------------------------------------------------------------


async def test_asubmit_creates_at_once_when_there_is_room(orch: Orchestrator) -> None:
    future = await orch.asubmit(add, 1)
    assert future.state.name == "Scheduled"
    async with orch:
        second = await add.adelay(2)
    assert second.orchestrator is orch
    assert orch.count_task_runs() == 2


async def test_task_asubmit_is_a_deprecated_alias_of_adelay(orch: Orchestrator) -> None:
    async with orch:
        with pytest.warns(DeprecationWarning, match=r"use Task\.adelay\(\)"):
            future = await add.asubmit(5)
    assert (future.orchestrator, future.state.name, future.background) == (orch, "Scheduled", True)


async def test_asubmit_waits_for_room_instead_of_raising(orch: Orchestrator) -> None:
    orch.configure_task_key("math.add", scheduled_size=1)
    first = orch.submit(add, 1)
    submitted: list[TaskRunFuture[Any]] = []
    async with anyio.create_task_group() as group:

        async def submit() -> None:
            submitted.append(await asubmit_task(orch, add, (2,), {}))

        group.start_soon(submit)
        await anyio.wait_all_tasks_blocked()
        # Waiting, and nothing was created or stored meanwhile.
        assert submitted == []
        assert orch.count_task_runs() == 1
        assert len(orch.result_store) == 1
        # A worker takes the first run off the queue: room frees, the submission goes in.
        taken = orch.multi_queue(["math.add"]).get_nowait()
        assert taken.id == first.task_run_id
    assert len(submitted) == 1
    assert submitted[0].state.name == "Scheduled"
    assert orch.count_task_runs() == 2
    assert len(orch.result_store) == 2
    orch.check_invariants()


async def test_a_cancelled_asubmit_leaves_nothing_behind(orch: Orchestrator) -> None:
    orch.configure_task_key("math.add", scheduled_size=1)
    orch.submit(add, 1)
    async with anyio.create_task_group() as group:
        group.start_soon(asubmit_task, orch, add, (2,), {})
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    assert orch.count_task_runs() == 1
    assert len(orch.result_store) == 1
    stats = orch.task_queues.statistics().queues["math.add"]
    assert stats.waiting_for_room == 0
    orch.check_invariants()


async def test_asubmit_binds_before_waiting(orch: Orchestrator) -> None:
    orch.configure_task_key("math.add", scheduled_size=1)
    orch.submit(add, 1)
    with pytest.raises(TypeError, match="too many positional arguments"):
        await orch.asubmit(add, 1, 2, 3)  # type: ignore[call-overload]
    assert orch.count_task_runs() == 1

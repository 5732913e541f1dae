"""TaskRunFuture: live state, waiting woken by the engine, results and errors."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import anyio
import pytest

from orchestrator import (
    Cancelled,
    Completed,
    Crashed,
    Failed,
    ObjectNotFound,
    OrchestratorTimeout,
    Pending,
    Running,
    State,
    StateDetails,
    StateType,
    TaskRunFailed,
    TimedOut,
    VirtualClock,
    WorkerError,
)
from orchestrator._core._tasks import task
from orchestrator._engine._futures import TaskRunFuture
from orchestrator._engine._orchestrator import Orchestrator
from orchestrator._engine._waiters import FutureWaiters


def future_waiters(orch: Orchestrator) -> FutureWaiters:
    """The orchestrator's future waiters, as a future that waits sees them."""
    return orch._engine.watch_futures()


@task
def double(x: int) -> int:
    return 2 * x


class Boom(Exception):
    pass


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock=clock, seed=3)


def claim_and_run(orch: Orchestrator, future: TaskRunFuture[Any]) -> None:
    """Do what a worker does before calling the function: claim, then start."""
    claim = orch.set_task_run_state(
        future.task_run_id, Pending(details=StateDetails(deferred=True))
    )
    assert claim.state is not None
    assert claim.state.type is StateType.PENDING
    start = orch.set_task_run_state(future.task_run_id, Running())
    assert start.state is not None
    assert start.state.type is StateType.RUNNING


def finish(orch: Orchestrator, future: TaskRunFuture[Any], state: State) -> None:
    claim_and_run(orch, future)
    orch.set_task_run_state(future.task_run_id, state)


@pytest.fixture
def registered() -> Iterator[threading.Event]:
    """Set once a waiter has registered its wake-up with a FutureWaiters."""
    event = threading.Event()
    original = FutureWaiters.add

    def add(self: FutureWaiters, run_id: uuid.UUID, wake: Callable[[], None]) -> None:
        original(self, run_id, wake)
        event.set()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FutureWaiters, "add", add)
        yield event


# -- state and done ----------------------------------------------------------------------


def test_state_is_the_live_state(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    assert future.state.name == "Scheduled"
    assert future.state.details.deferred is True
    assert future.done() is False
    claim_and_run(orch, future)
    assert future.state.type is StateType.RUNNING
    assert future.state is orch.read_task_run(future.task_run_id).state
    assert future.task_run is orch.read_task_run(future.task_run_id)
    assert future.orchestrator is orch
    assert future.done() is False
    orch.set_task_run_state(future.task_run_id, Completed(4))
    assert future.done() is True
    name = future.task_run.name
    assert repr(future) == f"<TaskRunFuture {name!r} Completed {future.task_run_id}>"


def test_a_deleted_run_is_reported(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    orch.delete_task_run(future.task_run_id)
    with pytest.raises(ObjectNotFound, match=f"task run {future.task_run_id} was not found"):
        _ = future.state
    with pytest.raises(ObjectNotFound):
        future.result()
    assert repr(future) == f"<TaskRunFuture {future.task_run_id} deleted>"


# -- result() of finished runs -----------------------------------------------------------


def test_result_of_a_completed_run(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    finish(orch, future, Completed(4))
    assert future.result() == 4
    assert future.result(timeout=0) == 4


def test_result_reraises_the_tasks_own_exception(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    error = Boom("bad input")
    finish(orch, future, Failed(error, message="Boom('bad input')"))
    with pytest.raises(Boom) as info:
        future.result()
    assert info.value is error


def test_result_of_a_timed_out_run_raises_its_timeout_error(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    finish(orch, future, TimedOut(TimeoutError("took over 2 s")))
    with pytest.raises(TimeoutError, match="took over 2 s"):
        future.result()


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        (Failed(message="no exception kept"), "ended Failed: no exception kept"),
        (Failed("not an exception"), "ended Failed"),
        (Crashed(message="worker died"), "ended Crashed: worker died"),
        (Cancelled(message="stopped by user"), "ended Cancelled: stopped by user"),
    ],
    ids=["failed-without-exception", "failed-with-other-data", "crashed", "cancelled"],
)
def test_result_of_a_run_without_a_result(orch: Orchestrator, final: State, expected: str) -> None:
    future = orch.submit(double, 2)
    finish(orch, future, final)
    with pytest.raises(TaskRunFailed) as info:
        future.result()
    assert str(info.value) == f"task run {future.task_run_id} {expected}"


@pytest.mark.parametrize("timeout", [-1, "1", True])
def test_a_bad_timeout_is_refused(orch: Orchestrator, timeout: Any) -> None:
    future = orch.submit(double, 2)
    with pytest.raises(ValueError, match="timeout must be None or seconds >= 0"):
        future.result(timeout=timeout)


# -- result() waiting in a thread --------------------------------------------------------


def test_result_in_a_thread_is_woken_by_the_commit(
    orch: Orchestrator, registered: threading.Event
) -> None:
    future = orch.submit(double, 21)
    claim_and_run(orch, future)
    outcome: list[object] = []
    waiter = threading.Thread(target=lambda: outcome.append(future.result(timeout=30)))
    waiter.start()
    assert registered.wait(30)
    assert future_waiters(orch).waiting() == 1
    orch.set_task_run_state(future.task_run_id, Completed(42))
    waiter.join(30)
    assert outcome == [42]
    assert future_waiters(orch).waiting() == 0


def test_result_in_a_thread_times_out(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    with pytest.raises(OrchestratorTimeout) as info:
        future.result(timeout=0)
    assert (
        str(info.value)
        == f"task run {future.task_run_id} did not finish within 0 s; it is Scheduled"
    )
    assert isinstance(info.value, TimeoutError)
    assert future_waiters(orch).waiting() == 0


def test_result_in_a_thread_of_a_run_deleted_meanwhile(
    orch: Orchestrator, registered: threading.Event
) -> None:
    future = orch.submit(double, 2)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            future.result(timeout=30)
        except ObjectNotFound as error:
            errors.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert registered.wait(30)
    orch.delete_task_run(future.task_run_id)
    waiter.join(30)
    assert [type(e) for e in errors] == [ObjectNotFound]


# -- in an event loop ---------------------------------------------------------------------


async def test_result_in_the_event_loop_refuses_to_block(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    with pytest.raises(WorkerError) as info:
        future.result()
    assert "use `await future.wait_async()` or `await future.result_async()`" in str(info.value)
    assert future.state.name == "Scheduled"
    assert future_waiters(orch).waiting() == 0


async def test_result_in_the_event_loop_of_a_finished_run(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    finish(orch, future, Completed(4))
    assert future.result() == 4


async def test_wait_returns_the_terminal_state_when_committed_in_the_loop(
    orch: Orchestrator,
) -> None:
    future = orch.submit(double, 2)
    claim_and_run(orch, future)
    states: list[State] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            states.append(await future.wait_async())

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        assert future_waiters(orch).waiting() == 1
        orch.set_task_run_state(future.task_run_id, Completed(4))
    assert [s.name for s in states] == ["Completed"]
    assert states[0] is future.state
    assert future_waiters(orch).waiting() == 0


async def test_wait_is_woken_by_a_commit_from_another_thread(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    claim_and_run(orch, future)
    results: list[object] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            results.append(await future.aresult())

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        await anyio.to_thread.run_sync(
            lambda: orch.set_task_run_state(future.task_run_id, Completed(4))
        )
    assert results == [4]


async def test_wait_of_a_finished_run_returns_at_once(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    finish(orch, future, Completed(4))
    assert (await future.wait_async()).name == "Completed"
    assert await future.aresult() == 4
    assert future_waiters(orch).waiting() == 0


async def test_wait_timeout_counts_on_the_orchestrators_clock(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    future = orch.submit(double, 2)
    states: list[State] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            states.append(await future.wait_async(timeout=10))

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        clock.advance(9.5)
        await anyio.wait_all_tasks_blocked()
        assert states == []
        clock.advance(0.5)
    # Timed out: the state is returned as it is, not raised.
    assert [s.name for s in states] == ["Scheduled"]
    assert clock.now() == VirtualClock().now() + timedelta(seconds=10)
    assert future_waiters(orch).waiting() == 0


async def test_aresult_timeout_raises(orch: Orchestrator, clock: VirtualClock) -> None:
    future = orch.submit(double, 2)
    errors: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            try:
                await future.aresult(timeout=5)
            except OrchestratorTimeout as error:
                errors.append(error)

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        clock.advance(5)
    assert [str(e) for e in errors] == [
        f"task run {future.task_run_id} did not finish within 5 s; it is Scheduled"
    ]


async def test_wait_with_timeout_woken_before_the_deadline(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    future = orch.submit(double, 2)
    claim_and_run(orch, future)
    results: list[object] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            results.append(await future.aresult(timeout=60))

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        orch.set_task_run_state(future.task_run_id, Completed(4))
    assert results == [4]
    assert clock.next_deadline() is None  # the timeout's sleeper is gone


async def test_aresult_reraises_the_tasks_own_exception(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    claim_and_run(orch, future)
    error = Boom("late")
    caught: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            try:
                await future.aresult()
            except Boom as exc:
                caught.append(exc)

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        orch.set_task_run_state(future.task_run_id, Failed(error))
    assert caught == [error]


async def test_wait_on_a_run_deleted_meanwhile(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    caught: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            try:
                await future.wait_async()
            except ObjectNotFound as exc:
                caught.append(exc)

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        orch.delete_task_run(future.task_run_id)
    assert [type(e) for e in caught] == [ObjectNotFound]


async def test_many_waiters_on_one_run_all_wake(orch: Orchestrator) -> None:
    future = orch.submit(double, 2)
    claim_and_run(orch, future)
    results: list[object] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            results.append(await future.aresult())

        for _ in range(5):
            group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        assert future_waiters(orch).waiting() == 5
        orch.set_task_run_state(future.task_run_id, Completed(4))
    assert results == [4] * 5
    assert future_waiters(orch).waiting() == 0


def test_non_terminal_commits_do_not_wake(orch: Orchestrator) -> None:
    woken: list[str] = []
    waiters = future_waiters(orch)
    future = orch.submit(double, 2)
    waiters.add(future.task_run_id, lambda: woken.append("done"))
    claim_and_run(orch, future)
    assert woken == []
    orch.set_task_run_state(future.task_run_id, Completed(4))
    assert woken == ["done"]
    waiters.discard(future.task_run_id, lambda: None)  # unknown: no error
    assert future_waiters(orch) is waiters  # one registry per orchestrator


def test_the_registry_forgets_only_what_it_is_asked_to(orch: Orchestrator) -> None:
    waiters = future_waiters(orch)
    first, second = orch.submit(double, 1), orch.submit(double, 2)
    woken: list[str] = []
    waiters.add(first.task_run_id, lambda: woken.append("a"))
    waiters.add(first.task_run_id, lambda: woken.append("b"))

    def late() -> None:
        woken.append("late")

    waiters.add(first.task_run_id, late)
    waiters.discard(first.task_run_id, late)
    waiters.discard(first.task_run_id, lambda: None)  # not registered: no error
    assert waiters.waiting() == 2
    # A run nobody waits on finishes, and another is deleted: nobody is woken.
    finish(orch, second, Completed(4))
    orch.delete_task_run(orch.submit(double, 3).task_run_id)
    assert woken == []
    finish(orch, first, Completed(2))
    assert woken == ["a", "b"]
    assert waiters.waiting() == 0
    orch.delete_task_run(first.task_run_id)  # with nobody waiting at all
    assert woken == ["a", "b"]


@pytest.fixture
def finishes_while_registering(
    orch: Orchestrator,
) -> Iterator[TaskRunFuture[Any]]:
    """A future whose run completes right as its waiter registers: the race to close."""
    future = orch.submit(double, 2)
    claim_and_run(orch, future)
    original = FutureWaiters.add

    def add(self: FutureWaiters, run_id: uuid.UUID, wake: Callable[[], None]) -> None:
        # The commit lands after the waiter's first look and before its registration:
        # the waiter must see it on its second look instead of waiting forever.
        orch.set_task_run_state(run_id, Completed(4))
        original(self, run_id, wake)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FutureWaiters, "add", add)
        yield future


async def test_wait_sees_a_commit_racing_its_registration(
    finishes_while_registering: TaskRunFuture[Any],
) -> None:
    assert (await finishes_while_registering.wait_async()).name == "Completed"
    assert future_waiters(finishes_while_registering.orchestrator).waiting() == 0


def test_result_sees_a_commit_racing_its_registration(
    finishes_while_registering: TaskRunFuture[Any],
) -> None:
    assert finishes_while_registering.result(timeout=0) == 4
    assert future_waiters(finishes_while_registering.orchestrator).waiting() == 0

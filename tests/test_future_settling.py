"""Futures, issue 14: blocking and async waits, raise_on_failure, NotReady runs, background flag."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import pytest

from orchestrator import (
    Completed,
    Crashed,
    Failed,
    InvalidArgument,
    Orchestrator,
    OrchestratorError,
    Pending,
    Running,
    Scheduled,
    State,
    TaskRunFailed,
    TaskRunFuture,
    UnfinishedRun,
    VirtualClock,
    WorkerError,
    task,
)
from orchestrator._engine._waiters import FutureWaiters
from orchestrator.testing import assert_all_finished, run_until_idle, unfinished_runs, waiting_runs

JOIN: Any = 30  # real seconds: a bound, never reached when things work


@task
def double(x: int) -> int:
    return 2 * x


class Boom(Exception):
    pass


@pytest.fixture
def orch() -> Orchestrator:
    return Orchestrator(clock=VirtualClock(), seed=5)


def runner_future(orch: Orchestrator, state: State | None = None) -> TaskRunFuture[int]:
    """A task-runner run (not background): created Scheduled, off any queue."""
    run = orch.create_task_run("runner-task", state=state or Scheduled()).run
    return TaskRunFuture(orch, run.id, background=False)


def not_ready(orch: Orchestrator, future: TaskRunFuture[Any]) -> None:
    orch.set_task_run_state(
        future.task_run_id, Pending(name="NotReady", message="upstream run 'add-1' failed")
    )


def in_thread(action: Any, delay_until: threading.Event | None = None) -> threading.Thread:
    def run() -> None:
        if delay_until is not None:
            assert delay_until.wait(JOIN)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


# -- blocking wait() --------------------------------------------------------------------------


def test_wait_blocks_and_returns_the_final_state(orch: Orchestrator) -> None:
    future = runner_future(orch)
    orch.set_task_run_state(future.task_run_id, Running())
    finisher = in_thread(lambda: orch.set_task_run_state(future.task_run_id, Completed(4)))
    state = future.wait(timeout=JOIN)
    finisher.join(JOIN)
    assert state.name == "Completed"
    assert future.wait() is future.state  # settled: returns at once


def test_wait_timeout_returns_the_state_as_it_is(orch: Orchestrator) -> None:
    future = runner_future(orch)
    assert future.wait(timeout=0).name == "Scheduled"
    assert future.done() is False


async def test_blocking_wait_on_a_background_run_refuses_a_running_loop(
    orch: Orchestrator,
) -> None:
    future = orch.submit(double, 2)
    with pytest.raises(WorkerError, match=r"future\.wait\(\) would block the event loop"):
        future.wait()
    with pytest.raises(WorkerError, match=r"await future\.result_async\(\)"):
        future.result()


async def test_blocking_waits_on_a_runner_run_are_allowed_in_a_running_loop(
    orch: Orchestrator,
) -> None:
    future = runner_future(orch)
    orch.set_task_run_state(future.task_run_id, Running())
    started = threading.Event()

    def finish_later() -> None:
        orch.set_task_run_state(future.task_run_id, Completed(8))

    finisher = in_thread(finish_later, started)
    started.set()
    assert future.result(timeout=JOIN) == 8  # blocks this loop's thread: the run is elsewhere
    finisher.join(JOIN)
    assert future.wait().name == "Completed"


# -- raise_on_failure -------------------------------------------------------------------------


async def test_raise_on_failure_false_returns_the_exception(orch: Orchestrator) -> None:
    future = runner_future(orch)
    error = Boom("bad")
    orch.set_task_run_state(future.task_run_id, Running())
    orch.set_task_run_state(future.task_run_id, Failed(error))
    assert future.result(raise_on_failure=False) is error
    assert await future.result_async(raise_on_failure=False) is error
    assert await future.aresult(raise_on_failure=False) is error
    with pytest.raises(Boom):
        future.result()


def test_raise_on_failure_false_describes_a_crashed_run(orch: Orchestrator) -> None:
    future = runner_future(orch)
    orch.set_task_run_state(future.task_run_id, Running())
    orch.set_task_run_state(future.task_run_id, Crashed(message="process died"))
    error = future.result(None, False)
    assert isinstance(error, TaskRunFailed)
    assert str(error) == f"task run {future.task_run_id} ended Crashed: process died"


def test_raise_on_failure_must_be_a_bool(orch: Orchestrator) -> None:
    future = runner_future(orch, Completed(1))
    with pytest.raises(InvalidArgument, match="raise_on_failure"):
        future.result(raise_on_failure=1)  # type: ignore[call-overload]


def test_background_must_be_a_bool(orch: Orchestrator) -> None:
    run = orch.create_task_run("k").run
    with pytest.raises(InvalidArgument, match="background"):
        TaskRunFuture(orch, run.id, background="no")  # type: ignore[arg-type]
    assert TaskRunFuture(orch, run.id).background is True


def test_aresult_is_result_async() -> None:
    assert TaskRunFuture.__dict__["aresult"] is TaskRunFuture.__dict__["result_async"]


# -- NotReady runs are settled ----------------------------------------------------------------


def test_a_not_ready_run_is_settled_and_has_no_result(orch: Orchestrator) -> None:
    future = runner_future(orch)
    not_ready(orch, future)
    assert future.done() is True
    assert future.wait().name == "NotReady"
    with pytest.raises(UnfinishedRun) as info:
        future.result()
    error = info.value
    assert isinstance(error, OrchestratorError)
    assert error.task_run_id == future.task_run_id
    assert error.state_message == "upstream run 'add-1' failed"
    assert str(error) == (
        f"task run {future.task_run_id} has no result: it never ran, it is NotReady: "
        "upstream run 'add-1' failed"
    )
    with pytest.raises(UnfinishedRun):  # not a failure: raise_on_failure does not apply
        future.result(raise_on_failure=False)


def test_a_blocked_wait_is_woken_by_a_not_ready_commit(
    orch: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered = threading.Event()
    original = FutureWaiters.add

    def add(self: FutureWaiters, run_id: uuid.UUID, wake: Callable[[], None]) -> None:
        original(self, run_id, wake)
        registered.set()

    monkeypatch.setattr(FutureWaiters, "add", add)
    future = runner_future(orch)
    states: list[State] = []
    waiter = in_thread(lambda: states.append(future.wait(timeout=JOIN)))
    assert registered.wait(JOIN)
    not_ready(orch, future)
    waiter.join(JOIN)
    assert [state.name for state in states] == ["NotReady"]


async def test_an_async_wait_is_woken_by_a_not_ready_commit(orch: Orchestrator) -> None:
    future = runner_future(orch)
    states: list[State] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            states.append(await future.wait_async())
            with pytest.raises(UnfinishedRun):
                await future.result_async()

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        await anyio.to_thread.run_sync(not_ready, orch, future)
    assert [state.name for state in states] == ["NotReady"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_drains_and_the_teardown_guard_treat_not_ready_runs_as_settled(backend: str) -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    future = runner_future(orch)
    not_ready(orch, future)
    assert waiting_runs(orch) == []
    assert unfinished_runs(orch) == []
    assert_all_finished(orch)
    result = anyio.run(run_until_idle, orch, backend=backend)
    assert result.failures == ()

# The refused calls are malformed on purpose.
# mypy: disable-error-code="arg-type, list-item"
"""orchestrator.wait / as_completed and their async forms: event-driven waits on many futures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import pytest

import orchestrator
from orchestrator import (
    Completed,
    DoneAndNotDone,
    Failed,
    InvalidArgument,
    Orchestrator,
    OrchestratorTimeout,
    Pending,
    Running,
    Scheduled,
    TaskRunFuture,
    VirtualClock,
    WorkerError,
    task,
)

JOIN: Any = 30  # real seconds: a bound, never reached when things work


@task
def double(x: int) -> int:
    return 2 * x


@pytest.fixture
def orch() -> Orchestrator:
    return Orchestrator(clock=VirtualClock(), seed=7)


def runner_futures(orch: Orchestrator, count: int) -> list[TaskRunFuture[int]]:
    futures = []
    for _ in range(count):
        run = orch.create_task_run("runner-task", state=Scheduled()).run
        orch.set_task_run_state(run.id, Running())
        futures.append(TaskRunFuture[int](orch, run.id, background=False))
    return futures


def complete(orch: Orchestrator, future: TaskRunFuture[Any], value: int) -> None:
    orch.set_task_run_state(future.task_run_id, Completed(value))


def finish_in_order(
    orch: Orchestrator, futures: list[TaskRunFuture[int]], go: threading.Event
) -> threading.Thread:
    """Complete the futures' runs one by one, from another thread, once ``go`` is set."""

    def run() -> None:
        assert go.wait(JOIN)
        for index, future in enumerate(futures):
            complete(orch, future, index)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_wait_returns_done_and_not_done(orch: Orchestrator) -> None:
    first, second, third = runner_futures(orch, 3)
    complete(orch, first, 1)
    orch.set_task_run_state(third.task_run_id, Pending(name="NotReady", message="upstream"))
    result = orchestrator.wait([first, second, third, first], timeout=0)
    assert isinstance(result, DoneAndNotDone)
    assert result.done == {first, third}
    assert result.not_done == {second}
    done, not_done = result
    assert (done, not_done) == (result.done, result.not_done)


def test_wait_blocks_until_every_run_settles(orch: Orchestrator) -> None:
    futures = runner_futures(orch, 5)
    go = threading.Event()
    finisher = finish_in_order(orch, futures, go)
    go.set()
    result = orchestrator.wait(futures, timeout=JOIN)
    finisher.join(JOIN)
    assert result.done == set(futures)
    assert result.not_done == set()
    assert orch._engine.watch_futures().waiting() == 0  # every wake-up was forgotten


def test_wait_of_nothing_returns_at_once() -> None:
    assert orchestrator.wait([]) == DoneAndNotDone(set(), set())


def test_as_completed_yields_settled_runs_first_then_in_settling_order(
    orch: Orchestrator,
) -> None:
    futures = runner_futures(orch, 4)
    complete(orch, futures[2], 2)
    go = threading.Event()
    rest = [futures[3], futures[0], futures[1]]
    finisher = finish_in_order(orch, rest, go)
    iterator = orchestrator.as_completed(futures, timeout=JOIN)
    seen = [next(iterator)]
    go.set()
    seen.extend(iterator)
    finisher.join(JOIN)
    assert seen == [futures[2], *rest]
    assert orch._engine.watch_futures().waiting() == 0


def test_as_completed_times_out(orch: Orchestrator) -> None:
    futures = runner_futures(orch, 2)
    complete(orch, futures[0], 0)
    iterator = orchestrator.as_completed(futures, timeout=0)
    assert next(iterator) is futures[0]
    with pytest.raises(OrchestratorTimeout, match=r"as_completed: 1 \(of 2\) futures unfinished"):
        next(iterator)
    assert orch._engine.watch_futures().waiting() == 0


def test_failed_runs_count_as_done(orch: Orchestrator) -> None:
    (future,) = runner_futures(orch, 1)
    orch.set_task_run_state(future.task_run_id, Failed(ValueError("x")))
    assert list(orchestrator.as_completed([future])) == [future]
    assert orchestrator.wait([future]).done == {future}


def test_a_deleted_run_counts_as_done(orch: Orchestrator) -> None:
    (future,) = runner_futures(orch, 1)
    orch.delete_task_run(future.task_run_id)
    assert orchestrator.wait([future]).done == {future}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda f: orchestrator.wait(f), "futures must be an iterable of TaskRunFuture"),
        (lambda f: orchestrator.wait([f, 3]), "futures must be an iterable of TaskRunFuture"),
        (lambda f: orchestrator.wait([f], timeout=-1), "timeout must be None or seconds"),
        (lambda f: orchestrator.as_completed(f), "futures must be an iterable"),
        (lambda f: orchestrator.as_completed([f], timeout="1"), "timeout must be None"),
    ],
    ids=["wait-one-future", "wait-not-a-future", "wait-timeout", "as-completed-one", "timeout"],
)
def test_bad_arguments_are_refused(
    orch: Orchestrator, call: Callable[[TaskRunFuture[int]], object], match: str
) -> None:
    (future,) = runner_futures(orch, 1)
    with pytest.raises(InvalidArgument, match=match):
        call(future)


# -- in async code ---------------------------------------------------------------------------


async def test_blocking_forms_refuse_a_background_run_in_a_running_loop(
    orch: Orchestrator,
) -> None:
    future = orch.submit(double, 1)
    with pytest.raises(WorkerError, match=r"await orchestrator\.wait_async\(\.\.\.\)"):
        orchestrator.wait([future])
    with pytest.raises(WorkerError, match=r"orchestrator\.as_completed_async\(\.\.\.\)"):
        next(orchestrator.as_completed([future]))
    # Settled background runs do not block: allowed.
    complete(orch, future, 2)
    assert orchestrator.wait([future]).done == {future}


async def test_blocking_forms_accept_runner_runs_in_a_running_loop(orch: Orchestrator) -> None:
    futures = runner_futures(orch, 3)
    go = threading.Event()
    finisher = finish_in_order(orch, futures, go)
    go.set()
    assert list(orchestrator.as_completed(futures, timeout=JOIN)) == futures
    finisher.join(JOIN)


async def test_wait_async_is_woken_by_commits_from_a_thread(orch: Orchestrator) -> None:
    futures = runner_futures(orch, 3)
    results: list[DoneAndNotDone[int]] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            results.append(await orchestrator.wait_async(futures))

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        for index, future in enumerate(futures):
            await anyio.to_thread.run_sync(complete, orch, future, index)
    assert results == [DoneAndNotDone(set(futures), set())]


async def test_wait_async_timeout_counts_on_the_clock(orch: Orchestrator) -> None:
    clock = orch.clock
    assert isinstance(clock, VirtualClock)
    futures = runner_futures(orch, 2)
    complete(orch, futures[0], 0)
    results: list[DoneAndNotDone[int]] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            results.append(await orchestrator.wait_async(futures, timeout=60))

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        assert results == []
        clock.advance(60)
    assert results == [DoneAndNotDone({futures[0]}, {futures[1]})]


async def test_as_completed_async_yields_in_settling_order(orch: Orchestrator) -> None:
    futures = runner_futures(orch, 3)
    seen: list[TaskRunFuture[int]] = []
    async with anyio.create_task_group() as group:

        async def collect() -> None:
            seen.extend([future async for future in orchestrator.as_completed_async(futures)])

        group.start_soon(collect)
        for future in reversed(futures):
            await anyio.wait_all_tasks_blocked()
            complete(orch, future, 1)
    assert seen == list(reversed(futures))
    assert orch._engine.watch_futures().waiting() == 0


async def test_as_completed_async_times_out_on_the_clock(orch: Orchestrator) -> None:
    clock = orch.clock
    assert isinstance(clock, VirtualClock)
    futures = runner_futures(orch, 1)
    errors: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def collect() -> None:
            with pytest.raises(OrchestratorTimeout) as info:
                async for _ in orchestrator.as_completed_async(futures, timeout=5):
                    pass
            errors.append(info.value)

        group.start_soon(collect)
        await anyio.wait_all_tasks_blocked()
        clock.advance(5)
    assert len(errors) == 1
    assert "as_completed_async: 1 (of 1) futures unfinished after 5 s" in str(errors[0])

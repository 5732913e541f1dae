"""The run context of task runs a TaskWorker executes (issue 14, item 5)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from orchestrator import (
    MissingContextError,
    Orchestrator,
    TaskRunContext,
    VirtualClock,
    get_run_context,
    task,
)
from orchestrator.testing import run_until_idle
from orchestrator.workers import TaskWorker


@pytest.fixture
def worker_orch() -> Orchestrator:
    return Orchestrator(clock=VirtualClock(), seed=11)


def task_context() -> TaskRunContext:
    context = get_run_context()
    assert isinstance(context, TaskRunContext)
    return context


def test_outside_any_run_there_is_no_context() -> None:
    with pytest.raises(MissingContextError, match="outside any task run or flow run"):
        get_run_context()
    assert issubclass(MissingContextError, RuntimeError)


async def test_an_async_task_sees_its_run_and_its_workers_orchestrator(
    worker_orch: Orchestrator,
) -> None:
    seen: list[tuple[TaskRunContext, Orchestrator]] = []

    @task(task_key="ctx.async_add")
    async def add(x: int, y: int = 5) -> int:
        seen.append((task_context(), Orchestrator.current()))
        return x + y

    other = Orchestrator(clock=VirtualClock(), seed=12)
    with other:  # the caller's current orchestrator is another one
        async with TaskWorker(add, orchestrator=worker_orch):
            future = worker_orch.submit(add, 1)
            assert await future.result_async() == 6
        assert Orchestrator.current() is other
    ((context, current),) = seen
    assert current is worker_orch
    assert context.orchestrator is worker_orch
    assert context.task is add
    assert context.task_run_id == future.task_run_id
    assert context.task_run.id == future.task_run_id
    assert context.task_run.run_count == 1
    assert dict(context.parameters) == {"x": 1, "y": 5}
    with pytest.raises(MissingContextError):
        get_run_context()  # nothing leaks out of the run


async def test_a_sync_task_sees_its_context_in_its_thread(worker_orch: Orchestrator) -> None:
    seen: list[tuple[int, TaskRunContext, Orchestrator]] = []

    @task(task_key="ctx.sync_add")
    def add(x: int) -> int:
        seen.append((threading.get_ident(), task_context(), Orchestrator.current()))
        return x + 1

    other = Orchestrator(clock=VirtualClock(), seed=12)
    with other:
        async with TaskWorker(add, orchestrator=worker_orch):
            future = worker_orch.submit(add, 1)
            assert await future.result_async() == 2
    ((thread, context, current),) = seen
    assert thread != threading.get_ident()  # it ran in a worker thread
    assert current is worker_orch
    assert context.task_run_id == future.task_run_id
    assert dict(context.parameters) == {"x": 1}


async def test_a_sync_task_with_a_timeout_sees_its_context(worker_orch: Orchestrator) -> None:
    seen: list[Orchestrator] = []

    @task(task_key="ctx.sync_timeout", timeout_seconds=600)
    def probe() -> None:
        seen.append(task_context().orchestrator)

    async with TaskWorker(probe, orchestrator=worker_orch):
        await worker_orch.submit(probe).result_async()
    assert seen == [worker_orch]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_retries_see_the_attempt_in_run_count(worker_orch: Orchestrator, kind: str) -> None:
    counts: list[int] = []

    def attempt() -> str:
        count = task_context().task_run.run_count
        counts.append(count)
        if count < 3:
            raise RuntimeError(f"attempt {count} fails")
        return "third time lucky"

    async def attempt_async() -> str:
        return attempt()

    function: Any = attempt if kind == "sync" else attempt_async
    flaky = task(task_key=f"ctx.flaky_{kind}", retries=2, retry_delay_seconds=10)(function)
    start = worker_orch.clock.now()
    async with TaskWorker(flaky, orchestrator=worker_orch):
        future = worker_orch.submit(flaky)
        await run_until_idle(worker_orch)
    assert await future.result_async() == "third time lucky"
    assert counts == [1, 2, 3]
    assert worker_orch.clock.now() - start == timedelta(seconds=20)


async def test_the_readme_idiom_sleeps_on_the_workers_clock(worker_orch: Orchestrator) -> None:
    """The issue's trap: the caller entered another orchestrator; the task must sleep on B's."""

    @task(task_key="ctx.nap")
    async def nap(seconds: float) -> str:
        await Orchestrator.current().clock.sleep(seconds)
        return "rested"

    other = Orchestrator(clock=VirtualClock(), seed=13)
    start = worker_orch.clock.now()
    other_start = other.clock.now()
    with other:
        async with TaskWorker(nap, orchestrator=worker_orch):
            future = worker_orch.submit(nap, 3600)
            await run_until_idle(worker_orch)  # no false DrainStalled: B's clock is moved
    assert await future.result_async() == "rested"
    assert worker_orch.clock.now() - start == timedelta(hours=1)
    assert other.clock.now() == other_start

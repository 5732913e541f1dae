"""The run context of tasks a TaskWorker executes, and the orchestrator current inside."""

from __future__ import annotations

from datetime import timedelta

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

SEEN: list[tuple[object, ...]] = []  # what each attempt saw, in order


@task(retries=2, retry_delay_seconds=60)
def sync_flaky(x: int) -> int:
    context = get_run_context()
    assert isinstance(context, TaskRunContext)
    SEEN.append(
        ("sync", context.task_run.run_count, dict(context.parameters), Orchestrator.current())
    )
    if context.task_run.run_count < 3:
        raise ValueError("again")
    return x


@task(retries=1, retry_delay_seconds=30)
async def async_nap(seconds: float) -> str:
    context = get_run_context()
    assert isinstance(context, TaskRunContext)
    current = Orchestrator.current()
    SEEN.append(("async", context.task_run.run_count, context.task is async_nap, current))
    await current.clock.sleep(seconds)  # the README's idiom: the worker's own clock
    if context.task_run.run_count == 1:
        raise ValueError("again")
    return "rested"


@pytest.fixture(autouse=True)
def fresh() -> None:
    SEEN.clear()


async def test_a_sync_task_sees_its_run_and_the_workers_orchestrator() -> None:
    mine = Orchestrator(VirtualClock())
    other = Orchestrator(VirtualClock())
    with other:  # the caller entered another orchestrator
        async with TaskWorker(sync_flaky, orchestrator=mine):
            future = mine.submit(sync_flaky, 7)
            await run_until_idle(mine)
    assert future.result() == 7
    assert [entry[:3] for entry in SEEN] == [
        ("sync", 1, {"x": 7}),
        ("sync", 2, {"x": 7}),
        ("sync", 3, {"x": 7}),
    ]
    assert {entry[3] for entry in SEEN} == {mine}


async def test_an_async_task_sleeps_on_the_clock_of_the_orchestrator_running_it() -> None:
    mine = Orchestrator(VirtualClock())
    other = Orchestrator(VirtualClock())
    start = mine.clock.now()
    with other:
        async with TaskWorker(async_nap, orchestrator=mine):
            future = mine.submit(async_nap, 600)
            await run_until_idle(mine)  # no DrainStalled: the sleep is on mine's clock
    assert await future.result_async() == "rested"
    seen = list(SEEN)
    assert seen == [("async", 1, True, mine), ("async", 2, True, mine)]
    # two naps of 600 s and the 30 s retry delay, on mine's clock; other's never moved
    assert mine.clock.now() - start == timedelta(seconds=1230)
    assert other.clock.now() == start


def test_outside_a_run_there_is_no_context() -> None:
    with pytest.raises(MissingContextError):
        get_run_context()

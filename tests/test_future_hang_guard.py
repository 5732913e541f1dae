"""The futures' hang guard: result()/aresult() of a run no worker serves raise, not hang."""

from __future__ import annotations

import pickle
import threading
import time
from datetime import timedelta

import anyio
import pytest

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    OrchestratorTimeout,
    Scheduled,
    SystemClock,
    TaskRunFuture,
    TaskRunStalled,
    TaskWorker,
    VirtualClock,
    task,
)
from orchestrator.testing import run_until_idle_sync


@task
def double(x: int) -> int:
    return 2 * x


@task
def other(x: int) -> int:
    return x


def expect_stalled(error: TaskRunStalled, key: str, grace: str) -> None:
    message = str(error)
    assert f"task key {key!r}" in message
    assert f"for {grace} s no worker of this orchestrator served that key" in message
    assert "start a TaskWorker serving this task" in message
    assert error.task_key == key


# -- result(), from a plain thread: real seconds -------------------------------------------
@pytest.mark.parametrize("clock", [VirtualClock(), SystemClock()], ids=["virtual", "system"])
def test_result_raises_after_the_grace_when_nobody_serves_the_key(clock: object) -> None:
    orch = Orchestrator(clock=clock, seed=1)  # type: ignore[arg-type]
    future = orch.submit(double, 2)
    started = time.perf_counter()
    with pytest.raises(TaskRunStalled) as caught:
        future.result(unserved_grace=0.05)
    assert time.perf_counter() - started >= 0.05
    expect_stalled(caught.value, double.task_key, "0.05")
    assert caught.value.task_run_id == future.task_run_id
    assert future.state.name == "Scheduled"  # left as it was


def test_result_waits_for_a_worker_started_within_the_grace() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    future = orch.submit(double, 21)
    late = threading.Timer(0.05, run_until_idle_sync, (orch, double))
    late.start()
    try:
        assert future.result(timeout=30, unserved_grace=5) == 42
    finally:
        late.join()


def test_result_timeout_still_wins_when_it_is_shorter() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    future = orch.submit(double, 2)
    with pytest.raises(OrchestratorTimeout):
        future.result(timeout=0.02, unserved_grace=5)


def test_result_without_a_guard_times_out() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    future = orch.submit(double, 2)
    with pytest.raises(OrchestratorTimeout):
        future.result(timeout=0.05, unserved_grace=None)


def test_result_of_a_run_a_thread_finishes_by_hand_is_not_stalled() -> None:
    # A run on no queue is not a background run: nobody is expected to serve it.
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    run = orch.create_task_run("by-hand", state=Scheduled()).run
    future: TaskRunFuture[object] = TaskRunFuture(orch, run.id)
    with pytest.raises(OrchestratorTimeout):
        future.result(timeout=0.05, unserved_grace=0)


# -- aresult(), in an event loop ---------------------------------------------------------------
@pytest.mark.anyio
async def test_aresult_under_autojump_raises_at_the_exact_virtual_time() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1, autojump=True)
    async with orch:
        future = orch.submit(double, 2)
        start = clock.now()
        with pytest.raises(TaskRunStalled) as caught:
            await future.aresult(unserved_grace=30)
        assert clock.now() == start + timedelta(seconds=30)
    expect_stalled(caught.value, double.task_key, "30")


@pytest.mark.anyio
async def test_aresult_under_autojump_uses_the_default_grace_of_10_s() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1, autojump=True)
    async with orch:
        future = orch.submit(double, 2)
        start = clock.now()
        with pytest.raises(TaskRunStalled):
            await future.aresult()
        assert clock.now() == start + timedelta(seconds=10)


@pytest.mark.anyio
async def test_aresult_on_a_virtual_clock_nobody_drives_counts_real_seconds() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1)
    future = orch.submit(double, 2)
    start = clock.now()
    with pytest.raises(TaskRunStalled) as caught:
        await future.aresult(unserved_grace=0.05)
    assert clock.now() == start  # the virtual clock never moved
    expect_stalled(caught.value, double.task_key, "0.05")


@pytest.mark.anyio
async def test_aresult_on_the_system_clock() -> None:
    orch = Orchestrator(clock=SystemClock(), seed=1)
    future = orch.submit(double, 2)
    with pytest.raises(TaskRunStalled):
        await future.aresult(unserved_grace=0.05)


@pytest.mark.anyio
async def test_a_worker_serving_another_key_does_not_count() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1, autojump=True)
    async with orch, TaskWorker(other, orchestrator=orch):
        future = orch.submit(double, 2)
        with pytest.raises(TaskRunStalled) as caught:
            await future.aresult(unserved_grace=5)
    expect_stalled(caught.value, double.task_key, "5")


@pytest.mark.anyio
async def test_a_worker_started_within_the_grace_finishes_the_run() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1, autojump=True)
    async with orch, anyio.create_task_group() as group:
        future = orch.submit(double, 21)
        start = clock.now()

        async def late_worker() -> None:
            await clock.sleep(9)
            async with TaskWorker(double, orchestrator=orch):
                await future.wait_async()

        group.start_soon(late_worker)
        assert await future.aresult(unserved_grace=10) == 42
        assert clock.now() == start + timedelta(seconds=9)


@pytest.mark.anyio
async def test_a_worker_that_comes_and_goes_restarts_the_grace() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1, autojump=True)
    async with orch, anyio.create_task_group() as group:
        future = orch.schedule(clock.now() + timedelta(hours=1), double, 2)
        start = clock.now()

        async def brief_worker() -> None:
            await clock.sleep(8)
            async with TaskWorker(double, orchestrator=orch):
                await clock.sleep(5)  # serves from 8 s to 13 s; the run is due in an hour

        group.start_soon(brief_worker)
        with pytest.raises(TaskRunStalled):
            await future.aresult(unserved_grace=10)
        assert clock.now() == start + timedelta(seconds=13 + 10)


@pytest.mark.anyio
async def test_aresult_without_a_guard_times_out_on_the_clock() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1, autojump=True)
    async with orch:
        future = orch.submit(double, 2)
        with pytest.raises(OrchestratorTimeout):
            await future.aresult(timeout=60, unserved_grace=None)
        with pytest.raises(OrchestratorTimeout):
            await future.aresult(timeout=5, unserved_grace=10)  # the timeout comes first


@pytest.mark.anyio
async def test_a_served_run_finishes_as_before() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1, autojump=True)
    async with orch, TaskWorker(double, orchestrator=orch):
        assert await orch.submit(double, 4).aresult(unserved_grace=0) == 8


# -- arguments and the error itself ------------------------------------------------------------
@pytest.mark.parametrize("bad", [-1, "3", float("nan"), True])
def test_a_bad_grace_is_refused_naming_the_parameter(bad: object) -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    future = orch.submit(double, 2)
    with pytest.raises(InvalidArgument, match="unserved_grace"):
        future.result(unserved_grace=bad)  # type: ignore[call-overload]
    assert future.state.name == "Scheduled"


def test_the_error_pickles() -> None:
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    future = orch.submit(double, 2)
    with pytest.raises(TaskRunStalled) as caught:
        future.result(unserved_grace=0)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (str(copy), copy.task_run_id, copy.task_key) == (
        str(caught.value),
        future.task_run_id,
        double.task_key,
    )

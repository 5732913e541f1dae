"""Time-skipping benchmarks: retries that take an hour of virtual time, and fixture cost.

Run with ``python bench/bench_timeskip.py``. Prints ``name: value unit`` lines; every
figure is a median over repeats, and each comes with a baseline measured in the same run.

* ``timeskip_retries_*``: the wall time for a task with 5 retries 10 minutes apart to go
  from submitted to its final state (Failed, exactly 50 minutes of virtual time later),
  served by a :class:`~orchestrator.TaskWorker`, on asyncio and trio:

  - ``drain_sync`` / ``drain_async``: ``await run_until_idle(orchestrator)`` skips the
    time (a sync function runs in a worker thread, an async one in the loop);
  - ``skipper_async``: a :class:`TimeSkipper` skips the time while the test awaits the
    run's future;
  - ``baseline_manual_advance_async``: the same worker and task, the test moving the
    clock by hand (``clock.advance(600)`` after each attempt has settled), which is what
    a test without time skipping does, knowing the schedule;
  - ``baseline_raw_transitions``: no worker at all, the bare floor: the same 18
    transitions proposed in a loop with ``clock.advance(600)`` between attempts.

  Target: under 50 ms.
* ``fixture_*``: what the ``orchestrator`` fixture costs per test: a VirtualClock, an
  Orchestrator, entering and leaving it, and the teardown guard. Target: under 1 ms.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import anyio

from orchestrator import (
    Failed,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    StateDetails,
    StateType,
    Task,
    TaskRunPolicy,
    VirtualClock,
    task,
)
from orchestrator._engine._autojump import TimeSkipper, wait_until_idle
from orchestrator.testing import assert_all_finished, run_until_idle
from orchestrator.workers import TaskWorker

RETRIES = 5
DELAY = 600.0
DEFERRED = StateDetails(deferred=True)


@task(retries=RETRIES, retry_delay_seconds=DELAY)
def flaky_sync() -> None:
    raise ValueError("no luck")


@task(retries=RETRIES, retry_delay_seconds=DELAY)
async def flaky_async() -> None:
    raise ValueError("no luck")


def check(orchestrator: Orchestrator, run_id: Any) -> None:
    states = orchestrator.read_task_run_states(run_id)
    assert states[-1].type is StateType.FAILED, states[-1]
    start = states[0].timestamp
    assert start is not None
    assert states[-1].timestamp == start + timedelta(seconds=RETRIES * DELAY)


def drain_with(flaky: Task[[], Any]) -> Callable[[], Awaitable[float]]:
    async def sample() -> float:
        orchestrator = Orchestrator(VirtualClock(), seed=0)
        async with TaskWorker(flaky, orchestrator=orchestrator):
            started = time.perf_counter()
            future = orchestrator.submit(flaky)
            await run_until_idle(orchestrator, fail_fast=False)
            elapsed = time.perf_counter() - started
        check(orchestrator, future.task_run_id)
        return elapsed

    return sample


async def with_skipper() -> float:
    orchestrator = Orchestrator(VirtualClock(), seed=0)
    async with TimeSkipper(orchestrator), TaskWorker(flaky_async, orchestrator=orchestrator):
        started = time.perf_counter()
        future = orchestrator.submit(flaky_async)
        await future.wait_async()
        elapsed = time.perf_counter() - started
    check(orchestrator, future.task_run_id)
    return elapsed


async def by_hand() -> float:
    orchestrator = Orchestrator(VirtualClock(), seed=0)
    clock = orchestrator.clock
    assert isinstance(clock, VirtualClock)
    async with TaskWorker(flaky_async, orchestrator=orchestrator):
        started = time.perf_counter()
        future = orchestrator.submit(flaky_async)
        for _ in range(RETRIES):
            await wait_until_idle(orchestrator.activity)  # the attempt has run
            clock.advance(DELAY)  # the test has to know the schedule
        await future.wait_async()
        elapsed = time.perf_counter() - started
    check(orchestrator, future.task_run_id)
    return elapsed


def raw_transitions() -> float:
    orchestrator = Orchestrator(VirtualClock(), seed=0)
    clock = orchestrator.clock
    assert isinstance(clock, VirtualClock)
    started = time.perf_counter()
    run, _ = orchestrator.create_task_run(
        "flaky",
        state=Scheduled(deferred=True),
        policy=TaskRunPolicy(retries=RETRIES, retry_delay=DELAY),
    )
    for attempt in range(RETRIES + 1):
        if attempt:
            clock.advance(DELAY)
        orchestrator.set_task_run_state(run.id, Pending(details=DEFERRED))
        orchestrator.set_task_run_state(run.id, Running(details=DEFERRED))
        orchestrator.set_task_run_state(run.id, Failed(data=ValueError("no"), details=DEFERRED))
    elapsed = time.perf_counter() - started
    check(orchestrator, run.id)
    return elapsed


def median_ms(backend: str, sample: Callable[[], Awaitable[float]], repeat: int = 31) -> float:
    async def main() -> list[float]:
        await sample()  # warm up imports and caches
        return [await sample() for _ in range(repeat)]

    samples: list[float] = anyio.run(main, backend=backend)
    return statistics.median(samples) * 1e3


def bench_retries() -> None:
    for backend in ("asyncio", "trio"):
        for name, sample in (
            ("drain_sync", drain_with(flaky_sync)),
            ("drain_async", drain_with(flaky_async)),
            ("skipper_async", with_skipper),
            ("baseline_manual_advance_async", by_hand),
        ):
            print(f"timeskip_retries_{name}_{backend}: {median_ms(backend, sample):.3f} ms")
    raw = statistics.median(raw_transitions() for _ in range(31)) * 1e3
    print(f"timeskip_retries_baseline_raw_transitions: {raw:.3f} ms")


def fixture_cycle() -> None:
    orchestrator = Orchestrator(VirtualClock(), seed=0)
    with orchestrator:
        pass
    assert_all_finished(orchestrator)


def bench_fixture(number: int = 2000, repeat: int = 7) -> None:
    def median_us(function: Callable[[], object]) -> float:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(number):
                function()
            samples.append((time.perf_counter() - started) / number * 1e6)
        return statistics.median(samples)

    cycle = median_us(fixture_cycle)
    baseline = median_us(lambda: {"runs": {}, "states": {}, "queues": {}})
    print(f"fixture_construct_enter_exit_teardown: {cycle:.1f} us")
    print(f"fixture_baseline_three_dicts: {baseline:.2f} us")


if __name__ == "__main__":
    bench_retries()
    bench_fixture()

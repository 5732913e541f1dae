"""Time-skipping benchmarks: retries that take an hour of virtual time, and fixture cost.

Run with ``python bench/bench_timeskip.py``. Prints ``name: value unit`` lines; every
figure is a median over repeats, and each comes with a baseline measured in the same run.

* ``timeskip_retries_*``: the wall time for a task run with 5 retries 10 minutes apart
  to go from submitted to its final state (Failed, at exactly +50 min of virtual
  time), with a worker serving it and a drain skipping time (``run_until_idle``), or a
  :class:`TimeSkipper` while the test awaits the run's future. The baseline drives the
  same retries with the same worker by calling ``clock.advance(600)`` by hand, which
  is what a test without time skipping has to do (and it has to know the schedule).
  Target: under 50 ms.
* ``fixture_*``: what the ``orchestrator`` fixture costs per test: a VirtualClock, an
  Orchestrator, entering and leaving it, and the teardown guard. Target: under 1 ms.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio

from orchestrator import (
    Failed,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    StateDetails,
    StateType,
    TaskRun,
    TaskRunFuture,
    TaskRunPolicy,
    VirtualClock,
)
from orchestrator._autojump import TimeSkipper
from orchestrator.testing import assert_all_finished
from orchestrator.testing._drain import run_until_idle

RETRIES = 5
DELAY = 600.0
DEFERRED = StateDetails(deferred=True)


def serve_one(orchestrator: Orchestrator, run: TaskRun) -> bool:
    """Execute one attempt of ``run`` (it always fails); True when the run is final."""
    orchestrator.set_task_run_state(run.id, Pending(details=DEFERRED))
    orchestrator.set_task_run_state(run.id, Running(details=DEFERRED))
    result = orchestrator.set_task_run_state(
        run.id, Failed(data=ValueError("no luck"), details=DEFERRED)
    )
    assert result.status in (SetStateStatus.ACCEPT, SetStateStatus.REJECT)
    return result.state is not None and result.state.type is StateType.FAILED


async def worker(orchestrator: Orchestrator) -> None:
    """A minimal task worker: take each due run of key "flaky" and run one attempt."""
    queue = orchestrator.multi_queue(["flaky"])
    while True:
        run = await queue.get()
        orchestrator.activity.begin()
        try:
            serve_one(orchestrator, run)
        finally:
            orchestrator.activity.end()


def submit(orchestrator: Orchestrator) -> TaskRun:
    run, _ = orchestrator.create_task_run(
        "flaky",
        state=Scheduled(deferred=True),
        policy=TaskRunPolicy(retries=RETRIES, retry_delay=DELAY),
    )
    return run


def check(orchestrator: Orchestrator, run: TaskRun) -> None:
    state = orchestrator.read_task_run(run.id).state
    assert state is not None
    assert state.type is StateType.FAILED, state
    start = orchestrator.read_task_run_states(run.id)[0].timestamp
    assert start is not None
    assert state.timestamp == start + timedelta(seconds=RETRIES * DELAY)


async def with_drain() -> float:
    orchestrator = Orchestrator(VirtualClock(), seed=0)
    async with anyio.create_task_group() as group:
        group.start_soon(worker, orchestrator)
        started = time.perf_counter()
        run = submit(orchestrator)
        await run_until_idle(orchestrator, fail_fast=False)
        elapsed = time.perf_counter() - started
        group.cancel_scope.cancel()
    check(orchestrator, run)
    return elapsed


async def with_skipper() -> float:
    orchestrator = Orchestrator(VirtualClock(), seed=0)
    async with TimeSkipper(orchestrator), anyio.create_task_group() as group:
        group.start_soon(worker, orchestrator)
        started = time.perf_counter()
        run = submit(orchestrator)
        await TaskRunFuture(orchestrator, run.id).wait()  # as a test waits on its future
        elapsed = time.perf_counter() - started
        group.cancel_scope.cancel()
    check(orchestrator, run)
    return elapsed


async def by_hand() -> float:
    orchestrator = Orchestrator(VirtualClock(), seed=0)
    clock = orchestrator.clock
    assert isinstance(clock, VirtualClock)
    queue = orchestrator.multi_queue(["flaky"])
    started = time.perf_counter()
    run = submit(orchestrator)
    while not serve_one(orchestrator, await queue.get()):
        clock.advance(DELAY)  # the test has to know the schedule
    elapsed = time.perf_counter() - started
    check(orchestrator, run)
    return elapsed


def median_ms(backend: str, sample: Callable[[], Awaitable[float]], repeat: int = 31) -> float:
    async def main() -> list[float]:
        await sample()  # warm up imports and caches
        return [await sample() for _ in range(repeat)]

    samples: list[float] = anyio.run(main, backend=backend)
    return statistics.median(samples) * 1e3


def bench_retries() -> None:
    for backend in ("asyncio", "trio"):
        drain = median_ms(backend, with_drain)
        skipper = median_ms(backend, with_skipper)
        manual = median_ms(backend, by_hand)
        print(f"timeskip_retries_drain_{backend}: {drain:.3f} ms")
        print(f"timeskip_retries_skipper_{backend}: {skipper:.3f} ms")
        print(f"timeskip_retries_baseline_manual_advance_{backend}: {manual:.3f} ms")


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

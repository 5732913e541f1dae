"""Task worker benchmark: N no-op tasks submitted, then drained by one TaskWorker.

Run with ``python bench/bench_worker.py [N]``. Prints ``name: value unit`` lines; every
figure is a median over repeats, measured in the same run as its baselines:

* ``worker_*``: N runs of a no-op task submitted (``orchestrator.submit``), then drained
  by one :class:`~orchestrator.workers.TaskWorker` (limit 10) through the full policies
  (claim, Running, Completed, with the decision log on), on the system clock. Reported
  per task for the submission, the drain and the two together (end to end), and as
  tasks per second; for an async task on asyncio and on trio, and a sync one (threads).
* ``baseline_engine_only_drain``: the drain's proposals (claim, Running, Completed) made
  in a plain loop with no worker (and the same observer the drain waits through);
  ``worker_own_drain_overhead`` is the difference.
* ``baseline_asyncio_queue``: N items put on a raw ``asyncio.Queue`` and taken by a
  consumer task (the bare hand-off, no state at all).
* ``baseline_huey_immediate``: N calls of a huey task in immediate mode on its
  in-memory storage (``pip install huey``; skipped with a note when missing).
* ``flow_submit_per_task`` / ``flow_direct_call_per_task``: a sync ``@flow`` submitting
  1,000 no-op tasks to its task runner (and waiting for every future), and one calling
  the task 1,000 times directly; the flow's duration per task (``bench/bench_flows.py``
  prints them beside their thread-pool and plain-call baselines).
* ``profile_*``: where the end-to-end time goes, from one cProfile run (shares of the
  profiled time, so the absolute numbers are inflated; compare the shares).
"""

from __future__ import annotations

import asyncio
import cProfile
import functools
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from bench_flows import make_flows, per_task_us

from orchestrator import (
    Completed,
    Observer,
    Orchestrator,
    Pending,
    Running,
    State,
    StateDetails,
    TaskRun,
    task,
)
from orchestrator._core._states import TERMINAL_TYPES
from orchestrator.workers import TaskWorker

REPEAT = 5


@task(task_key="bench.noop")
async def noop() -> None:
    return None


@task(task_key="bench.sync_noop")
def sync_noop() -> None:
    return None


class Finished(Observer):
    """Sets ``done`` once ``expected`` runs have reached a terminal state."""

    def __init__(self, expected: int) -> None:
        self.left = expected
        self.done = anyio.Event()

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        if state.type in TERMINAL_TYPES:
            self.left -= 1
            if not self.left:
                self.done.set()


async def submit_and_drain(job: Any, n: int) -> tuple[float, float]:
    """Submit ``n`` runs of ``job``, then drain them with one worker; return the seconds."""
    orchestrator = Orchestrator(scheduled_queue_size=n + 1)
    started = time.perf_counter()
    for _ in range(n):
        orchestrator.submit(job)
    submitted = time.perf_counter()
    finished = Finished(n)
    orchestrator.subscribe(finished)
    worker = TaskWorker(job, orchestrator=orchestrator, limit=10)
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        await finished.done.wait()
        worker.stop()
    drained = time.perf_counter()
    assert sum(worker.status().finished.values()) == n
    return submitted - started, drained - submitted


async def asyncio_queue(n: int) -> float:
    """Seconds to put ``n`` items on an ``asyncio.Queue`` and take them in a consumer task."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    started = time.perf_counter()
    for item in range(n):
        queue.put_nowait(item)

    async def consume() -> None:
        for _ in range(n):
            await queue.get()

    await asyncio.create_task(consume())
    return time.perf_counter() - started


def _step(orchestrator: Orchestrator, run: TaskRun, proposal: State, current: State) -> State:
    result = orchestrator.set_task_run_state_if(run.id, proposal, current=current)
    assert result is not None
    assert result.state is not None
    return result.state


def engine_only(n: int) -> float:
    """Seconds for the drain's transitions without a worker: take, claim, run, complete.

    The proposals a worker makes (the same states, with the same details), in a plain
    loop: what the drain costs the engine.
    """
    orchestrator = Orchestrator(scheduled_queue_size=n + 1)
    for _ in range(n):
        orchestrator.submit(noop)
    orchestrator.subscribe(Finished(n))  # as in the drain, which waits through it
    queue = orchestrator.multi_queue([noop.task_key])
    started = time.perf_counter()
    for _ in range(n):
        run = queue.get_nowait()
        queued = run.state
        assert queued is not None
        details = StateDetails(
            deferred=True,
            scheduled_time=queued.details.scheduled_time,
            task_parameters_id=queued.details.task_parameters_id,
            task_run_id=run.id,
        )
        claim = _step(orchestrator, run, Pending(details=details), queued)
        running = _step(orchestrator, run, Running(details=claim.details), claim)
        _step(orchestrator, run, Completed(), running)
    return time.perf_counter() - started


def huey_immediate(n: int) -> float | None:
    """Seconds for ``n`` calls of a huey task in immediate mode, or None without huey."""
    try:
        from huey import MemoryHuey
    except ImportError:
        return None
    huey = MemoryHuey("bench", immediate=True)

    @huey.task()  # type: ignore[untyped-decorator]
    def nothing() -> None:
        return None

    started = time.perf_counter()
    for _ in range(n):
        nothing()
    return time.perf_counter() - started


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def run_async(function: Callable[..., Awaitable[Any]], *args: Any, backend: str) -> Any:
    return anyio.run(functools.partial(function, *args), backend=backend)


def bench_worker(n: int) -> tuple[float, float]:
    """Print the worker figures; return the asyncio end-to-end and drain us per task."""
    result = (0.0, 0.0)
    for label, job, backend in (
        ("async_asyncio", noop, "asyncio"),
        ("async_trio", noop, "trio"),
        ("sync_asyncio", sync_noop, "asyncio"),
    ):
        submits, drains, totals = [], [], []
        for _ in range(REPEAT):
            submit, drain = run_async(submit_and_drain, job, n, backend=backend)
            submits.append(submit / n * 1e6)
            drains.append(drain / n * 1e6)
            totals.append((submit + drain) / n * 1e6)
        total = median(totals)
        print(f"worker_{label}_submit: {median(submits):.1f} us")
        print(f"worker_{label}_drain: {median(drains):.1f} us")
        print(f"worker_{label}_end_to_end: {total:.1f} us")
        print(f"worker_{label}_throughput: {1e6 / total:.0f} tasks/s")
        if label == "async_asyncio":
            result = (total, median(drains))
    return result


def bench_baselines(n: int, worker_us: float, drain_us: float) -> None:
    engine = median([engine_only(n) / n * 1e6 for _ in range(REPEAT)])
    print(f"baseline_engine_only_drain: {engine:.1f} us")
    print(f"worker_own_drain_overhead: {drain_us - engine:.1f} us")
    raw = median([run_async(asyncio_queue, n, backend="asyncio") / n * 1e6 for _ in range(REPEAT)])
    print(f"baseline_asyncio_queue: {raw:.2f} us")
    print(f"worker_over_asyncio_queue: {worker_us / raw:.0f} x")
    samples = [huey_immediate(n) for _ in range(REPEAT)]
    if samples[0] is None:
        print("baseline_huey_immediate: skipped (pip install huey to measure it)")
        return
    huey_us = median([s / n * 1e6 for s in samples if s is not None])
    print(f"baseline_huey_immediate: {huey_us:.1f} us")
    print(f"worker_over_huey_immediate: {worker_us / huey_us:.2f} x")
    print(f"worker_target_15us_met: {'yes' if worker_us <= 15 else 'no'}")


def bench_flow_tasks(n: int = 1000) -> None:
    """Print the per-task cost of a flow of ``n`` submits and of ``n`` direct calls."""
    submit_flow, call_flow = make_flows(n)
    submit_flow()  # warm up imports and code paths
    print(f"flow_submit_per_task: {per_task_us(submit_flow, n):.2f} us")
    print(f"flow_direct_call_per_task: {per_task_us(call_flow, n):.2f} us")


# -- where the time goes ----------------------------------------------------------------------
AREAS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("store", lambda f, _: "/orchestrator/_store/" in f),
    ("indexes", lambda f, _: "/orchestrator/_core/_indexes" in f or "sortedcontainers" in f),
    ("rules_and_engine", lambda f, _: "/orchestrator/" in f and "/workers/" not in f),
    ("worker", lambda f, _: "/orchestrator/workers/" in f),
    ("attrs_and_uuid", lambda f, _: "/attr/" in f or f.endswith("uuid.py")),
    ("event_loop", lambda f, _: "asyncio" in f or "anyio" in f or "trio" in f),
]


def profile(n: int) -> None:
    """Profile one end-to-end run on asyncio; print shares by area and the costly calls."""
    profiler = cProfile.Profile()
    profiler.enable()
    anyio.run(functools.partial(submit_and_drain, noop, n))
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    shares = dict.fromkeys([name for name, _ in AREAS] + ["other"], 0.0)
    for (filename, _, function), entry in raw.items():
        area = next((name for name, test in AREAS if test(filename, function)), "other")
        shares[area] += entry[2]
    for area, seconds in shares.items():
        print(f"profile_share_{area}: {seconds / total * 100:.0f} %")
    # Cumulative time per call of the calls a colleague reported slow, and the main steps.
    wanted = {
        "create_task_run": "_engine/_task_runs.py",
        "reindex_task_run": "_store/_store.py",
        "append_task_run_state": "_store/_store.py",
        "propose": "_engine/_engine.py",
        "record": "_engine/_decisions.py",
        "claim": "workers/_execution.py",
        "execute": "workers/_execution.py",
    }
    for (filename, _, function), entry in raw.items():
        if wanted.get(function) and filename.endswith(wanted[function]):
            calls, cumulative = entry[1], entry[3]
            share = cumulative / total * 100
            print(
                f"profile_{function.strip('_')}: {cumulative / calls * 1e6:.1f} us per call "
                f"(profiled), {calls / n:.0f} per task, {share:.0f} % of the time"
            )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"tasks: {n} count")
    worker_us, drain_us = bench_worker(n)
    bench_baselines(n, worker_us, drain_us)
    bench_flow_tasks()
    profile(n)


if __name__ == "__main__":
    main()

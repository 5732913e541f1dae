"""Executor benchmark: CPU-bound tasks through threads, a process pool and a Dask cluster.

Run with ``python bench/bench_executors.py`` (needs the ``dask`` extra). One run measures,
on the system clock, with a TaskWorker serving each time (``run_until_idle_sync``):

* ``cpu_task_seconds``: one call of the CPU-bound pure-Python function, in this process
  (calibrated at start to about 0.5 s).
* ``threads_wall`` / ``process_pool_wall`` / ``dask_wall``: 8 runs of that task with
  distinct arguments, from submission to the last one completed, with the function in
  worker threads (the default), in a ``ProcessPoolExecutor(2)`` and on a
  ``LocalCluster`` of 2 one-thread worker processes. The pool and the cluster are warmed
  up (started, one call made) before they are timed; the batch runs 3 rounds through
  the three in turn, and each figure is the best round (the machine is shared).
* ``process_pool_speedup_over_threads`` / ``dask_speedup_over_threads``: the threads'
  wall time divided by the executor's (the GIL lets threads run pure Python one at a
  time; two processes should give close to 2x on 2 cores: the target is >= 1.5x).
* ``threads_noop_per_task`` / ``process_pool_noop_per_task`` / ``dask_noop_per_task``:
  N no-op runs (N = 200, at most 10 at once: the worker's default limit) through each,
  the wall time divided by N, a fresh orchestrator and worker each time (median of 3); and
  ``*_overhead_over_threads``: what the executor adds to each run beside threads.
* ``load_average_before`` / ``load_average_after``: the machine's 1-minute load average
  around the run: other processes on 2 cores move every figure (above 2, a process
  waits for a core, and the speed-ups shrink toward 1).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator import Orchestrator, task
from orchestrator.executors import DaskExecutor, Executor, ProcessPoolExecutor
from orchestrator.testing import run_until_idle_sync

CPU_TASKS = 8
TARGET_SECONDS = 0.5
NOOP_TASKS = 200
#: The worker's limit for the no-op runs (TaskWorker's default).
NOOP_LIMIT = 10
REPEATS = 3
ROUNDS = 3


@task
def burn(n: int) -> int:
    """Pure-Python CPU work: ``n`` steps of a modular sum of squares."""
    total = 0
    for i in range(n):
        total = (total + i * i) % 1_000_003
    return total


@task
def noop() -> None:
    """The work of a no-op task: nothing."""


def calibrate() -> tuple[int, float]:
    """The ``n`` for which ``burn(n)`` takes about TARGET_SECONDS here, and its time."""
    n = 100_000
    while True:
        start = time.perf_counter()
        burn.fn(n)
        seconds = time.perf_counter() - start
        if seconds >= 0.05:
            break
        n *= 4
    n = int(n * TARGET_SECONDS / seconds)
    start = time.perf_counter()
    burn.fn(n)
    return n, time.perf_counter() - start


def drain(
    the_task: Any, arguments: Sequence[tuple[Any, ...]], executor: Executor | None, limit: int
) -> float:
    """Submit one run per arguments, serve them to the end (``limit`` at once); seconds."""
    orchestrator = Orchestrator()
    start = time.perf_counter()
    futures = [orchestrator.submit(the_task, *args) for args in arguments]
    run_until_idle_sync(orchestrator, the_task, executor=executor, limit=limit)
    seconds = time.perf_counter() - start
    for future in futures:
        future.result()  # raises if a run did not complete
    return seconds


def noop_per_task_us(executor: Executor | None) -> float:
    """Median over repeats of NOOP_TASKS no-op runs' wall time, per run, in microseconds."""
    samples = [drain(noop, [()] * NOOP_TASKS, executor, NOOP_LIMIT) for _ in range(REPEATS)]
    return statistics.median(samples) / NOOP_TASKS * 1e6


def main(out: Callable[[str], None] = print) -> dict[str, tuple[float, float]]:
    """Run every measurement; print ``name: value unit`` lines.

    The CPU-bound batch runs ROUNDS times through each place in turn (threads, the pool,
    the cluster, then again), so a busy moment of the shared machine hits all of them
    alike; each place's figure is its best round.

    Returns:
        For each of threads, process_pool and dask: (CPU-bound wall s, no-op us per run).
    """
    from distributed import Client, LocalCluster

    out(f"load_average_before: {os.getloadavg()[0]:.2f}")
    n, seconds = calibrate()
    out(f"cpu_task_seconds: {seconds:.2f} s")
    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",
        silence_logs=logging.CRITICAL,
        scheduler_kwargs={"allowed_failures": 0},
    )
    try:
        with (
            ProcessPoolExecutor(2) as pool,
            Client(cluster, set_as_default=False) as client,
            DaskExecutor(client) as dask,
        ):
            places: dict[str, Executor | None] = {
                "threads": None,
                "process_pool": pool,
                "dask": dask,
            }
            for executor in places.values():
                drain(noop, [()], executor, 1)  # warm-up: processes started, modules imported
            batch = [(n + i,) for i in range(CPU_TASKS)]
            rounds: dict[str, list[float]] = {name: [] for name in places}
            for _ in range(ROUNDS):
                for name, executor in places.items():
                    rounds[name].append(drain(burn, batch, executor, CPU_TASKS))
            figures = {
                name: (min(rounds[name]), noop_per_task_us(executor))
                for name, executor in places.items()
            }
    finally:
        cluster.close()
    for name, (wall, noop_us) in figures.items():
        out(f"{name}_wall: {wall:.2f} s")
        out(f"{name}_noop_per_task: {noop_us:.0f} us")
    threads_wall, threads_noop = figures["threads"]
    for name in ("process_pool", "dask"):
        wall, noop_us = figures[name]
        out(f"{name}_speedup_over_threads: {threads_wall / wall:.2f} x")
        out(f"{name}_overhead_over_threads: {noop_us - threads_noop:.0f} us")
    out(f"load_average_after: {os.getloadavg()[0]:.2f}")
    return figures


if __name__ == "__main__":
    # The workers import the tasks by module name: a script's __main__ is not importable
    # there, so run this file's main() from the module imported under its own name.
    sys.modules.pop("bench_executors", None)
    import bench_executors

    bench_executors.main()

"""Flow benchmark: what one task costs inside a ``@flow``, submitted or called directly.

Run with ``python bench/bench_flows.py [N]`` (N = 1000 by default). Prints ``name: value
unit`` lines; every figure is the median over repeats, measured in the same run as its
baseline, on the system clock:

* ``flow_submit_per_task``: a sync flow that submits N no-op tasks to its task runner
  (the default ThreadPoolTaskRunner) and waits for every future; the flow's whole
  duration divided by N.
* ``flow_direct_call_per_task``: a sync flow that calls the no-op task N times (each a
  task run, inline in the flow's thread).
* ``baseline_plain_call_per_task``: the plain function called N times in a loop.
* ``baseline_thread_pool_per_task``: the plain function submitted N times to a
  ``concurrent.futures.ThreadPoolExecutor`` and waited for (the bare hand-off the task
  runner builds on).
* the ratios of each flow figure to the thread-pool baseline.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from orchestrator import Orchestrator, flow, task

REPEATS = 5


def noop() -> None:
    """The work of every task: nothing."""


noop_task = task(noop)


def make_flows(n: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """Run a flow submitting ``n`` no-op tasks, and one calling it ``n`` times.

    Returns two functions, each running its flow once on a fresh orchestrator.
    """

    @flow
    def submitting() -> None:
        futures = [noop_task.submit() for _ in range(n)]
        for future in futures:
            future.result()

    @flow
    def calling() -> None:
        for _ in range(n):
            noop_task()

    def submit_flow() -> None:
        with Orchestrator():
            submitting()

    def call_flow() -> None:
        with Orchestrator():
            calling()

    return submit_flow, call_flow


def per_task_us(run: Callable[[], None], n: int) -> float:
    """Median over repeats of ``run()``'s duration, in microseconds per task."""
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    submit_flow, call_flow = make_flows(n)

    def plain() -> None:
        for _ in range(n):
            noop()

    def thread_pool() -> None:
        with ThreadPoolExecutor() as pool:
            for future in [pool.submit(noop) for _ in range(n)]:
                future.result()

    submit_flow()  # warm up imports and code paths
    figures = {
        "flow_submit_per_task": per_task_us(submit_flow, n),
        "flow_direct_call_per_task": per_task_us(call_flow, n),
        "baseline_plain_call_per_task": per_task_us(plain, n),
        "baseline_thread_pool_per_task": per_task_us(thread_pool, n),
    }
    print(f"tasks_per_flow: {n} tasks")
    for name, value in figures.items():
        print(f"{name}: {value:.2f} us")
    pool = figures["baseline_thread_pool_per_task"]
    print(f"flow_submit_vs_thread_pool: {figures['flow_submit_per_task'] / pool:.1f} x")
    print(f"flow_direct_call_vs_thread_pool: {figures['flow_direct_call_per_task'] / pool:.1f} x")


if __name__ == "__main__":
    main()

"""Core benchmarks: construction, transitions through the core policy, memory per run.

Run with ``python bench/bench_core.py``. Prints ``name: value unit`` lines; every figure
is a median over repeats, and each comes with a baseline measured in the same run.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable

from orchestrator import (
    Completed,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    State,
    VirtualClock,
)


def median_us(function: Callable[[], object], *, number: int, repeat: int = 7) -> float:
    """Median over ``repeat`` rounds of the mean time of ``number`` calls, in microseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def bench_construction() -> None:
    clock = VirtualClock()
    construct = median_us(lambda: Orchestrator(clock=clock, seed=1), number=2000)
    baseline = median_us(lambda: {"runs": {}, "states": {}, "queues": {}}, number=2000)
    print(f"construction: {construct:.1f} us")
    print(f"construction_baseline_three_dicts: {baseline:.2f} us")
    print(f"construction_ratio: {construct / baseline:.0f} x")


def bench_transitions(runs: int = 20000) -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, seed=1, keep_decisions=True)
    ids = [orch.create_task_run("bench", state=Scheduled()).run.id for _ in range(runs)]
    steps: list[tuple[str, Callable[[], State]]] = [
        ("pending", Pending),
        ("running", Running),
        ("completed", Completed),
    ]
    per_step: dict[str, list[float]] = {}
    set_state = orch.set_task_run_state
    for name, make in steps:
        proposals = [make() for _ in ids]
        samples = []
        chunk = 2000
        for start in range(0, runs, chunk):
            batch = list(
                zip(ids[start : start + chunk], proposals[start : start + chunk], strict=True)
            )
            t0 = time.perf_counter()
            for run_id, proposal in batch:
                set_state(run_id, proposal)
            samples.append((time.perf_counter() - t0) / len(batch) * 1e6)
        per_step[name] = samples
    all_samples = [s for samples in per_step.values() for s in samples]
    for name, samples in per_step.items():
        print(f"transition_{name}: {statistics.median(samples):.2f} us")
    median = statistics.median(all_samples)
    print(f"transition_median: {median:.2f} us")

    # Baseline: the least a state machine must do, a dict lookup, a check and two writes.
    table: dict[int, str] = dict.fromkeys(range(runs), "SCHEDULED")
    history: dict[int, list[str]] = {i: [] for i in range(runs)}
    allowed = {("SCHEDULED", "PENDING"), ("PENDING", "RUNNING"), ("RUNNING", "COMPLETED")}

    def naive(run: int, new: str) -> None:
        if (table[run], new) in allowed:
            table[run] = new
            history[run].append(new)

    t0 = time.perf_counter()
    for new in ("PENDING", "RUNNING", "COMPLETED"):
        for run in range(runs):
            naive(run, new)
    baseline = (time.perf_counter() - t0) / (3 * runs) * 1e6
    print(f"transition_baseline_naive_dict: {baseline:.3f} us")
    print(f"transition_ratio_over_naive: {median / baseline:.2f} x")
    orch.check_invariants()


def bench_memory(runs: int = 20000) -> None:
    gc.collect()
    tracemalloc.start()
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(runs):
        run_id = orch.create_task_run("memory", state=Scheduled()).run.id
        orch.set_task_run_state(run_id, Pending())
        orch.set_task_run_state(run_id, Running())
        orch.set_task_run_state(run_id, Completed())
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_run = (after - before) / runs
    print(f"bytes_per_completed_run: {per_run:.0f} bytes (4 states, 4 decisions, indexes)")
    print(f"bytes_per_completed_run_target_ratio: {per_run / 2048:.2f} of 2 KiB")


def main() -> None:
    bench_construction()
    bench_transitions()
    bench_memory()


if __name__ == "__main__":
    main()

"""Fault soak: task workers under faults and cancellations lose nothing and run nothing twice.

Run with ``python bench/bench_fault_soak.py [RUNS] [CANCELLATIONS]`` (100,000 runs and
20 worker cancellations by default; about a minute per worker count on two cores).
Prints ``name: value unit`` lines for 4 and for 8 workers on one orchestrator
(a VirtualClock; retry delays 0):

* four task keys: ``a`` async, raising (every 11th run always, every 5th on its first
  attempt; 2 retries); ``b`` sync, cached (500 cache keys; every 13th run raises once;
  1 retry); ``c`` async under a tag limit of 3, timing out on every 7th run (the call
  moves the clock past its own deadline; 1 retry); ``d`` sync with a timeout, whose
  every 7th run moves the clock past its deadline from its thread and runs on a few
  milliseconds, so its call is abandoned and its retry must wait for it (1 retry);
* while the runs drain, ``CANCELLATIONS`` times (evenly spread over the runs) a seeded
  random worker is cancelled and a fresh one takes its place.

Figures: ``lost`` (runs not final at the end), ``duplicated`` (function calls beyond the
run's attempts, i.e. Running states, plus calls of one run that overlapped),
``slots_leaked`` (tag slots still held, worker slots not free, leases, abandoned calls,
queued runs and executing counts left at the end), ``abandoned_calls`` (sync calls left
running past their timeout or by a cancelled worker), the final states, and the wall
time.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import Counter
from typing import Any

import anyio
import anyio.from_thread

from orchestrator import Observer, Orchestrator, State, StateType, TaskRun, VirtualClock, task
from orchestrator._core._states import TERMINAL_TYPES
from orchestrator._core._wakeup import Signal
from orchestrator.workers import TaskWorker

KEYS = ("a", "b", "c", "d")


class Boom(Exception):
    """A task's planned failure."""


class Progress(Observer):
    """Counts runs that reached a terminal state; notifies ``signal`` on each."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.finished = 0
        self.signal = Signal()
        orchestrator.subscribe(self)

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        if state.type in TERMINAL_TYPES:
            self.finished += 1
            self.signal.notify()


class LeftRunning(logging.Handler):
    """Counts the workers' "call is left running" notes (one per abandoned call)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "left running" in record.getMessage():
            self.count += 1


class Calls:
    """Counts calls per run and the calls of one run under way at once (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count: Counter[tuple[str, int]] = Counter()
        self.active: Counter[tuple[str, int]] = Counter()
        self.overlaps = 0

    def enter(self, key: tuple[str, int]) -> int:
        with self.lock:
            self.count[key] += 1
            self.active[key] += 1
            if self.active[key] > 1:
                self.overlaps += 1
            return self.count[key]

    def leave(self, key: tuple[str, int]) -> None:
        with self.lock:
            self.active[key] -= 1


async def soak(workers: int, runs: int, cancellations: int) -> dict[str, float]:
    clock = VirtualClock()
    orch = Orchestrator(
        clock, seed=11, scheduled_queue_size=runs, keep_decisions=False, slot_wait_seconds=3600
    )
    orch.create_concurrency_limit("soak", 3)
    calls = Calls()
    left_running = LeftRunning()
    workers_log = logging.getLogger("orchestrator.workers")
    workers_log.addHandler(left_running)
    workers_log.setLevel(logging.INFO)

    @task(task_key="soak.a", retries=2, retry_delay_seconds=0)
    async def job_a(i: int) -> int:
        n = calls.enter(("a", i))
        try:
            if i % 11 == 0 or (i % 5 == 0 and n == 1):
                raise Boom(i)
            await anyio.lowlevel.checkpoint()
            return i
        finally:
            calls.leave(("a", i))

    @task(task_key="soak.b", retries=1, cache_key_fn=lambda p: f"b-{p['i'] % 500}")
    def job_b(i: int) -> int:
        n = calls.enter(("b", i))
        try:
            if i % 13 == 0 and n == 1:
                raise Boom(i)
            return i % 500
        finally:
            calls.leave(("b", i))

    @task(task_key="soak.c", tags=["soak"], timeout_seconds=5, retries=1)
    async def job_c(i: int) -> int:
        calls.enter(("c", i))
        try:
            if i % 7 == 0:
                clock.advance(10)  # past the deadline: this call times out
                await anyio.sleep_forever()
            return i
        finally:
            calls.leave(("c", i))

    @task(task_key="soak.d", timeout_seconds=5, retries=1)
    def job_d(i: int) -> int:
        n = calls.enter(("d", i))
        try:
            if i % 7 == 0 and n == 1:
                anyio.from_thread.run_sync(clock.advance, 10)  # the deadline passes...
                time.sleep(0.003)  # ...while the call runs on: it is abandoned
            return i
        finally:
            calls.leave(("d", i))

    jobs: dict[str, Any] = {"a": job_a, "b": job_b, "c": job_c, "d": job_d}
    futures = {}
    for i in range(runs):
        key = KEYS[i % 4]
        futures[key, i] = orch.submit(jobs[key], i)
    progress = Progress(orch)
    chaos = random.Random(7)
    pool: list[tuple[TaskWorker, anyio.CancelScope]] = []
    retired: list[TaskWorker] = []
    began = time.perf_counter()

    async def serve(worker: TaskWorker, scope: anyio.CancelScope) -> None:
        with scope:
            await worker.run()

    async with anyio.create_task_group() as group:

        async def add_worker() -> None:
            worker = TaskWorker(*jobs.values(), orchestrator=orch)
            scope = anyio.CancelScope()
            pool.append((worker, scope))
            group.start_soon(serve, worker, scope)

        for _ in range(workers):
            await add_worker()
        step = runs // (cancellations + 1)
        done_cancelling = 0
        signal = progress.signal
        while progress.finished < runs:
            seen = signal.generation
            if done_cancelling < cancellations and progress.finished >= step * (
                done_cancelling + 1
            ):
                worker, scope = pool.pop(chaos.randrange(len(pool)))
                scope.cancel()
                retired.append(worker)
                done_cancelling += 1
                await add_worker()
                continue
            if progress.finished >= runs:
                break
            await signal.wait(seen)
        for worker, _ in pool:
            if worker.started:
                worker.stop()
    # The calls left running return on their own; wait for them, then count.
    changed = orch.activity.changed
    while True:
        seen = changed.generation
        if orch.activity.executing == 0:
            break
        await changed.wait(seen)
    wall = time.perf_counter() - began

    lost = sum(f.state.type not in TERMINAL_TYPES for f in futures.values())
    duplicated = calls.overlaps
    for (name, i), future in futures.items():
        states = orch.read_task_run_states(future.task_run_id)
        attempts = sum(state.name in ("Running", "Retrying") for state in states)
        duplicated += max(0, calls.count[name, i] - attempts)
    every = [w for w, _ in pool] + retired
    leaked = len(orch.read_concurrency_limit("soak").active_slots)
    leaked += sum(w.status().available != w.limit or bool(w.status().abandoned) for w in every)
    leaked += len(orch.pending_leases) + len(orch.abandoned_calls) + orch.activity.executing
    leaked += orch.task_queues.statistics().queued
    by_state = Counter(
        (f.state.type.name if f.state.type is not StateType.COMPLETED else f.state.name)
        for f in futures.values()
    )
    orch.check_invariants()
    workers_log.removeHandler(left_running)
    return {
        "runs": runs,
        "cancellations": len(retired),
        "lost": lost,
        "duplicated": duplicated,
        "slots_leaked": leaked,
        "abandoned_calls": left_running.count,
        "wall_seconds": wall,
        "runs_per_second": runs / wall,
        **{f"final_{name.lower()}": count for name, count in sorted(by_state.items())},
    }


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    cancellations = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    for workers in (4, 8):
        figures = anyio.run(soak, workers, runs, cancellations)
        for name, value in figures.items():
            unit = "s" if name == "wall_seconds" else "runs/s" if name == "runs_per_second" else ""
            shown = f"{value:.1f}" if isinstance(value, float) else str(value)
            print(f"fault_soak_{workers}_workers_{name}: {shown} {unit}".rstrip(), flush=True)


if __name__ == "__main__":
    main()

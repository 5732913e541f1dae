"""Scale benchmark: 10k and 1M no-op background runs through one TaskWorker.

Run with ``python bench/bench_scale.py`` (about 3-5 minutes on 2 cores; ``--small`` runs
10k and 100k instead, in seconds). Each size runs in a fresh subprocess, so its resident
memory (``VmRSS`` of ``/proc/self/status``) is its own. At each size N:

* N runs of a no-op async task are submitted (``orchestrator.submit``), then drained by
  one :class:`~orchestrator.workers.TaskWorker` (limit 10) on asyncio, through the full
  policies (claim, Running, Completed), on the system clock, every run kept in the store
  (no retention);
* ``scale_<size>_submit``, ``scale_<size>_drain`` and ``scale_<size>_per_task``: the
  seconds of each phase per task, and of the two together (the 10k leg is the median of
  three repeats, the 1M leg a single run);
* ``scale_per_task_ratio_1m_over_10k``: how much dearer a task is when a million runs
  are in the store than when ten thousand are (1.0 means flat);
* ``scale_rss_per_run``: the resident memory the 1M completed runs add, per run (RSS
  after the drain minus RSS before the first submission, divided by N);
  ``scale_rss_<size>`` is the process's RSS after the drain.

The decision log is on at both sizes unless ``--no-decisions`` is given, which the output
then says (``scale_keep_decisions: no``).
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

import anyio
from bench_worker import Finished  # the bench folder is the script's own (sys.path[0])

from orchestrator import Orchestrator, task
from orchestrator.workers import TaskWorker

SMALL = 10_000
LARGE = 1_000_000
SMALL_REPEATS = 3


@task(task_key="bench.scale_noop")
async def noop() -> None:
    return None


def rss_bytes() -> int:
    """This process's resident memory now (VmRSS; the peak where /proc is absent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def submit_and_drain(n: int, keep_decisions: bool) -> tuple[float, float, int, int]:
    """Submit ``n`` runs, drain them with one worker; the seconds and the RSS before/after."""
    orchestrator = Orchestrator(scheduled_queue_size=n + 1, keep_decisions=keep_decisions)
    before = rss_bytes()
    started = time.perf_counter()
    for _ in range(n):
        orchestrator.submit(noop)
    submitted = time.perf_counter()
    finished = Finished(n)
    orchestrator.subscribe(finished)
    worker = TaskWorker(noop, orchestrator=orchestrator, limit=10)
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        await finished.done.wait()
        worker.stop()
    drained = time.perf_counter()
    after = rss_bytes()
    assert sum(worker.status().finished.values()) == n
    return submitted - started, drained - submitted, before, after


def leg(n: int, repeats: int, keep_decisions: bool) -> None:
    """One size, in this process: print its raw figures for the parent to read."""
    samples = [
        anyio.run(submit_and_drain, n, keep_decisions, backend="asyncio") for _ in range(repeats)
    ]
    submit = statistics.median(s[0] for s in samples) / n * 1e6
    drain = statistics.median(s[1] for s in samples) / n * 1e6
    total = statistics.median((s[0] + s[1]) for s in samples) / n * 1e6
    _, _, before, after = samples[-1]
    print(f"{submit} {drain} {total} {before} {after}")


def label(n: int) -> str:
    return f"{n // 1_000_000}m" if n >= 1_000_000 else f"{n // 1000}k"


def run_leg(n: int, repeats: int, keep_decisions: bool) -> tuple[float, float, float, int, int]:
    command = [sys.executable, __file__, "--leg", str(n), str(repeats)]
    if not keep_decisions:
        command.append("--no-decisions")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    fields = done.stdout.split()
    return (
        float(fields[0]),
        float(fields[1]),
        float(fields[2]),
        int(fields[3]),
        int(fields[4]),
    )


def main() -> None:
    args = sys.argv[1:]
    keep_decisions = "--no-decisions" not in args
    if args and args[0] == "--leg":
        leg(int(args[1]), int(args[2]), keep_decisions)
        return
    large = 100_000 if "--small" in args else LARGE
    print(f"scale_keep_decisions: {'yes' if keep_decisions else 'no'}")
    per_task = {}
    for n, repeats in ((SMALL, SMALL_REPEATS), (large, 1)):
        started = time.perf_counter()
        submit, drain, total, before, after = run_leg(n, repeats, keep_decisions)
        name = label(n)
        per_task[n] = total
        print(f"scale_{name}_submit: {submit:.1f} us")
        print(f"scale_{name}_drain: {drain:.1f} us")
        print(f"scale_{name}_per_task: {total:.1f} us")
        print(f"scale_rss_{name}: {after / 2**20:.0f} MB")
        print(f"scale_{name}_wall: {time.perf_counter() - started:.0f} s")
        if n == large:
            print(f"scale_rss_per_run: {(after - before) / n:.0f} bytes")
    ratio = per_task[large] / per_task[SMALL]
    print(f"scale_per_task_ratio_{label(large)}_over_10k: {ratio:.2f} x")


if __name__ == "__main__":
    main()

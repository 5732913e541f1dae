"""Soak benchmark: a million runs through one orchestrator, with and without retention.

Run with ``python bench/bench_soak.py [RUNS]`` (RUNS defaults to 1,000,000; a few minutes
on two cores). Prints ``name: value unit`` lines. Each phase runs in a fresh interpreter,
so its resident memory (``VmRSS`` of ``/proc/self/status``) is its own:

* ``soak_retention_*``: RUNS task runs, each created Scheduled, then Pending, Running
  and Completed through the public API on a VirtualClock (1 ms apart), with
  ``Retention(max_terminal_runs=10_000)``. RSS at 100k runs and at RUNS should be about
  the same (``soak_retention_rss_growth_100k_to_end`` near 0), and the store holds
  10,000 runs and 40,000 states at the end.
* ``soak_baseline_*``: the same for 100k runs without retention, the baseline: memory
  grows with every run.
* ``soak_cache_*``: 100k runs whose results are cached for an hour, all deleted; the
  cache entries outlive them until the clock passes their expiry and one proposal is
  made, which prunes them all.

``*_blocks`` lines count the memory blocks Python has allocated
(``sys.getallocatedblocks()``): objects freed show there at once, while RSS only drops
when whole allocator arenas empty (freed memory is reused by the process either way).
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from datetime import timedelta

from orchestrator import (
    Completed,
    Orchestrator,
    Pending,
    Retention,
    Running,
    Scheduled,
    StateDetails,
    VirtualClock,
)

RETAINED = 10_000
CHECKPOINT = 100_000


def rss_mb() -> float:
    """This process's resident memory now, in MB (VmRSS; the peak where /proc is absent)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def blocks() -> int:
    """Memory blocks allocated by Python now, after a full collection."""
    gc.collect()
    return sys.getallocatedblocks()


def push(orch: Orchestrator, clock: VirtualClock, count: int, start: int = 0) -> float:
    """Take ``count`` runs from creation to Completed; return the seconds it took."""
    create, set_state = orch.create_task_run, orch.set_task_run_state
    began = time.perf_counter()
    for number in range(start, start + count):
        run_id = create("soak", state=Scheduled()).run.id
        set_state(run_id, Pending())
        set_state(run_id, Running())
        set_state(run_id, Completed(number))
        clock.advance(0.001)
    return time.perf_counter() - began


def label(runs: int) -> str:
    """100000 -> "100k", 1000000 -> "1M"."""
    if runs % 1_000_000 == 0:
        return f"{runs // 1_000_000}M"
    return f"{runs // 1000}k" if runs % 1000 == 0 else str(runs)


def phase_retention(runs: int) -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=1, retention=Retention(max_terminal_runs=RETAINED))
    first = min(runs, CHECKPOINT)
    seconds = push(orch, clock, first)
    at_checkpoint, blocks_at_checkpoint = rss_mb(), blocks()
    print(f"soak_retention_rss_at_{label(first)}: {at_checkpoint:.1f} MB")
    seconds += push(orch, clock, runs - first, start=first)
    at_end, blocks_at_end = rss_mb(), blocks()
    stats = orch.statistics()
    print(f"soak_retention_rss_at_{label(runs)}: {at_end:.1f} MB")
    print(f"soak_retention_rss_growth_{label(first)}_to_end: {at_end - at_checkpoint:.1f} MB")
    print(f"soak_retention_blocks_at_{label(first)}: {blocks_at_checkpoint} blocks")
    print(f"soak_retention_blocks_at_{label(runs)}: {blocks_at_end} blocks")
    print(f"soak_retention_runs_per_second: {runs / seconds:.0f} runs/s")
    print(f"soak_retention_seconds: {seconds:.1f} s")
    print(f"soak_retention_task_runs_at_end: {stats.task_runs} runs")
    print(f"soak_retention_task_run_states_at_end: {stats.task_run_states} states")
    print(f"soak_retention_decisions_at_end: {stats.decisions} decisions")
    orch.check_invariants()


def phase_baseline() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=1)
    start = rss_mb()
    seconds = push(orch, clock, CHECKPOINT)
    at_checkpoint = rss_mb()
    print(f"soak_baseline_rss_at_100k: {at_checkpoint:.1f} MB (no retention)")
    print(f"soak_baseline_rss_growth_0_to_100k: {at_checkpoint - start:.1f} MB")
    print(f"soak_baseline_runs_per_second: {CHECKPOINT / seconds:.0f} runs/s")
    print(f"soak_baseline_task_runs_at_100k: {orch.statistics().task_runs} runs")


def phase_cache() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=1, keep_decisions=False)
    expiry = clock.now() + timedelta(hours=1)
    for number in range(CHECKPOINT):
        run = orch.create_task_run("cached", state=Running()).run
        details = StateDetails(cache_key=f"cached-{number}", cache_expiration=expiry)
        orch.set_task_run_state(run.id, Completed(number, details=details))
    orch.delete_task_runs()
    print(f"soak_cache_entries_after_deleting_the_runs: {orch.statistics().cache_entries}")
    print(f"soak_cache_rss_before_expiry: {rss_mb():.1f} MB")
    print(f"soak_cache_blocks_before_expiry: {blocks()} blocks")
    clock.advance(3600)
    began = time.perf_counter()
    orch.create_task_run("probe")  # the first proposal past the expiry prunes
    pruning = time.perf_counter() - began
    print(f"soak_cache_entries_after_expiry_and_one_proposal: {orch.statistics().cache_entries}")
    print(f"soak_cache_prune_100k_seconds: {pruning:.3f} s")
    print(f"soak_cache_rss_after_expiry: {rss_mb():.1f} MB")
    print(f"soak_cache_blocks_after_expiry: {blocks()} blocks")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--phase":
        phase = sys.argv[2]
        if phase == "retention":
            phase_retention(int(sys.argv[3]))
        elif phase == "baseline":
            phase_baseline()
        else:
            phase_cache()
        return
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if runs < 1:
        raise SystemExit(f"RUNS must be a positive number of runs, got {runs}")
    for arguments in (["retention", str(runs)], ["baseline"], ["cache"]):
        done = subprocess.run(
            [sys.executable, __file__, "--phase", *arguments],
            check=True,
            capture_output=True,
            text=True,
        )
        print(done.stdout, end="", flush=True)


if __name__ == "__main__":
    main()

"""Journal benchmark: what durability costs, beside the in-memory figures, in one run.

Run with ``python bench/bench_journal.py [N]``. Prints ``name: value unit`` lines; every
journal lives in a temporary directory:

* ``end_to_end_<mode>``: N no-op background runs submitted, then drained by one
  :class:`~orchestrator.workers.TaskWorker` (limit 10), per task (median of repeats), in
  memory and with the journal in each durability mode ("normal", "full", "batch");
  ``journal_<mode>_over_memory`` is the ratio (targets: normal <= 3x, batch <= 1.5x).
* ``transition_<mode>``: one ``set_task_run_state`` call (Pending, Running, Completed on
  pre-made runs), median per call, in memory and in each mode, with their ratios.
* ``journal_bytes_per_completed_run``: the journal's size on disk after the normal-mode
  end-to-end run, closed, divided by its runs.
* ``journal_restore_100k``: seconds to open an orchestrator on a journal holding 100,000
  completed runs (each Scheduled, Pending, Running, Completed), as the default options
  leave it (compacted on its own each 100,000 log records, so a snapshot and a log);
  ``journal_restore_100k_log_only``: the same runs with compaction off (all in the log);
  ``journal_restore_100k_compacted``: after ``compact_journal()`` (all in the snapshot).
  With the sizes on disk and the time of one compaction of 100,000 runs.

The end-to-end rounds take the modes in turn, each round in another order, so a change
in the machine's load falls on every mode alike.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import anyio
from bench_worker import Finished  # the bench folder is the script's own (sys.path[0])

from orchestrator import (
    Completed,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    SQLiteJournal,
    State,
    VirtualClock,
    task,
)
from orchestrator.workers import TaskWorker

Mode = Literal["memory", "normal", "full", "batch"]
MODES: tuple[Mode, ...] = ("memory", "normal", "full", "batch")
REPEAT = 5
RESTORE_RUNS = 100_000


@task(task_key="bench.journal_noop")
async def noop() -> None:
    """Nothing at all: the figure is the orchestration's."""
    return None


def journal_for(mode: Mode, folder: Path, name: str) -> SQLiteJournal | None:
    """The journal of ``mode`` in ``folder`` (None in memory)."""
    if mode == "memory":
        return None
    return SQLiteJournal(folder / f"{name}.db", durability=mode)


def size_on_disk(path: Path) -> int:
    """The bytes of a journal file and its side files."""
    return sum(
        candidate.stat().st_size
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
        if candidate.exists()
    )


async def submit_and_drain(orchestrator: Orchestrator, n: int) -> float:
    """Submit ``n`` runs of the no-op, drain them with one worker; return the seconds."""
    started = time.perf_counter()
    for _ in range(n):
        orchestrator.submit(noop)
    finished = Finished(n)
    orchestrator.subscribe(finished)
    worker = TaskWorker(noop, orchestrator=orchestrator, limit=10)
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        await finished.done.wait()
        worker.stop()
    return time.perf_counter() - started


def end_to_end(mode: Mode, n: int, folder: Path, round_: int) -> tuple[float, int]:
    """Microseconds per task end to end in ``mode``, and the journal's closed size."""
    journal = journal_for(mode, folder, f"e2e-{mode}-{round_}")
    orchestrator = Orchestrator(journal=journal, scheduled_queue_size=n + 1)
    seconds = anyio.run(submit_and_drain, orchestrator, n)
    orchestrator.close()
    size = 0 if journal is None else size_on_disk(folder / f"e2e-{mode}-{round_}.db")
    return seconds / n * 1e6, size


def transitions(mode: Mode, n: int, folder: Path) -> float:
    """Median microseconds of one ``set_task_run_state`` call in ``mode``."""
    journal = journal_for(mode, folder, f"transitions-{mode}")
    with Orchestrator(VirtualClock(), seed=1, journal=journal) as orchestrator:
        ids = [orchestrator.create_task_run("bench", state=Scheduled()).run.id for _ in range(n)]
        samples: list[float] = []
        steps: tuple[Callable[[], State], ...] = (Pending, Running, Completed)
        for make in steps:
            chunk = 500
            for begin in range(0, n, chunk):
                batch = [(run_id, make()) for run_id in ids[begin : begin + chunk]]
                started = time.perf_counter()
                for run_id, proposal in batch:
                    orchestrator.set_task_run_state(run_id, proposal)
                samples.append((time.perf_counter() - started) / len(batch) * 1e6)
    return statistics.median(samples)


def write_runs(path: Path, runs: int, *, compact: bool) -> None:
    """A journal holding ``runs`` completed runs, each Scheduled, Pending, Running,
    Completed; compacted on its own as by default, or never (written in batch mode,
    which changes the time it takes, not what the file holds)."""
    threshold = SQLiteJournal(path).compact_threshold if compact else None
    journal = SQLiteJournal(path, durability="batch", compact_threshold=threshold)
    with Orchestrator(VirtualClock(), seed=2, journal=journal) as orchestrator:
        for _ in range(runs):
            run = orchestrator.create_task_run("restore", state=Scheduled()).run
            for make in (Pending, Running, Completed):
                orchestrator.set_task_run_state(run.id, make())


def restore_seconds(path: Path) -> float:
    """Seconds to open (restore) an orchestrator on the journal at ``path`` (with
    compaction off, so that opening does not compact a long log at once)."""
    journal = SQLiteJournal(path, compact_threshold=None)
    started = time.perf_counter()
    orchestrator = Orchestrator(VirtualClock(), journal=journal)
    seconds = time.perf_counter() - started
    orchestrator.close()
    return seconds


def report(name: str, value: float, unit: str, digits: int = 1) -> None:
    """Print one ``name: value unit`` line."""
    print(f"{name}: {value:.{digits}f} {unit}", flush=True)


def main(n: int) -> None:
    """Print every figure (see the module's docstring)."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        samples: dict[Mode, list[float]] = {mode: [] for mode in MODES}
        sizes: list[int] = []
        for round_ in range(REPEAT):
            for mode in MODES[round_ % len(MODES) :] + MODES[: round_ % len(MODES)]:
                micros, size = end_to_end(mode, n, folder, round_)
                samples[mode].append(micros)
                if mode == "normal":
                    sizes.append(size)
        per_task = {mode: statistics.median(samples[mode]) for mode in MODES}
        for mode in MODES:
            report(f"end_to_end_{mode}", per_task[mode], "us")
        for mode in MODES[1:]:
            report(f"journal_{mode}_over_memory", per_task[mode] / per_task["memory"], "x", 2)
        report("journal_bytes_per_completed_run", statistics.median(sizes) / n, "bytes", 0)

        per_call = {mode: transitions(mode, n, folder) for mode in MODES}
        for mode in MODES:
            report(f"transition_{mode}", per_call[mode], "us", 2)
        for mode in MODES[1:]:
            ratio = per_call[mode] / per_call["memory"]
            report(f"transition_journal_{mode}_over_memory", ratio, "x", 2)

        restored = folder / "restore.db"
        started = time.perf_counter()
        write_runs(restored, RESTORE_RUNS, compact=True)
        report("journal_write_100k_batch", time.perf_counter() - started, "s", 2)
        report("journal_100k_size", size_on_disk(restored) / 1e6, "MB", 1)
        report("journal_restore_100k", restore_seconds(restored), "s", 2)

        log_only = folder / "log-only.db"
        write_runs(log_only, RESTORE_RUNS, compact=False)
        report("journal_100k_size_log_only", size_on_disk(log_only) / 1e6, "MB", 1)
        report("journal_restore_100k_log_only", restore_seconds(log_only), "s", 2)
        with Orchestrator(VirtualClock(), journal=log_only) as orchestrator:
            started = time.perf_counter()
            orchestrator.compact_journal()
            report("journal_compact_100k", time.perf_counter() - started, "s", 2)
        report("journal_100k_size_compacted", size_on_disk(log_only) / 1e6, "MB", 1)
        report("journal_restore_100k_compacted", restore_seconds(log_only), "s", 2)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)

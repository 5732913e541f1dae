"""Instruction counts: the worker and core figures, free of a noisy machine's timing.

Run with ``python bench/bench_instructions.py [N]`` (needs ``valgrind``; each leg runs a
fresh interpreter under callgrind, so the whole bench takes a few minutes). Wall-clock
figures on a shared 2-core machine move by 2x from one minute to the next; the number of
instructions a workload executes does not (callgrind counts them exactly, whatever else
the machine is doing). Each figure is the count of a leg doing the work N times minus
the count of the same leg doing it 0 times (start-up, imports and warm-up cancel out),
divided by N. Prints ``name: value unit`` lines:

* ``instructions_worker_end_to_end``: one no-op async task submitted and drained by a
  TaskWorker on asyncio (as ``bench_worker.py``'s ``worker_async_asyncio_end_to_end``).
* ``instructions_engine_only``: one run submitted, then claimed, started and completed
  by direct proposals (``bench_worker.py``'s ``engine_only``, plus its submission).
* ``instructions_huey_immediate``: one call of a huey task in immediate mode (skipped
  without huey).
* ``worker_over_huey_instructions``: the first over the third.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

_LEG = """
import sys
sys.path.insert(0, {bench!r})
import anyio
import bench_worker as bw
n = int(sys.argv[1])
kind = sys.argv[2]
def run(count):
    if kind == "worker":
        anyio.run(bw.submit_and_drain, bw.noop, max(count, 1))
    elif kind == "engine":
        bw.engine_only(max(count, 1))
    else:
        from huey import MemoryHuey
        huey = MemoryHuey("bench", immediate=True)
        @huey.task()
        def nothing():
            return None
        for _ in range(count):
            nothing()
run(20)  # warm-up: first calls, caches, lazy imports
if n:
    run(n)
"""


def count(kind: str, n: int, script: Path) -> int:
    """Instructions of one leg (a fresh interpreter under callgrind)."""
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}/callgrind.out",
                sys.executable,
                str(script),
                str(n),
                kind,
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def per_call(kind: str, n: int, script: Path) -> float:
    return (count(kind, n, script) - count(kind, 0, script)) / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    if shutil.which("valgrind") is None:
        print("instructions: skipped (install valgrind: apt-get install -y valgrind)")
        return
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "leg.py"
        script.write_text(_LEG.format(bench=str(HERE)))
        worker = per_call("worker", n, script)
        print(f"instructions_worker_end_to_end: {worker:.0f} per task")
        engine = per_call("engine", n, script)
        print(f"instructions_engine_only: {engine:.0f} per run")
        try:
            import huey  # noqa: F401
        except ImportError:
            print("instructions_huey_immediate: skipped (pip install huey to measure it)")
            return
        huey_calls = per_call("huey", n, script)
        print(f"instructions_huey_immediate: {huey_calls:.0f} per call")
        print(f"worker_over_huey_instructions: {worker / huey_calls:.2f} x")


if __name__ == "__main__":
    main()

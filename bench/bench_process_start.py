"""Flow-run process start benchmark: what the Linux launcher adds to each run.

Run with ``python bench/bench_process_start.py [N]``. Prints ``name: value unit`` lines,
each the median of N runs (default 21) of a trivial command (``/bin/true``) started with
:func:`~orchestrator.workers._processes.start_process` and waited for:

* ``start_to_exit_launcher``: under the launcher (Linux's default);
* ``start_to_exit_process_group``: in a process group of its own, no launcher (what other
  POSIX systems get);
* ``launcher_overhead``: the difference;
* ``bare_python_start``: ``python -I -S -c pass`` started the same way, no launcher, for
  scale (the launcher is such a Python process).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

from orchestrator.workers._processes import start_process


async def _median_ms(command: list[str], supervise: bool | None, runs: int) -> float:
    cwd = Path(tempfile.gettempdir())
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        process = await start_process(
            command, cwd=cwd, env=dict(os.environ), capture_output=False, supervise=supervise
        )
        await process.wait()
        times.append(time.perf_counter() - began)
        await process.aclose()
    return statistics.median(times) * 1000


async def main(runs: int) -> None:
    true = shutil.which("true") or "/bin/true"
    group = await _median_ms([true], False, runs)
    print(f"start_to_exit_process_group: {group:.1f} ms")
    if sys.platform == "linux":
        launcher = await _median_ms([true], None, runs)
        print(f"start_to_exit_launcher: {launcher:.1f} ms")
        print(f"launcher_overhead: {launcher - group:.1f} ms")
    python = await _median_ms([sys.executable, "-I", "-S", "-c", "pass"], False, runs)
    print(f"bare_python_start: {python:.1f} ms")


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 21)

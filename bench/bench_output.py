"""Output benchmark: a flow-run process that floods its output, read by the worker's reader.

Run with ``python bench/bench_output.py``. Prints ``name: value unit`` lines; every time is
a median over repeats, each with a baseline measured in the same run. A real child
process (``sys.executable -c``) writes the bytes into the pipe; the reader is
:meth:`FlowRunProcess.stream_output` with a printer that only counts.

* ``flood_single_line_100mb``: 100 MiB written as one line with no newline (split into
  64 KiB pieces). Target: under 2 s.
* ``flood_lines_100mb``: 100 MiB written as 100-byte lines.
* ``flood_baseline_raw_pipe_100mb``: the same 100 MiB read from the pipe in chunks and
  dropped, with no line handling at all: the floor.
* ``flood_single_line_peak_traced_mb``: the reader's peak of Python allocations
  (``tracemalloc``) during the single-line flood. Target: under 20 MB.
* ``flood_single_line_rss_growth_mb``: how far the peak resident memory of a fresh
  process rises above its size before the single-line flood, read by that process
  (``resource.getrusage``; POSIX). Target: under 20 MB.
* ``flood_single_line_ratio_to_raw`` / ``flood_lines_ratio_to_raw``: the reader's time
  over the floor's.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import anyio

from orchestrator.workers._processes import start_process

REPEAT = 5
MEGABYTES = 100

SINGLE_LINE = (
    "import sys\nblock = b'y' * (1 << 20)\n"
    f"for _ in range({MEGABYTES}):\n    sys.stdout.buffer.write(block)\n"
)
LINES = (
    "import sys\nblock = (b'z' * 99 + b'\\n') * ((1 << 20) // 100)\n"
    f"for _ in range({MEGABYTES}):\n    sys.stdout.buffer.write(block)\n"
)


async def read_with_reader(code: str, cwd: Path) -> float:
    process = await start_process([sys.executable, "-c", code], cwd=cwd, env={})
    count = 0

    def printer(line: str) -> None:
        nonlocal count
        count += 1

    started = time.perf_counter()
    await process.stream_output(printer)
    elapsed = time.perf_counter() - started
    await process.wait()
    await process.aclose()
    return elapsed


async def read_raw(code: str, cwd: Path) -> float:
    process = await anyio.open_process([sys.executable, "-c", code], cwd=cwd, env={})
    assert process.stdout is not None
    started = time.perf_counter()
    async for _ in process.stdout:
        pass
    elapsed = time.perf_counter() - started
    await process.aclose()
    return elapsed


async def peak_traced(code: str, cwd: Path) -> float:
    tracemalloc.start()
    try:
        await read_with_reader(code, cwd)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def rss_probe() -> None:
    """Run in a fresh process: print the peak RSS growth over one single-line flood."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as directory:
        anyio.run(read_with_reader, SINGLE_LINE, Path(directory))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) / 1024)  # kilobytes on Linux


def rss_growth() -> float:
    probe = [sys.executable, __file__, "--rss-probe"]
    return float(subprocess.run(probe, capture_output=True, check=True, text=True).stdout)


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        cwd = Path(directory)
        single = [await read_with_reader(SINGLE_LINE, cwd) for _ in range(REPEAT)]
        lines = [await read_with_reader(LINES, cwd) for _ in range(REPEAT)]
        raw = [await read_raw(SINGLE_LINE, cwd) for _ in range(REPEAT)]
        peak = await peak_traced(SINGLE_LINE, cwd)
    floor = statistics.median(raw)
    growth = statistics.median([await anyio.to_thread.run_sync(rss_growth) for _ in range(3)])
    print(f"flood_single_line_{MEGABYTES}mb: {statistics.median(single):.3f} s")
    print(f"flood_lines_{MEGABYTES}mb: {statistics.median(lines):.3f} s")
    print(f"flood_baseline_raw_pipe_{MEGABYTES}mb: {floor:.3f} s")
    print(f"flood_single_line_peak_traced_mb: {peak:.1f} MB")
    print(f"flood_single_line_rss_growth_mb: {growth:.1f} MB")
    print(f"flood_single_line_ratio_to_raw: {statistics.median(single) / floor:.2f} x")
    print(f"flood_lines_ratio_to_raw: {statistics.median(lines) / floor:.2f} x")


if __name__ == "__main__":
    if sys.argv[1:] == ["--rss-probe"]:
        rss_probe()
    else:
        anyio.run(main)

"""A picture of the concurrency example: who ran when, and who waited for a slot.

Run it with ``python examples/timeline.py [file.svg]``. It drains the five warehouse loads
of ``examples/concurrency.py`` (tag "warehouse", 2 slots) on a virtual clock, then draws
them with :func:`orchestrator.timeline`: one row per run, one bar per state, grey while a
run waits for a slot, blue while it runs, a green cap when it completes. The SVG goes to
``concurrency-timeline.svg`` (or the file named), and the same picture prints as text.

In a notebook, the last line of a cell ``timeline(orchestrator)`` shows the picture
itself; ``.save("runs.html")`` writes a page for a browser.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import anyio

from orchestrator import Orchestrator, VirtualClock, timeline
from orchestrator.testing import run_until_idle
from orchestrator.workers import TaskWorker


def concurrency_example() -> ModuleType:
    """Import ``concurrency.py`` from beside this file (its task and its loads)."""
    path = Path(__file__).with_name("concurrency.py")
    spec = importlib.util.spec_from_file_location("concurrency_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def drain_the_loads() -> Orchestrator:
    """Submit the concurrency example's loads and drain them; return the orchestrator."""
    example = concurrency_example()
    orchestrator = Orchestrator(VirtualClock(), seed=1)
    orchestrator.create_concurrency_limit("warehouse", 2)
    async with orchestrator, TaskWorker(example.load):
        for table, seconds in example.LOADS:
            orchestrator.submit(example.load, table, seconds)
        await run_until_idle(orchestrator)
    return orchestrator


def main(path: str | Path = "concurrency-timeline.svg") -> Path:
    """Drain the loads, save their timeline as SVG at ``path``, print it as text."""
    orchestrator = anyio.run(drain_the_loads)
    picture = timeline(orchestrator)
    written = picture.save(path)
    print(picture)
    print(f"\nWrote {written} ({picture.width}x{picture.height} pixels).")
    return written


if __name__ == "__main__":
    main(*sys.argv[1:2])

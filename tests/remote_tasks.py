"""Tasks the executor tests ship to other processes (a process pool, Dask workers).

Defined at module level in an importable module, so the executing processes import them
by reference. They talk to the test through files: ``count`` appends a line per attempt
and says which attempt this is.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import anyio.lowlevel

from orchestrator import task


def count(path: Path) -> int:
    """Append a line to ``path``; return how many lines it now has (the attempt)."""
    with path.open("a") as file:
        file.write(f"{os.getpid()}\n")
    return len(path.read_text().splitlines())


@task
def whose_pid(x: int, seconds: float = 0.0) -> tuple[int, int]:
    time.sleep(seconds)
    return x, os.getpid()


@task
async def whose_pid_async(x: int) -> tuple[int, int]:
    await anyio.lowlevel.checkpoint()
    return x, os.getpid()


@task(retries=2, retry_delay_seconds=0)
def flaky(path: Path) -> int:
    attempt = count(path)
    if attempt < 3:
        raise ValueError(f"attempt {attempt} failed")
    return attempt


@task
def broken(x: int) -> int:
    raise KeyError(f"no such thing: {x}")


@task(tags=["db"])
def exclusive(path: Path, x: int) -> int:
    with path.open("a") as file:
        file.write(f"start {x}\n")
    time.sleep(0.2)
    with path.open("a") as file:
        file.write(f"end {x}\n")
    return x


@task(timeout_seconds=2.0, retries=1, retry_delay_seconds=0)
def overstays(path: Path) -> int:
    """Its first attempt runs 3 s, past its timeout; each attempt logs when it ran.

    The timeout leaves the retry 2 s from hand-off to result: a Dask round trip on a
    loaded two-core machine has taken 1.4 s.
    """
    start = time.time()
    attempt = len(path.read_text().splitlines()) + 1 if path.exists() else 1
    if attempt == 1:
        time.sleep(3.0)
    with path.open("a") as file:
        file.write(f"{attempt} {start} {time.time()}\n")
    return attempt


@task(cache_key_fn=lambda context, parameters: f"cached-{parameters['x']}")
def cached(path: Path, x: int) -> int:
    count(path)
    return x * 10


@task
def lock_maker() -> Any:
    return threading.Lock()


@task
def takes(value: Any) -> str:
    return "took it"

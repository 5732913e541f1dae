"""Task runs served through a DaskExecutor on a real LocalCluster: what only Dask has.

A TaskWorker here hands its task functions to the session's two-process LocalCluster
(one thread per worker, ``allowed_failures=0``): they run in both worker pids, never in
ours; a Dask worker killed mid-run (the task tells the test its pid through a FIFO, the
test SIGKILLs it) crashes that run, whose retry completes on the other worker. What
holds for every executor (retries, a tag limit, a timeout, a cache hit, pickling
errors, the drains) is in ``tests/test_executor_workers.py``. Skipped only without
``distributed``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from orchestrator import Orchestrator, task
from orchestrator.executors import DaskExecutor
from orchestrator.workers import TaskWorker
from tests.dask_cluster import worker_pids
from tests.remote_tasks import (
    count,
    whose_pid,
    whose_pid_async,
)
from tests.worker_helpers import outcome

pytest.importorskip(
    "distributed", reason="the Dask executor needs the dask extra: pip install '.[dask]'"
)

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

#: The most real seconds a test here may take.
BOUND = 30.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def pids(dask_cluster: tuple[LocalCluster, Client]) -> set[int]:
    """The worker pids, both workers up (a test before may have killed one)."""
    return worker_pids(dask_cluster[1])


@pytest.fixture
def dask(dask_cluster: tuple[LocalCluster, Client], pids: set[int]) -> Iterator[DaskExecutor]:
    with DaskExecutor(dask_cluster[1]) as executor:
        yield executor


@task(retries=1, retry_delay_seconds=0)
def killed_once(path: Path, fifo: Path) -> int:
    """First attempt: tell the test this pid (it kills us), then wait to be killed."""
    if count(path) == 1:
        with fifo.open("w") as pipe:  # blocks until the test reads
            pipe.write(str(os.getpid()))
        time.sleep(20)
    return os.getpid()


async def _kill_the_writer(fifo: Path) -> int:
    """Read the pid a task writes into ``fifo`` (no polling: the read blocks); SIGKILL it."""
    pid = int(await anyio.to_thread.run_sync(fifo.read_text))
    os.kill(pid, signal.SIGKILL)
    return pid


async def test_runs_in_the_two_worker_processes(dask: DaskExecutor, pids: set[int]) -> None:
    orch = Orchestrator()
    with anyio.fail_after(BOUND):
        async with TaskWorker(whose_pid, whose_pid_async, orchestrator=orch, executor=dask):
            futures = [orch.submit(whose_pid, n, 0.3) for n in range(4)]
            futures.append(orch.submit(whose_pid_async, 4))
            results = [await outcome(future) for future in futures]
    assert [x for x, _ in results] == [0, 1, 2, 3, 4]
    assert {pid for _, pid in results} == pids  # both workers, and not this process
    assert os.getpid() not in pids


async def test_a_worker_killed_mid_run_crashes_that_run_which_retries_on_the_other(
    dask: DaskExecutor, pids: set[int], tmp_path: Path
) -> None:
    orch = Orchestrator()
    attempts, fifo = tmp_path / "attempts", tmp_path / "pid"
    os.mkfifo(fifo)
    with anyio.fail_after(BOUND):
        async with TaskWorker(killed_once, whose_pid, orchestrator=orch, executor=dask):
            victim = orch.submit(killed_once, attempts, fifo)
            killed = await _kill_the_writer(fifo)
            retried_on = await outcome(victim)
            # The worker serves on (Dask restarts the killed worker process meanwhile).
            assert (await outcome(orch.submit(whose_pid, 1)))[0] == 1
    assert killed in pids
    assert retried_on == (pids - {killed}).pop()  # the retry ran on the other worker
    states = orch.read_task_run_states(victim.task_run_id)
    crashed = [state for state in states if state.name == "AwaitingRetry"]
    assert len(crashed) == 1
    assert str(crashed[0].message).startswith(
        "Crashed: the executor lost the call: the Dask worker running the call died"
    )
    assert states[-1].name == "Completed"
    assert len(attempts.read_text().splitlines()) == 2  # one call per attempt


async def test_a_killed_run_without_retries_ends_crashed(
    dask: DaskExecutor, tmp_path: Path
) -> None:
    orch = Orchestrator()
    once = killed_once.with_options(retries=0)
    fifo = tmp_path / "pid"
    os.mkfifo(fifo)
    with anyio.fail_after(BOUND):
        async with TaskWorker(once, orchestrator=orch, executor=dask):
            future = orch.submit(once, tmp_path / "attempts", fifo)
            await _kill_the_writer(fifo)
            await future.wait_async()
    assert future.state.name == "Crashed"

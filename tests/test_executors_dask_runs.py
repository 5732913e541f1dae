"""Task runs served through a DaskExecutor on a real LocalCluster: as in-process, elsewhere.

A TaskWorker here hands its task functions to a two-process LocalCluster (one thread per
worker, ``allowed_failures=0``): they run in the two worker pids, never in ours; retries,
a tag limit of 1, a timeout, a cache hit and an unpicklable result behave as they do in
threads; a Dask worker killed mid-run (the task tells the test its pid through a FIFO,
the test SIGKILLs it) crashes that run, whose retry completes on the other worker. The
tasks are defined at module level (most in ``tests/remote_tasks.py``): the workers import
their modules to load them. Skipped
only without ``distributed``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from orchestrator import Orchestrator, VirtualClock, task
from orchestrator.executors import DaskExecutor
from orchestrator.testing import run_until_idle, run_until_idle_sync
from orchestrator.workers import TaskWorker
from tests.dask_cluster import local_cluster, worker_pids
from tests.remote_tasks import (
    broken,
    cached,
    count,
    exclusive,
    flaky,
    lock_maker,
    overstays,
    takes,
    whose_pid,
    whose_pid_async,
)
from tests.worker_helpers import names, outcome

pytest.importorskip(
    "distributed", reason="the Dask executor needs the dask extra: pip install '.[dask]'"
)

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

#: The most real seconds a test here may take.
BOUND = 30.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, Client]]:
    with local_cluster() as started:
        yield started


@pytest.fixture
def pids(cluster: tuple[LocalCluster, Client]) -> set[int]:
    """The worker pids, both workers up (a test before may have killed one)."""
    return worker_pids(cluster[1])


@pytest.fixture
def dask(cluster: tuple[LocalCluster, Client], pids: set[int]) -> Iterator[DaskExecutor]:
    with DaskExecutor(cluster[1]) as executor:
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


async def test_retries_and_the_remote_traceback(dask: DaskExecutor, tmp_path: Path) -> None:
    orch = Orchestrator()
    attempts = tmp_path / "attempts"
    with anyio.fail_after(BOUND):
        async with TaskWorker(flaky, broken, orchestrator=orch, executor=dask):
            future = orch.submit(flaky, attempts)
            assert await outcome(future) == 3
            failing = orch.submit(broken, 7)
            await failing.wait_async()
    assert [n for n in names(orch, future) if n != "Pending"] == [
        "Scheduled",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]
    assert len(attempts.read_text().splitlines()) == 3  # one call per attempt
    message = str(failing.state.message)
    assert failing.state.name == "Failed"
    assert message.startswith("Task run encountered an exception: KeyError('no such thing: 7')")
    assert 'raise KeyError(f"no such thing: {x}")' in message  # where it ran, on the worker


async def test_a_tag_limit_of_one_holds_across_workers(dask: DaskExecutor, tmp_path: Path) -> None:
    orch = Orchestrator()
    orch.create_concurrency_limit("db", 1)
    log = tmp_path / "log"
    with anyio.fail_after(BOUND):
        async with TaskWorker(exclusive, orchestrator=orch, executor=dask):
            futures = [orch.submit(exclusive, log, n) for n in range(3)]
            assert sorted([await outcome(future) for future in futures]) == [0, 1, 2]
    lines = log.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "end"] * 3  # never two at once
    assert all(lines[i].split()[1] == lines[i + 1].split()[1] for i in range(0, 6, 2))


async def test_a_timeout_ends_the_attempt_timed_out_and_its_retry_waits_for_the_call(
    dask: DaskExecutor, tmp_path: Path
) -> None:
    orch = Orchestrator()
    log = tmp_path / "log"
    with anyio.fail_after(BOUND):
        async with TaskWorker(overstays, orchestrator=orch, executor=dask):
            future = orch.submit(overstays, log)
            assert await outcome(future) == 2
    states = orch.read_task_run_states(future.task_run_id)
    retry = next(state for state in states if state.name == "AwaitingRetry")
    assert "exceeded its timeout of 2 s" in str(retry.message)
    first, second = (line.split() for line in log.read_text().splitlines())
    assert float(first[2]) - float(first[1]) >= 2.0  # the first call ran on, to its end,
    assert float(second[1]) >= float(first[2])  # and the retry started after it


async def test_a_cache_hit_does_not_call_the_cluster(dask: DaskExecutor, tmp_path: Path) -> None:
    orch = Orchestrator()
    calls = tmp_path / "calls"
    with anyio.fail_after(BOUND):
        async with TaskWorker(cached, orchestrator=orch, executor=dask):
            assert await outcome(orch.submit(cached, calls, 4)) == 40
            second = orch.submit(cached, calls, 4)
            assert await outcome(second) == 40
    assert second.state.name == "Cached"
    assert len(calls.read_text().splitlines()) == 1


async def test_what_cannot_be_pickled_fails_its_run_only(dask: DaskExecutor) -> None:
    orch = Orchestrator()
    with anyio.fail_after(BOUND):
        async with TaskWorker(lock_maker, takes, whose_pid, orchestrator=orch, executor=dask):
            result = orch.submit(lock_maker)
            argument = orch.submit(takes, threading.Lock())
            for future in (result, argument):
                await future.wait_async()
            assert (await outcome(orch.submit(whose_pid, 2)))[0] == 2
    assert result.state.name == "Failed"
    assert "the result of task 'lock_maker' cannot be pickled" in str(result.state.message)
    assert argument.state.name == "Failed"
    assert "parameter 'value' of task 'takes' cannot be pickled" in str(argument.state.message)


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


async def test_virtual_time_stands_still_while_a_call_runs_on_the_cluster(
    dask: DaskExecutor,
) -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, autojump=True)
    start = clock.now()
    slow = whose_pid.with_options(timeout_seconds=0.5)
    with anyio.fail_after(BOUND):
        async with orch, TaskWorker(slow, orchestrator=orch, executor=dask):
            # 0.3 real seconds under a 0.5 s timeout: virtual time must not jump past it.
            assert (await outcome(orch.submit(slow, 3, 0.3)))[0] == 3
    assert clock.now() == start


def test_run_until_idle_sync_takes_a_dask_executor(dask: DaskExecutor, pids: set[int]) -> None:
    orch = Orchestrator(clock=VirtualClock())
    future = orch.submit(whose_pid, 5)
    run_until_idle_sync(orch, whose_pid, executor=dask, timeout=BOUND)
    x, pid = future.result()
    assert (x, pid in pids) == (5, True)


async def test_run_until_idle_serves_tasks_on_the_cluster(
    dask: DaskExecutor, pids: set[int]
) -> None:
    orch = Orchestrator()
    future = orch.submit(whose_pid, 6)
    await run_until_idle(orch, whose_pid, executor=dask, timeout=BOUND)
    assert future.result()[1] in pids


async def test_the_task_worker_fixture_takes_a_dask_executor(
    dask: DaskExecutor, pids: set[int], orchestrator: Orchestrator, task_worker: Any
) -> None:
    await task_worker(whose_pid, executor=dask)
    with anyio.fail_after(BOUND):
        x, pid = await outcome(orchestrator.submit(whose_pid, 7))
    assert (x, pid in pids) == (7, True)

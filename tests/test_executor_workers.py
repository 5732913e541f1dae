"""Task runs a TaskWorker serves through an executor: what a user sees in-process, elsewhere.

Each test runs once on a 2-process ``ProcessPoolExecutor`` and once on a Dask executor
over a two-worker LocalCluster (skipped only without ``distributed``): the functions run
in other processes; retries with the remote traceback, a tag limit of 1, a timeout whose
retry waits for the call left running, a cache hit and what cannot be pickled behave as
in threads; virtual time stands still while a call runs remotely; and the drains and the
``task_worker`` fixture take the executor. What only one executor has (a pool process or
a Dask worker killed mid-run, the pool's own options) is tested in its own module. The
tasks are in ``tests/remote_tasks.py``, which the other processes import by reference.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from orchestrator import Orchestrator, VirtualClock, task
from orchestrator.executors import DaskExecutor, Executor
from orchestrator.testing import run_until_idle, run_until_idle_sync
from orchestrator.workers import TaskWorker
from tests.dask_cluster import worker_pids
from tests.remote_tasks import (
    broken,
    cached,
    exclusive,
    flaky,
    lock_maker,
    overstays,
    takes,
    whose_pid,
)
from tests.worker_helpers import names, outcome

#: The most real seconds a test here may take (the first one also starts the pool).
BOUND = 30.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def elsewhere(remote: Executor) -> Callable[[int], bool]:
    """Whether a pid is one of the executor's processes (for Dask: one of its workers)."""
    if isinstance(remote, DaskExecutor):
        return worker_pids(remote.client).__contains__
    here = os.getpid()
    return lambda pid: pid != here


async def test_retries_and_the_remote_traceback(remote: Executor, tmp_path: Path) -> None:
    orch = Orchestrator()
    attempts = tmp_path / "attempts"
    with anyio.fail_after(BOUND):
        async with TaskWorker(flaky, broken, orchestrator=orch, executor=remote):
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
    state = failing.state
    assert state.name == "Failed"
    assert state.message is not None
    assert state.message.startswith(
        "Task run encountered an exception: KeyError('no such thing: 7')"
    )
    # The traceback where it was raised, in the other process, is in the message.
    assert "Remote traceback:" in state.message
    assert 'raise KeyError(f"no such thing: {x}")' in state.message


async def test_a_tag_limit_of_one_holds_across_processes(remote: Executor, tmp_path: Path) -> None:
    orch = Orchestrator()
    orch.create_concurrency_limit("db", 1)
    log = tmp_path / "log"
    with anyio.fail_after(BOUND):
        async with TaskWorker(exclusive, orchestrator=orch, executor=remote):
            futures = [orch.submit(exclusive, log, n) for n in range(3)]
            assert sorted([await outcome(future) for future in futures]) == [0, 1, 2]
    lines = log.read_text().splitlines()
    # Never two at once: each start is followed by its own end.
    assert [line.split()[0] for line in lines] == ["start", "end"] * 3
    assert all(lines[i].split()[1] == lines[i + 1].split()[1] for i in range(0, 6, 2))


async def test_a_timed_out_attempt_is_retried_only_after_its_call_returned(
    remote: Executor, tmp_path: Path
) -> None:
    orch = Orchestrator()
    log = tmp_path / "log"
    with anyio.fail_after(BOUND):
        async with TaskWorker(overstays, orchestrator=orch, executor=remote):
            future = orch.submit(overstays, log)
            assert await outcome(future) == 2
    states = orch.read_task_run_states(future.task_run_id)
    named = [state.name for state in states if state.name != "Pending"]
    assert named[:3] == ["Scheduled", "Running", "AwaitingRetry"]
    assert named[-1] == "Completed"
    retry = next(state for state in states if state.name == "AwaitingRetry")
    assert "exceeded its timeout of 2 s" in str(retry.message)
    first, second = (line.split() for line in log.read_text().splitlines())
    assert float(first[2]) - float(first[1]) >= 2.0  # the first call ran on, to its end,
    assert float(second[1]) >= float(first[2])  # and the retry started after it


async def test_a_cache_hit_does_not_call_the_executor(remote: Executor, tmp_path: Path) -> None:
    orch = Orchestrator()
    calls = tmp_path / "calls"
    with anyio.fail_after(BOUND):
        async with TaskWorker(cached, orchestrator=orch, executor=remote):
            assert await outcome(orch.submit(cached, calls, 4)) == 40
            second = orch.submit(cached, calls, 4)
            assert await outcome(second) == 40
    assert second.state.name == "Cached"
    assert len(calls.read_text().splitlines()) == 1


async def test_what_cannot_be_pickled_fails_its_run_only(remote: Executor) -> None:
    orch = Orchestrator()

    @task
    def local(x: int) -> int:
        return x

    with anyio.fail_after(BOUND):
        async with TaskWorker(
            lock_maker, takes, local, whose_pid, orchestrator=orch, executor=remote
        ):
            result = orch.submit(lock_maker)
            argument = orch.submit(takes, threading.Lock())
            local_run = orch.submit(local, 1)
            for future in (result, argument, local_run):
                await future.wait_async()
            assert (await outcome(orch.submit(whose_pid, 2)))[0] == 2  # it serves on
    assert [future.state.name for future in (result, argument, local_run)] == ["Failed"] * 3
    assert "the result of task 'lock_maker' cannot be pickled" in str(result.state.message)
    assert "parameter 'value' of task 'takes' cannot be pickled" in str(argument.state.message)
    assert "is a lambda or is defined inside a function" in str(local_run.state.message)


async def test_virtual_time_stands_still_while_a_call_runs_remotely(remote: Executor) -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock=clock, autojump=True)
    start = clock.now()
    slow = whose_pid.with_options(timeout_seconds=0.5)
    with anyio.fail_after(BOUND):
        async with orch, TaskWorker(slow, orchestrator=orch, executor=remote):
            # 0.3 real seconds under a 0.5 s timeout: virtual time must not jump past it.
            assert (await outcome(orch.submit(slow, 3, 0.3)))[0] == 3
    assert clock.now() == start


def test_run_until_idle_sync_takes_an_executor(
    remote: Executor, elsewhere: Callable[[int], bool]
) -> None:
    orch = Orchestrator(clock=VirtualClock())
    future = orch.submit(whose_pid, 5)
    run_until_idle_sync(orch, whose_pid, executor=remote, timeout=BOUND)
    x, pid = future.result()
    assert x == 5
    assert elsewhere(pid)


async def test_run_until_idle_serves_tasks_with_an_executor(
    remote: Executor, elsewhere: Callable[[int], bool]
) -> None:
    orch = Orchestrator()
    future = orch.submit(whose_pid, 6)
    await run_until_idle(orch, whose_pid, executor=remote, timeout=BOUND)
    assert elsewhere(future.result()[1])


async def test_the_task_worker_fixture_takes_an_executor(
    remote: Executor,
    elsewhere: Callable[[int], bool],
    orchestrator: Orchestrator,
    task_worker: Any,
) -> None:
    await task_worker(whose_pid, executor=remote)
    with anyio.fail_after(BOUND):
        x, pid = await outcome(orchestrator.submit(whose_pid, 7))
    assert x == 7
    assert elsewhere(pid)

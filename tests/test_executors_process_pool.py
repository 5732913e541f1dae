"""Task runs in a real process pool: what only a process pool has.

The tests here hand task functions to real ``ProcessPoolExecutor`` pools (2 spawned
processes, shared by the module, or a pool of a test's own): the functions run in
other pids; a timed-out call is left running and holds its worker's slot; a cancelled
worker leaves its call and the retry waits for it; a pool process killed mid-run crashes
the runs it held, which retry and complete on a fresh pool, and the worker keeps
serving; and the pool's options, per-task executors, stubs and a forkserver pool. What
holds for every executor (retries, a tag limit, a cache hit, pickling errors, the
drains) is in ``tests/test_executor_workers.py``. The tasks are defined at module level
(the shared ones in ``tests/remote_tasks.py``), so the pool processes import them by
reference; they talk to the test through files.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from orchestrator import Orchestrator, task
from orchestrator.executors import ExecutorLost, ProcessPoolExecutor, RemoteCall
from orchestrator.testing import run_until_idle, stub_task
from orchestrator.workers import TaskWorker, serve
from tests.remote_tasks import (
    count,
    whose_pid,
    whose_pid_async,
)
from tests.worker_helpers import outcome

#: The most real seconds a test here may take (the first one also starts the pool).
BOUND = 30.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2) as executor:
        yield executor


@task(timeout_seconds=1.0)
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


@task(retries=1, retry_delay_seconds=0)
def logged(path: Path, seconds: float, fifo: Path) -> int:
    """Logs when each attempt starts and ends; the first one says so on ``fifo``, then
    takes ``seconds``."""
    attempt = count(path.with_suffix(".attempts"))
    with path.open("a") as file:
        file.write(f"start {attempt}\n")
    if attempt == 1:
        fifo.write_text("started")  # blocks until the test reads it
        time.sleep(seconds)
    with path.open("a") as file:
        file.write(f"end {attempt}\n")
    return attempt


@task(retries=1, retry_delay_seconds=0)
def dies_once(path: Path, after: Path | None = None) -> int:
    """Kills its own pool process on its first attempt (once ``after`` exists, if given)."""
    attempt = count(path)
    if attempt == 1:
        deadline = time.monotonic() + 10
        while after is not None and not after.exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the test's neighbour is starting in the other process
        os.kill(os.getpid(), signal.SIGKILL)
    return attempt


@task(retries=1, retry_delay_seconds=0)
def bystander(path: Path, started: Path) -> int:
    """Runs long on its first attempt (it is in the pool when a neighbour dies)."""
    attempt = count(path)
    started.write_text("started")
    if attempt == 1:
        time.sleep(3)
    return attempt


async def test_runs_in_the_pool_processes(pool: ProcessPoolExecutor) -> None:
    orch = Orchestrator()
    with anyio.fail_after(BOUND):
        async with TaskWorker(whose_pid, whose_pid_async, orchestrator=orch, executor=pool):
            futures = [orch.submit(whose_pid, n) for n in range(4)]
            futures.append(orch.submit(whose_pid_async, 4))
            results = [await outcome(future) for future in futures]
    assert [x for x, _ in results] == [0, 1, 2, 3, 4]
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


async def test_a_timeout_ends_the_run_timed_out_and_the_worker_serves_on(
    pool: ProcessPoolExecutor,
) -> None:
    orch = Orchestrator()
    with anyio.fail_after(BOUND):
        async with TaskWorker(slow, whose_pid, orchestrator=orch, executor=pool) as worker:
            late = orch.submit(slow, 2.0)
            await late.wait_async()
            assert late.state.name == "TimedOut"
            # The call is left running in its process, holding the worker's slot.
            assert list(worker.status().abandoned) == [late.task_run_id]
            assert (await outcome(orch.submit(whose_pid, 1)))[0] == 1
            assert await outcome(orch.submit(slow, 0.0)) == "done"


async def test_a_cancelled_worker_leaves_the_remote_call_and_its_retry_waits_for_it(
    pool: ProcessPoolExecutor, tmp_path: Path
) -> None:
    orch = Orchestrator()
    log, fifo = tmp_path / "log", tmp_path / "fifo"
    os.mkfifo(fifo)
    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as group:
            first = TaskWorker(logged, orchestrator=orch, executor=pool)
            await group.start(first.run)
            future = orch.submit(logged, log, 1.0, fifo)
            # Returns once the first attempt runs in the pool (it writes the FIFO).
            assert await anyio.to_thread.run_sync(fifo.read_text) == "started"
            group.cancel_scope.cancel()  # not graceful: the run is crashed, its call left
        assert future.state.name == "AwaitingRetry"
        assert str(future.state.message).startswith("Crashed: the task worker was cancelled")
        async with TaskWorker(logged, orchestrator=orch, executor=pool):
            assert await outcome(future) == 2
    # The retry started only once the call left running had returned.
    assert log.read_text().splitlines() == ["start 1", "end 1", "start 2", "end 2"]
    assert any(
        (state.message or "").startswith("waits for its previous call")
        for state in orch.read_task_run_states(future.task_run_id)
    )


async def test_a_pool_process_killed_mid_run_crashes_its_runs_which_retry(
    tmp_path: Path,
) -> None:
    orch = Orchestrator()
    dying, standing, started = tmp_path / "dying", tmp_path / "standing", tmp_path / "started"
    # A pool of its own: no call left running by another test holds one of its processes.
    pool = ProcessPoolExecutor(2)
    with pool, anyio.fail_after(BOUND):
        async with TaskWorker(bystander, dies_once, whose_pid, orchestrator=orch, executor=pool):
            other = orch.submit(bystander, standing, started)
            victim = orch.submit(dies_once, dying, started)
            assert await outcome(victim) == 2
            assert await outcome(other) == 2
            # The worker keeps serving, on a fresh pool.
            assert (await outcome(orch.submit(whose_pid, 3)))[0] == 3
    assert pool.pools_started == 2  # the first, and the one that replaced it
    for future in (victim, other):
        states = orch.read_task_run_states(future.task_run_id)
        crashed = [state for state in states if state.name == "AwaitingRetry"]
        assert len(crashed) == 1
        assert str(crashed[0].message).startswith(
            "Crashed: the executor lost the call: a process of the pool died"
        )
        assert states[-1].name == "Completed"
    assert len(dying.read_text().splitlines()) == 2  # one call per attempt, no more
    assert len(standing.read_text().splitlines()) == 2


async def test_a_killed_run_without_retries_ends_crashed(tmp_path: Path) -> None:
    orch = Orchestrator()
    once = dies_once.with_options(retries=0)
    with ProcessPoolExecutor(1) as own, anyio.fail_after(BOUND):
        async with TaskWorker(once, orchestrator=orch, executor=own):
            future = orch.submit(once, tmp_path / "dying")
            await future.wait_async()
    assert future.state.name == "Crashed"


# -- the executor on its own ----------------------------------------------------------------------
async def test_a_broken_pool_ends_every_call_lost_and_is_replaced() -> None:
    with ProcessPoolExecutor(2) as own, anyio.fail_after(BOUND):
        sleeping: RemoteCall[None] = own.submit(time.sleep, 5)
        pid = await own.submit(os.getpid).result()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ExecutorLost, match="a process of the pool died"):
            await sleeping.result()
        assert await own.submit(sum, [1, 2]).result() == 3
        assert own.pools_started == 2
    with pytest.raises(ExecutorLost, match="closed"):
        own.submit(sum, [1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_workers": 0}, "max_workers must be None or an integer >= 1, got 0"),
        ({"max_workers": "2"}, "max_workers must be None or an integer >= 1, got '2'"),
        ({"context": "fork"}, "context must be 'spawn' or 'forkserver', got 'fork'"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ProcessPoolExecutor(**kwargs)


def test_a_worker_refuses_what_is_not_an_executor() -> None:
    orch = Orchestrator()
    with pytest.raises(
        TypeError, match=re.escape("executor must be None, an orchestrator.executors.Executor")
    ):
        TaskWorker(whose_pid, orchestrator=orch, executor=object())  # type: ignore[arg-type]


async def test_serve_takes_an_executor(pool: ProcessPoolExecutor) -> None:
    orch = Orchestrator()
    future = orch.submit(whose_pid, 8)
    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as group:
            worker = await group.start(
                functools.partial(serve, whose_pid, orchestrator=orch, executor=pool)
            )
            assert (await outcome(future))[1] != os.getpid()
            worker.stop()


@task
def here_pid(x: int) -> tuple[int, int]:
    return x, os.getpid()


async def test_executors_by_task_send_only_the_tasks_they_name(pool: ProcessPoolExecutor) -> None:
    orch = Orchestrator()
    with anyio.fail_after(BOUND):
        async with TaskWorker(whose_pid, here_pid, orchestrator=orch, executor={whose_pid: pool}):
            there = await outcome(orch.submit(whose_pid, 1))
            here = await outcome(orch.submit(here_pid, 2))
    assert there[1] != os.getpid()
    assert here == (2, os.getpid())
    by_key = {here_pid.task_key: pool}
    future = orch.submit(here_pid, 3)
    await run_until_idle(orch, whose_pid, here_pid, executor=by_key, timeout=BOUND)
    assert future.result()[1] != os.getpid()


@pytest.mark.parametrize(
    ("executor", "error", "message"),
    [
        ({"no.such.key": None}, ValueError, "executor names 'no.such.key', which this worker"),
        ({whose_pid: "pool"}, TypeError, "must be an orchestrator.executors.Executor"),
        ({3: None}, TypeError, "executor's keys must be tasks or task keys, got 3"),
    ],
)
def test_bad_executors_by_task_are_refused(
    executor: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        TaskWorker(whose_pid, orchestrator=Orchestrator(), executor=executor)


async def test_a_stubbed_task_runs_its_stand_in_here(pool: ProcessPoolExecutor) -> None:
    orch = Orchestrator()
    with stub_task(orch, whose_pid, fn=lambda x, seconds: (x, os.getpid())) as stub:
        async with TaskWorker(whose_pid, orchestrator=orch, executor=pool):
            with anyio.fail_after(BOUND):
                assert await outcome(orch.submit(whose_pid, 9)) == (9, os.getpid())
    assert len(stub.calls) == 1


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here"
)
async def test_a_forkserver_pool_runs_tasks_too() -> None:
    orch = Orchestrator()
    with ProcessPoolExecutor(1, context="forkserver") as own, anyio.fail_after(BOUND):
        async with TaskWorker(whose_pid, whose_pid_async, orchestrator=orch, executor=own):
            sync_pid = (await outcome(orch.submit(whose_pid, 1)))[1]
            async_pid = (await outcome(orch.submit(whose_pid_async, 2)))[1]
    assert sync_pid == async_pid != os.getpid()
    assert repr(own) == "ProcessPoolExecutor(max_workers=1, context='forkserver')"

"""Flows whose submitted tasks run in an executor: a process pool, and a real Dask cluster.

``@flow(task_runner=ExecutorTaskRunner(executor))`` (or the executor itself) keeps the
runs' orchestration here and calls their functions in the executor: ``submit`` and
``map`` give futures as with the thread runner; upstream results are shipped by value;
retries, a remote exception with its traceback, an unpicklable result, a timeout whose
retry waits for the call left running, and a process killed mid-run (Crashed, then
retried) behave as in threads. Each test runs once on a 2-process ``ProcessPoolExecutor``
and once on a two-worker LocalCluster (skipped only without ``distributed``).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from orchestrator import ExecutorTaskRunner, InvalidArgument, Orchestrator, VirtualClock, flow, task
from orchestrator.executors import Executor
from tests.remote_tasks import broken, count, flaky, lock_maker, overstays

pytestmark = pytest.mark.timeout(120)


@task
def square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@task
async def add_async(x: int, y: int) -> int:
    await anyio.lowlevel.checkpoint()
    return x + y


@task(retries=1, retry_delay_seconds=0)
def dies_once(path: Path) -> int:
    """Kills its own process on its first attempt."""
    if count(path) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def test_submit_and_map_run_the_functions_in_the_executor(remote: Executor) -> None:
    @flow(task_runner=ExecutorTaskRunner(remote))
    def pipeline(n: int) -> tuple[list[int], set[int], int]:
        mapped = square.map(range(n))
        first = square.submit(n)
        total = add_async.submit(first.result()[0], 1)  # an async function, remotely
        results = [*mapped.result(), first.result()]
        return [value for value, _ in results], {pid for _, pid in results}, total.result()

    with Orchestrator(VirtualClock()):
        values, pids, total = pipeline(4)
    assert values == [0, 1, 4, 9, 16]
    assert total == 17
    assert pids
    assert os.getpid() not in pids


def test_an_executor_is_taken_as_the_task_runner_and_futures_are_shipped_by_value(
    remote: Executor,
) -> None:
    @flow(task_runner=remote)
    async def pipeline() -> int:
        first = square.submit(3)
        # The future is resolved here and its value shipped: a (9, pid) tuple.
        second = add_async.submit(first.result()[0], 1)
        return await second.result_async()

    assert isinstance(pipeline.task_runner, ExecutorTaskRunner)
    assert pipeline.task_runner.executor is remote
    with Orchestrator(VirtualClock()):
        assert anyio.run(pipeline) == 10


def test_retries_and_a_remote_exception(remote: Executor, tmp_path: Path) -> None:
    @flow(task_runner=remote)
    def pipeline(path: Path) -> tuple[int, str, str]:
        failed = broken.submit(7).wait()  # a state returned would fail the flow: its parts
        return flaky.submit(path).result(), failed.name, str(failed.message)

    with Orchestrator(VirtualClock()):
        attempts, name, message = pipeline(tmp_path / "attempts")
    assert attempts == 3
    assert name == "Failed"
    assert message.startswith("Task run encountered an exception: KeyError('no such thing: 7')")
    assert "Remote traceback:" in message
    assert 'raise KeyError(f"no such thing: {x}")' in message


def test_an_unpicklable_result_fails_its_run_only(remote: Executor) -> None:
    @flow(task_runner=remote)
    def pipeline() -> tuple[str, str, int]:
        state = lock_maker.submit().wait()
        return state.name, str(state.message), square.submit(2).result()[0]

    with Orchestrator(VirtualClock()):
        name, message, value = pipeline()
    assert name == "Failed"
    assert "the result of task 'lock_maker' cannot be pickled" in message
    assert value == 4


def test_a_process_killed_mid_run_crashes_the_run_which_retries(
    remote: Executor, tmp_path: Path
) -> None:
    @flow(task_runner=remote)
    def pipeline(path: Path) -> tuple[uuid.UUID, int]:
        future = dies_once.submit(path)
        return future.task_run_id, future.result()

    orch = Orchestrator(VirtualClock())
    with orch:
        run_id, pid = pipeline(tmp_path / "attempts")
    states = orch.read_task_run_states(run_id)
    crashed = [state for state in states if state.name == "AwaitingRetry"]
    assert len(crashed) == 1
    assert str(crashed[0].message).startswith("Crashed: the executor lost the call")
    assert states[-1].name == "Completed"
    assert pid != os.getpid()
    assert len((tmp_path / "attempts").read_text().splitlines()) == 2  # one call per attempt


def test_a_killed_run_without_retries_ends_crashed(remote: Executor, tmp_path: Path) -> None:
    once = dies_once.with_options(retries=0)

    @flow(task_runner=remote)
    def pipeline(path: Path) -> str:
        return once.submit(path).wait().name

    with Orchestrator(VirtualClock()):
        assert pipeline(tmp_path / "attempts") == "Crashed"


def test_a_timed_out_attempt_is_retried_once_its_call_ended(
    remote: Executor, tmp_path: Path
) -> None:
    @flow(task_runner=remote)
    def pipeline(path: Path) -> tuple[uuid.UUID, int]:
        future = overstays.submit(path)
        return future.task_run_id, future.result()

    orch = Orchestrator()  # a timeout on the system clock
    log = tmp_path / "log"
    with orch:
        run_id, attempt = pipeline(log)
    assert attempt == 2
    states = orch.read_task_run_states(run_id)
    retry = next(state for state in states if state.name == "AwaitingRetry")
    assert "exceeded its timeout of 2 s" in str(retry.message)
    first, second = (line.split() for line in log.read_text().splitlines())
    assert float(second[1]) >= float(first[2])  # the retry's call started after the first's
    # It stayed AwaitingRetry until the first call returned; Retrying means running again.
    retrying = next(state.timestamp for state in states if state.name == "Retrying")
    assert retrying is not None
    assert retrying.timestamp() >= float(first[2])


def test_refuses_what_is_not_a_runner_nor_an_executor() -> None:
    with pytest.raises(InvalidArgument, match="task_runner must be a ThreadPoolTaskRunner, an"):
        flow(task_runner=object())(lambda: None)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgument, match=r"executor must be an orchestrator\.executors"):
        ExecutorTaskRunner(object())  # type: ignore[arg-type]


@task(timeout_seconds=0.5)
def takes_a_while(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def test_virtual_time_stands_still_while_a_call_runs_in_the_executor(remote: Executor) -> None:
    @flow(task_runner=remote)
    def pipeline() -> str:
        # 0.3 real seconds under a 0.5 s timeout: virtual time must not jump past it.
        return takes_a_while.submit(0.3).result()

    clock = VirtualClock()
    start = clock.now()
    with Orchestrator(clock, autojump=True):
        assert pipeline() == "done"
    assert clock.now() == start

"""Cases of Prefect's ``tests/test_task_runners.py``, ported: only the imports changed where we can.

Prefect's cases drive a runner directly (``runner.submit(task, parameters)``); here a
runner's ``submit`` takes an engine-made run, so each case runs its tasks in a flow given
the runner (``@flow(task_runner=ThreadPoolTaskRunner(...))``), which is what a user
writes. The flow-level cases of Prefect's process-pool runner (``wait_for``, futures as
parameters, an upstream failure, non-blocking submits) are ported on the thread pool.

Left out: the process pool and Prefect's own API-backed runner (a later issue adds
other runners), settings (``PREFECT_TASK_RUNNER_THREAD_POOL_MAX_WORKERS``), the
``tags()`` context, the executor's private attributes, subprocess log and event
forwarding, pickling.

Deliberate differences (each test below asserts OUR behaviour):

=========================================  =============================================
Prefect                                    orchestrator, and why
=========================================  =============================================
``duplicate() == runner`` (equality by     no ``__eq__``: a duplicate is a fresh,
settings)                                  unstarted runner with the same
                                           ``max_workers``, checked by that attribute
``RuntimeError("Task runner is not         ``RuntimeError`` too, but from a flow's
started")`` from ``runner.submit``         ``task.submit`` a runner is always started:
                                           entering one twice raises instead
a flow returning states, one failed, ends  the same state, and the call raises: a
Failed but the call returns the states     flow call returns its final state's result
=========================================  =============================================
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from orchestrator import (
    InvalidArgument,
    TaskRunContext,
    TaskRunFuture,
    ThreadPoolTaskRunner,
    flow,
    get_run_context,
    task,
)


@task
def my_test_task(param1: Any, param2: Any) -> tuple[Any, Any]:
    return param1, param2


@task
async def my_test_async_task(param1: Any, param2: Any) -> tuple[Any, Any]:
    return param1, param2


@task
def context_matters(param1: Any = None, param2: Any = None) -> dict[str, Any]:
    context = get_run_context()
    assert isinstance(context, TaskRunContext)
    return dict(context.parameters)


@task
async def context_matters_async(param1: Any = None, param2: Any = None) -> dict[str, Any]:
    context = get_run_context()
    assert isinstance(context, TaskRunContext)
    return dict(context.parameters)


def test_duplicate() -> None:
    runner = ThreadPoolTaskRunner(max_workers=100)
    duplicate_runner = runner.duplicate()
    assert isinstance(duplicate_runner, ThreadPoolTaskRunner)
    assert duplicate_runner is not runner
    assert duplicate_runner.max_workers == runner.max_workers == 100


def test_runner_cannot_be_entered_twice() -> None:
    with ThreadPoolTaskRunner() as runner, pytest.raises(RuntimeError, match="already started"):
        runner.__enter__()


def test_set_max_workers() -> None:
    assert ThreadPoolTaskRunner(max_workers=2).max_workers == 2
    assert ThreadPoolTaskRunner().max_workers is None  # unbounded, as in Prefect
    with pytest.raises(InvalidArgument, match="max_workers"):
        ThreadPoolTaskRunner(max_workers=0)


@pytest.mark.parametrize("the_task", [my_test_task, my_test_async_task])
def test_submit_task(the_task: Any) -> None:
    @flow(task_runner=ThreadPoolTaskRunner())
    def my_flow() -> Any:
        future = the_task.submit(1, 2)
        assert isinstance(future, TaskRunFuture)
        return future.result()

    assert my_flow() == (1, 2)


@pytest.mark.parametrize("the_task", [context_matters, context_matters_async])
def test_submitted_task_receives_its_context(the_task: Any) -> None:
    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def my_flow() -> Any:
        return the_task.submit(param1="a").result()

    assert my_flow() == {"param1": "a", "param2": None}


@pytest.mark.parametrize("the_task", [my_test_task, my_test_async_task])
def test_map_task(the_task: Any) -> None:
    @flow(task_runner=ThreadPoolTaskRunner())
    def my_flow() -> list[Any]:
        futures = the_task.map([1, 2, 3], [4, 5, 6])
        assert all(isinstance(future, TaskRunFuture) for future in futures)
        return [future.result() for future in futures]

    assert my_flow() == [(1, 4), (2, 5), (3, 6)]


@pytest.mark.parametrize("the_task", [context_matters, context_matters_async])
def test_map_task_with_context(the_task: Any) -> None:
    @flow
    def my_flow() -> Any:
        return the_task.map([1, 2, 3], [4, 5, 6]).result()

    assert my_flow() == [{"param1": p1, "param2": p2} for p1, p2 in [(1, 4), (2, 5), (3, 6)]]


def test_map_with_future_resolved_to_list() -> None:
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @flow
    def my_flow() -> Any:
        future = numbers.submit()
        return my_test_task.map(future, future).result()

    assert my_flow() == [(1, 1), (2, 2), (3, 3)]


def test_handles_recursively_submitted_tasks() -> None:
    # More nested submits than a bounded default pool has threads: must not deadlock.
    @task
    def recursive_task(n: int) -> int:
        if n == 0:
            return n
        return recursive_task.submit(n - 1).result()

    @flow
    def test_flow() -> Any:
        return recursive_task.submit(33)

    assert test_flow().result() == 0


def test_submit_with_wait_for() -> None:
    @task
    def add_one(x: int) -> int:
        return x + 1

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def test_flow() -> tuple[int, int, int]:
        future_a = add_one.submit(1)
        future_b = add_one.submit(2, wait_for=[future_a])
        future_c = add_one.submit(3, wait_for=[future_b])
        return future_a.result(), future_b.result(), future_c.result()

    assert test_flow() == (2, 3, 4)


def test_submit_with_wait_for_upstream_failure() -> None:
    @task
    def failing_task() -> None:
        raise RuntimeError("I failed!")

    @task
    def downstream_task() -> str:
        return "downstream completed"

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def test_flow() -> tuple[Any, Any]:
        upstream = failing_task.submit()
        downstream = downstream_task.submit(wait_for=[upstream])
        upstream.wait()
        downstream.wait()
        return upstream.state, downstream.state

    flow_state = test_flow(return_state=True)
    assert flow_state.is_failed()  # the flow returned a failed state (see the table)
    upstream_state, downstream_state = flow_state.data
    assert upstream_state.is_failed()
    assert downstream_state.is_pending()
    assert downstream_state.name == "NotReady"


def test_submit_with_futures_as_parameters() -> None:
    @task
    def add(x: int, y: int) -> int:
        return x + y

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def test_flow() -> tuple[int, int, int]:
        future_a = add.submit(1, 2)
        future_b = add.submit(3, 4)
        future_c = add.submit(future_a, future_b)  # type: ignore[call-overload]
        return future_a.result(), future_b.result(), future_c.result()

    assert test_flow() == (3, 7, 10)


def test_submit_remains_non_blocking() -> None:
    release = threading.Event()

    @task
    def gated_add(x: int, y: int) -> int:
        assert release.wait(10)
        return x + y

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def test_flow() -> tuple[int, int]:
        start = time.monotonic()
        future_a = gated_add.submit(1, 2)
        future_b = gated_add.submit(3, 4, wait_for=[future_a])
        assert not future_a.done()  # submit returned while the run is held
        assert time.monotonic() - start < 5
        release.set()
        return future_a.result(), future_b.result()

    assert test_flow() == (3, 7)


def test_bounded_runner_runs_at_most_max_workers_at_once() -> None:
    active: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    @task
    def tracked(x: int) -> int:
        with lock:
            active.append(x)
            peak.append(len(active))
        time.sleep(0.02)
        with lock:
            active.remove(x)
        return x

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def test_flow() -> list[int]:
        return tracked.map(list(range(6))).result()

    assert test_flow() == list(range(6))
    assert max(peak) <= 2

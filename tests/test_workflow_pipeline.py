"""The issue's workflow, run as a user would: futures passed on, map, wait_for, retries.

A sync flow under ``with Orchestrator(VirtualClock(), autojump=True):`` submits tasks on
its task runner, passes a future into another task, maps over two lists, and waits for a
retried async task: the whole thing finishes in milliseconds of real time with exactly the
virtual seconds its retry delay asks for.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator import (
    Orchestrator,
    State,
    StateType,
    TaskRunContext,
    TaskRunFuture,
    VirtualClock,
    flow,
    get_run_context,
    task,
    unmapped,
)


@task
def add(x: int, y: int) -> int:
    return x + y


@task(retries=2, retry_delay_seconds=10)
async def fails_once(x: int) -> int:
    context = get_run_context()
    assert isinstance(context, TaskRunContext)
    if context.task_run.run_count == 1:
        raise RuntimeError("first attempt fails")
    return x * 2


@flow
def pipeline(n: int) -> int:
    a = add.submit(1, 2)
    b: TaskRunFuture[int] = add.submit(a, 10)  # type: ignore[call-overload]  # a future stands for its value
    mapped = add.map([1, 2, 3], [10, 20, 30])
    c = fails_once.submit(n, wait_for=[b])
    return b.result() + sum(f.result() for f in mapped) + c.result()


def test_the_pipeline_completes_with_exact_virtual_time() -> None:
    orchestrator = Orchestrator(VirtualClock(), autojump=True)
    start = orchestrator.clock.now()
    with orchestrator:
        state = pipeline(5, return_state=True)
    assert (state.type, state.result()) == (StateType.COMPLETED, 89)
    (flow_run,) = orchestrator.read_flow_runs()
    task_runs = orchestrator.read_task_runs()
    assert len(task_runs) == 6
    assert {run.flow_run_id for run in task_runs} == {flow_run.id}
    (retried,) = [run for run in task_runs if run.task_key == fails_once.task_key]
    history = [s.name for s in orchestrator.read_task_run_states(retried.id)]
    assert "AwaitingRetry" in history
    assert history[-1] == "Completed"
    assert orchestrator.clock.now() - start == timedelta(seconds=10)


@flow
def with_unmapped(values: list[int]) -> list[int]:
    return add.map(values, unmapped(100)).result()


def test_map_with_unmapped_and_the_future_lists_result() -> None:
    with Orchestrator(VirtualClock()):
        assert with_unmapped([1, 2, 3]) == [101, 102, 103]


@task
def broken() -> int:
    raise ValueError("upstream broke")


@flow
def downstream_of_a_failure() -> tuple[str, str]:
    upstream = broken.submit()
    after = add.submit(upstream, 1)  # type: ignore[call-overload]
    after.wait()
    return after.state.name, after.state.message or ""


def test_a_failed_upstream_leaves_the_downstream_run_not_ready() -> None:
    orchestrator = Orchestrator(VirtualClock())
    with orchestrator:
        name, message = downstream_of_a_failure()
    assert name == "NotReady"
    assert message.startswith("Upstream task run '")
    assert "Failed" in message
    runs = {run.task_key: run for run in orchestrator.read_task_runs()}
    state = runs[add.task_key].state
    assert state is not None
    assert state.type is StateType.PENDING
    assert runs[add.task_key].run_count == 0  # it never ran


@pytest.mark.parametrize("count", [1, 50])
def test_a_flow_returning_futures_hands_back_their_states(count: int) -> None:
    @flow
    def fan_out() -> list[State]:
        return [add.submit(i, i) for i in range(count)]  # type: ignore[misc]  # states come back

    with Orchestrator(VirtualClock()):
        states = fan_out()
    assert [state.result() for state in states] == [2 * i for i in range(count)]

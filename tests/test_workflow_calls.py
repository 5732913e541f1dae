"""@flow and direct task calls: runs in this process, their states, context and failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest

from orchestrator import (
    FlowRunContext,
    MissingContextError,
    Orchestrator,
    State,
    StateType,
    TaskRunContext,
    UnfinishedRun,
    VirtualClock,
    Workflow,
    flow,
    get_run_context,
    task,
)


@pytest.fixture
def orch() -> Orchestrator:
    return Orchestrator(VirtualClock(), seed=1)


def names(states: list[State]) -> list[str]:
    return [state.name for state in states]


@task
def add(a: int, b: int) -> int:
    return a + b


@task
async def add_async(a: int, b: int) -> int:
    return a + b


# -- direct task calls ----------------------------------------------------------------------


def test_calling_a_task_is_a_task_run_and_fn_is_the_plain_function(orch: Orchestrator) -> None:
    with orch:
        assert add(1, 2) == 3
    (run,) = orch.read_task_runs()
    assert (run.task_key, run.flow_run_id, run.run_count) == (add.task_key, None, 1)
    assert names(orch.read_task_run_states(run.id)) == ["Pending", "Running", "Completed"]
    assert add.fn(1, 2) == 3
    assert orch.count_task_runs() == 1  # .fn made no run


def test_return_state_gives_the_final_state_and_result_its_value(orch: Orchestrator) -> None:
    with orch:
        state = add(2, 3, return_state=True)
    assert (state.type, state.name, state.result()) == (StateType.COMPLETED, "Completed", 5)


def test_a_failing_task_raises_its_own_exception_and_is_failed(orch: Orchestrator) -> None:
    @task
    def broken() -> None:
        raise KeyError("nope")

    with orch, pytest.raises(KeyError, match="nope"):
        broken()
    with orch:
        state = broken(return_state=True)
    assert state.type is StateType.FAILED
    assert state.message == "Task run encountered an exception: KeyError('nope')"
    assert isinstance(state.result(raise_on_failure=False), KeyError)


def test_retries_of_a_direct_call_run_on_the_orchestrators_clock(orch: Orchestrator) -> None:
    attempts: list[int] = []

    @task(retries=2, retry_delay_seconds=0)
    def flaky() -> str:
        attempts.append(get_run_context().task_run.run_count)  # type: ignore[union-attr]
        if len(attempts) < 3:
            raise ValueError("not yet")
        return "done"

    with orch:
        assert flaky() == "done"
    assert attempts == [1, 2, 3]
    (run,) = orch.read_task_runs()
    assert names(orch.read_task_run_states(run.id)) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying",
        "Completed",
    ]  # fmt: skip


def test_a_cached_call_completes_without_calling_the_function(orch: Orchestrator) -> None:
    calls: list[int] = []

    @task(cache_key_fn=lambda parameters: f"x={parameters['x']}")
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    with orch:
        first = square(4, return_state=True)
        second = square(4, return_state=True)
    assert (first.name, second.name, second.result(), calls) == ("Completed", "Cached", 16, [4])


def test_without_a_current_orchestrator_a_call_runs_on_a_fresh_default_one() -> None:
    seen: list[Orchestrator] = []

    @task
    def where() -> str:
        seen.append(Orchestrator.current())
        return "here"

    assert where() == "here"
    assert where() == "here"
    assert len(seen) == 2
    assert seen[0] is not seen[1]
    assert not seen[0].clock.is_virtual


def test_bad_arguments_raise_type_error_and_create_nothing(orch: Orchestrator) -> None:
    with orch, pytest.raises(TypeError, match="missing a required argument: 'b'"):
        add(1)  # type: ignore[call-overload]
    assert orch.count_task_runs() == 0


async def test_an_async_task_call_is_awaited_as_a_task_run(orch: Orchestrator) -> None:
    with orch:
        assert await add_async(4, 5) == 9
        state = await add_async(1, 1, return_state=True)
    assert state.result() == 2
    assert orch.count_task_runs() == 2


def test_get_run_context_outside_any_run_raises() -> None:
    with pytest.raises(MissingContextError, match="outside any task run or flow run"):
        get_run_context()


# -- flows -------------------------------------------------------------------------------------


@flow
def pipeline(n: int) -> int:
    return add(n, 1) + add(n, 2)


def test_a_flow_call_is_a_flow_run_with_its_task_runs_attached(orch: Orchestrator) -> None:
    with orch:
        assert pipeline(10) == 23
    (run,) = orch.read_flow_runs()
    assert orch.read_flow(run.flow_id).name == "pipeline"
    assert run.parameters == {"n": 10}
    assert names(orch.read_flow_run_states(run.id)) == ["Pending", "Running", "Completed"]
    tasks = orch.read_task_runs()
    assert len(tasks) == 2
    assert {t.flow_run_id for t in tasks} == {run.id}
    assert isinstance(pipeline, Workflow)


def test_a_flow_failure_is_its_exception_and_a_failed_state(orch: Orchestrator) -> None:
    @flow
    def broken() -> None:
        raise RuntimeError("flow broke")

    with orch, pytest.raises(RuntimeError, match="flow broke"):
        broken()
    with orch:
        state = broken(return_state=True)
    assert (state.type, state.message) == (
        StateType.FAILED,
        "Flow run encountered an exception: RuntimeError('flow broke')",
    )


def test_a_failed_task_that_is_not_returned_does_not_fail_the_flow(orch: Orchestrator) -> None:
    @task
    def broken() -> None:
        raise ValueError("task broke")

    @flow
    def tolerant() -> str:
        broken(return_state=True)
        return "fine"

    with orch:
        state = tolerant(return_state=True)
    assert (state.type, state.result()) == (StateType.COMPLETED, "fine")


def test_a_returned_failed_state_fails_the_flow(orch: Orchestrator) -> None:
    @task
    def broken() -> None:
        raise ValueError("task broke")

    @flow
    def handing_back() -> State:
        return broken(return_state=True)

    with orch:
        state = handing_back(return_state=True)
    assert state.type is StateType.FAILED
    with pytest.raises(ValueError, match="task broke"):
        state.result()


def test_flow_retries_rerun_the_body(orch: Orchestrator) -> None:
    bodies: list[int] = []

    @flow(retries=1, retry_delay_seconds=0)
    def flaky() -> int:
        context = get_run_context()
        assert isinstance(context, FlowRunContext)
        bodies.append(context.flow_run.run_count)
        if len(bodies) == 1:
            raise ValueError("first")
        return len(bodies)

    with orch:
        assert flaky() == 2
    (run,) = orch.read_flow_runs()
    assert bodies == [1, 2]
    assert names(orch.read_flow_run_states(run.id)) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "Completed",
    ]  # fmt: skip


def test_the_context_inside_a_flow_and_its_tasks(orch: Orchestrator) -> None:
    seen: dict[str, Any] = {}

    @task
    def inner(x: int) -> None:
        context = get_run_context()
        assert isinstance(context, TaskRunContext)
        seen["task"] = (context.task is inner, dict(context.parameters), context.task_run.name)
        seen["current"] = Orchestrator.current()

    @flow(flow_run_name="run-{x}")
    def outer(x: int) -> None:
        context = get_run_context()
        assert isinstance(context, FlowRunContext)
        seen["flow"] = (context.flow is outer, dict(context.parameters), context.flow_run.name)
        inner(x)

    other = Orchestrator(VirtualClock())
    with other, orch:
        outer(3)
    assert seen["flow"] == (True, {"x": 3}, "run-3")
    assert seen["task"][:2] == (True, {"x": 3})
    assert seen["current"] is orch


def test_a_subflow_is_a_child_flow_run_linked_to_a_parent_task_run(orch: Orchestrator) -> None:
    @flow
    def child(x: int) -> int:
        return x * 10

    @flow
    def parent() -> int:
        return child(4) + 1

    with orch:
        assert parent() == 41
    runs = {orch.read_flow(run.flow_id).name: run for run in orch.read_flow_runs()}
    parent_task_run_id = runs["child"].parent_task_run_id
    assert parent_task_run_id is not None
    link = orch.read_task_run(parent_task_run_id)
    assert link.flow_run_id == runs["parent"].id
    assert link.state is not None
    assert link.state.type is StateType.COMPLETED


def test_a_flow_with_a_timeout_ends_timed_out() -> None:
    import threading

    release = threading.Event()

    @flow(timeout_seconds=0.05)
    def slow() -> None:
        release.wait(5)

    try:
        with Orchestrator():
            state = slow(return_state=True)
    finally:
        release.set()
    assert (state.type, state.name) == (StateType.FAILED, "TimedOut")
    assert state.message == "Flow run exceeded its timeout of 0.05 s"


def test_calling_a_flow_with_bad_arguments_creates_nothing(orch: Orchestrator) -> None:
    with orch, pytest.raises(TypeError, match="flow 'pipeline' cannot be called"):
        pipeline()  # type: ignore[call-overload]
    assert orch.count_flow_runs() == 0


def test_unfinished_state_has_no_result() -> None:
    from orchestrator import Pending

    with pytest.raises(UnfinishedRun, match="NotReady, so it has no result yet: upstream"):
        Pending(name="NotReady", message="upstream").result()


async def test_an_async_flow_runs_in_the_callers_loop(orch: Orchestrator) -> None:
    @flow
    async def doubled(x: int) -> int:
        return await add_async(x, x) + add(0, 1)

    with orch:
        assert await doubled(5) == 11
        state = await doubled(1, return_state=True)
    assert state.result() == 3
    assert orch.count_flow_runs() == 2
    assert orch.count_task_runs() == 4


def test_flow_timestamps_are_exact_on_a_virtual_clock(orch: Orchestrator) -> None:
    start = orch.clock.now()
    with orch:
        pipeline(1)
    (run,) = orch.read_flow_runs()
    assert {state.timestamp for state in orch.read_flow_run_states(run.id)} == {start}
    assert orch.clock.now() - start == timedelta(0)


class Interrupt(BaseException):
    """Stands for KeyboardInterrupt: an exception that is not an Exception."""


def test_a_call_torn_down_from_outside_ends_crashed_and_the_exception_goes_on(
    orch: Orchestrator,
) -> None:
    @task
    def interrupted() -> None:
        raise Interrupt

    @flow
    def carrying() -> None:
        interrupted()

    with orch, pytest.raises(Interrupt):
        carrying()
    (task_run,) = orch.read_task_runs()
    (flow_run,) = orch.read_flow_runs()
    assert task_run.state is not None
    assert flow_run.state is not None
    assert (task_run.state.name, flow_run.state.name) == ("Crashed", "Crashed")
    assert task_run.state.message == "Execution was interrupted by Interrupt: the run crashed"


async def test_an_async_task_called_directly_times_out_on_the_skipped_clock() -> None:
    # The timer waits beside the call, not inside the run's execution: time skipping
    # sees it as a clock sleep and jumps to the timeout (it once held time forever).
    @task(timeout_seconds=1)
    async def slow() -> None:
        await get_run_context().orchestrator.clock.sleep(10)

    async with Orchestrator(VirtualClock(), autojump=True) as orchestrator:
        start = orchestrator.clock.now()
        with anyio.fail_after(10):
            state = await slow(return_state=True)
        assert state.name == "TimedOut"
        assert orchestrator.clock.now() - start == timedelta(seconds=1)

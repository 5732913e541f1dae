"""Cases of Prefect's ``tests/test_flows.py``, ported: only the imports changed where we can.

Ported groups here: timeouts, flow retries, flow run names. The rest of the file is in
``test_port_flows_objects.py`` (the flow object and decorator, ``with_options``) and
``test_port_flows_calls.py`` (calls, final states, subflows).

Left out (they need what this project does not have): logs sent to an API.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from orchestrator import FlowRunContext, Orchestrator, flow, get_run_context, task
from tests.prefect_port._shared import only_run

# -- timeouts (real time, short) ---------------------------------------------------------------


def test_flows_fail_with_timeout() -> None:
    release = threading.Event()

    @flow(timeout_seconds=0.1)
    def my_flow() -> None:
        release.wait(5)

    try:
        state = my_flow(return_state=True)
    finally:
        release.set()
    assert state.is_failed()
    assert state.message is not None
    assert "timeout" in state.message
    with pytest.raises(TimeoutError):
        state.result()


async def test_async_flows_fail_with_timeout() -> None:
    @flow(timeout_seconds=0.1)
    async def my_flow() -> None:
        await anyio.sleep(10)

    state = await my_flow(return_state=True)
    assert state.is_failed()
    with pytest.raises(TimeoutError):
        state.result()


def test_timeout_only_applies_if_exceeded() -> None:
    @flow(timeout_seconds=10)
    def my_flow() -> str:
        return "quick"

    state = my_flow(return_state=True)
    assert state.is_completed()
    assert state.result() == "quick"


def test_user_timeout_is_not_hidden() -> None:
    @flow(timeout_seconds=30)
    def my_flow() -> None:
        raise TimeoutError("Oh no!")

    state = my_flow(return_state=True)
    assert state.is_failed()
    with pytest.raises(TimeoutError, match="Oh no!"):
        state.result()
    assert state.name == "Failed"  # not the engine's TimedOut


# -- retries -----------------------------------------------------------------------------------


def test_flow_retry_with_error_in_flow(orchestrator: Orchestrator) -> None:
    run_count = 0

    @flow(retries=1)
    def foo() -> str:
        nonlocal run_count
        run_count += 1
        if run_count == 1:
            raise ValueError()
        return "hello"

    assert foo() == "hello"
    assert run_count == 2


def test_flow_retry_with_error_in_flow_and_successful_task(orchestrator: Orchestrator) -> None:
    task_run_count = flow_run_count = 0

    @task
    def my_task() -> str:
        nonlocal task_run_count
        task_run_count += 1
        return "hello"

    @flow(retries=1)
    def foo() -> Any:
        nonlocal flow_run_count
        flow_run_count += 1
        state = my_task(return_state=True)
        if flow_run_count == 1:
            raise ValueError()
        return state.result()

    assert foo() == "hello"
    assert flow_run_count == 2
    assert task_run_count == 2  # Prefect: 1 (it reloads the persisted result; none here)


def test_flow_retry_with_no_error_in_flow_and_one_failed_task(orchestrator: Orchestrator) -> None:
    task_run_count = flow_run_count = 0

    @task
    def my_task() -> str:
        nonlocal task_run_count
        task_run_count += 1
        if flow_run_count == 1:
            raise ValueError()
        return "hello"

    @flow(retries=1)
    def foo() -> str:
        nonlocal flow_run_count
        flow_run_count += 1
        return my_task()

    assert foo() == "hello"
    assert (flow_run_count, task_run_count) == (2, 2)


def test_flow_retries_wait_their_delay_on_the_clock(orchestrator: Orchestrator) -> None:
    attempts: list[int] = []

    @flow(retries=2, retry_delay_seconds=0)
    def flaky() -> int:
        context = get_run_context()
        assert isinstance(context, FlowRunContext)
        attempts.append(context.flow_run.run_count)
        if len(attempts) < 3:
            raise ValueError("again")
        return len(attempts)

    assert flaky() == 3
    assert attempts == [1, 2, 3]


# -- flow run names ----------------------------------------------------------------------------


def test_sets_run_name_when_provided(orchestrator: Orchestrator) -> None:
    @flow(flow_run_name="fixed-name")
    def my_flow(x: int) -> None:
        pass

    my_flow(1)
    assert only_run(orchestrator, "my_flow").name == "fixed-name"


def test_sets_run_name_with_params_including_defaults(orchestrator: Orchestrator) -> None:
    @flow(flow_run_name="{name}-wuz-{where}")
    def my_flow(name: str, where: str = "here") -> None:
        pass

    my_flow("chris")
    assert only_run(orchestrator, "my_flow").name == "chris-wuz-here"


def test_sets_run_name_with_function_once_per_call(orchestrator: Orchestrator) -> None:
    generated: list[str] = []

    def generate() -> str:
        generated.append(f"name-{len(generated)}")
        return generated[-1]

    @flow(flow_run_name=generate)
    def my_flow() -> None:
        pass

    my_flow()
    my_flow()
    assert sorted(run.name for run in orchestrator.read_flow_runs()) == ["name-0", "name-1"]
    assert generated == ["name-0", "name-1"]

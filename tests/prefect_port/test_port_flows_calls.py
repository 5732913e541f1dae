"""Cases of Prefect's ``tests/test_flows.py``, ported: only the imports changed where we can.

Ported groups here: flow calls and the final state a return value or exception gives,
subflows (sync and async, nested, recursive, concurrent). The rest of the file is in
``test_port_flows_objects.py`` (the flow object and decorator, ``with_options``) and
``test_port_flows_runs.py`` (timeouts, retries, run names).

Left out (they need what this project does not have): result persistence and storage
blocks, pydantic parameter coercion and parameter schemas, transactions, and the
client-based checks of run relationships (here they read the orchestrator instead).

Deliberate differences (each test below asserts OUR behaviour):

============================================  ==========================================
Prefect                                       orchestrator, and why
============================================  ==========================================
``result(raise_on_failure=False)`` of a      :class:`TaskRunFailed` naming the state's
Failed state whose data is no exception       message (``state.data`` keeps the value):
returns that data; a flow that returned      a failure's result is always an exception;
states raises the first failed one's error    the states are the Failed state's ``data``
a flow returning ``Paused()`` raises          the flow ends Failed: pausing a flow run
``PausedRun``                                 in this process is not supported
============================================  ==========================================
"""

from __future__ import annotations

import anyio
import pytest

from orchestrator import Cancelled, Orchestrator, State, StateType, TaskRunFailed, flow, task
from tests.prefect_port._shared import only_run

# -- calls and final states -------------------------------------------------------------------


def test_call_creates_flow_run_and_runs(orchestrator: Orchestrator) -> None:
    @flow(version="test", name="foo")
    def foo(x: int, y: int = 3, z: int = 3) -> int:
        return x + y + z

    assert foo(1, 2) == 6
    run = only_run(orchestrator, "foo")
    assert run.parameters == {"x": 1, "y": 2, "z": 3}
    assert run.flow_version == "test"


async def test_async_call_creates_flow_run_and_runs(orchestrator: Orchestrator) -> None:
    @flow(version="test", name="foo")
    async def foo(x: int, y: int = 3, z: int = 3) -> int:
        return x + y + z

    assert await foo(1, 2) == 6
    run = only_run(orchestrator, "foo")
    assert (run.parameters, run.flow_version) == ({"x": 1, "y": 2, "z": 3}, "test")


def test_call_with_return_state_true() -> None:
    @flow()
    def foo(x: int, y: int = 3, z: int = 3) -> int:
        return x + y + z

    state = foo(1, 2, return_state=True)
    assert isinstance(state, State)
    assert state.result() == 6


def test_call_with_variadic_args() -> None:
    @flow
    def test_flow(*foo: int, bar: int) -> tuple[tuple[int, ...], int]:
        return foo, bar

    assert test_flow(1, 2, 3, bar=4) == ((1, 2, 3), 4)


def test_call_with_variadic_keyword_args() -> None:
    @flow
    def test_flow(foo: int, bar: int, **foobar: int) -> tuple[int, int, dict[str, int]]:
        return foo, bar, foobar

    assert test_flow(1, 2, x=3, y=4, z=5) == (1, 2, {"x": 3, "y": 4, "z": 5})


def test_call_ignores_incompatible_parameter_types_if_asked() -> None:
    @flow(version="test", validate_parameters=False)
    def foo(x: int) -> int:
        return x

    assert foo(x="foo") == "foo"  # type: ignore[call-overload]


@pytest.mark.parametrize("error", [ValueError("Hello"), None])
def test_final_state_reflects_exceptions_during_run(error: Exception | None) -> None:
    @flow(version="test")
    def foo() -> None:
        if error:
            raise error

    state = foo(return_state=True)
    assert state.is_failed() if error else state.is_completed()
    assert state.result(raise_on_failure=False) is error


def test_final_state_respects_returned_state() -> None:
    @flow(version="test")
    def foo() -> State:
        return State(type=StateType.FAILED, message="Test returned state", data="hello!")

    state = foo(return_state=True)
    assert state.is_failed()
    assert state.message == "Test returned state"
    assert state.data == "hello!"
    failure = state.result(raise_on_failure=False)  # Prefect: "hello!" (see the table)
    assert isinstance(failure, TaskRunFailed)
    assert "Test returned state" in str(failure)


def test_flow_state_reflects_returned_task_run_state() -> None:
    @task
    def fail() -> None:
        raise ValueError("Test")

    @flow(version="test")
    def foo() -> State:
        return fail(return_state=True)

    flow_state = foo(return_state=True)
    assert flow_state.is_failed()
    with pytest.raises(ValueError, match="Test"):
        flow_state.result()


def test_flow_state_reflects_returned_multiple_task_run_states() -> None:
    @task
    def fail1() -> None:
        raise ValueError("Test 1")

    @task
    def fail2() -> None:
        raise ValueError("Test 2")

    @task
    def succeed() -> bool:
        return True

    @flow(version="test")
    def foo() -> tuple[State, State, State]:
        return fail1(return_state=True), fail2(return_state=True), succeed(return_state=True)

    flow_state = foo(return_state=True)
    assert flow_state.is_failed()
    assert flow_state.message == "2/3 states failed."
    with pytest.raises(TaskRunFailed, match="2/3 states failed"):  # Prefect: ValueError
        flow_state.result()
    first, second, third = flow_state.data  # Prefect: result(raise_on_failure=False)
    assert (first.is_failed(), second.is_failed(), third.is_completed()) == (True, True, True)
    with pytest.raises(ValueError, match="Test 1"):
        first.result()
    with pytest.raises(ValueError, match="Test 2"):
        second.result()


def test_flow_can_end_in_cancelled_state() -> None:
    @flow
    def my_flow() -> State:
        return Cancelled()

    assert my_flow(return_state=True).is_cancelled()


def test_flow_returning_paused_ends_failed() -> None:
    from orchestrator import Paused

    @flow
    def my_flow() -> State:
        return Paused()

    state = my_flow(return_state=True)
    assert state.is_failed()  # Prefect: Paused, and my_flow() raises PausedRun (see the table)


# -- subflows ----------------------------------------------------------------------------------


def test_subflow_call_with_no_tasks(orchestrator: Orchestrator) -> None:
    @flow(version="foo")
    def child(x: int, y: int, z: int) -> int:
        return x + y + z

    @flow(version="bar")
    def parent(x: int, y: int = 2, z: int = 3) -> int:
        return child(x, y, z)

    assert parent(1, 2) == 6
    assert only_run(orchestrator, "child").parent_task_run_id is not None


def test_subflow_call_with_returned_task() -> None:
    @task
    def compute(x: int, y: int, z: int) -> int:
        return x + y + z

    @flow(version="foo")
    def child(x: int, y: int, z: int) -> int:
        return compute(x, y, z)

    @flow(version="bar")
    def parent(x: int, y: int = 2, z: int = 3) -> int:
        return child(x, y, z)

    assert parent(1, 2) == 6


async def test_async_flow_with_async_subflow_and_async_task() -> None:
    @task
    async def compute_async(x: int, y: int, z: int) -> int:
        return x + y + z

    @flow(version="foo")
    async def child(x: int, y: int, z: int) -> int:
        return await compute_async(x, y, z)

    @flow(version="bar")
    async def parent(x: int, y: int = 2, z: int = 3) -> int:
        return await child(x, y, z)

    assert await parent(1, 2) == 6


async def test_async_flow_with_async_subflow_and_sync_task() -> None:
    @task
    def compute(x: int, y: int, z: int) -> int:
        return x + y + z

    @flow(version="foo")
    async def child(x: int, y: int, z: int) -> int:
        return compute(x, y, z)

    @flow(version="bar")
    async def parent(x: int, y: int = 2, z: int = 3) -> int:
        return await child(x, y, z)

    assert await parent(1, 2) == 6


async def test_async_flow_with_sync_subflow_and_sync_task() -> None:
    @task
    def compute(x: int, y: int, z: int) -> int:
        return x + y + z

    @flow(version="foo")
    def child(x: int, y: int, z: int) -> int:
        return compute(x, y, z)

    @flow(version="bar")
    async def parent(x: int, y: int = 2, z: int = 3) -> int:
        return child(x, y, z)

    assert await parent(1, 2) == 6


async def test_concurrent_async_subflows(orchestrator: Orchestrator) -> None:
    @task
    async def test_task() -> int:
        return 1

    @flow
    async def child(i: int) -> int:
        assert await test_task() == 1
        return i

    results: dict[int, int] = {}

    @flow
    async def parent() -> None:
        async def one(i: int) -> None:
            results[i] = await child(i)

        async with anyio.create_task_group() as group:
            for i in range(5):
                group.start_soon(one, i)

    await parent()
    assert results == {i: i for i in range(5)}
    assert orchestrator.count_flow_runs() == 6


async def test_recursive_async_subflow() -> None:
    @task
    async def test_task() -> int:
        return 1

    @flow
    async def recurse(i: int) -> int:
        assert await test_task() == 1
        return i if i == 0 else i + await recurse(i - 1)

    @flow
    async def parent() -> int:
        return await recurse(5)

    assert await parent() == 5 + 4 + 3 + 2 + 1


def test_recursive_sync_flow(orchestrator: Orchestrator) -> None:
    @task
    def test_task() -> int:
        return 1

    @flow
    def recurse(i: int) -> int:
        assert test_task() == 1
        return i if i == 0 else i + recurse(i - 1)

    assert recurse(5) == 5 + 4 + 3 + 2 + 1
    assert orchestrator.count_flow_runs() == 6

"""Cases of Prefect's ``tests/test_tasks.py``, ported: only the imports changed where we can.

Ported groups here: task names and run names, task calls inside flows (sync and async),
task runs with ``return_state=True``, ``submit`` (futures, upstream failures, NotReady),
task states, futures of submitted tasks. The rest of the file is in
``test_port_tasks_options.py`` (retries, caching, timeouts, ``wait_for``,
``with_options``, constructor validation) and ``test_port_tasks_map.py`` (``map`` with
``unmapped``).

Left out (they need what this project does not have): result persistence, storage and
serializers, ``allow_failure`` and ``quote``/``opaque`` annotations, logs sent to an
API, instance/class/static method tasks, source-code capture and cloudpickle.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import NoFlowRunning, Orchestrator, State, TaskRunFuture, flow, task
from tests.prefect_port._shared import fails, identity, identity_async

# -- names -------------------------------------------------------------------------------------


def test_name_from_function() -> None:
    @task
    def my_task() -> None:
        pass

    assert my_task.name == "my_task"


def test_name_from_kwarg() -> None:
    @task(name="another_name")
    def my_task() -> None:
        pass

    assert my_task.name == "another_name"


def test_run_name_default(orchestrator: Orchestrator) -> None:
    identity(1)
    (run,) = orchestrator.read_task_runs()
    assert run.name.startswith("identity-")


def test_run_name_from_kwarg(orchestrator: Orchestrator) -> None:
    @task(task_run_name="{name}-wuz-{where}")
    def greet(name: str, where: str = "here") -> None:
        pass

    greet("chris")
    (run,) = orchestrator.read_task_runs()
    assert run.name == "chris-wuz-here"


def test_run_name_from_function(orchestrator: Orchestrator) -> None:
    @task(task_run_name=lambda parameters: f"run-{parameters['x']}")
    def named(x: int) -> None:
        pass

    named(7)
    (run,) = orchestrator.read_task_runs()
    assert run.name == "run-7"


def test_run_name_from_options(orchestrator: Orchestrator) -> None:
    identity.with_options(task_run_name="optioned-{x}")(3)
    (run,) = orchestrator.read_task_runs()
    assert run.name == "optioned-3"


# -- calls -------------------------------------------------------------------------------------


def test_sync_task_called_inside_sync_flow() -> None:
    @flow
    def bar() -> Any:
        return identity(1)

    assert bar() == 1


async def test_async_task_called_inside_async_flow() -> None:
    @flow
    async def bar() -> Any:
        return await identity_async(1)

    assert await bar() == 1


async def test_sync_task_called_inside_async_flow() -> None:
    @flow
    async def bar() -> Any:
        return identity(1)

    assert await bar() == 1


def test_task_called_with_task_dependency() -> None:
    @task
    def plus_one(y: int) -> int:
        return y + 1

    @flow
    def test_flow() -> int:
        return plus_one(identity(1))

    assert test_flow() == 2


def test_task_with_variadic_args() -> None:
    @task
    def foo(*foo: int, bar: int) -> tuple[tuple[int, ...], int]:
        return foo, bar

    @flow
    def test_flow() -> tuple[tuple[int, ...], int]:
        return foo(1, 2, 3, bar=4)

    assert test_flow() == ((1, 2, 3), 4)


def test_task_with_variadic_keyword_args() -> None:
    @task
    def foo(foo: int, bar: int, **foobar: int) -> tuple[int, int, dict[str, int]]:
        return foo, bar, foobar

    @flow
    def test_flow() -> tuple[int, int, dict[str, int]]:
        return foo(1, 2, x=3, y=4, z=5)

    assert test_flow() == (1, 2, {"x": 3, "y": 4, "z": 5})


def test_task_doesnt_modify_args() -> None:
    @task
    def appender(x: list[int]) -> list[int]:
        x.append(3)
        return x

    val = [1, 2]
    assert identity(val) is val
    assert val == [1, 2]
    assert appender(val) is val
    assert val == [1, 2, 3]


def test_task_failure_raises_in_flow() -> None:
    @flow
    def bar() -> str:
        fails()
        return "bar"

    state = bar(return_state=True)
    assert state.is_failed()
    with pytest.raises(ValueError, match="Fail task!"):
        state.result()


def test_task_supports_callable_objects() -> None:
    class A:
        def __call__(self, *_args: Any, **_kwargs: Any) -> str:
            return "hello"

    callable_task = task(name="callable")(A())
    assert callable_task.name == "callable"
    assert callable_task() == "hello"


# -- task runs with return_state --------------------------------------------------------------


def test_sync_task_run_inside_sync_flow() -> None:
    @task
    def foo(x: int) -> int:
        return x

    @flow
    def bar() -> State:
        return foo(1, return_state=True)

    task_state = bar()
    assert isinstance(task_state, State)
    assert task_state.result() == 1


async def test_async_task_run_inside_async_flow() -> None:
    @flow
    async def bar() -> Any:
        return await identity_async(1, return_state=True)

    task_state = await bar()
    assert isinstance(task_state, State)
    assert task_state.result() == 1


async def test_sync_task_run_inside_async_flow() -> None:
    @flow
    async def bar() -> Any:
        return identity(1, return_state=True)

    task_state = await bar()
    assert isinstance(task_state, State)
    assert task_state.result() == 1


def test_task_failure_does_not_affect_flow() -> None:
    @flow
    def bar() -> str:
        fails(return_state=True)
        return "bar"

    assert bar() == "bar"


# -- submit ------------------------------------------------------------------------------------


def test_submit_raises_outside_of_flow() -> None:
    with pytest.raises(RuntimeError):
        identity.submit(1)
    with pytest.raises(NoFlowRunning, match="delay"):
        identity.submit(1)


def test_sync_task_submitted_inside_sync_flow() -> None:
    @flow
    def bar() -> Any:
        future = identity.submit(1)
        assert isinstance(future, TaskRunFuture)
        return future

    task_state = bar()
    assert isinstance(task_state, State)
    assert task_state.result() == 1


async def test_async_task_submitted_inside_async_flow() -> None:
    @flow
    async def bar() -> Any:
        future = identity_async.submit(1)
        assert isinstance(future, TaskRunFuture)
        return future

    task_state = await bar()
    assert isinstance(task_state, State)
    assert task_state.result() == 1


async def test_sync_task_submitted_inside_async_flow() -> None:
    @flow
    async def bar() -> Any:
        return identity.submit(1)

    task_state = await bar()
    assert isinstance(task_state, State)
    assert task_state.result() == 1


def test_async_task_submitted_inside_sync_flow() -> None:
    @flow
    def bar() -> Any:
        return identity_async.submit(1)

    task_state = bar()
    assert isinstance(task_state, State)
    assert task_state.result() == 1


def test_submitted_task_failure_does_not_affect_flow() -> None:
    @flow
    def bar() -> str:
        fails.submit()
        return "bar"

    assert bar() == "bar"


def test_downstream_does_not_run_if_upstream_fails() -> None:
    @flow
    def test_flow() -> object:
        f = fails.submit()
        return identity.submit(f)

    flow_state = test_flow(return_state=True)
    task_state = flow_state.data
    assert isinstance(task_state, State)
    assert task_state.is_pending()
    assert task_state.name == "NotReady"


def test_downstream_runs_if_upstream_succeeds() -> None:
    @task
    def plus_one(y: int) -> int:
        return y + 1

    @flow
    def test_flow() -> int:
        f = identity.submit(1)
        result: int = plus_one.submit(f).result()  # type: ignore[call-overload]
        return result

    assert test_flow() == 2


# -- states and futures ------------------------------------------------------------------------


@pytest.mark.parametrize("error", [ValueError("Hello"), None])
def test_final_state_reflects_exceptions_during_run(error: Exception | None) -> None:
    @task
    def bar() -> None:
        if error:
            raise error

    @flow
    def foo() -> State:
        return bar(return_state=True)

    task_state = foo(return_state=True)
    assert task_state.is_failed() if error else task_state.is_completed()


def test_wait_gets_final_state() -> None:
    @flow
    def my_flow() -> State:
        future = identity.submit(4)
        state = future.wait()
        assert state.is_completed()
        return state

    assert my_flow().result() == 4


def test_result_raises_exception_from_task() -> None:
    @flow
    def my_flow() -> None:
        fails.submit().result()

    with pytest.raises(ValueError, match="Fail task!"):
        my_flow()


def test_result_returns_exception_from_task_if_asked() -> None:
    @flow
    def my_flow() -> Any:
        return fails.submit().result(raise_on_failure=False)

    result = my_flow()
    assert isinstance(result, ValueError)
    assert str(result) == "Fail task!"


def test_result_returns_data_with_timeout_not_exceeded() -> None:
    @flow
    def my_flow() -> Any:
        return identity.submit(1).result(timeout=30)

    assert my_flow() == 1

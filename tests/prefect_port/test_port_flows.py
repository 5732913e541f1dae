"""Cases of Prefect's ``tests/test_flows.py``, ported: only the imports changed where we can.

Ported groups: the flow object and decorator, ``with_options``, flow calls and the final
state a return value or exception gives, subflows (sync and async, nested, recursive,
concurrent), timeouts, flow retries, flow run names.

Left out (they need what this project does not have): result persistence and storage
blocks, pydantic parameter coercion and parameter schemas, instance/class/static method
flows, logs sent to an API, hooks (on_completion, on_failure, ...), deployments, ``serve``,
``from_source``, entrypoint loading, transactions, and the client-based checks of run
relationships (here they read the orchestrator instead).

Deliberate differences (each test below asserts OUR behaviour):

============================================  ==========================================
Prefect                                       orchestrator, and why
============================================  ==========================================
default flow name ``my-fn`` (``_`` -> ``-``)  ``my_fn``: the function's name as written,
                                              as tasks already are named
bad options raise ``TypeError`` /             :class:`InvalidArgument` subclasses (also
``ReservedArgumentError``                     TypeError / ValueError), naming the option
``with_options(timeout_seconds=0)`` unsets    0 is refused: ``timeout_seconds=None``
                                              unsets (one spelling, never a zero limit)
``result(raise_on_failure=False)`` of a      :class:`TaskRunFailed` naming the state's
Failed state whose data is no exception       message (``state.data`` keeps the value):
returns that data; a flow that returned      a failure's result is always an exception;
states raises the first failed one's error    the states are the Failed state's ``data``
a flow returning ``Paused()`` raises          the flow ends Failed: pausing a flow run
``PausedRun``                                 in this process is not supported
============================================  ==========================================
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from orchestrator import (
    Cancelled,
    FlowRunContext,
    InvalidArgument,
    Orchestrator,
    State,
    StateType,
    TaskRunFailed,
    ThreadPoolTaskRunner,
    VirtualClock,
    Workflow,
    flow,
    get_run_context,
    task,
)


@pytest.fixture
def orchestrator() -> Iterator[Orchestrator]:
    orch = Orchestrator(VirtualClock())
    with orch:
        yield orch


def only_run(orchestrator: Orchestrator, name: str) -> Any:
    (run,) = [
        r for r in orchestrator.read_flow_runs() if orchestrator.read_flow(r.flow_id).name == name
    ]
    return run


# -- the flow object -------------------------------------------------------------------------


def test_initializes_with_its_options() -> None:
    f = Workflow(
        name="test", fn=lambda **kwargs: 42, version="A", description="B", flow_run_name="hi"
    )
    assert (f.name, f.fn(), f.version, f.description, f.flow_run_name) == (
        "test",
        42,
        "A",
        "B",
        "hi",
    )


def test_initializes_with_callable_flow_run_name() -> None:
    f = Workflow(name="test", fn=lambda **kwargs: 42, flow_run_name=lambda: "hi")
    assert callable(f.flow_run_name)
    assert f.flow_run_name() == "hi"


def test_raises_on_bad_funcs() -> None:
    with pytest.raises(TypeError):
        Workflow(name="test", fn={})  # type: ignore[arg-type]


def test_default_description_is_from_docstring() -> None:
    def my_fn() -> None:
        """
        Hello
        """

    assert Workflow(name="test", fn=my_fn).description == "Hello"


def test_default_name_is_the_function_name() -> None:
    def my_fn() -> None:
        pass

    assert Workflow(fn=my_fn).name == "my_fn"  # Prefect: "my-fn" (see the table)


def test_invalid_run_name_is_refused() -> None:
    class InvalidFlowRunNameArg:
        def format(self, *args: Any, **kwargs: Any) -> None:
            pass

    with pytest.raises(TypeError, match="flow_run_name"):
        Workflow(fn=lambda: 1, name="hello", flow_run_name=InvalidFlowRunNameArg())  # type: ignore[arg-type]


def test_return_state_in_the_flow_definition_is_reserved() -> None:
    with pytest.raises(InvalidArgument, match="return_state"):
        Workflow(name="test", fn=lambda return_state: 42)


@pytest.mark.parametrize("name", [1, lambda: "test-todays_date"])
def test_flow_name_non_string_raises(name: Any) -> None:
    with pytest.raises(TypeError, match="name"):
        Workflow(name=name, fn=lambda **kwargs: 42)


def test_flow_decorator_initializes() -> None:
    @flow(name="foo", version="B", flow_run_name="hi")
    def my_flow() -> str:
        return "bar"

    assert isinstance(my_flow, Workflow)
    assert (my_flow.name, my_flow.version, my_flow.fn(), my_flow.flow_run_name) == (
        "foo",
        "B",
        "bar",
        "hi",
    )


def test_flow_decorator_initializes_with_callable_flow_run_name() -> None:
    @flow(flow_run_name=lambda: "hi")
    def my_flow() -> str:
        return "bar"

    assert my_flow.fn() == "bar"
    assert callable(my_flow.flow_run_name)
    assert my_flow.flow_run_name() == "hi"


# -- with_options ------------------------------------------------------------------------------


def test_with_options_allows_override_of_flow_settings() -> None:
    @flow(name="Initial flow", description="before", flow_run_name="OG", timeout_seconds=10)
    def initial_flow() -> None:
        pass

    runner = ThreadPoolTaskRunner(max_workers=3)
    copied = initial_flow.with_options(
        name="Copied flow",
        description="A copied flow",
        flow_run_name=lambda: "new-name",
        task_runner=runner,
        retries=3,
        retry_delay_seconds=20,
        timeout_seconds=5,
        validate_parameters=False,
    )
    assert (copied.name, copied.description) == ("Copied flow", "A copied flow")
    assert callable(copied.flow_run_name)
    assert copied.flow_run_name() == "new-name"
    assert copied.task_runner is runner
    assert (copied.timeout_seconds, copied.retries, copied.retry_delay_seconds) == (5, 3, 20)
    assert copied.validate_parameters is False


def test_with_options_uses_existing_settings_when_no_override() -> None:
    @flow(
        name="Initial flow",
        description="before",
        timeout_seconds=10,
        retries=3,
        retry_delay_seconds=20,
    )
    def initial_flow() -> None:
        pass

    copied = initial_flow.with_options()
    assert copied is not initial_flow
    assert (copied.name, copied.description, copied.timeout_seconds) == (
        "Initial flow",
        "before",
        10,
    )
    assert (copied.retries, copied.retry_delay_seconds, copied.validate_parameters) == (3, 20, True)
    assert isinstance(copied.task_runner, ThreadPoolTaskRunner)


def test_with_options_unsets_timeout_seconds_with_none_and_refuses_zero() -> None:
    @flow(timeout_seconds=1)
    def initial_flow() -> None:
        pass

    assert initial_flow.with_options(timeout_seconds=None).timeout_seconds is None
    with pytest.raises(InvalidArgument, match="timeout_seconds"):
        initial_flow.with_options(timeout_seconds=0)  # Prefect: unsets (see the table)


def test_with_options_can_unset_retries_and_retry_delay_with_zero() -> None:
    @flow(retries=3, retry_delay_seconds=3)
    def initial_flow() -> None:
        pass

    assert initial_flow.with_options(retries=0).retries == 0
    assert initial_flow.with_options(retry_delay_seconds=0).retry_delay_seconds == 0


def test_with_options_keeps_the_flow_run_name_function() -> None:
    def generate_flow_run_name() -> str:
        return "new-name"

    @flow(retry_delay_seconds=3, flow_run_name=generate_flow_run_name)
    def initial_flow() -> None:
        pass

    assert initial_flow.with_options().flow_run_name is generate_flow_run_name


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

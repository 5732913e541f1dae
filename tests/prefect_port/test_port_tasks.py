"""Cases of Prefect's ``tests/test_tasks.py``, ported: only the imports changed where we can.

Ported groups: task names and run names, task calls inside flows (sync and async), task
runs with ``return_state=True``, ``submit`` (futures, upstream failures, NotReady),
task states, futures of submitted tasks, retries, caching, timeouts, ``wait_for``,
``with_options``, ``map`` with ``unmapped``, and constructor validation.

Left out (they need what this project does not have): result persistence, storage and
serializers, cache policies and ``task_input_hash`` over blocks, ``allow_failure`` and
``quote``/``opaque`` annotations, the ``tags()`` context manager, logs sent to an API,
hooks, transactions, ``task_inputs`` read back through Prefect's client (the
orchestrator's own records are read instead), instance/class/static method tasks,
source-code capture and cloudpickle, deferred ``.map`` outside flows.

Deliberate differences (each test below asserts OUR behaviour):

=========================================  =============================================
Prefect                                    orchestrator, and why
=========================================  =============================================
repeated calls with the same inputs are    no cache unless ``cache_key_fn`` is given:
cached by default (INPUTS + TASK_SOURCE)   caching is opt-in, results live in memory
``cache_key_fn(context, parameters)``      ``cache_key_fn(parameters)``: the run context
                                           is ``get_run_context()`` when needed
``retry_delay_seconds`` must be numbers,   refused as :class:`InvalidArgument` (also a
else ``TypeError``                         TypeError or ValueError), naming the option
a parameter named ``wait_for`` or           allowed (tasks also run in the background
``return_state`` is refused                   through ``.delay``, where the names are
                                           free); a direct call or submit takes them
                                           as the call's own keywords
a task that waits on itself raises         not reachable: ``wait_for`` only takes
``ValueError("deadlock")``                 futures that already exist
=========================================  =============================================
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from orchestrator import (
    InvalidArgument,
    NoFlowRunning,
    Orchestrator,
    State,
    TaskRunContext,
    TaskRunFuture,
    VirtualClock,
    flow,
    get_run_context,
    task,
    unmapped,
)


@pytest.fixture
def orchestrator() -> Iterator[Orchestrator]:
    orch = Orchestrator(VirtualClock())
    with orch:
        yield orch


@task
def identity(x: Any) -> Any:
    return x


@task
async def identity_async(x: Any) -> Any:
    return x


@task
def fails() -> None:
    raise ValueError("Fail task!")


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


# -- retries (virtual clock) -------------------------------------------------------------------


@pytest.mark.parametrize("always_fail", [True, False])
def test_task_respects_retry_count(orchestrator: Orchestrator, always_fail: bool) -> None:
    mock: list[int] = []

    @task(retries=3)
    def flaky() -> bool:
        mock.append(1)
        if len(mock) < 4 or always_fail:
            raise ValueError("try again")
        return True

    @flow
    def test_flow() -> bool:
        state = flaky(return_state=True)
        return state.is_failed() if always_fail else state.is_completed()

    assert test_flow() is True
    assert len(mock) == 4
    (run,) = orchestrator.read_task_runs()
    assert run.run_count == 4


def test_task_only_uses_necessary_retries(orchestrator: Orchestrator) -> None:
    calls: list[int] = []

    @task(retries=3)
    def flaky() -> bool:
        calls.append(1)
        if len(calls) < 2:
            raise ValueError()
        return True

    @flow
    def test_flow() -> Any:
        return flaky()

    assert test_flow() is True
    assert len(calls) == 2


def test_task_retries_receive_latest_task_run_in_context(orchestrator: Orchestrator) -> None:
    seen: list[tuple[int, int]] = []

    @task(retries=3)
    def flaky() -> None:
        context = get_run_context()
        assert isinstance(context, TaskRunContext)
        seen.append((context.task_run.run_count, len(seen)))
        raise ValueError()

    @flow
    def test_flow() -> None:
        flaky(return_state=True)

    test_flow()
    assert seen == [(1, 0), (2, 1), (3, 2), (4, 3)]


# -- caching -----------------------------------------------------------------------------------


def test_repeated_task_call_within_flow_is_not_cached_by_default() -> None:
    calls: list[int] = []

    @task
    def counted(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def bar() -> tuple[State, State]:
        return counted(1, return_state=True), counted(1, return_state=True)

    first, second = bar()
    assert (first.name, second.name, calls) == ("Completed", "Completed", [1, 1])


def test_cache_hits_within_flows_are_cached() -> None:
    @task(cache_key_fn=lambda parameters: "foo")
    def cached(x: int) -> int:
        return x

    @flow
    def bar() -> tuple[State, State]:
        return cached(1, return_state=True), cached(2, return_state=True)

    first, second = bar()
    assert (second.name, second.result(), first.result()) == ("Cached", 1, 1)


def test_cache_misses_arent_cached() -> None:
    @task(cache_key_fn=lambda parameters: str(parameters["x"]))
    def cached(x: int) -> int:
        return x

    @flow
    def bar() -> tuple[State, State]:
        return cached(1, return_state=True), cached(2, return_state=True)

    first, second = bar()
    assert (first.name, second.name, second.result()) == ("Completed", "Completed", 2)


def test_cache_key_fn_receives_resolved_futures() -> None:
    seen: list[dict[str, Any]] = []

    def key(parameters: dict[str, Any]) -> str:
        seen.append(dict(parameters))
        return "key"

    @task(cache_key_fn=key)
    def cached(x: int) -> int:
        return x

    @flow
    def bar() -> Any:
        return cached.submit(identity.submit(5)).result()  # type: ignore[call-overload]

    assert bar() == 5
    assert seen == [{"x": 5}]


def test_cache_hits_between_flows_are_cached(orchestrator: Orchestrator) -> None:
    @task(cache_key_fn=lambda parameters: "foo")
    def cached(x: int) -> int:
        return x

    @flow
    def bar(x: int) -> State:
        return cached(x, return_state=True)

    first, second = bar(1), bar(2)
    assert (first.result(), second.name, second.result()) == (1, "Cached", 1)


def test_cache_key_hits_with_past_expiration_are_not_cached(orchestrator: Orchestrator) -> None:
    @task(cache_key_fn=lambda parameters: "foo", cache_expiration=timedelta(seconds=5))
    def cached(x: int) -> int:
        return x

    @flow
    def bar(x: int) -> State:
        return cached(x, return_state=True)

    assert bar(1).result() == 1
    assert isinstance(orchestrator.clock, VirtualClock)
    orchestrator.clock.advance(6)
    second = bar(2)
    assert (second.name, second.result()) == ("Completed", 2)


def test_cache_misses_with_refresh_cache() -> None:
    @task(cache_key_fn=lambda parameters: "foo", refresh_cache=True)
    def refreshed(x: int) -> int:
        return x

    @flow
    def bar() -> tuple[State, State]:
        return refreshed(1, return_state=True), refreshed(2, return_state=True)

    first, second = bar()
    assert (first.result(), second.name, second.result()) == (1, "Completed", 2)


# -- timeouts ----------------------------------------------------------------------------------


async def test_task_timeouts_fail_the_task_but_not_the_flow() -> None:
    import anyio

    @task(timeout_seconds=0.1)
    async def sleepy() -> None:
        await anyio.sleep(10)

    @flow
    async def my_flow() -> str:
        state = await sleepy(return_state=True)
        assert state.is_failed()
        assert not state.is_crashed()
        assert state.name == "TimedOut"
        return "survived"

    assert await my_flow() == "survived"


# -- wait_for ----------------------------------------------------------------------------------


def test_wait_for_downstream_does_not_run_if_upstream_fails() -> None:
    @flow
    def test_flow() -> object:
        f = fails.submit()
        return identity.submit(2, wait_for=[f])

    task_state = test_flow(return_state=True).data
    assert (task_state.is_pending(), task_state.name) == (True, "NotReady")


def test_wait_for_downstream_runs_if_upstream_succeeds() -> None:
    @flow
    def test_flow() -> Any:
        f = identity.submit(1)
        return identity.submit(2, wait_for=[f]).result()

    assert test_flow() == 2


def test_wait_for_is_recorded_in_task_inputs(orchestrator: Orchestrator) -> None:
    @flow
    def test_flow() -> tuple[TaskRunFuture[Any], TaskRunFuture[Any]]:
        upstream = identity.submit(1)
        return upstream, identity.submit(2, wait_for=[upstream])

    test_flow()
    runs = {run.id: run for run in orchestrator.read_task_runs()}
    waited = [run for run in runs.values() if "wait_for" in run.task_inputs]
    assert len(waited) == 1
    (other,) = [run for run in runs.values() if run is not waited[0]]
    assert waited[0].task_inputs["wait_for"] == [str(other.id)]


def test_a_parameter_named_wait_for_is_taken_by_the_call() -> None:
    seen: list[list[int]] = []

    def foo(wait_for: list[int] | None = None) -> None:
        seen.append(wait_for or [])

    reserved = task(foo)  # Prefect refuses the definition (see the table)
    reserved()
    with pytest.raises(InvalidArgument, match="wait_for"):
        reserved(wait_for=[1, 2])
    assert seen == [[]]


# -- with_options ------------------------------------------------------------------------------


def test_with_options_allows_override_of_task_settings() -> None:
    @task(name="Initial task", tags=["tag1"], retries=2, retry_delay_seconds=5, timeout_seconds=10)
    def initial_task() -> None:
        pass

    copied = initial_task.with_options(
        name="Copied task", tags=["tag2"], retries=3, retry_delay_seconds=20, timeout_seconds=5
    )
    assert (copied.name, copied.tags, copied.retries) == ("Copied task", frozenset({"tag2"}), 3)
    assert (copied.retry_delay_seconds, copied.timeout_seconds) == (20, 5)


def test_with_options_uses_existing_settings_and_copies_tags() -> None:
    @task(name="Initial task", tags=["tag1", "tag2"], retries=2)
    def initial_task() -> None:
        pass

    copied = initial_task.with_options()
    assert copied is not initial_task
    assert (copied.name, copied.tags, copied.retries) == (
        "Initial task",
        frozenset({"tag1", "tag2"}),
        2,
    )


def test_with_options_allows_override_of_0_retries() -> None:
    @task(retries=3)
    def initial_task() -> None:
        pass

    assert initial_task.with_options(retries=0).retries == 0


# -- map ---------------------------------------------------------------------------------------


@task
def add_together(x: int, y: int) -> int:
    return x + y


def test_simple_map() -> None:
    @flow
    def my_flow() -> list[int]:
        return add_together.map([1, 2, 3], [4, 5, 6]).result()

    assert my_flow() == [5, 7, 9]


def test_simple_map_returns_states_from_flow() -> None:
    @flow
    def my_flow() -> Any:
        return add_together.map([1, 2, 3], [4, 5, 6])

    states = my_flow()
    assert isinstance(states, list)
    assert [state.result() for state in states] == [5, 7, 9]


def test_map_can_take_tuple_and_generator_as_input() -> None:
    @flow
    def my_flow() -> list[int]:
        return add_together.map((1, 2), (i for i in (3, 4))).result()

    assert my_flow() == [4, 6]


def test_map_can_take_future_as_input() -> None:
    @task
    def some_numbers() -> list[int]:
        return [1, 2, 3]

    @flow
    def my_flow() -> list[int]:
        numbers = some_numbers()
        return add_together.map(numbers, unmapped(1)).result()

    assert my_flow() == [2, 3, 4]


def test_map_does_not_treat_a_string_as_iterable() -> None:
    @task
    def concat(x: str, y: str) -> str:
        return x + y

    @flow
    def my_flow() -> list[str]:
        return concat.map(["a", "b"], "c").result()

    assert my_flow() == ["ac", "bc"]


def test_unmapped_iterable() -> None:
    @task
    def both(x: int, y: list[int]) -> tuple[int, list[int]]:
        return x, y

    @flow
    def my_flow() -> list[tuple[int, list[int]]]:
        return both.map([1, 2], unmapped([9, 9])).result()

    assert my_flow() == [(1, [9, 9]), (2, [9, 9])]


def test_map_with_keyword_with_default() -> None:
    @task
    def scaled(x: int, factor: int = 10) -> int:
        return x * factor

    @flow
    def my_flow() -> list[int]:
        return scaled.map([1, 2]).result()

    assert my_flow() == [10, 20]


def test_missing_iterable_argument() -> None:
    @flow
    def my_flow() -> Any:
        return add_together.map(5, 6)

    with pytest.raises(InvalidArgument, match="iterable"):
        my_flow()


def test_mismatching_input_lengths() -> None:
    @flow
    def my_flow() -> Any:
        return add_together.map([1, 2, 3], [1, 2])

    with pytest.raises(InvalidArgument, match="one length"):
        my_flow()


async def test_async_flow_with_async_map() -> None:
    @task
    async def plus(x: int, y: int) -> int:
        return x + y

    @flow
    async def my_flow() -> list[int]:
        return plus.map([1, 2, 3], [4, 5, 6]).result()

    assert await my_flow() == [5, 7, 9]


def test_map_raises_outside_of_flow() -> None:
    with pytest.raises(NoFlowRunning):
        add_together.map([1, 2, 3], [4, 5, 6])


# -- constructor validation --------------------------------------------------------------------


def test_task_cannot_configure_poorly_typed_retry_delay() -> None:
    with pytest.raises(InvalidArgument, match="retry_delay_seconds"):
        task(retries=42, retry_delay_seconds=["not", "numbers"])(identity.fn)  # type: ignore[list-item]


def test_task_cannot_configure_too_many_custom_retry_delays() -> None:
    with pytest.raises(InvalidArgument, match="retry_delay_seconds"):
        task(retries=42, retry_delay_seconds=list(range(51)))(identity.fn)


def test_task_cannot_configure_negative_relative_jitter() -> None:
    with pytest.raises(InvalidArgument, match="retry_jitter_factor"):
        task(retries=42, retry_delay_seconds=100, retry_jitter_factor=-10)(identity.fn)


def test_task_accepts_fractional_retry_delay_seconds() -> None:
    assert task(retries=2, retry_delay_seconds=1.5)(identity.fn).retry_delay_seconds == 1.5

"""Cases of Prefect's ``tests/test_tasks.py``, ported: only the imports changed where we can.

Ported groups here: retries, caching, timeouts, ``wait_for``, ``with_options``, and
constructor validation. The rest of the file is in ``test_port_tasks_calls.py`` (names,
calls, ``return_state``, ``submit``, states and futures) and ``test_port_tasks_map.py``
(``map`` with ``unmapped``).

Left out (they need what this project does not have): cache policies and
``task_input_hash`` over blocks, the ``tags()`` context manager, hooks, transactions,
``task_inputs`` read back through Prefect's client (the orchestrator's own records are
read instead).

Deliberate differences (each test below asserts OUR behaviour):

=========================================  =============================================
Prefect                                    orchestrator, and why
=========================================  =============================================
repeated calls with the same inputs are    no cache unless ``cache_key_fn`` is given:
cached by default (INPUTS + TASK_SOURCE)   caching is opt-in, results live in memory
``cache_key_fn(context, parameters)``      both that form and ``cache_key_fn(parameters)``
                                           are taken, told apart by arity
``retry_delay_seconds`` must be numbers,   refused as :class:`InvalidArgument` (also a
else ``TypeError``                         TypeError or ValueError), naming the option
a parameter named ``return_state`` is     allowed (tasks also run in the background
refused                                    through ``.delay``, where the name is free);
                                           a direct call takes it as its own keyword
a task that waits on itself raises         not reachable: ``wait_for`` only takes
``ValueError("deadlock")``                 futures that already exist
=========================================  =============================================
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    State,
    TaskRunContext,
    TaskRunFuture,
    VirtualClock,
    flow,
    get_run_context,
    task,
)
from tests.prefect_port._shared import fails, identity

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


def test_a_parameter_named_wait_for_is_refused_when_the_task_is_defined() -> None:
    def foo(wait_for: list[int] | None = None) -> None:
        pass

    with pytest.raises(TypeError, match="parameter named 'wait_for'"):
        task(foo)


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

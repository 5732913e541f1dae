"""Cases of Prefect's ``tests/test_futures.py``, ported: only the imports changed where we can.

Prefect tests its futures over hand-made ``concurrent.futures.Future`` objects and mock
futures; the futures here are always runs', so each case makes its runs in a flow
(``submit``), and a run that must not finish yet waits on a ``threading.Event`` the test
sets before the flow ends (every wait stays bounded). Ported groups: ``wait`` and
``as_completed`` (with timeouts), a future's ``wait``/``result`` (with final states,
failures and ``raise_on_failure``), futures resolved to states in a flow's return value
(lists, tuples, sets, dicts, nesting, mapped lists), and the mapped list's ``wait`` and
``result``.

Left out: flow-run suspension checks (no pausing), distributed futures and flow-run
futures read through Prefect's API and event pipeline, the private completion callbacks,
dataclass traversal (only builtin collections are looked into here).

Deliberate differences (each test below asserts OUR behaviour):

=========================================  =============================================
Prefect                                    orchestrator, and why
=========================================  =============================================
a negative ``timeout`` raises              :class:`InvalidArgument` (a ValueError too),
``ValueError``                             naming ``timeout``
a future resolved in a returned set stays  a returned set of futures gives a list of
in a set                                   states: states need not be hashable
=========================================  =============================================
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import orchestrator
from orchestrator import (
    Completed,
    InvalidArgument,
    Orchestrator,
    State,
    VirtualClock,
    flow,
    task,
)


@pytest.fixture
def orch() -> Iterator[Orchestrator]:
    running = Orchestrator(VirtualClock())
    with running:
        yield running


@task
def identity(x: Any) -> Any:
    return x


@task
def held(release: threading.Event, x: int) -> int:
    assert release.wait(10), "the test never released the run"
    return x


@task
def fails() -> None:
    raise ValueError("oops")


# -- wait and as_completed ---------------------------------------------------------------------


def test_wait_returns_every_future_done() -> None:
    @flow
    def my_flow() -> Any:
        futures = [identity.submit(i) for i in range(5)]
        done, not_done = orchestrator.wait(futures)
        assert not_done == set()
        assert done == set(futures)
        return [future.state.is_completed() for future in futures]

    assert my_flow() == [True] * 5


def test_wait_with_negative_timeout_raises() -> None:
    @flow
    def my_flow() -> None:
        orchestrator.wait([identity.submit(1)], timeout=-1)

    with pytest.raises(InvalidArgument, match="timeout"):
        my_flow()


def test_wait_with_timeout_reports_the_unfinished_future() -> None:
    release = threading.Event()

    @flow
    def my_flow() -> bool:
        futures = [identity.submit(i) for i in range(3)]
        hanging = held.submit(release, 9)
        try:
            done, not_done = orchestrator.wait([*futures, hanging], timeout=0.05)
        finally:
            release.set()
        return not_done == {hanging} and done == set(futures)

    assert my_flow() is True


def test_as_completed_yields_every_future() -> None:
    @flow
    def my_flow() -> list[int]:
        futures = [identity.submit(i) for i in range(5)]
        seen = []
        for future in orchestrator.as_completed(futures):
            assert future.state.is_completed()
            seen.append(future.result())
        return sorted(seen)

    assert my_flow() == [0, 1, 2, 3, 4]


def test_as_completed_with_timeout_raises_naming_the_unfinished() -> None:
    release = threading.Event()

    @flow
    def my_flow() -> list[int]:
        futures = [identity.submit(i) for i in range(2)]
        futures.append(held.submit(release, 9))
        seen: list[int] = []

        def consume() -> None:
            for future in orchestrator.as_completed(futures, timeout=0.05):
                seen.append(future.result())  # noqa: PERF401 - as they complete

        try:
            with pytest.raises(TimeoutError, match="1 \\(of 3\\) futures unfinished"):
                consume()
        finally:
            release.set()
        return sorted(seen)

    assert my_flow() == [0, 1]


def test_as_completed_yields_in_completion_order() -> None:
    first, second = threading.Event(), threading.Event()

    @flow
    def my_flow() -> list[int]:
        late = held.submit(second, 2)
        early = held.submit(first, 1)
        order: list[int] = []
        first.set()
        for future in orchestrator.as_completed([late, early]):
            order.append(future.result())
            second.set()
        return order

    assert my_flow() == [1, 2]


# -- one future --------------------------------------------------------------------------------


def test_wait_with_timeout_returns_the_current_state() -> None:
    release = threading.Event()

    @flow
    def my_flow() -> str:
        future = held.submit(release, 1)
        try:
            state = future.wait(timeout=0.01)  # no TimeoutError
        finally:
            release.set()
        return state.name

    assert my_flow() in {"Pending", "Running"}


def test_wait_without_timeout_gets_the_final_state() -> None:
    @flow
    def my_flow() -> bool:
        future = identity.submit(1)
        future.wait()
        return future.state.is_completed()

    assert my_flow() is True


def test_result_with_final_state() -> None:
    @flow
    def my_flow() -> Any:
        return identity.submit(42).result()

    assert my_flow() == 42


def test_result_with_final_state_and_raise_on_failure() -> None:
    @flow
    def my_flow() -> None:
        fails.submit().result(raise_on_failure=True)

    with pytest.raises(ValueError, match="oops"):
        my_flow()


def test_result_of_a_future_passed_from_a_completed_state_argument() -> None:
    @flow
    def my_flow() -> Any:
        return identity.submit(Completed(data=7)).result()

    assert my_flow() == 7


async def test_result_async_without_explicit_wait() -> None:
    @flow
    async def my_flow() -> Any:
        return await identity.submit(5).result_async()

    assert await my_flow() == 5


# -- futures resolved to states in a flow's return value -----------------------------------


def test_returned_future_becomes_its_state() -> None:
    @flow
    def my_flow() -> Any:
        return identity.submit(1)

    state = my_flow()
    assert isinstance(state, State)
    assert state.result() == 1


def test_returned_value_without_futures_is_unchanged() -> None:
    @flow
    def my_flow() -> dict[str, Any]:
        return {"a": [1, 2], "b": (3,)}

    assert my_flow() == {"a": [1, 2], "b": (3,)}


@pytest.mark.parametrize("kind", [list, tuple])
def test_futures_in_listlike_become_states(kind: type[Any]) -> None:
    @flow
    def my_flow() -> Any:
        return kind([identity.submit(1), identity.submit(2)])

    result = my_flow()
    assert type(result) is kind
    assert [state.result() for state in result] == [1, 2]


def test_futures_in_a_set_become_a_list_of_states() -> None:
    @flow
    def my_flow() -> Any:
        return {identity.submit(1)}

    (state,) = my_flow()
    assert isinstance(state, State)
    assert state.result() == 1


def test_futures_in_dict_become_states() -> None:
    @flow
    def my_flow() -> dict[str, Any]:
        return {"a": identity.submit(1), "b": identity.submit(2)}

    result = my_flow()
    assert {key: state.result() for key, state in result.items()} == {"a": 1, "b": 2}


def test_futures_in_nested_collections_become_states() -> None:
    @flow
    def my_flow() -> Any:
        return {"outer": [(identity.submit(1), 5), {"inner": identity.submit(2)}]}

    result = my_flow()
    (first, five), inner = result["outer"]
    assert (first.result(), five, inner["inner"].result()) == (1, 5, 2)


def test_flow_returning_mapped_futures_gives_a_plain_list_of_states() -> None:
    @task
    def add_one(x: int) -> int:
        return x + 1

    @flow
    def my_flow() -> Any:
        return add_one.map([1, 2, 3])

    result = my_flow()
    assert type(result) is list
    assert [state.result() for state in result] == [2, 3, 4]


# -- the mapped list ---------------------------------------------------------------------------


def test_future_list_wait_and_results_in_order() -> None:
    @flow
    def my_flow() -> list[int]:
        futures = identity.map(list(range(5)))
        futures.wait()
        assert all(state.is_completed() for state in futures.states())
        return futures.result()

    assert my_flow() == [0, 1, 2, 3, 4]


def test_future_list_results_with_failure() -> None:
    @task
    def fails_on_three(x: int) -> int:
        if x == 3:
            raise ValueError("oops")
        return x

    @flow
    def my_flow() -> list[Any]:
        futures = fails_on_three.map(list(range(5)))
        with pytest.raises(ValueError, match="oops"):
            futures.result()
        return futures.result(raise_on_failure=False)

    result = my_flow()
    assert result[:3] + result[4:] == [0, 1, 2, 4]
    assert isinstance(result[3], ValueError)


def test_future_list_wait_with_timeout_does_not_hang() -> None:
    release = threading.Event()

    @flow
    def my_flow() -> bool:
        futures = held.map(orchestrator.unmapped(release), [1, 2])
        try:
            futures.wait(timeout=0.01)
            return any(not future.done() for future in futures)
        finally:
            release.set()

    assert my_flow() is True

"""Cases of Prefect's ``tests/test_tasks.py``, ported: only the imports changed where we can.

Ported group here: ``map`` with ``unmapped``. The rest of the file is in
``test_port_tasks_calls.py`` (names, calls, ``return_state``, ``submit``, states and
futures) and ``test_port_tasks_options.py`` (retries, caching, timeouts, ``wait_for``,
``with_options``, constructor validation).

Left out (it needs what this project does not have): deferred ``.map`` outside flows.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import InvalidArgument, NoFlowRunning, flow, task, unmapped

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

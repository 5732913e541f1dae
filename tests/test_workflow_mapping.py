"""task.map and unmapped: which arguments are mapped over, and what is refused."""

from __future__ import annotations

import pytest

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    ThreadPoolTaskRunner,
    VirtualClock,
    flow,
    task,
    unmapped,
)


@task
def join(left: object, right: object, sep: str = "-") -> str:
    return f"{left}{sep}{right}"


def run_flow(body: object) -> object:
    @flow
    def mapping() -> object:
        return body()  # type: ignore[operator]

    orchestrator = Orchestrator(VirtualClock())
    with orchestrator:
        return mapping()


def test_every_iterable_argument_is_mapped_in_step() -> None:
    result = run_flow(lambda: join.map([1, 2, 3], ("a", "b", "c")).result())
    assert result == ["1-a", "2-b", "3-c"]


def test_strings_and_unmapped_values_are_passed_whole() -> None:
    result = run_flow(lambda: join.map([1, 2], unmapped([9, 9]), sep="+").result())
    assert result == ["1+[9, 9]", "2+[9, 9]"]
    assert run_flow(lambda: join.map("xy", [1, 2]).result()) == ["xy-1", "xy-2"]


def test_a_map_over_empty_iterables_makes_no_run() -> None:
    assert run_flow(lambda: join.map([], []).result()) == []


def test_iterables_of_different_lengths_are_refused_before_any_run() -> None:
    with pytest.raises(InvalidArgument, match=r"iterables of one length .*unmapped"):
        run_flow(lambda: join.map([1, 2], [1]))


def test_nothing_to_map_over_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="at least one iterable argument to map 'join'"):
        run_flow(lambda: join.map(1, 2))


def test_unmapped_reads_the_same_value_at_every_index() -> None:
    value = unmapped({"k": 1})
    assert value[0] is value[5] is value.value
    assert repr(value) == "unmapped({'k': 1})"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_thread_pool_task_runner_refuses_a_bad_max_workers(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="max_workers"):
        ThreadPoolTaskRunner(bad)  # type: ignore[arg-type]


def test_a_task_runner_is_copied_per_flow_run_and_bounded_when_asked() -> None:
    runner = ThreadPoolTaskRunner(max_workers=2)

    @flow(task_runner=runner)
    def bounded() -> list[str]:
        return join.map(range(6), range(6)).result()

    with Orchestrator(VirtualClock()):
        assert bounded() == [f"{i}-{i}" for i in range(6)]
        assert bounded() == [f"{i}-{i}" for i in range(6)]  # the template runner is reusable
    assert repr(runner) == "ThreadPoolTaskRunner(max_workers=2)"

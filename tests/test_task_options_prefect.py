"""Task options as Prefect spells them: backoff, list delays, past expirations, key forms."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    TaskRunContext,
    VirtualClock,
    exponential_backoff,
    get_run_context,
    task,
)
from orchestrator.testing import run_until_idle
from orchestrator.workers import TaskWorker


def test_exponential_backoff_doubles_from_the_factor() -> None:
    assert exponential_backoff(10)(4) == [10, 20, 40, 80]
    assert exponential_backoff(0.5)(0) == []
    made = task(retries=3, retry_delay_seconds=exponential_backoff(10))(lambda: None)
    assert made.retry_delay_seconds == [10.0, 20.0, 40.0]


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "10", None])
def test_exponential_backoff_refuses_a_bad_factor(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="backoff_factor"):
        exponential_backoff(bad)  # type: ignore[arg-type]


def test_retries_wait_as_the_backoff_says_on_the_virtual_clock() -> None:
    @task(retries=3, retry_delay_seconds=exponential_backoff(10))
    def flaky() -> int:
        context = get_run_context()
        if context.task_run.run_count < 4:  # type: ignore[union-attr]
            raise ConnectionError("again")
        return 4

    orchestrator = Orchestrator(VirtualClock(), autojump=True)
    start = orchestrator.clock.now()
    with orchestrator:
        assert flaky() == 4
    (run,) = orchestrator.read_task_runs()
    retried_at = [
        state.timestamp - start
        for state in orchestrator.read_task_run_states(run.id)
        if state.name == "Retrying" and state.timestamp is not None
    ]
    assert retried_at == [timedelta(seconds=s) for s in (10, 30, 70)]


def test_a_list_of_delays_reads_back_as_a_list_and_a_dict_is_refused() -> None:
    made = task(retries=2, retry_delay_seconds=[1, 5])(lambda: None)
    assert made.retry_delay_seconds == [1.0, 5.0]
    with pytest.raises(TypeError, match="retry_delay_seconds"):
        task(retries=2, retry_delay_seconds={1: 5})(lambda: None)  # type: ignore[call-overload]


def test_a_negative_cache_expiration_means_already_expired() -> None:
    calls: list[int] = []

    @task(cache_key_fn=lambda parameters: "same", cache_expiration=-60)
    def cached() -> int:
        calls.append(1)
        return len(calls)

    with Orchestrator(VirtualClock()):
        first = cached(return_state=True)
        second = cached(return_state=True)
    assert (first.name, second.name, second.result()) == ("Completed", "Completed", 2)
    assert cached.cache_expiration == timedelta(seconds=-60)


def test_a_run_name_of_the_wrong_kind_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="task_run_name"):
        task(task_run_name=5)(lambda: None)  # type: ignore[call-overload]


def test_a_cache_key_fn_of_prefects_form_gets_the_context_first() -> None:
    seen: list[tuple[str, dict[str, object]]] = []

    def key(context: TaskRunContext, parameters: dict[str, object]) -> str:
        seen.append((context.task.name, dict(parameters)))
        return f"{context.task.name}-{parameters['x']}"

    @task(cache_key_fn=key)
    def square(x: int) -> int:
        return x * x

    @task(cache_key_fn=lambda *_: "one key for all")
    def constant(x: int) -> int:
        return x

    assert (square.cache_key_takes_context, constant.cache_key_takes_context) == (True, True)
    with Orchestrator(VirtualClock()):
        assert square(3) == 9
        assert square(3, return_state=True).name == "Cached"
        assert constant(1) == 1
        assert constant(2) == 1  # the variadic form is Prefect's: one key, so cached
    assert seen == [("square", {"x": 3}), ("square", {"x": 3})]


async def test_a_background_run_computes_a_prefect_form_key_with_its_context() -> None:
    keys: list[object] = []

    def key(context: TaskRunContext, parameters: dict[str, object]) -> str:
        keys.append(context.task_run_id)
        return "shared"

    @task(cache_key_fn=key)
    def slow(x: int) -> int:
        return x

    orchestrator = Orchestrator(VirtualClock())
    async with orchestrator, TaskWorker(slow, orchestrator=orchestrator):
        first = slow.delay(1)
        await run_until_idle(orchestrator)
        second = slow.delay(2)
        await run_until_idle(orchestrator)
    assert (first.result(), second.result(), second.state.name) == (1, 1, "Cached")
    assert keys == [first.task_run_id, second.task_run_id]


def test_task_input_hash_keys_by_task_and_arguments_and_skips_unpicklable_ones() -> None:
    import threading

    from orchestrator import task_input_hash

    calls: list[object] = []

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
    def hello(name: object) -> str:
        calls.append(name)
        return f"hello {name}"

    @task(cache_key_fn=task_input_hash)
    def other(name: object) -> str:
        return f"other {name}"

    lock = threading.Lock()
    clock = VirtualClock()
    orchestrator = Orchestrator(clock)
    with orchestrator:
        states = [hello(name, return_state=True) for name in ("a", "a", "b")]
        assert other("a") == "other a"  # another task: its own key, no hit
        unkeyed = [hello(lock, return_state=True) for _ in range(2)]
        clock.advance(3601)
        expired = hello("a", return_state=True)
    assert [s.name for s in states] == ["Completed", "Cached", "Completed"]
    assert [s.name for s in unkeyed] == ["Completed", "Completed"]  # not cached
    assert expired.name == "Completed"
    assert calls == ["a", "b", lock, lock, "a"]
    assert task_input_hash(None, {"x": 1, "y": [2]}) == task_input_hash(None, {"y": [2], "x": 1})
    assert task_input_hash(None, {"x": 1}) != task_input_hash(None, {"x": 2})

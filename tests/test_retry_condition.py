"""retry_condition_fn: asked before a failure with retries left is retried; False is final."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    SetStateStatus,
    State,
    VirtualClock,
    flow,
    get_run_context,
    task,
)
from orchestrator.testing import run_until_idle
from orchestrator.workers import TaskWorker

Asked = list[tuple[str, int, str]]


def only_for(kind: type[BaseException], asked: Asked) -> Any:
    """A retry condition retrying only failures raised as ``kind``, recording each question."""

    def condition(owner: Any, run: Any, state: State) -> bool:
        asked.append((owner.name, run.run_count, state.name))
        return isinstance(state.data, kind)

    return condition


def test_a_non_callable_condition_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="retry_condition_fn") as caught:
        task(retry_condition_fn=True)(lambda: None)  # type: ignore[call-overload]
    assert isinstance(caught.value, InvalidArgument)


def test_false_ends_the_run_failed_after_one_attempt_and_the_decision_says_why() -> None:
    asked: Asked = []

    @task(retries=3, retry_delay_seconds=10, retry_condition_fn=only_for(ConnectionError, asked))
    def parse() -> None:
        raise ValueError("bad input")

    orchestrator = Orchestrator(VirtualClock())
    with orchestrator:
        state = parse(return_state=True)
    (run,) = orchestrator.read_task_runs()
    assert (state.name, run.run_count, asked) == ("Failed", 1, [("parse", 1, "Failed")])
    assert "not retried: retry_condition_fn" in (state.message or "")
    last = orchestrator.read_decisions(run.id)[-1]
    assert (last.status, last.rule, last.state_name) == (
        SetStateStatus.ACCEPT,
        "RetryFailedTasks",
        "Failed",
    )
    assert last.reason == (
        "Not retried, 3 of 3 retries left: the failure was proposed as final (retriable=False)"
    )
    assert "by RetryFailedTasks: Not retried" in orchestrator.explain(run.id)


def test_true_retries_as_usual_and_the_condition_is_not_asked_without_retries_left() -> None:
    asked: Asked = []

    @task(retries=2, retry_condition_fn=only_for(ConnectionError, asked))
    def fetch() -> None:
        raise ConnectionError("down")

    orchestrator = Orchestrator(VirtualClock(), autojump=True)
    with orchestrator:
        assert fetch(return_state=True).name == "Failed"
    (run,) = orchestrator.read_task_runs()
    assert run.run_count == 3
    # Asked before each retry; the third failure has no retry left, so no question.
    assert asked == [("fetch", 1, "Failed"), ("fetch", 2, "Failed")]


def test_a_raising_condition_makes_the_failure_final_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(owner: Any, run: Any, state: State) -> bool:
        raise RuntimeError("condition broke")

    @task(retries=2, retry_condition_fn=broken)
    def work() -> None:
        raise ValueError("x")

    orchestrator = Orchestrator(VirtualClock())
    with orchestrator, caplog.at_level(logging.ERROR, logger="orchestrator.runs"):
        state = work(return_state=True)
    assert state.name == "Failed"
    assert "raised RuntimeError('condition broke')" in (state.message or "")
    assert any("the failure is final" in r.getMessage() for r in caplog.records)


async def test_a_timeout_is_a_failure_the_condition_is_asked_about() -> None:
    asked: Asked = []

    @task(retries=1, timeout_seconds=1, retry_condition_fn=only_for(TimeoutError, asked))
    async def slow() -> None:
        await get_run_context().orchestrator.clock.sleep(10)

    async with Orchestrator(VirtualClock(), autojump=True) as orchestrator:
        state = await slow(return_state=True)
    (run,) = orchestrator.read_task_runs()
    # TimedOut is a failure: the condition is asked and allows the one retry.
    assert (state.name, run.run_count, asked) == ("TimedOut", 2, [("slow", 1, "TimedOut")])


def test_a_failure_made_final_does_not_fail_the_flow_unless_returned() -> None:
    @task(retries=3, retry_condition_fn=lambda task, run, state: False)
    def give_up() -> None:
        raise ValueError("no")

    @flow
    def pipeline() -> str:
        state = give_up.submit().wait()
        return state.name

    orchestrator = Orchestrator(VirtualClock(), autojump=True)
    with orchestrator:
        outcome = pipeline(return_state=True)
    assert (outcome.name, outcome.result()) == ("Completed", "Failed")
    (task_run,) = orchestrator.read_task_runs()
    assert task_run.run_count == 1


async def test_an_async_task_with_an_async_condition() -> None:
    asked: list[int] = []

    async def condition(owner: Any, run: Any, state: State) -> bool:
        count: int = run.run_count
        asked.append(count)
        return count < 2

    @task(retries=5, retry_condition_fn=condition)
    async def flaky() -> None:
        raise ConnectionError("again")

    orchestrator = Orchestrator(VirtualClock(), autojump=True)
    async with orchestrator:
        state = await flaky(return_state=True)
    (run,) = orchestrator.read_task_runs()
    assert (state.name, run.run_count, asked) == ("Failed", 2, [1, 2])


async def test_a_background_run_stops_retrying_when_the_condition_says_so() -> None:
    asked: Asked = []

    @task(retries=3, retry_delay_seconds=1, retry_condition_fn=only_for(ConnectionError, asked))
    def job(error: str) -> None:
        raise ConnectionError(error) if error == "network" else ValueError(error)

    orchestrator = Orchestrator(VirtualClock())
    async with orchestrator, TaskWorker(job, orchestrator=orchestrator):
        final = job.delay("validation")
        retried = job.delay("network")
        result = await run_until_idle(orchestrator, fail_fast=False)
    assert len(result.failures) == 2
    assert final.state.name == "Failed"
    assert orchestrator.read_task_run(final.task_run_id).run_count == 1
    assert orchestrator.read_task_run(retried.task_run_id).run_count == 4
    assert sorted(asked) == [("job", 1, "Failed")] * 2 + [
        ("job", 2, "Failed"),
        ("job", 3, "Failed"),
    ]
    last = orchestrator.read_decisions(final.task_run_id)[-1]
    assert last.rule == "RetryFailedTasks"
    assert (last.reason or "").startswith("Not retried")

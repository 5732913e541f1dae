"""The issue's user scenario: hooks, a retry condition and a run logger in one flow."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from orchestrator import Orchestrator, State, VirtualClock, flow, get_run_logger, task


def test_a_flow_with_a_hook_a_final_failure_and_a_run_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook_saw: list[tuple[str, str]] = []

    def remember(task: Any, task_run: Any, state: State) -> None:
        hook_saw.append((task.name, state.name))

    @task(on_completion=[remember])
    def greet(name: str) -> str:
        return f"hello {name}"

    @task(retries=3, retry_condition_fn=lambda task, task_run, state: False)
    def validate(value: int) -> int:
        raise ValueError(f"{value} is not valid")

    @task
    def report(text: str) -> str:
        get_run_logger().info("reporting %r", text)
        return text

    @flow
    def pipeline() -> str:
        text = greet("marvin")
        validated = validate(7, return_state=True)
        report(f"{text}, validation {validated.name}")
        return text

    caplog.set_level(logging.INFO, logger="orchestrator.runs")
    with Orchestrator(VirtualClock(), autojump=True) as orchestrator:
        outcome = pipeline(return_state=True)

    assert (outcome.name, outcome.result()) == ("Completed", "hello marvin")  # not failed
    assert hook_saw == [("greet", "Completed")]
    runs = {run.name.rsplit("-", 1)[0]: run for run in orchestrator.read_task_runs()}
    assert (runs["validate"].state_name, runs["validate"].run_count) == ("Failed", 1)
    (line,) = orchestrator.read_logs(task_run_id=runs["report"].id)
    assert (line.level_name, line.message) == (
        "INFO",
        "reporting 'hello marvin, validation Failed'",
    )
    assert line.timestamp == orchestrator.clock.now()
    (record,) = [r for r in caplog.records if r.name == "orchestrator.runs"]
    assert record.getMessage() == line.message
    assert getattr(record, "task_run_id", None) == runs["report"].id

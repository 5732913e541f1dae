"""Log lines: end states (``orchestrator.engine``), failures and workers (``...workers``)."""

from __future__ import annotations

import logging

import pytest

from orchestrator import Completed, Orchestrator, Running, TaskWorker, VirtualClock, task
from orchestrator._engine import _commits as engine_module
from orchestrator.testing import run_until_idle

ENGINE = "orchestrator.engine"
WORKERS = "orchestrator.workers"

attempts: list[int] = []


class Flaky(Exception):
    pass


@task(retries=2, retry_delay_seconds=5, task_key="flaky")
def flaky() -> str:
    attempts.append(1)
    if len(attempts) < 3:
        raise Flaky(f"attempt {len(attempts)} broke")
    return "ok"


@task(task_key="broken")
def broken() -> None:
    raise Flaky("for good")


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


@pytest.fixture(autouse=True)
def fresh_attempts() -> None:
    attempts.clear()


@pytest.mark.anyio
async def test_a_retried_failure_is_a_warning_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    async with TaskWorker(flaky, orchestrator=orch):
        future = orch.submit(flaky)
        await run_until_idle(orch)
    assert future.result() == "ok"
    warnings = [r for r in records(caplog, WORKERS) if r.levelno == logging.WARNING]
    assert [r.getMessage().split(": ", 1)[1].split(",")[0] for r in warnings] == [
        "attempt 1 failed",
        "attempt 2 failed",
    ]
    for record, number in zip(warnings, (1, 2), strict=True):
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], Flaky)
        assert f"Flaky: attempt {number} broke" in caplog.text
        assert "retrying at 20" in record.getMessage()  # an ISO time on the virtual clock
        assert f"({future.task_run_id})" in record.getMessage()
    assert 'in flaky\n    raise Flaky(f"attempt {len(attempts)} broke")' in caplog.text
    ends = [r.getMessage() for r in records(caplog, ENGINE)]
    assert ends == [f"task run {future.task_run.name!r} ({future.task_run_id}) ended Completed"]
    assert all(r.levelno == logging.INFO for r in records(caplog, ENGINE))


@pytest.mark.anyio
async def test_a_final_failure_is_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    async with TaskWorker(broken, orchestrator=orch):
        future = orch.submit(broken)
        await run_until_idle(orch, fail_fast=False)
    name = future.task_run.name
    (error,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (error.name, error.levelno) == (WORKERS, logging.ERROR)
    assert error.getMessage() == (
        f"task run {name!r} ({future.task_run_id}) failed after 1 attempt (Failed): "
        "Task run encountered an exception: Flaky('for good')"
    )
    assert error.exc_info is not None
    assert isinstance(error.exc_info[1], Flaky)
    assert "Traceback (most recent call last)" in caplog.text
    assert [r.getMessage() for r in records(caplog, ENGINE)] == [
        f"task run {name!r} ({future.task_run_id}) ended Failed: "
        "Task run encountered an exception: Flaky('for good')"
    ]


@pytest.mark.anyio
async def test_workers_log_their_start_and_stop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=WORKERS)
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    worker = TaskWorker(flaky, broken, orchestrator=orch, limit=3)
    async with worker:
        orch.submit(flaky)
        await run_until_idle(orch)
    lines = [r.getMessage() for r in records(caplog, WORKERS) if r.levelno == logging.INFO]
    assert lines[0] == f"task worker {worker.client_id} started: serving flaky, broken (limit 3)"
    assert lines[-1] == f"task worker {worker.client_id} stopped after 3 claim(s)"


def test_flow_runs_log_their_end_state(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ENGINE)
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    flow_run = orch.create_flow_run(orch.create_flow("etl").id, name="nightly")
    orch.set_flow_run_state(flow_run.id, Running())
    assert caplog.records == []
    orch.set_flow_run_state(flow_run.id, Completed(message="all rows loaded"))
    assert [r.getMessage() for r in caplog.records] == [
        f"flow run 'nightly' ({flow_run.id}) ended Completed: all rows loaded"
    ]


def test_nothing_is_formatted_while_the_level_is_off(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger=ENGINE)
    calls: list[object] = []
    monkeypatch.setattr(engine_module, "log_end_state", lambda *args: calls.append(args))
    orch = Orchestrator(clock=VirtualClock(), seed=1)
    run = orch.create_task_run("quiet", state=Running()).run
    orch.set_task_run_state(run.id, Completed())
    assert calls == []
    caplog.set_level(logging.INFO, logger=ENGINE)
    run = orch.create_task_run("heard", state=Running()).run
    orch.set_task_run_state(run.id, Completed())
    assert len(calls) == 1


def test_the_library_adds_no_handler() -> None:
    for name in ("orchestrator", ENGINE, WORKERS):
        assert logging.getLogger(name).handlers == []

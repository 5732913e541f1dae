"""log_prints (issue 15, item 4): print inside a run becomes a line of the run's log."""

from __future__ import annotations

import builtins
import logging
import sys
import threading
from typing import Any, ParamSpec, TypeVar

import pytest

from orchestrator import (
    Orchestrator,
    RunLog,
    TaskWorker,
    VirtualClock,
    flow,
    task,
)
from orchestrator.testing import run_until_idle

P = ParamSpec("P")
R = TypeVar("R")
RUNS = "orchestrator.runs"
ORIGINAL_PRINT = builtins.print


@pytest.fixture
def orch() -> Orchestrator:
    return Orchestrator(VirtualClock(), seed=5)


@pytest.fixture(autouse=True)
def print_is_restored() -> Any:
    yield
    assert builtins.print is ORIGINAL_PRINT


def kept(lines: list[RunLog]) -> list[tuple[str, str]]:
    return [(line.level_name, line.message) for line in lines]


def test_a_printing_task_logs_its_prints_instead(
    orch: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    @task(log_prints=True)
    def report(n: int) -> int:
        print("rows:", n)
        print("a", "b", sep="-", end="!\n", flush=True)
        print("explicit", file=sys.stdout)
        print("to stderr", file=sys.stderr)
        return n

    with orch:
        assert report(3) == 3
    (run,) = orch.read_task_runs()
    assert kept(orch.read_logs(task_run_id=run.id)) == [
        ("INFO", "rows: 3"),
        ("INFO", "a-b"),
        ("INFO", "explicit"),
    ]
    out, err = capsys.readouterr()
    assert (out, err) == ("", "to stderr\n")


def test_without_log_prints_prints_are_printed(
    orch: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    def chatty() -> None:
        print("just printed")

    with orch:
        chatty()
    assert orch.read_logs() == []
    assert capsys.readouterr().out == "just printed\n"


def test_a_captured_print_reaches_caplog_from_the_printing_line(
    orch: Orchestrator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RUNS)

    @task(log_prints=True)
    def shout() -> None:
        print("hello", None, 3)

    with orch:
        shout()
    (record,) = (r for r in caplog.records if r.name == RUNS)
    assert record.getMessage() == "hello None 3"
    assert (record.funcName, record.filename) == ("shout", "test_run_logs_prints.py")
    assert record.task_run_id == orch.read_task_runs()[0].id  # type: ignore[attr-defined]


def test_a_printing_flows_tasks_follow_it_unless_they_say_otherwise(
    orch: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    def follows() -> None:
        print("from the following task")

    @task(log_prints=False)
    def refuses() -> None:
        print("from the refusing task")

    @flow(log_prints=True)
    def pipeline() -> None:
        print("from the flow")
        follows()
        refuses()
        print("flow again")

    with orch:
        pipeline()
    (flow_run,) = orch.read_flow_runs()
    lines = orch.read_logs(flow_run_id=flow_run.id)
    assert [(line.message, line.task_run_id is None) for line in lines] == [
        ("from the flow", True),
        ("from the following task", False),
        ("flow again", True),
    ]
    assert capsys.readouterr().out == "from the refusing task\n"


def test_a_printing_task_in_a_quiet_flow_logs_only_its_own_prints(
    orch: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    @task(log_prints=True)
    def loud() -> None:
        print("task print")

    @flow
    def quiet() -> None:
        print("flow print")
        loud()

    with orch:
        quiet()
    assert [line.message for line in orch.read_logs()] == ["task print"]
    assert capsys.readouterr().out == "flow print\n"


def test_prints_of_submitted_tasks_in_runner_threads_are_captured(
    orch: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    def square(n: int) -> int:
        print("squaring", n)
        return n * n

    @flow(log_prints=True)
    def fan_out() -> list[int]:
        return [future.result() for future in [square.submit(n) for n in range(6)]]

    with orch:
        assert fan_out() == [0, 1, 4, 9, 16, 25]
    assert sorted(line.message for line in orch.read_logs()) == [f"squaring {n}" for n in range(6)]
    assert all(line.task_run_id is not None for line in orch.read_logs())
    assert capsys.readouterr().out == ""


def test_other_threads_print_as_usual_while_a_run_captures(
    orch: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    inside, printed = threading.Event(), threading.Event()

    def bystander() -> None:
        inside.wait()
        print("bystander")
        printed.set()

    @task(log_prints=True)
    def capturing() -> None:
        print("before")
        inside.set()
        assert printed.wait(timeout=10)
        # A thread started in the run does not inherit the run's context.
        spawned = threading.Thread(target=print, args=("spawned",))
        spawned.start()
        spawned.join()
        print("after")

    thread = threading.Thread(target=bystander)
    thread.start()
    with orch:
        capturing()
    thread.join()
    assert [line.message for line in orch.read_logs()] == ["before", "after"]
    assert capsys.readouterr().out == "bystander\nspawned\n"


def test_print_arguments_print_refuses_are_refused_in_a_run_too(orch: Orchestrator) -> None:
    @task(log_prints=True)
    def wrong() -> None:
        print("x", sep=3)  # type: ignore[call-overload]

    with orch, pytest.raises(TypeError, match="sep must be None or a string"):
        wrong()


async def test_a_worker_run_of_a_printing_task_logs_its_prints(
    orch: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    @task(task_key="prints.async", log_prints=True)
    async def async_report(n: int) -> int:
        print("async", n)
        return n

    @task(task_key="prints.sync", log_prints=True)
    def sync_report(n: int) -> int:
        print("sync", n)
        return n

    async with TaskWorker(async_report, sync_report, orchestrator=orch):
        first = orch.submit(async_report, 1)
        second = orch.submit(sync_report, 2)
        await run_until_idle(orch)
    assert kept(orch.read_logs(task_run_id=first.task_run_id)) == [("INFO", "async 1")]
    assert kept(orch.read_logs(task_run_id=second.task_run_id)) == [("INFO", "sync 2")]
    assert capsys.readouterr().out == ""


async def test_an_async_printing_flow_captures_its_body_and_tasks(
    orch: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    async def step() -> None:
        print("step")

    @flow(log_prints=True)
    async def body() -> None:
        print("body")
        await step()

    async with orch:
        await body()
    assert [line.message for line in orch.read_logs()] == ["body", "step"]
    assert capsys.readouterr().out == ""

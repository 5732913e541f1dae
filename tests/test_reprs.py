"""What a REPL and a notebook show of an orchestrator, a future, a drain and a worker's status."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from orchestrator import (
    Completed,
    Failed,
    Orchestrator,
    TaskWorkerStatus,
    VirtualClock,
    task,
)
from orchestrator.testing import make_flow_run, make_task_run, run_until_idle_sync

START = datetime(2026, 1, 1, tzinfo=UTC)


def cells(page: str) -> list[tuple[str, str, str]]:
    """The rows of a summary: (field, value, the value's style)."""
    table = ET.fromstring(page)
    return [
        (
            row.findtext("th") or "",
            row.findtext("td") or "",
            row.find("td").get("style", ""),  # type: ignore[union-attr]
        )
        for row in table.iter("tr")
    ]


def test_an_orchestrator_shows_its_clock_and_its_runs_by_state() -> None:
    clock = VirtualClock()
    orchestrator = Orchestrator(clock, seed=0)
    make_task_run(orchestrator, "COMPLETED")
    make_task_run(orchestrator, "COMPLETED")
    make_task_run(orchestrator, "FAILED")
    make_flow_run(orchestrator, "RUNNING")
    clock.advance(90)
    assert repr(orchestrator) == (
        "<Orchestrator virtual clock 2026-01-01 00:01:30Z: 3 task runs (2 Completed, 1 Failed),"
        " 1 flow run (1 Running)>"
    )
    rows = cells(orchestrator._repr_html_())
    assert [(field, value) for field, value, _ in rows] == [
        ("clock", "virtual clock 2026-01-01 00:01:30Z"),
        ("task runs", "3"),
        ("  Completed", "2"),
        ("  Failed", "1"),
        ("flow runs", "1"),
        ("  Running", "1"),
    ]
    assert rows[0][2] == "text-align: left"
    assert rows[1][2] == "text-align: right; white-space: nowrap"
    assert rows[3][2] == "text-align: right; white-space: nowrap; color: #b91c1c"
    assert repr(Orchestrator(VirtualClock())).endswith(": 0 task runs, 0 flow runs>")


def test_a_future_shows_its_run_state_and_result() -> None:
    orchestrator = Orchestrator(VirtualClock(), seed=0)

    @task(task_run_name="double-{x}")
    def double(x: int) -> int:
        return 2 * x

    future = orchestrator.submit(double, 21)
    assert repr(future) == f"<TaskRunFuture 'double-21' Scheduled {future.task_run_id}>"
    run_until_idle_sync(orchestrator, double)
    rows = {field: value for field, value, _ in cells(future._repr_html_())}
    assert rows == {
        "id": str(future.task_run_id),
        "task key": future.task_run.task_key,
        "state": "Completed",
        "since": "2026-01-01 00:00:00Z",
        "runs": "1",
        "result": "42",
        "run by": "a task worker",
    }
    orchestrator.delete_task_run(future.task_run_id)
    assert repr(future) == f"<TaskRunFuture {future.task_run_id} deleted>"
    assert "deleted" in future._repr_html_()


def test_a_drain_result_reads_as_times_counts_and_failures() -> None:
    orchestrator = Orchestrator(VirtualClock(), seed=0)

    @task(task_run_name="fail-{x}")
    async def fail(x: int) -> None:
        await Orchestrator.current().clock.sleep(30)
        raise ValueError(f"bad {x}")

    orchestrator.submit(fail, 1)
    result = run_until_idle_sync(orchestrator, fail, fail_fast=False)
    assert repr(result) == (
        "<DrainResult 2026-01-01 00:00:00Z to 2026-01-01 00:00:30Z "
        "(30 s on the clock, 1 jump): 1 finished, 1 failed>"
    )
    rows = cells(result._repr_html_())
    assert [(field, value) for field, value, _ in rows][:6] == [
        ("started", "2026-01-01 00:00:00Z"),
        ("ended", "2026-01-01 00:00:30Z"),
        ("on the clock", "30 s"),
        ("clock jumps", "1"),
        ("finished", "1"),
        ("failed", "1"),
    ]
    field, value, style = rows[6]
    assert field == "fail-1"
    assert value.startswith("Failed at 2026-01-01 00:00:30Z: ")
    assert "bad 1" in value
    assert style.endswith("color: #b91c1c")


def test_a_worker_status_reads_as_a_line_and_a_table() -> None:
    run = uuid.UUID(int=7)
    status = TaskWorkerStatus.capture(
        client_id="host-1-ab",
        started_at=START,
        stopping=False,
        limit=10,
        current=1,
        available=9,
        tasks=["send", "load"],
        finished={"load": 3, "send": 1},
        in_flight={"load": {run: START}},
    )
    assert repr(status) == (
        "<TaskWorkerStatus host-1-ab serving since 2026-01-01 00:00:00Z: 1 running "
        "(limit 10), 4 finished, keys load, send>"
    )
    rows = [(field, value) for field, value, _ in cells(status._repr_html_())]
    assert rows == [
        ("worker", "host-1-ab"),
        ("state", "serving since 2026-01-01 00:00:00Z"),
        ("running", "1"),
        ("limit", "10"),
        ("free slots", "9"),
        ("load", "1 running, 3 finished"),
        ("send", "0 running, 1 finished"),
    ]


def test_completed_and_failed_constructors_still_colour_runs_tables() -> None:
    # The tables and the summaries share one palette.
    orchestrator = Orchestrator(VirtualClock(), seed=0)
    done = make_task_run(orchestrator, Completed())
    broken = make_task_run(orchestrator, Failed())
    page = orchestrator._repr_html_()
    assert "color: #15803d" in page
    assert "color: #b91c1c" in page
    assert done.state_name == "Completed"
    assert broken.state_name == "Failed"

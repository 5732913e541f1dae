"""Progress of a drain: what a callback gets, what a terminal, a log and a notebook show."""

from __future__ import annotations

import io
import re
import sys
import types
from typing import Any

import pytest

from orchestrator import InvalidArgument, Orchestrator, VirtualClock, task
from orchestrator.testing import DrainProgress, run_until_idle, run_until_idle_sync
from orchestrator.testing._progress import ProgressReporter
from orchestrator.workers import TaskWorker

#: (table, seconds the load takes); "broken" fails after its 10 seconds.
LOADS = [("orders", 30), ("customers", 45), ("broken", 10), ("payments", 10)]


@task(tags=["warehouse"], task_run_name="load-{table}")
async def load(table: str, seconds: float) -> str:
    await Orchestrator.current().clock.sleep(seconds)
    if table == "broken":
        raise ValueError("no such table")
    return table


def submitted() -> Orchestrator:
    orchestrator = Orchestrator(VirtualClock(), seed=1)
    orchestrator.create_concurrency_limit("warehouse", 2)
    for table, seconds in LOADS:
        orchestrator.submit(load, table, seconds)
    return orchestrator


def counts(report: DrainProgress) -> tuple[int, int, int, float, bool]:
    return (report.done, report.total, report.failed, report.elapsed, report.final)


def test_a_callback_gets_each_change_and_the_end_with_exact_counts() -> None:
    orchestrator = submitted()
    seen: list[DrainProgress] = []
    result = run_until_idle_sync(
        orchestrator, load, fail_fast=False, progress=seen.append, progress_interval=0
    )
    # Two slots: orders (0-30 s) and customers (0-45 s) first; broken 30-40 s, then
    # payments 40-50 s.
    assert [counts(report) for report in seen] == [
        (0, 4, 0, 0.0, False),
        (1, 4, 0, 30.0, False),
        (2, 4, 1, 40.0, False),
        (3, 4, 1, 45.0, False),
        (4, 4, 1, 50.0, False),
        (4, 4, 1, 50.0, True),
    ]
    assert all(report.virtual for report in seen)
    assert all(report.real_seconds >= 0 for report in seen)
    assert (result.finished, len(result.failures)) == (seen[-1].done, seen[-1].failed)


async def test_the_async_drain_reports_too_and_counts_runs_created_meanwhile() -> None:
    orchestrator = Orchestrator(VirtualClock(), seed=1)
    seen: list[DrainProgress] = []
    async with TaskWorker(load, orchestrator=orchestrator):
        orchestrator.submit(load, "orders", 5)
        await run_until_idle(orchestrator, progress=seen.append, progress_interval=0)
        orchestrator.submit(load, "customers", 5)
        orchestrator.submit(load, "payments", 5)
        await run_until_idle(orchestrator, progress=seen.append, progress_interval=0)
    assert [counts(report) for report in seen] == [
        (0, 1, 0, 0.0, False),
        (1, 1, 0, 5.0, False),
        (1, 1, 0, 5.0, True),
        (0, 2, 0, 0.0, False),
        (2, 2, 0, 5.0, False),
        (2, 2, 0, 5.0, True),
    ]


def test_the_last_report_comes_even_when_the_drain_raises() -> None:
    orchestrator = submitted()
    seen: list[DrainProgress] = []
    with pytest.raises(ValueError, match="no such table"):
        run_until_idle_sync(orchestrator, load, progress=seen.append, progress_interval=0)
    assert counts(seen[-1]) == (2, 4, 1, 40.0, True)


def test_progress_true_prints_a_line_per_report_to_a_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    orchestrator = submitted()
    run_until_idle_sync(orchestrator, load, fail_fast=False, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    # The drain takes far less than the 2 s between two lines of a log: first and last.
    assert len(lines) == 2
    assert re.fullmatch(
        r"drain \[\.{20}\] 0/4 done, 0 failed \| 0 s virtual \| \d+\.\d s real", lines[0]
    )
    assert re.fullmatch(
        r"drain \[#{20}\] 4/4 done, 1 failed \| 50 s virtual \| \d+\.\d s real \| finished",
        lines[1],
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_true_rewrites_one_line_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    orchestrator = submitted()
    run_until_idle_sync(orchestrator, load, fail_fast=False, progress=True, progress_interval=0)
    written = terminal.getvalue()
    assert written.startswith("\rdrain [")
    assert written.endswith(" | finished\n")
    assert written.count("\n") == 1
    shown = [part.rstrip() for part in written.rstrip("\n").split("\r")[1:]]
    assert [re.sub(r" \| \d+\.\d s real", "", part) for part in shown] == [
        "drain [....................] 0/4 done, 0 failed | 0 s virtual",
        "drain [#####...............] 1/4 done, 0 failed | 30 s virtual",
        "drain [##########..........] 2/4 done, 1 failed | 40 s virtual",
        "drain [###############.....] 3/4 done, 1 failed | 45 s virtual",
        "drain [####################] 4/4 done, 1 failed | 50 s virtual",
        "drain [####################] 4/4 done, 1 failed | 50 s virtual | finished",
    ]


def test_progress_true_updates_one_display_in_a_jupyter_kernel(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shown: list[tuple[str, object]] = []

    class Handle:
        def update(self, value: object) -> None:
            shown.append(("update", value))

    def display(value: object, *, display_id: bool) -> Handle:
        assert display_id is True
        shown.append(("display", value))
        return Handle()

    shell = types.SimpleNamespace(kernel=object())
    ipython: Any = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    ipython_display: Any = types.ModuleType("IPython.display")
    ipython_display.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    orchestrator = submitted()
    run_until_idle_sync(orchestrator, load, fail_fast=False, progress=True, progress_interval=0)
    assert capsys.readouterr().err == ""
    assert [kind for kind, _ in shown] == ["display"] + ["update"] * 5
    last = shown[-1][1]
    assert isinstance(last, DrainProgress)
    assert last.final
    page = last._repr_html_()
    assert '<progress value="4" max="4"' in page
    assert "4/4 done, 1 failed | 50 s virtual" in page


def test_reports_are_throttled_on_real_time_read_from_a_clock() -> None:
    orchestrator_clock = VirtualClock()
    real = VirtualClock()
    seen: list[DrainProgress] = []
    reporter = ProgressReporter(orchestrator_clock, seen.append, 0.5, real_clock=real)
    reporter.report(0, 3, 0)
    due = reporter.due.generation
    reporter.changed()
    assert reporter.due.generation == due  # not 0.5 s of real time yet
    real.advance(0.5)
    reporter.changed()
    assert reporter.due.generation == due + 1
    reporter.report(1, 3, 0)
    reporter.report(1, 3, 0)  # the same counts: nothing new to say
    real.advance(0.25)
    orchestrator_clock.advance(90)
    reporter.report(1, 3, 0, final=True)
    assert [(p.done, p.real_seconds, p.elapsed, p.final) for p in seen] == [
        (0, 0.0, 0.0, False),
        (1, 0.5, 0.0, False),
        (1, 0.75, 90.0, True),
    ]
    assert repr(seen[-1]) == f"<DrainProgress {seen[-1]}>"
    assert str(seen[-1]) == (
        "drain [######..............] 1/3 done, 0 failed | 1 min 30 s virtual | 0.8 s real"
        " | finished"
    )


def test_a_bad_progress_option_is_refused_before_anything_runs() -> None:
    orchestrator = submitted()
    with pytest.raises(InvalidArgument, match="progress must be True, False, None or a callable"):
        run_until_idle_sync(orchestrator, load, progress="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="progress_interval"):
        run_until_idle_sync(orchestrator, load, progress=True, progress_interval=-1)
    assert orchestrator.count_task_runs() == 4

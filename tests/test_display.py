"""Display: text and HTML tables of runs, state histories, decisions and run history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from orchestrator import Completed, Failed, FlowRun, Orchestrator, StateType, VirtualClock
from orchestrator._display import (
    MAX_TEXT_WIDTH,
    Table,
    decisions_table,
    format_time,
    history_table,
    run_table,
    runs_table,
    states_table,
)
from orchestrator.testing import make_flow_run, make_task_run

START = datetime(2026, 1, 1, tzinfo=UTC)


def new_orchestrator() -> tuple[Orchestrator, VirtualClock]:
    clock = VirtualClock()
    return Orchestrator(clock, seed=0), clock


def fields(table: Table) -> dict[str, str]:
    """The rows of a two-column table as a dict."""
    return {row[0]: row[1] for row in table.rows}


def test_format_time_is_utc_with_a_z_and_microseconds_only_when_present() -> None:
    assert format_time(None) == ""
    assert format_time(START) == "2026-01-01 00:00:00Z"
    assert format_time(START + timedelta(microseconds=1500)) == "2026-01-01 00:00:00.001500Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 1, 1, 2, 30, tzinfo=plus_two)) == "2026-01-01 00:30:00Z"


def test_table_text_aligns_columns_and_shows_the_note() -> None:
    table = Table(
        title="T", columns=("a", "long header"), rows=(("xyz", "1"), ("", "22")), note="n"
    )
    assert table.text() == ("T\na    long header\n---  -----------\nxyz  1\n     22\nn")
    assert str(table) == table.text()
    assert repr(table) == table.text()


def test_table_text_flattens_lines_and_cuts_long_cells() -> None:
    long = "x" * (MAX_TEXT_WIDTH + 5)
    table = Table(title="T", columns=("c",), rows=(("one\n  two",), (long,)))
    lines = table.text().splitlines()
    assert lines[3] == "one two"
    assert lines[4] == "x" * (MAX_TEXT_WIDTH - 1) + "…"
    assert len(lines[4]) == MAX_TEXT_WIDTH


def test_table_html_escapes_every_cell_and_colours_the_state_column() -> None:
    table = Table(
        title="<b>runs</b>",
        columns=("name", "state & co"),
        rows=(('<script>alert("x")</script>', "Completed"), ("plain", "Failed")),
        state_column=1,
        row_states=(StateType.COMPLETED, None),
        note="1 < 2",
    )
    assert table._repr_html_() == (
        '<table class="orchestrator-table">'
        '<caption style="text-align: left; font-weight: bold">&lt;b&gt;runs&lt;/b&gt;</caption>'
        '<thead><tr><th style="text-align: left">name</th>'
        '<th style="text-align: left">state &amp; co</th></tr></thead><tbody>'
        '<tr><td style="text-align: left">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td>'
        '<td style="text-align: left; color: #15803d">Completed</td></tr>'
        '<tr><td style="text-align: left">plain</td><td style="text-align: left">Failed</td></tr>'
        '</tbody></table><p style="text-align: left">1 &lt; 2</p>'
    )


def test_run_table_lists_a_task_runs_fields() -> None:
    orchestrator, clock = new_orchestrator()
    run = make_task_run(orchestrator, "RUNNING", tags=["b", "a"], name="load")
    clock.advance(90)
    orchestrator.set_task_run_state(run.id, Completed(1))
    table = run_table(run)
    assert table.title == "Task run 'load'"
    assert fields(table) == {
        "id": str(run.id),
        "name": "load",
        "task key": "my-task",
        "flow run": "",
        "state": "Completed",
        "state since": "2026-01-01 00:01:30Z",
        "expected start": "2026-01-01 00:00:00Z",
        "next scheduled start": "",
        "start": "2026-01-01 00:00:00Z",
        "end": "2026-01-01 00:01:30Z",
        "run count": "1",
        "total run time": "90 s",
        "tags": "a, b",
        "created": "2026-01-01 00:00:00Z",
    }
    assert table.row_states[4] is StateType.COMPLETED
    assert run._repr_html_() == table._repr_html_()


def test_run_table_of_a_flow_run_shows_its_flow_and_the_state_message() -> None:
    orchestrator, _ = new_orchestrator()
    run = make_flow_run(orchestrator, "RUNNING", name="nightly")
    orchestrator.set_flow_run_state(run.id, Failed(message="disk <full>"), force=True)
    table = run_table(run)
    shown = fields(table)
    assert table.title == "Flow run 'nightly'"
    assert shown["flow"] == str(run.flow_id)
    assert shown["state"] == "Failed"
    assert shown["message"] == "disk <full>"
    assert "disk &lt;full&gt;" in run._repr_html_()


def test_runs_table_shows_one_row_per_run_and_notes_the_rest() -> None:
    orchestrator, _ = new_orchestrator()
    first = make_task_run(orchestrator, "COMPLETED", name="first", tags=["db"])
    second = make_task_run(orchestrator, "PENDING", name="second")
    flow_run = make_flow_run(orchestrator, "RUNNING", name="parent")
    table = runs_table([first, second, flow_run], max_rows=2)
    assert table.title == "3 runs"
    assert table.rows == (
        (
            first.id.hex[:8],
            "first",
            "my-task",
            "Completed",
            "2026-01-01 00:00:00Z",
            "2026-01-01 00:00:00Z",
            "1",
            "db",
        ),
        (
            second.id.hex[:8],
            "second",
            "my-task",
            "Pending",
            "2026-01-01 00:00:00Z",
            "2026-01-01 00:00:00Z",
            "0",
            "",
        ),
    )
    assert table.note == "... and 1 more (max_rows=2)"
    assert table.row_states == (StateType.COMPLETED, StateType.PENDING)
    only = runs_table([flow_run])
    assert only.title == "1 run"
    assert only.rows[0][1:4] == ("parent", "", "Running")
    assert only.note is None


def test_states_table_shows_times_offsets_and_renamed_states() -> None:
    orchestrator, clock = new_orchestrator()
    run = make_task_run(orchestrator, "RUNNING", retries=1, retry_delay=600)
    clock.advance(1.5)
    orchestrator.set_task_run_state(run.id, Failed(message="boom"))
    table = states_table(orchestrator.read_task_run_states(run.id))
    assert table.text() == (
        "State history\n"
        "#  time                         offset  name           type       message\n"
        "-  ---------------------------  ------  -------------  ---------  -------\n"
        "0  2026-01-01 00:00:00Z         +0 s    Pending        PENDING\n"
        "1  2026-01-01 00:00:00Z         +0 s    Running        RUNNING\n"
        "2  2026-01-01 00:00:01.500000Z  +1.5 s  AwaitingRetry  SCHEDULED  boom"
    )
    assert table.row_states == (StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED)


def test_decisions_table_shows_the_rule_and_its_reason() -> None:
    orchestrator, clock = new_orchestrator()
    run = make_task_run(orchestrator, "RUNNING", retries=1, retry_delay=600)
    clock.advance(5)
    orchestrator.set_task_run_state(run.id, Failed())
    table = decisions_table(orchestrator.read_decisions(run.id))
    assert table.columns == ("time", "run", "from", "proposed", "status", "now", "rule", "reason")
    assert table.rows[0][1] == run.id.hex[:8]
    assert table.rows[-1] == (
        "2026-01-01 00:00:05Z",
        "",
        "RUNNING",
        "Failed",
        "REJECT",
        "AwaitingRetry (SCHEDULED)",
        "RetryFailedTasks",
        "Retrying",
    )
    assert table.rows[0][2:6] == ("no state", "Pending", "ACCEPT (forced)", "Pending")
    assert table.row_states[-1] is StateType.SCHEDULED


def test_history_table_shows_every_bucket_and_state_group() -> None:
    orchestrator, clock = new_orchestrator()
    make_task_run(orchestrator, "COMPLETED")
    make_task_run(orchestrator, "COMPLETED")
    clock.advance(120)
    make_task_run(orchestrator, "RUNNING")
    clock.advance(30)
    buckets = orchestrator.task_run_history(
        history_start=START, history_end=START + timedelta(minutes=3), history_interval=60
    )
    table = history_table(buckets)
    assert table.rows == (
        ("2026-01-01 00:00:00Z", "2026-01-01 00:01:00Z", "Completed", "2", "0 s", "0 s"),
        ("2026-01-01 00:01:00Z", "2026-01-01 00:02:00Z", "", "0", "", ""),
        ("2026-01-01 00:02:00Z", "2026-01-01 00:03:00Z", "Running", "1", "30 s", "0 s"),
    )
    assert table.row_states == (StateType.COMPLETED, None, StateType.RUNNING)


def test_run_table_of_a_bare_flow_run_shows_no_state_and_its_deployment() -> None:
    deployment = uuid.UUID(int=3)
    run = FlowRun(
        id=uuid.UUID(int=1),
        name="bare",
        flow_id=uuid.UUID(int=2),
        deployment_id=deployment,
        created=START,
        updated=START,
    )
    shown = fields(run_table(run))
    assert shown["deployment"] == str(deployment)
    assert shown["state"] == "no state"
    assert shown["state since"] == ""
    assert runs_table([run]).row_states == (None,)


def test_html_tables_left_align_text_right_align_numbers_and_keep_times_on_one_line() -> None:
    table = Table(
        title="T",
        columns=("name", "runs", "run time", "when"),
        rows=(("load-orders", "12", "3.5 s", "2026-01-01 00:00:10Z"), ("x", "", "+2 s", "")),
    )
    assert table.numeric_columns() == frozenset({1, 2})
    page = table._repr_html_()
    assert '<th style="text-align: left">name</th>' in page
    assert '<th style="text-align: right; white-space: nowrap">runs</th>' in page
    assert '<td style="text-align: left">load-orders</td>' in page
    assert '<td style="text-align: right; white-space: nowrap">3.5 s</td>' in page
    assert '<td style="text-align: left; white-space: nowrap">2026-01-01 00:00:10Z</td>' in page


def test_decisions_table_shows_the_run_once_per_group_of_its_decisions() -> None:
    orchestrator, _ = new_orchestrator()
    first = make_task_run(orchestrator, name="a")
    second = make_task_run(orchestrator, name="b")
    for run in (first, second):
        orchestrator.set_task_run_state(run.id, Completed())
    decisions = orchestrator.read_decisions(first.id) + orchestrator.read_decisions(second.id)
    table = decisions_table(decisions)
    runs = [row[1] for row in table.rows]
    per_run = len(orchestrator.read_decisions(first.id))
    assert per_run >= 2
    assert runs[0] == first.id.hex[:8]
    assert runs[1:per_run] == [""] * (per_run - 1)
    assert runs[per_run] == second.id.hex[:8]
    assert set(runs[per_run + 1 :]) == {""}

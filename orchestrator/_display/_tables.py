"""Tables: runs, lists of runs, state histories, run history, decisions and logs.

Every helper returns a :class:`Table`, a frozen value that shows itself as aligned text
(``str(table)``, and ``repr`` so a plain REPL prints the table) and as an HTML table
in Jupyter (``_repr_html_``). Nothing here reads the clock or the orchestrator: the
helpers take the records you already hold, so displaying never waits and never
changes anything, in or out of a running event loop.

Times show in UTC as ``2026-01-01 00:10:00Z`` (microseconds only when there are
some). Text cells are flattened to one line and cut at :data:`MAX_TEXT_WIDTH`
characters; HTML cells are complete and escaped, text left-aligned, numbers
right-aligned, times on one line (inline styles, so Jupyter's right-aligning CSS does
not win).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, final

import attrs

from .._core._models import FlowRun, TaskRun
from .._core._states import State, StateType, default_state_name
from .._core._summary import STATE_COLOURS, cell_style, format_time, is_numeric

if TYPE_CHECKING:
    from .._core._events import Decision
    from .._engine._run_logs import RunLog
    from .._store._history import HistoryBucket

__all__ = [
    "MAX_TEXT_WIDTH",
    "Table",
    "decisions_table",
    "format_time",
    "history_table",
    "logs_table",
    "run_table",
    "runs_table",
    "states_table",
]

#: The widest a cell of a text table gets; longer values end with an ellipsis.
MAX_TEXT_WIDTH: Final = 60


@final
@attrs.frozen(kw_only=True, repr=False)
class Table:
    """A titled table of text cells, shown as text or as HTML.

    Attributes:
        title: a line above the table (the HTML caption).
        columns: the column headers.
        rows: the cells, one tuple per row, as many as there are columns.
        state_column: the index of the column whose cells are coloured by state in HTML.
        row_states: the state type of each row, for that colouring (None: no colour).
        note: a line below the table, such as how many rows were left out.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    state_column: int | None = None
    row_states: tuple[StateType | None, ...] = ()
    note: str | None = None

    def text(self) -> str:
        """Return the table as aligned plain text: title, header, rule, rows, note."""
        cells = [tuple(_one_line(c) for c in row) for row in self.rows]
        widths = [len(c) for c in self.columns]
        for row in cells:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
        lines = [self.title, _text_row(self.columns, widths)]
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(_text_row(row, widths) for row in cells)
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def numeric_columns(self) -> frozenset[int]:
        """Return the columns whose every non-empty cell is a number (right-aligned in HTML)."""
        numeric = set()
        for column in range(len(self.columns)):
            cells = [row[column] for row in self.rows if row[column]]
            if cells and all(is_numeric(cell) for cell in cells):
                numeric.add(column)
        return frozenset(numeric)

    def _repr_html_(self) -> str:
        numeric = self.numeric_columns()
        out = ['<table class="orchestrator-table">']
        out.append(
            '<caption style="text-align: left; font-weight: bold">'
            f"{html.escape(self.title)}</caption>"
        )
        head = "".join(
            f'<th style="{cell_style(c, numeric=i in numeric)}">{html.escape(c)}</th>'
            for i, c in enumerate(self.columns)
        )
        out.append(f"<thead><tr>{head}</tr></thead><tbody>")
        for index, row in enumerate(self.rows):
            state = self.row_states[index] if index < len(self.row_states) else None
            tds = []
            for column, cell in enumerate(row):
                extra = ""
                if column == self.state_column and state is not None:
                    extra = f"color: {STATE_COLOURS[state]}"
                style = cell_style(cell, numeric=column in numeric, extra=extra)
                tds.append(f'<td style="{style}">{html.escape(cell)}</td>')
            out.append(f"<tr>{''.join(tds)}</tr>")
        out.append("</tbody></table>")
        if self.note:
            out.append(f'<p style="text-align: left">{html.escape(self.note)}</p>')
        return "".join(out)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()


def _one_line(value: str) -> str:
    flat = " ".join(value.split())
    if len(flat) > MAX_TEXT_WIDTH:
        return flat[: MAX_TEXT_WIDTH - 1] + "…"
    return flat


def _text_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _offset(value: float) -> str:
    return f"+{value:g} s"


def _short(value: uuid.UUID | None) -> str:
    return "" if value is None else value.hex[:8]


def _tags(tags: Iterable[str]) -> str:
    return ", ".join(sorted(tags))


def _state_label(name: str | None, state_type: StateType | None) -> str:
    if state_type is None:
        return "no state"
    default = default_state_name(state_type)
    if name is None or name == default:
        return default
    return f"{name} ({state_type.value})"


def run_table(run: TaskRun | FlowRun) -> Table:
    """Return one run as a two-column table of its fields: what ``_repr_html_`` shows.

    Args:
        run: a task run or a flow run (the live record or a copy).
    """
    rows: list[tuple[str, str]] = [("id", str(run.id)), ("name", run.name)]
    if isinstance(run, TaskRun):
        kind = "Task run"
        rows.append(("task key", run.task_key))
        rows.append(("flow run", "" if run.flow_run_id is None else str(run.flow_run_id)))
    else:
        kind = "Flow run"
        rows.append(("flow", str(run.flow_id)))
        if run.deployment_id is not None:
            rows.append(("deployment", str(run.deployment_id)))
    state = run.state
    rows.append(("state", _state_label(run.state_name, run.state_type)))
    rows.append(("state since", format_time(run.state_timestamp)))
    if state is not None and state.message:
        rows.append(("message", state.message))
    rows.extend(
        [
            ("expected start", format_time(run.expected_start_time)),
            ("next scheduled start", format_time(run.next_scheduled_start_time)),
            ("start", format_time(run.start_time)),
            ("end", format_time(run.end_time)),
            ("run count", str(run.run_count)),
            ("total run time", _seconds(run.total_run_time)),
            ("tags", _tags(run.tags)),
            ("created", format_time(run.created)),
        ]
    )
    states = tuple(run.state_type if field == "state" else None for field, _ in rows)
    return Table(
        title=f"{kind} {run.name!r}",
        columns=("field", "value"),
        rows=tuple(rows),
        state_column=1,
        row_states=states,
    )


def runs_table(runs: Iterable[TaskRun | FlowRun], *, max_rows: int = 100) -> Table:
    """Return a list of runs (task runs, flow runs, or both) as one row each.

    Args:
        runs: the runs, in the order to show them.
        max_rows: the most rows to show; a note says how many more there were.
    """
    selected: list[TaskRun | FlowRun] = []
    total = 0
    for run in runs:
        total += 1
        if total <= max_rows:
            selected.append(run)
    rows = tuple(
        (
            _short(run.id),
            run.name,
            run.task_key if isinstance(run, TaskRun) else "",
            _state_label(run.state_name, run.state_type),
            format_time(run.state_timestamp),
            format_time(run.expected_start_time),
            str(run.run_count),
            _tags(run.tags),
        )
        for run in selected
    )
    more = total - len(selected)
    return Table(
        title=f"{total} run{'' if total == 1 else 's'}",
        columns=("id", "name", "task key", "state", "since", "expected start", "runs", "tags"),
        rows=rows,
        state_column=3,
        row_states=tuple(run.state_type for run in selected),
        note=f"... and {more} more (max_rows={max_rows})" if more else None,
    )


def states_table(states: Sequence[State], *, title: str = "State history") -> Table:
    """Return a run's states, oldest first, with their times and offsets from the first.

    Args:
        states: committed states, as ``read_task_run_states`` returns them.
        title: the table's title.
    """
    first = next((s.timestamp for s in states if s.timestamp is not None), None)
    rows = []
    for index, state in enumerate(states):
        when = state.timestamp
        offset = "" if when is None or first is None else _offset((when - first).total_seconds())
        rows.append(
            (
                str(index),
                format_time(when),
                offset,
                state.name,
                state.type.value,
                state.message or "",
            )
        )
    return Table(
        title=title,
        columns=("#", "time", "offset", "name", "type", "message"),
        rows=tuple(rows),
        state_column=3,
        row_states=tuple(s.type for s in states),
    )


def decisions_table(decisions: Iterable[Decision], *, title: str = "Decisions") -> Table:
    """Return decisions (from ``read_decisions``), one row each, oldest first as given.

    Columns: time, run (short id), from-state type, proposed state, status, the run's
    state afterwards, the deciding rule and its reason; forced proposals are marked.
    The run's id shows once per group of consecutive decisions on that run.
    """
    listed = list(decisions)
    rows = tuple(
        (
            format_time(d.timestamp),
            "" if index and listed[index - 1].run_id == d.run_id else _short(d.run_id),
            "no state" if d.from_type is None else d.from_type.value,
            _state_label(d.proposed_name, d.proposed_type)
            if d.proposed_type is not None
            else "nothing",
            d.status.value + (" (forced)" if d.forced else ""),
            _state_label(d.state_name, d.state_type),
            d.rule or "",
            d.reason or "",
        )
        for index, d in enumerate(listed)
    )
    return Table(
        title=title,
        columns=("time", "run", "from", "proposed", "status", "now", "rule", "reason"),
        rows=rows,
        state_column=5,
        row_states=tuple(d.state_type for d in listed),
    )


def history_table(buckets: Iterable[HistoryBucket], *, title: str = "Run history") -> Table:
    """Return run history buckets (``task_run_history``) as one row per bucket and state.

    An empty bucket shows as one row with no state and a count of 0.
    """
    rows: list[tuple[str, ...]] = []
    row_states: list[StateType | None] = []
    for bucket in buckets:
        start, end = format_time(bucket.interval_start), format_time(bucket.interval_end)
        if not bucket.states:
            rows.append((start, end, "", "0", "", ""))
            row_states.append(None)
        for group in bucket.states:
            rows.append(
                (
                    start,
                    end,
                    _state_label(group.state_name, group.state_type),
                    str(group.count_runs),
                    _seconds(group.sum_estimated_run_time),
                    _seconds(group.sum_estimated_lateness),
                )
            )
            row_states.append(group.state_type)
    return Table(
        title=title,
        columns=("from", "to", "state", "runs", "run time", "lateness"),
        rows=tuple(rows),
        state_column=2,
        row_states=tuple(row_states),
    )


def logs_table(records: Iterable[RunLog], *, title: str = "Logs") -> Table:
    """Return run log lines (from ``read_logs``), one row each, in the order given.

    Columns: time, level name, run (the task run's short id, else the flow run's) and
    the message (its first line and a cut in text; complete in HTML).
    """
    rows = tuple(
        (
            format_time(r.timestamp),
            r.level_name,
            _short(r.task_run_id if r.task_run_id is not None else r.flow_run_id),
            r.message,
        )
        for r in records
    )
    return Table(title=title, columns=("time", "level", "run", "message"), rows=rows)

"""The timeline: one row per run, one bar per state it was in, on the orchestrator's clock.

:func:`timeline` reads the runs and their state histories once, through the
orchestrator's public reads, and draws a Gantt chart: a flow run's row comes first and
its task runs' rows follow it, indented; each state a run was in is one ``<rect>`` from
the time it was entered to the time the next one was (the current state of an
unfinished run reaches the clock's *now*; a final state is a thin cap at its time). Slot
waits show as long grey *Pending* bars, retries as khaki *AwaitingRetry* gaps between
blue *Running* ones.

Every bar carries ``data-run-id``, ``data-state`` (the state's name),
``data-state-type`` and a ``<title>`` tooltip with the name, the start and end times on
the orchestrator's clock, the state's message and, for a run told to WAIT (for a
concurrency slot, say), how often and why; ``data-waits`` counts those. The axis is in
UTC, on the clock the orchestrator runs on (virtual or real), and says which.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from .._core._checks import check_positive_int
from .._core._checks_objects import check_datetime
from .._core._errors import ArgumentValueError
from .._core._models import FlowRun, TaskRun
from .._core._summary import format_time
from ._svg import (
    Legend,
    Picture,
    StateStyle,
    attributes,
    axis_ticks,
    legend_svg,
    number,
    tick_label,
)
from ._timeline_rows import Bar, Row, RunRef, gather, visible
from ._timeline_rows import bars as spans

if TYPE_CHECKING:
    from .._engine._orchestrator import Orchestrator

__all__ = ["DEFAULT_MAX_RUNS", "timeline"]

#: The most rows a timeline draws unless told otherwise; a note counts the rest.
DEFAULT_MAX_RUNS: Final = 200

_ROW: Final = 20  # pixels per row
_BAR: Final = 14  # bar height
_TOP: Final = 54  # title and legend
_BOTTOM: Final = 44  # axis labels and caption
_INDENT: Final = 14  # a task run's label under its flow run
_TEXT_COLUMNS: Final = 60


def _tooltip(run: TaskRun | FlowRun, bar: Bar) -> str:
    state = bar.state
    lines = [f"{run.name}: {state.name} ({state.type.value})"]
    seconds = (bar.end - bar.start).total_seconds()
    if bar.ongoing:
        lines.append(f"from {format_time(bar.start)}, still in it ({seconds:g} s so far)")
    elif bar.state.is_final() and seconds == 0:
        lines.append(f"at {format_time(bar.start)}")
    else:
        lines.append(f"{format_time(bar.start)} to {format_time(bar.end)} ({seconds:g} s)")
    if state.message:
        lines.append(state.message)
    if bar.waits:
        last = bar.waits[-1]
        times = f"{len(bar.waits)} time{'' if len(bar.waits) == 1 else 's'}"
        lines.append(f"told to WAIT {times}, last by {last.rule}: {last.reason}")
    return "\n".join(lines)


def timeline(
    orchestrator: Orchestrator,
    runs: Iterable[RunRef] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    max_runs: int = DEFAULT_MAX_RUNS,
    width: int = 960,
) -> Picture:
    """Draw the runs' states over time: one row per run, one bar per state it was in.

    Args:
        orchestrator: whose runs to draw (its clock gives the axis and "now").
        runs: the runs to draw: task runs, flow runs, futures or run ids (None: every
            flow run and task run). A task run whose flow run is drawn too is drawn
            under it; rows go in the order the runs entered their first state.
        start, end: the window of time to draw (None: from the first state drawn; to
            the last one, or to the clock's now while a run is unfinished). Bars are
            cut at the window's edges; states wholly outside it are left out.
        max_runs: the most rows to draw; a note says how many more there were.
        width: the picture's width in pixels.

    Returns:
        A :class:`~orchestrator.Picture`: shown as SVG in Jupyter, ``.save(path)`` to
        write it, ``str()`` for a text version.

    Raises:
        ObjectNotFound: a run in ``runs`` does not exist.
        InvalidArgument: ``max_runs`` or ``width`` is not an int >= 1, ``start`` or
            ``end`` is not an aware datetime, or ``end`` is before ``start``.
    """
    check_positive_int(max_runs, "max_runs")
    if start is not None:
        start = check_datetime(start, "start")
    if end is not None:
        end = check_datetime(end, "end")
    check_positive_int(width, "width")
    now = orchestrator.clock.now()
    rows = gather(orchestrator, runs)
    total = len(rows)
    rows = rows[:max_runs]
    drawn = [(row, spans(row, now)) for row in rows]
    times = [t for _, bars in drawn for bar in bars for t in (bar.start, bar.end)]
    low = start if start is not None else min(times, default=now)
    high = end if end is not None else max(times, default=now)
    if high < low:
        raise ArgumentValueError(f"end ({high.isoformat()}) is before start ({low.isoformat()})")
    if high == low:
        high = low + timedelta(seconds=1)
    clock = "virtual clock" if orchestrator.clock.is_virtual else "system clock"
    note = (
        f"{total - len(rows)} more runs not drawn (max_runs={max_runs})"
        if total > len(rows)
        else ""
    )
    title = (
        f"{total} run{'' if total == 1 else 's'}, "
        f"{format_time(low)} to {format_time(high)} ({clock}, UTC)"
    )
    svg = _svg(drawn, low, high, width, title, clock, note)
    text = _text(drawn, low, high, title, note)
    height = _TOP + _ROW * len(drawn) + _BOTTOM + (18 if note else 0)
    return Picture(title=title, svg=svg, text=text, width=width, height=height)


def _svg(
    drawn: Sequence[tuple[Row, list[Bar]]],
    low: datetime,
    high: datetime,
    width: int,
    title: str,
    clock: str,
    note: str,
) -> str:
    longest = max((len(row.run.name) + (2 if row.child else 0) for row, _ in drawn), default=8)
    label_width = min(260, max(90, 7 * longest + 20))
    left, right = label_width + 8, width - 36  # room for the last time label
    span = (high - low).total_seconds()
    scale = (right - left) / span
    plot_bottom = _TOP + _ROW * len(drawn)
    height = plot_bottom + _BOTTOM + (18 if note else 0)

    def x_of(when: datetime) -> float:
        return left + (when - low).total_seconds() * scale

    styles = {bar.style for _, bars in drawn for bar in bars if visible(bar, low, high)}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {attributes(width=width, height=height)} '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" '
        f'class="orchestrator-timeline" role="img" aria-label="{html.escape(title)}">',
        f"<title>{html.escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="8" y="18" font-weight="bold">{html.escape(title)}</text>',
        legend_svg(Legend.of(styles), 8, 40),
    ]
    ticks = axis_ticks(low, high)
    out.append('<g class="axis" stroke="#e5e7eb">')
    for tick in ticks:
        x = number(x_of(tick))
        out.append(f'<line x1="{x}" y1="{_TOP - 4}" x2="{x}" y2="{plot_bottom + 4}"/>')
    out.append("</g>")
    out.append('<g class="axis-labels" fill="#374151" text-anchor="middle">')
    for tick in ticks:
        label = html.escape(tick_label(tick, span))
        out.append(f'<text x="{number(x_of(tick))}" y="{plot_bottom + 18}">{label}</text>')
    out.append("</g>")
    caption = f"time on the orchestrator's {clock} (UTC)"
    out.append(
        f'<text x="{number((left + right) / 2)}" y="{plot_bottom + 36}" '
        f'text-anchor="middle" fill="#6b7280">{html.escape(caption)}</text>'
    )
    for index, (row, bars) in enumerate(drawn):
        out.append(_row_svg(row, bars, index, label_width, left, right, low, high, x_of))
    if note:
        out.append(
            f'<text x="8" y="{height - 8}" fill="#b45309" class="note">{html.escape(note)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _row_svg(
    row: Row,
    bars: Sequence[Bar],
    index: int,
    label_width: int,
    left: float,
    right: float,
    low: datetime,
    high: datetime,
    x_of: Any,
) -> str:
    run = row.run
    kind = "task run" if isinstance(run, TaskRun) else "flow run"
    y = _TOP + _ROW * index
    out = [f'<g class="run" {attributes(data_run_id=run.id, data_kind=kind, data_name=run.name)}>']
    if index % 2:
        out.append(
            f'<rect x="0" y="{y}" width="{number(right + 8)}" height="{_ROW}" fill="#f9fafb"/>'
        )
    indent = _INDENT if row.child else 0
    name = (
        run.name
        if len(run.name) * 7 + indent < label_width
        else run.name[: max(1, (label_width - indent) // 7 - 1)] + "…"
    )
    weight = ' font-weight="bold"' if kind == "flow run" else ""
    state = "no state" if run.state is None else run.state.name
    out.append(
        f'<text x="{8 + indent}" y="{y + 14}"{weight}>'
        f"<title>{html.escape(f'{kind} {run.name} ({run.id}): {state}')}</title>"
        f"{html.escape(name)}</text>"
    )
    for bar in bars:
        if bar.end < low or bar.start > high:
            continue
        x0 = x_of(max(bar.start, low))
        x1 = x_of(min(bar.end, high))
        thin = 3.0 if bar.state.is_final() else 1.0
        w = max(x1 - x0, thin)
        x0 = min(x0, right - w)
        out.append(
            "<rect "
            + attributes(
                x=number(x0),
                y=y + (_ROW - _BAR) // 2,
                width=number(w),
                height=_BAR,
                fill=bar.style.fill,
                data_run_id=run.id,
                data_state=bar.state.name,
                data_state_type=bar.state.type.value,
                data_start=format_time(bar.start),
                data_end=format_time(bar.end),
                data_waits=len(bar.waits),
            )
            + f' class="state"><title>{html.escape(_tooltip(run, bar))}</title></rect>'
        )
    out.append("</g>")
    return "".join(out)


def _text(
    drawn: Sequence[tuple[Row, list[Bar]]], low: datetime, high: datetime, title: str, note: str
) -> str:
    span = (high - low).total_seconds()
    step = span / _TEXT_COLUMNS
    labels = [("  " if row.child else "") + row.run.name for row, _ in drawn]
    width = min(40, max((len(label) for label in labels), default=4))
    lines = [f"Timeline: {title}; one column is {step:.3g} s"]
    styles: set[StateStyle] = set()
    for label, (_, bars) in zip(labels, drawn, strict=True):
        cells = [" "] * _TEXT_COLUMNS
        for bar in bars:
            if bar.end < low or bar.start > high:
                continue
            if visible(bar, low, high):
                styles.add(bar.style)
            first = int((max(bar.start, low) - low).total_seconds() / step)
            last = int((min(bar.end, high) - low).total_seconds() / step)
            if bar.end > bar.start and (bar.end - low).total_seconds() / step == last:
                last -= 1  # the bar ends where the next column begins
            for column in range(min(first, _TEXT_COLUMNS - 1), min(last, _TEXT_COLUMNS - 1) + 1):
                cells[column] = bar.style.letter
        cut = label if len(label) <= width else label[: width - 1] + "…"
        lines.append(f"{cut.ljust(width)} |{''.join(cells)}|")
    lines.append(
        f"{' ' * width}  {tick_label(low, span)}{tick_label(high, span).rjust(_TEXT_COLUMNS - 8)}"
    )
    lines.append(Legend.of(styles).text() if styles else "(no runs to draw)")
    if note:
        lines.append(note)
    return "\n".join(lines)

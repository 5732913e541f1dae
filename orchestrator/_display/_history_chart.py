"""The history chart: run history buckets as bars stacked by state.

:func:`history_chart` draws what ``task_run_history`` / ``flow_run_history`` return
(the buckets :func:`~orchestrator.history_table` lists): one column per bucket, in time
order, its height the number of runs, stacked by their current state in the buckets'
own order. Empty buckets keep their place, so a window that starts too late shows as a
row of empty columns at once instead of rows of zeros.

Every segment is a ``<rect>`` with ``data-bucket-start``, ``data-state`` (the state's
name), ``data-state-type``, ``data-count`` and a ``<title>`` with the bucket's times, the
count, the run time and the lateness; every bucket is a ``<g class="bucket">`` carrying
``data-start``, ``data-end`` and ``data-count``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from .._core._checks import check_positive_int
from .._core._states import StateType
from .._core._summary import format_time
from ._svg import (
    Legend,
    Picture,
    StateStyle,
    attributes,
    legend_svg,
    number,
    state_style,
    tick_label,
)

if TYPE_CHECKING:
    from .._store._history import HistoryBucket

__all__ = ["history_chart"]

_TOP: Final = 54
_LEFT: Final = 56
_BOTTOM: Final = 48
_TEXT_WIDTH: Final = 40


def _count_ticks(most: int) -> list[int]:
    """Round counts from 0 to at least ``most``: steps of 1, 2, 5, 10, 20, 50, ..."""
    decade = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * decade
            if most <= 5 * step:
                top = -(-max(most, 1) // step) * step
                return list(range(0, top + 1, step))
        decade *= 10


def history_chart(
    buckets: Iterable[HistoryBucket],
    *,
    title: str = "Run history",
    width: int = 720,
    height: int = 320,
) -> Picture:
    """Draw run history buckets as columns of runs stacked by their current state.

    Args:
        buckets: the buckets, as ``task_run_history`` or ``flow_run_history`` return them.
        title: the picture's title.
        width, height: the picture's size in pixels.

    Returns:
        A :class:`~orchestrator.Picture`: SVG in Jupyter, ``.save(path)``, ``str()`` as text.

    Raises:
        InvalidArgument: ``width`` or ``height`` is not an int >= 1.
    """
    check_positive_int(width, "width")
    check_positive_int(height, "height")
    listed = list(buckets)
    totals = [sum(group.count_runs for group in bucket.states) for bucket in listed]
    ticks = _count_ticks(max(totals, default=0))
    top_count = ticks[-1]
    left, right = _LEFT, width - 36  # room for the last time label
    plot_top, plot_bottom = _TOP, height - _BOTTOM
    slot = (right - left) / max(len(listed), 1)
    bar = max(slot * 0.72, 1.0)
    unit = (plot_bottom - plot_top) / top_count
    span = (listed[-1].interval_end - listed[0].interval_start).total_seconds() if listed else 0.0
    styles: set[StateStyle] = set()
    heading = title
    if listed:
        heading += (
            f": {sum(totals)} runs, {format_time(listed[0].interval_start)} to "
            f"{format_time(listed[-1].interval_end)}"
        )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {attributes(width=width, height=height)} '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" '
        f'class="orchestrator-history" role="img" aria-label="{html.escape(heading)}">',
        f"<title>{html.escape(heading)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="8" y="18" font-weight="bold">{html.escape(heading)}</text>',
    ]
    out.append('<g class="axis" fill="#374151" text-anchor="end">')
    for count in ticks:
        level = number(plot_bottom - count * unit)
        out.append(f'<line x1="{left}" y1="{level}" x2="{right}" y2="{level}" stroke="#e5e7eb"/>')
        out.append(
            f'<text x="{left - 6}" y="{number(plot_bottom - count * unit + 4)}">{count}</text>'
        )
    out.append("</g>")
    every = max(1, -(-len(listed) // 10))  # at most about ten time labels
    for index, bucket in enumerate(listed):
        x = left + slot * index + (slot - bar) / 2
        out.append(
            '<g class="bucket" '
            + attributes(
                data_start=format_time(bucket.interval_start),
                data_end=format_time(bucket.interval_end),
                data_count=totals[index],
            )
            + ">"
        )
        y = float(plot_bottom)
        for group in bucket.states:
            style = _style(group.state_type, group.state_name)
            styles.add(style)
            h = group.count_runs * unit
            y -= h
            name = style.label if group.state_name is None else group.state_name
            tip = (
                f"{format_time(bucket.interval_start)} to {format_time(bucket.interval_end)}\n"
                f"{group.count_runs} {name}"
                f" run{'' if group.count_runs == 1 else 's'}; ran "
                f"{group.sum_estimated_run_time:g} s, late {group.sum_estimated_lateness:g} s"
            )
            out.append(
                "<rect "
                + attributes(
                    x=number(x),
                    y=number(y),
                    width=number(bar),
                    height=number(h),
                    fill=style.fill,
                    data_bucket_start=format_time(bucket.interval_start),
                    data_state=group.state_name or "",
                    data_state_type="" if group.state_type is None else group.state_type.value,
                    data_count=group.count_runs,
                )
                + f' class="segment"><title>{html.escape(tip)}</title></rect>'
            )
        if index % every == 0:
            label = html.escape(tick_label(bucket.interval_start, span))
            out.append(
                f'<text x="{number(x + bar / 2)}" y="{plot_bottom + 16}" '
                f'text-anchor="middle" fill="#374151">{label}</text>'
            )
        out.append("</g>")
    out.append(
        f'<text x="{number((left + right) / 2)}" y="{height - 12}" text-anchor="middle" '
        'fill="#6b7280">bucket start (UTC); runs counted by expected start time, '
        "by current state</text>"
    )
    out.append(legend_svg(Legend.of(styles), 8, 40))
    out.append("</svg>")
    text = _text(listed, totals, heading, Legend.of(styles))
    return Picture(title=heading, svg="".join(out), text=text, width=width, height=height)


_NO_STATE: Final = StateStyle("no state", "#e5e7eb", ".")


def _style(state_type: StateType | None, name: str | None) -> StateStyle:
    return _NO_STATE if state_type is None else state_style(state_type, name)


def _text(listed: list[HistoryBucket], totals: list[int], heading: str, legend: Legend) -> str:
    most = max(totals, default=0)
    scale = min(1.0, _TEXT_WIDTH / most) if most else 1.0
    span = (listed[-1].interval_end - listed[0].interval_start).total_seconds() if listed else 0.0
    lines = [heading]
    for bucket, total in zip(listed, totals, strict=True):
        cells = "".join(
            _style(g.state_type, g.state_name).letter * max(1, round(g.count_runs * scale))
            for g in bucket.states
            if g.count_runs
        )
        lines.append(f"{tick_label(bucket.interval_start, span)}  {str(total).rjust(4)}  {cells}")
    lines.append(legend.text())
    return "\n".join(lines)

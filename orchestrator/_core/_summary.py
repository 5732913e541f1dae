"""Short summaries of records, as text and as HTML: how the notebook reprs are drawn.

Every wing may draw a record's notebook repr with these (the display wing sits above the
engine, so the engine's own objects cannot use its tables). A summary is a title and
``(field, value)`` rows; :func:`summary_html` draws it as a two-column HTML table whose
text is left-aligned, whose numbers are right-aligned and whose times never wrap, whatever
the notebook's own CSS says (Jupyter right-aligns every cell by default).

Times show in UTC as ``2026-01-01 00:10:00Z`` (microseconds only when there are some).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from ._state_record import StateType

__all__ = [
    "STATE_COLOURS",
    "cell_style",
    "format_time",
    "is_numeric",
    "summary_html",
    "summary_text",
]

#: The text colour of a state in HTML tables and summaries, by state type.
STATE_COLOURS: Final = {
    StateType.SCHEDULED: "#a16207",
    StateType.PENDING: "#6b7280",
    StateType.RUNNING: "#1d4ed8",
    StateType.COMPLETED: "#15803d",
    StateType.FAILED: "#b91c1c",
    StateType.CRASHED: "#b91c1c",
    StateType.CANCELLED: "#4b5563",
    StateType.CANCELLING: "#4b5563",
    StateType.PAUSED: "#a16207",
}

#: A cell that reads as a number: a count, seconds ("3.5 s") or an offset ("+12 s").
_NUMERIC: Final = re.compile(r"[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?: s| %)?")

#: A cell that reads as a time (``format_time``'s output).
_TIME: Final = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?Z")


def format_time(value: datetime | None) -> str:
    """Return ``value`` in UTC as ``YYYY-MM-DD HH:MM:SS[.ffffff]Z``; "" for None."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def is_numeric(cell: str) -> bool:
    """Return whether a cell reads as a number (right-aligned in HTML)."""
    return _NUMERIC.fullmatch(cell) is not None


def cell_style(cell: str, *, numeric: bool | None = None, extra: str = "") -> str:
    """Return the inline style of an HTML cell: its alignment, and no wrapping for times.

    Args:
        cell: the cell's text.
        numeric: right-align (True) or left-align (False); None: decide from the text.
        extra: more declarations to append (``"color: #15803d"``).
    """
    right = is_numeric(cell) if numeric is None else numeric
    parts = [f"text-align: {'right' if right else 'left'}"]
    if right or _TIME.fullmatch(cell) is not None:
        parts.append("white-space: nowrap")
    if extra:
        parts.append(extra)
    return "; ".join(parts)


def summary_text(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """Return ``title`` and its rows as aligned ``field  value`` lines."""
    width = max((len(field) for field, _ in rows), default=0)
    lines = [title]
    lines.extend(f"  {field.ljust(width)}  {value}".rstrip() for field, value in rows)
    return "\n".join(lines)


def summary_html(
    title: str, rows: Sequence[tuple[str, str]], *, colours: Sequence[str | None] = ()
) -> str:
    """Return ``title`` and its rows as a two-column HTML table, every cell escaped.

    Args:
        title: the table's caption.
        rows: ``(field, value)`` pairs, in order.
        colours: an optional CSS colour per row for its value (None: none).
    """
    out = ['<table class="orchestrator-summary">']
    out.append(
        f'<caption style="text-align: left; font-weight: bold">{html.escape(title)}</caption>'
    )
    out.append("<tbody>")
    for index, (field, value) in enumerate(rows):
        colour = colours[index] if index < len(colours) else None
        extra = f"color: {colour}" if colour else ""
        out.append(
            f'<tr><th style="text-align: left; white-space: pre">{html.escape(field)}</th>'
            f'<td style="{cell_style(value, extra=extra)}">{html.escape(value)}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)

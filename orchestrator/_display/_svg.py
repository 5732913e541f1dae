"""The pictures' common parts: a palette of states, a tiny SVG writer, and :class:`Picture`.

A picture is a finished SVG document and its text fallback, made once: it shows itself
in Jupyter (``_repr_svg_``, and ``_repr_html_`` wrapped in a box that scrolls when the
picture is taller than a screen), writes itself to a file (``save``) and prints as text
in a terminal (``str``). No plotting library is involved: the documents are plain SVG
1.1 written by hand, every text escaped.

States are coloured by type, with a few names of their own where the name tells more
than the type: a run *AwaitingRetry* (a retry's back-off) is khaki, not the amber of a
plain scheduled run; *Retrying* is indigo beside the blue of *Running*; *Cached* is a
paler green than *Completed*; *Late* is orange.
"""

from __future__ import annotations

import html
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, final

import attrs

from .._core._states import StateType
from .._core._summary import format_time

__all__ = [
    "Legend",
    "Picture",
    "StateStyle",
    "axis_ticks",
    "attributes",
    "legend_svg",
    "number",
    "state_style",
    "tick_label",
]


@final
@attrs.frozen
class StateStyle:
    """How a state is drawn: its legend label, its fill colour and its letter in text."""

    label: str
    fill: str
    letter: str


_BY_TYPE: Final = {
    StateType.SCHEDULED: StateStyle("Scheduled", "#fcd34d", "S"),
    StateType.PENDING: StateStyle("Pending", "#9ca3af", "P"),
    StateType.RUNNING: StateStyle("Running", "#3b82f6", "R"),
    StateType.COMPLETED: StateStyle("Completed", "#16a34a", "C"),
    StateType.FAILED: StateStyle("Failed", "#dc2626", "F"),
    StateType.CRASHED: StateStyle("Crashed", "#7f1d1d", "X"),
    StateType.CANCELLED: StateStyle("Cancelled", "#4b5563", "K"),
    StateType.CANCELLING: StateStyle("Cancelling", "#a8a29e", "k"),
    StateType.PAUSED: StateStyle("Paused", "#c084fc", "Z"),
}

_BY_NAME: Final = {
    (StateType.SCHEDULED, "AwaitingRetry"): StateStyle("AwaitingRetry", "#bfa94a", "A"),
    (StateType.SCHEDULED, "Late"): StateStyle("Late", "#f97316", "L"),
    (StateType.RUNNING, "Retrying"): StateStyle("Retrying", "#6366f1", "r"),
    (StateType.COMPLETED, "Cached"): StateStyle("Cached", "#86efac", "c"),
}

#: The legend's order: the life of a run, left to right.
_ORDER: Final = (
    "Scheduled",
    "Late",
    "AwaitingRetry",
    "Pending",
    "Running",
    "Retrying",
    "Paused",
    "Completed",
    "Cached",
    "Failed",
    "Crashed",
    "Cancelling",
    "Cancelled",
    "no state",
)

#: Steps of a time axis, in seconds: the first that gives at most ~8 ticks is used.
_STEPS: Final = (
    *(1, 2, 5, 10, 15, 30),
    *(60 * m for m in (1, 2, 5, 10, 15, 30)),
    *(3600 * h for h in (1, 2, 3, 6, 12)),
    *(86400 * d for d in (1, 2, 7, 14, 30, 91, 182, 365)),
)


def state_style(state_type: StateType, name: str | None) -> StateStyle:
    """Return how a state of this type and name is drawn."""
    return _BY_NAME.get((state_type, name or ""), _BY_TYPE[state_type])


def number(value: float) -> str:
    """Return a coordinate with at most two decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def attributes(**values: object) -> str:
    """Return ``name="value"`` pairs, escaped; ``data_run_id`` becomes ``data-run-id``."""
    return " ".join(
        f'{name.replace("_", "-")}="{html.escape(str(value), quote=True)}"'
        for name, value in values.items()
    )


def axis_ticks(start: datetime, end: datetime, most: int = 8) -> list[datetime]:
    """Return round times in ``[start, end]``, at most ``most`` + 1 of them.

    The step is the first of 1, 2, 5, 10, 15, 30 seconds, 1, 2, 5, ... minutes, hours,
    days that fits; ticks fall on multiples of it since the epoch (whole minutes, hours).
    """
    span = max((end - start).total_seconds(), 1e-9)
    step = next((s for s in _STEPS if span / s <= most), _STEPS[-1])
    first = -(-start.timestamp() // step) * step
    ticks = []
    when = first
    while when <= end.timestamp() + 1e-9:
        ticks.append(start + timedelta(seconds=when - start.timestamp()))
        when += step
    return ticks


def tick_label(when: datetime, span_seconds: float) -> str:
    """Return a tick's label: the time of day, with the date when the span exceeds a day."""
    text = format_time(when)
    if span_seconds > 2 * 86400:
        return text[5:10] + " " + text[11:16]
    return text[11:19]


@final
@attrs.frozen
class Legend:
    """The states a picture shows, in the legend's order."""

    styles: tuple[StateStyle, ...]

    @classmethod
    def of(cls, styles: set[StateStyle]) -> Legend:
        """Return the legend of these styles, ordered as a run's life goes."""
        return cls(tuple(sorted(styles, key=lambda s: _ORDER.index(s.label))))

    def text(self) -> str:
        """Return the legend as one line of ``letter label`` pairs."""
        return "  ".join(f"{s.letter} {s.label}" for s in self.styles)


def legend_svg(legend: Legend, x: float, y: float) -> str:
    """Return the legend as a row of swatches and labels starting at (``x``, ``y``)."""
    out = ['<g class="legend">']
    for style in legend.styles:
        out.append(
            f"<rect {attributes(x=number(x), y=number(y - 10), width=12, height=12)} "
            f'fill="{style.fill}" data-legend="{html.escape(style.label)}"/>'
        )
        out.append(f'<text x="{number(x + 16)}" y="{number(y)}">{html.escape(style.label)}</text>')
        x += 16 + 6.5 * len(style.label) + 16
    out.append("</g>")
    return "".join(out)


@final
@attrs.frozen(kw_only=True, repr=False)
class Picture:
    """A finished picture: an SVG document and its text fallback.

    Attributes:
        title: what the picture shows, in one line.
        svg: the SVG document (UTF-8 text, with its XML namespace), ready to save or embed.
        text: the same picture for a terminal: rows of letters, a legend and notes.
        width, height: the document's size in pixels.
    """

    title: str
    svg: str
    text: str
    width: int
    height: int

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        # Taller than a screen: the box scrolls instead of the notebook growing for ever.
        return (
            '<div class="orchestrator-picture" style="max-height: 640px; overflow: auto; '
            f'max-width: 100%">{self.svg}</div>'
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the picture to ``path``: SVG, or an HTML page for a ``.html`` name.

        Returns:
            The path written.
        """
        target = Path(path)
        if target.suffix.lower() in {".html", ".htm"}:
            page = (
                '<!DOCTYPE html><html><head><meta charset="utf-8">'
                f"<title>{html.escape(self.title)}</title></head>"
                f'<body style="margin: 0; background: #fff">{self.svg}</body></html>\n'
            )
            target.write_text(page, encoding="utf-8")
        else:
            target.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + self.svg + "\n", "utf-8")
        return target

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

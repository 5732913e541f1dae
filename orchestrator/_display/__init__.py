"""Display: what a notebook or a terminal shows of runs, histories and decisions.

Holds the tables (``_tables``: runs, state histories, decisions, run history and logs as
text and HTML) and the pictures (``_svg``: the SVG writer and its palette;
``_timeline``: one bar per state of each run over time, its rows gathered by
``_timeline_rows``; ``_history_chart``: run history buckets as stacked bars). Nothing
here changes an orchestrator or waits: a picture reads the runs and their states once,
through the orchestrator's public methods, when it is made.

May import: every wing below the engine, and the engine (to read an orchestrator's runs).
"""

from __future__ import annotations

from .._core._summary import format_time
from ._history_chart import history_chart
from ._svg import Picture
from ._tables import (
    MAX_TEXT_WIDTH,
    Table,
    decisions_table,
    history_table,
    logs_table,
    run_table,
    runs_table,
    states_table,
)
from ._timeline import timeline

__all__ = [
    "MAX_TEXT_WIDTH",
    "Table",
    "decisions_table",
    "Picture",
    "format_time",
    "history_chart",
    "history_table",
    "logs_table",
    "run_table",
    "runs_table",
    "states_table",
    "timeline",
]

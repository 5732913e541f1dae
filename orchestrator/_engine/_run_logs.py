"""Run logs: the lines a task run or flow run logged, kept per run by its orchestrator.

A :class:`RunLog` is one line logged through a run's logger (``get_run_logger()``, or a
``print`` captured by ``log_prints=True``), stamped with the orchestrator's clock.
:class:`RunLogs` keeps them per run id, each run's lines bounded (the oldest are dropped
first, and counted), and only lines at or above a level threshold. It lives on the
orchestrator's engine: two orchestrators never see each other's lines.

A line is stored only while its run exists. The check and the append happen under the
engine's lock, and the engine forgets a run's lines under the same lock when the run is
deleted, so no line of a deleted run is left behind. A flow run's lines are read with
those of its task runs: an index from flow run id to the task runs with lines makes that
read O(runs read + lines) rather than a scan of every run.
"""

from __future__ import annotations

import heapq
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Final, final

import attrs

from .._core._checks import is_integer, wrong_type, wrong_value
from .._core._indexes import should_shrink, shrink

__all__ = ["RunLog", "RunLogs", "check_level"]

#: The logger every run's lines go to after they are stored (caplog and handlers see them).
RUNS_LOGGER_NAME: Final = "orchestrator.runs"

_LEVEL_EXPECTED: Final = "a logging level: an integer >= 0 or a level name such as 'INFO'"


def check_level(value: object, name: str) -> int:
    """Return ``value`` as a logging level number: an integer >= 0 or a level's name.

    Names are those :mod:`logging` knows (``"DEBUG"``, ``"info"``, custom ones added with
    ``logging.addLevelName``), in any case.

    Raises:
        ArgumentTypeError: neither an integer nor a string (booleans refused).
        ArgumentValueError: a negative integer, or a name logging does not know.

    Example:
        >>> check_level("warning", "level"), check_level(5, "level")
        (30, 5)
    """
    if is_integer(value):
        if value >= 0:
            return value
        raise wrong_value(name, value, _LEVEL_EXPECTED)
    if isinstance(value, str):
        found = logging.getLevelNamesMapping().get(value.upper())
        if found is not None:
            return found
        raise wrong_value(name, value, _LEVEL_EXPECTED)
    raise wrong_type(name, value, _LEVEL_EXPECTED)


@final
@attrs.frozen(kw_only=True)
class RunLog:
    """One line a run logged, as ``read_logs`` returns it.

    Attributes:
        timestamp: when it was logged, on the orchestrator's clock.
        level: the logging level number (``logging.INFO`` is 20).
        message: the formatted message (arguments substituted; an exception's traceback
            follows it when one was logged).
        task_run_id: the task run that logged it, or None for a flow run's own line.
        flow_run_id: the flow run it belongs to (the task run's flow run), or None.
        logger: the name of the logger it went to (``"orchestrator.runs"``).
    """

    timestamp: datetime
    level: int
    message: str
    task_run_id: uuid.UUID | None
    flow_run_id: uuid.UUID | None
    logger: str = RUNS_LOGGER_NAME

    @property
    def level_name(self) -> str:
        """The level's name, as logging spells it (``"INFO"``; ``"Level 5"`` for an unnamed one)."""
        return logging.getLevelName(self.level)


#: A stored line and its place in the order of all lines (oldest first across runs).
_Entry = tuple[int, RunLog]


@final
class _RunLines:
    """One run's lines, bounded; how many were dropped; the flow run it belongs to."""

    __slots__ = ("dropped", "flow_run_id", "lines")

    def __init__(self, limit: int, flow_run_id: uuid.UUID | None) -> None:
        self.lines: deque[_Entry] = deque(maxlen=limit)
        self.dropped = 0
        self.flow_run_id = flow_run_id


@final
class RunLogs:
    """The lines of every run of one orchestrator, by run id.

    Args:
        lock: the engine's lock; every method takes it.
        limit: the most lines kept per run (the oldest go first); 0 keeps none.
        level: lines below this level are not kept.
        exists: whether a run id (a task run's or a flow run's) is stored; lines of
            runs that are not are dropped without a trace.
    """

    __slots__ = ("_by_flow", "_by_run", "_exists", "_lock", "_peak", "_sequence", "level", "limit")

    def __init__(
        self,
        *,
        lock: AbstractContextManager[bool],
        limit: int,
        level: int,
        exists: Callable[[uuid.UUID], bool],
    ) -> None:
        self._lock = lock
        self.limit = limit
        self.level = level
        self._exists = exists
        self._by_run: dict[uuid.UUID, _RunLines] = {}
        #: flow run id -> the ids of its task runs that have lines.
        self._by_flow: dict[uuid.UUID, set[uuid.UUID]] = {}
        self._sequence = 0
        self._peak = 0  # the most runs with lines since the last shrink

    def keeps(self, level: int) -> bool:
        """Whether a line at ``level`` would be kept (O(1), no lock)."""
        return level >= self.level

    def add(self, line: RunLog) -> bool:
        """Keep ``line`` under its run (its task run, else its flow run); O(1).

        Returns whether it was kept: a line below the level threshold, or of a run that
        is not stored (never was, or was deleted), is not.
        """
        run_id = line.task_run_id if line.task_run_id is not None else line.flow_run_id
        if run_id is None or line.level < self.level:
            return False
        with self._lock:
            if not self._exists(run_id):
                return False
            lines = self._by_run.get(run_id)
            if lines is None:
                lines = self._by_run[run_id] = _RunLines(self.limit, line.flow_run_id)
                self._peak = max(self._peak, len(self._by_run))
                if line.task_run_id is not None and line.flow_run_id is not None:
                    self._by_flow.setdefault(line.flow_run_id, set()).add(run_id)
            if len(lines.lines) == self.limit:
                lines.dropped += 1
            self._sequence += 1
            lines.lines.append((self._sequence, line))
            return True

    def read(
        self,
        *,
        task_run_id: uuid.UUID | None = None,
        flow_run_id: uuid.UUID | None = None,
        level: int = 0,
    ) -> list[RunLog]:
        """Return the lines of the selected runs at ``level`` or above, oldest first.

        ``task_run_id`` selects one task run's lines, ``flow_run_id`` a flow run's own
        and its task runs'; both select that task run's lines if it is in that flow run;
        neither, every line. O(lines of the selected runs, log of the runs merged).
        """
        with self._lock:
            merged = heapq.merge(*(lines.lines for lines in self._select(task_run_id, flow_run_id)))
            return [line for _, line in merged if line.level >= level]

    def dropped(
        self, *, task_run_id: uuid.UUID | None = None, flow_run_id: uuid.UUID | None = None
    ) -> int:
        """How many lines of the selected runs (as :meth:`read`) were dropped for room."""
        with self._lock:
            return sum(lines.dropped for lines in self._select(task_run_id, flow_run_id))

    def _select(
        self, task_run_id: uuid.UUID | None, flow_run_id: uuid.UUID | None
    ) -> Iterator[_RunLines]:
        by_run = self._by_run
        if task_run_id is not None:
            lines = by_run.get(task_run_id)
            if lines is not None and (flow_run_id is None or lines.flow_run_id == flow_run_id):
                yield lines
        elif flow_run_id is not None:
            ids: Iterable[uuid.UUID] = (flow_run_id, *self._by_flow.get(flow_run_id, ()))
            for run_id in ids:
                lines = by_run.get(run_id)
                if lines is not None:
                    yield lines
        else:
            yield from by_run.values()

    def forget(self, run_id: uuid.UUID) -> None:
        """Drop a run's lines (it was deleted); give memory back once most are gone."""
        with self._lock:
            by_run = self._by_run
            lines = by_run.pop(run_id, None)
            flow_run_id = None if lines is None else lines.flow_run_id
            if flow_run_id is not None and flow_run_id != run_id:
                # A task run in a flow run: it leaves the flow run's index.
                siblings = self._by_flow[flow_run_id]
                siblings.discard(run_id)
                if not siblings:
                    del self._by_flow[flow_run_id]
            if should_shrink(len(by_run), self._peak):
                shrink(by_run)
                self._peak = len(by_run)

    def __len__(self) -> int:
        """How many lines are kept, over every run."""
        with self._lock:
            return sum(len(lines.lines) for lines in self._by_run.values())

    def check_invariants(self) -> None:
        """Verify the flow index against the lines; raise AssertionError on a mismatch."""
        with self._lock:
            expected: dict[uuid.UUID, set[uuid.UUID]] = {}
            for run_id, lines in self._by_run.items():
                assert lines.lines, f"run {run_id} has an empty line list"
                assert self._exists(run_id), f"lines of run {run_id}, which is not stored"
                for _, line in lines.lines:
                    assert run_id in (line.task_run_id, line.flow_run_id)
                    assert line.flow_run_id == lines.flow_run_id
                if lines.flow_run_id is not None and lines.flow_run_id != run_id:
                    expected.setdefault(lines.flow_run_id, set()).add(run_id)
            assert self._by_flow == expected, "the flow run index of run logs is stale"

"""The timeline's rows: which runs, in which order, and the span of each state they were in.

:func:`gather` reads the runs (all, or the ones asked for), their state histories and the
WAIT decisions taken on them through the orchestrator's public reads, and orders them:
each top-level run by the time it entered its first state (creation order breaking
ties), a flow run's task runs right under it. :func:`bars` turns a row's states into
spans: from the state's time to the next one's, to the clock's now for the current
state of an unfinished run, an instant for a final state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from .._core._errors import ObjectNotFound
from .._core._models import FlowRun, TaskRun
from .._core._outcomes import SetStateStatus
from .._core._sorts import FlowRunSort, TaskRunSort
from .._core._states import State
from .._engine._futures import TaskRunFuture
from ._svg import StateStyle, state_style

if TYPE_CHECKING:
    from .._core._events import Decision
    from .._engine._orchestrator import Orchestrator

__all__ = ["Bar", "Row", "RunRef", "bars", "gather", "visible"]

#: What ``runs`` may hold: runs, futures, or run ids.
RunRef = TaskRun | FlowRun | TaskRunFuture[Any] | uuid.UUID


@attrs.frozen
class Row:
    """One run to draw: its record, its states, whether it sits under its flow run."""

    run: TaskRun | FlowRun
    states: tuple[State, ...]
    child: bool
    waits: tuple[Decision, ...] = ()  # the WAIT decisions taken on it

    @property
    def first(self) -> datetime:
        """When the run entered its first state (its creation time if it has none)."""
        when = self.states[0].timestamp if self.states else None
        return self.run.created if when is None else when


@attrs.frozen
class Bar:
    """One state a run was in, and the time it spans."""

    state: State
    style: StateStyle
    start: datetime
    end: datetime
    ongoing: bool
    waits: tuple[Decision, ...] = ()  # the WAIT decisions taken while in this state


def _resolve(orchestrator: Orchestrator, ref: RunRef) -> TaskRun | FlowRun:
    if isinstance(ref, TaskRunFuture):
        return orchestrator.read_task_run(ref.task_run_id)
    if isinstance(ref, TaskRun):
        return orchestrator.read_task_run(ref.id)
    if isinstance(ref, FlowRun):
        return orchestrator.read_flow_run(ref.id)
    try:
        return orchestrator.read_task_run(ref)
    except ObjectNotFound:
        return orchestrator.read_flow_run(ref)


def _states(orchestrator: Orchestrator, run: TaskRun | FlowRun) -> tuple[State, ...]:
    if isinstance(run, TaskRun):
        return tuple(orchestrator.read_task_run_states(run.id))
    return tuple(orchestrator.read_flow_run_states(run.id))


def gather(orchestrator: Orchestrator, runs: Iterable[RunRef] | None) -> list[Row]:
    """Return The rows in order: each flow run, then its task runs; runs by their first state."""
    if runs is None:
        # Creation order breaks ties (the sorts below are stable).
        chosen: list[TaskRun | FlowRun] = [
            *orchestrator.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_ASC)
        ]
        chosen.extend(orchestrator.read_task_runs(sort=TaskRunSort.EXPECTED_START_TIME_ASC))
    else:
        seen: set[uuid.UUID] = set()
        chosen = []
        for ref in runs:
            run = _resolve(orchestrator, ref)
            if run.id not in seen:
                seen.add(run.id)
                chosen.append(run)
    flow_ids = {run.id for run in chosen if isinstance(run, FlowRun)}
    children: dict[uuid.UUID, list[Row]] = {}
    top: list[Row] = []
    for run in chosen:
        parent = run.flow_run_id if isinstance(run, TaskRun) else None
        waits = tuple(
            d for d in orchestrator.read_decisions(run.id) if d.status is SetStateStatus.WAIT
        )
        row = Row(run, _states(orchestrator, run), parent in flow_ids, waits)
        if parent is not None and parent in flow_ids:
            children.setdefault(parent, []).append(row)
        else:
            top.append(row)
    ordered: list[Row] = []
    for row in sorted(top, key=_order):
        ordered.append(row)
        ordered.extend(sorted(children.get(row.run.id, ()), key=_order))
    return ordered


def _order(row: Row) -> tuple[datetime, datetime]:
    return (row.first, row.run.created)


def bars(row: Row, now: datetime) -> list[Bar]:
    """Return the span of each state of ``row``, in order (``now`` ends the current one)."""
    spans = []
    for index, state in enumerate(row.states):
        start = state.timestamp or row.first
        following = row.states[index + 1] if index + 1 < len(row.states) else None
        ongoing = following is None and not state.is_final()
        if following is not None:
            end = following.timestamp or start
        else:
            end = max(now, start) if ongoing else start
        spans.append((state, start, end, ongoing))
    # A WAIT leaves the run in its state: it belongs to the last state of that type
    # entered at or before the decision.
    waits: list[list[Decision]] = [[] for _ in spans]
    for decision in row.waits:
        for index in range(len(spans) - 1, -1, -1):
            state, start, _, _ = spans[index]
            if start <= decision.timestamp and state.type is decision.state_type:
                waits[index].append(decision)
                break
    return [
        Bar(state, state_style(state.type, state.name), start, end, ongoing, tuple(told))
        for (state, start, end, ongoing), told in zip(spans, waits, strict=True)
    ]


def visible(bar: Bar, low: datetime, high: datetime) -> bool:
    """Whether a bar shows (in the window, and lasting, ongoing or final): it gets a legend."""
    inside = bar.end >= low and bar.start <= high
    return inside and (bar.end > bar.start or bar.ongoing or bar.state.is_final())

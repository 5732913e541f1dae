"""Checking and counting what an :class:`~orchestrator.Orchestrator` holds.

The :class:`Inspection` facet verifies the engine's indexes and cross-references
(``check_invariants``) and counts runs, states, decisions, limits, cache entries and
observers at one moment (``statistics``, an :class:`OrchestratorStatistics`). It also
draws the orchestrator for a REPL (``repr``: the clock and the runs counted by state, on
one line) and for a notebook (``_repr_html_``: the same as a small table).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import final

import attrs

from .._core._models import FlowRun, TaskRun
from .._core._states import StateType
from .._core._summary import STATE_COLOURS, format_time, summary_html
from ._facet import Facet

__all__ = ["Inspection", "OrchestratorStatistics"]


@final
@attrs.frozen(kw_only=True)
class OrchestratorStatistics:
    """Counts describing an orchestrator at one moment.

    ``task_run_states`` and ``flow_run_states`` count the states held in the runs'
    histories (every run's, current states included): deleting a run frees its history.
    ``observers`` includes the orchestrator's own (future waiters, retention).
    """

    task_runs: int
    flow_runs: int
    task_runs_by_state: dict[StateType | None, int]
    decisions: int
    concurrency_limits: int
    cache_entries: int
    observers: int
    task_run_states: int
    flow_run_states: int


class Inspection(Facet):
    """Check an orchestrator's invariants and count what it holds."""

    __slots__ = ()

    def check_invariants(self) -> None:
        """Verify every index and cross-reference; raise AssertionError on the first problem.

        Checks the store's secondary indexes against its primary tables, the slot and
        cache tables, the queues, that every run's state is the last of its history, and
        that every slot holder is a task run that is RUNNING or CANCELLING (no leaks).
        """
        self._engine.check_invariants()

    def statistics(self) -> OrchestratorStatistics:
        """Return counts of runs (by state), their states, decisions, limits, cache, observers."""
        engine = self._engine
        with engine.lock:
            store = engine.store
            stored = store.statistics()
            by_state: dict[StateType | None, int] = {}
            for run in store.task_runs.values():
                by_state[run.state_type] = by_state.get(run.state_type, 0) + 1
            return OrchestratorStatistics(
                task_runs=len(store.task_runs),
                flow_runs=len(store.flow_runs),
                task_runs_by_state=by_state,
                decisions=len(engine.decisions),
                concurrency_limits=len(engine.slots.all()),
                cache_entries=engine.cache.statistics().entries,
                observers=len(engine.observers),
                task_run_states=stored.task_run_states,
                flow_run_states=stored.flow_run_states,
            )

    def _census(
        self,
    ) -> tuple[
        str, Counter[tuple[str, StateType | None]], int, Counter[tuple[str, StateType | None]], int
    ]:
        """The clock's line, and the task runs and flow runs counted by state name."""
        engine = self._engine
        with engine.lock:
            clock = engine.clock
            kind = "virtual clock" if clock.is_virtual else "system clock"
            line = f"{kind} {format_time(clock.now())}"
            tasks = _by_state(engine.store.task_runs.values())
            flows = _by_state(engine.store.flow_runs.values())
            return line, tasks, len(engine.store.task_runs), flows, len(engine.store.flow_runs)

    def __repr__(self) -> str:
        clock, tasks, task_count, flows, flow_count = self._census()
        return (
            f"<Orchestrator {clock}: {_counted(task_count, 'task run', tasks)}, "
            f"{_counted(flow_count, 'flow run', flows)}>"
        )

    def _repr_html_(self) -> str:
        clock, tasks, task_count, flows, flow_count = self._census()
        rows = [("clock", clock), ("task runs", str(task_count))]
        colours: list[str | None] = [None, None]
        for (name, state_type), count in sorted(tasks.items(), key=_order):
            rows.append((f"  {name}", str(count)))
            colours.append(None if state_type is None else STATE_COLOURS[state_type])
        rows.append(("flow runs", str(flow_count)))
        colours.append(None)
        for (name, state_type), count in sorted(flows.items(), key=_order):
            rows.append((f"  {name}", str(count)))
            colours.append(None if state_type is None else STATE_COLOURS[state_type])
        return summary_html("Orchestrator", rows, colours=colours)


def _by_state(runs: Iterable[TaskRun | FlowRun]) -> Counter[tuple[str, StateType | None]]:
    return Counter((run.state_name or "no state", run.state_type) for run in runs)


def _order(item: tuple[tuple[str, StateType | None], int]) -> tuple[int, str]:
    return (-item[1], item[0][0])


def _counted(total: int, noun: str, by_state: Counter[tuple[str, StateType | None]]) -> str:
    text = f"{total} {noun}{'' if total == 1 else 's'}"
    if by_state:
        text += (
            " ("
            + ", ".join(
                f"{count} {name}" for (name, _), count in sorted(by_state.items(), key=_order)
            )
            + ")"
        )
    return text

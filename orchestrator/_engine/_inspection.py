"""Checking and counting what an :class:`~orchestrator.Orchestrator` holds.

The :class:`Inspection` facet verifies the engine's indexes and cross-references
(``check_invariants``) and counts runs, states, decisions, limits, cache entries and
observers at one moment (``statistics``, an :class:`OrchestratorStatistics`).
"""

from __future__ import annotations

from typing import final

import attrs

from .._core._states import StateType
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

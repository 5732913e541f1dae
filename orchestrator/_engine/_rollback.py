"""Undoing a change of a run that raised part-way, so that every change is all or nothing.

A run is changed in place (its bookkeeping, its state) and then re-filed in the store's
indexes and history (see :mod:`orchestrator._store._store`). Should any step raise after
the first change, these functions put the run, its indexes and its history back exactly
as they were; the caller then raises. The engine's commit path uses
:func:`undo_commit`; the facets' ``update_*`` methods change fields through
:func:`change_run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from .._core._models import FlowRun, TaskRun
from .._core._states import State
from .._journal._records import RunImage
from .._store._store import Store

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["Counts", "change_run", "journal_change", "undo_commit"]

#: A run's bookkeeping that the store's snapshot does not hold: run count, total run
#: time and ``updated`` (taken inline on the hot path: ``run.run_count, ...``).
Counts = tuple[int, float, datetime]


def undo_commit(
    store: Store, run: TaskRun | FlowRun, before: object, counts: Counts, state: State
) -> None:
    """Give a run whose commit of ``state`` raised its history, indexes and bookkeeping back.

    ``before`` is the store's snapshot of the run taken before the commit changed it.
    """
    store.retract_state(run, state)
    store.restore_run(run, before)
    run.run_count, run.total_run_time, run.updated = counts


def change_run(
    store: Store, run: TaskRun | FlowRun, changes: Mapping[str, object], now: datetime
) -> None:
    """Set fields of ``run``, stamp ``updated`` with ``now`` and re-file it; all or nothing.

    The caller has checked the values, holds the engine's lock and tells the observers.
    """
    if isinstance(run, TaskRun):
        before = store.snapshot_task_run(run)
    else:
        before = store.snapshot_flow_run(run)
    saved = {name: getattr(run, name) for name in (*changes, "updated")}
    try:
        for name, value in changes.items():
            setattr(run, name, value)
        run.updated = now
        if isinstance(run, TaskRun):
            store.reindex_task_run(run, before)
        else:
            store.reindex_flow_run(run, before)
    except BaseException:
        store.restore_run(run, before)  # first: it reads how far the change got
        for name, value in saved.items():
            setattr(run, name, value)
        raise


def journal_change(engine: Engine, run: TaskRun | FlowRun, changes: Mapping[str, object]) -> None:
    """:func:`change_run` at the engine's time, journaled; all or nothing.

    When the journal refuses the change, the run gets its old values back and the
    journal's error is raised.
    """
    saved = {name: getattr(run, name) for name in changes}
    updated = run.updated
    change_run(engine.store, run, changes, engine.clock.now())
    if engine.journal is not None:
        try:
            engine.journal.append(RunImage(run))
        except BaseException:
            change_run(engine.store, run, saved, updated)
            raise

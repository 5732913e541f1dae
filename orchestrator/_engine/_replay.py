"""Applying journal records to a fresh engine's store, not through the policies.

Restore decodes every record in order and hands it to :func:`apply_record`, which
changes the store as the original change did: a run added, a run's fields and state
replaced by its image after a commit, a run or a past state removed. The indexes are
those the store's own adds and re-files build. Queues, slots and leases are not
replayed: recovery (``_engine/_restore.py``) rebuilds what a restored engine needs.
"""

from __future__ import annotations

from .._core._models import TaskRun
from .._journal._records import (
    Record,
    ResultDeleted,
    ResultWritten,
    RunImage,
    RunRemoved,
    StateCommitted,
    StateDeleted,
    TaskRunAdded,
    TaskRunImage,
)
from .._journal._writer import task_run_fields
from .._store._results import ResultStore
from .._store._store import Store

__all__ = ["apply_record"]


def _copy_into(live: TaskRun, image: TaskRun) -> None:
    """Give ``live`` every field of ``image`` (private ones too), keeping the object."""
    live.__setstate__(task_run_fields(image))  # type: ignore[attr-defined]


def apply_record(store: Store, results: ResultStore, record: Record) -> None:
    """Apply one decoded record to ``store`` and ``results`` (which tells no journal).

    Raises:
        ObjectNotFound, ObjectAlreadyExists: the record does not fit the store (the
            journal is inconsistent; restore reports it as corrupted).
    """
    if isinstance(record, StateCommitted):
        image = record.run
        live = store.get_task_run(image.id)
        if live is None:
            store.task_run_states(image.id)  # raises ObjectNotFound
            return
        before = store.snapshot_task_run(live)
        _copy_into(live, image)
        live.state = record.state
        store.reindex_task_run(live, before)
        store.append_task_run_state(live.id, record.state)
    elif isinstance(record, TaskRunAdded):
        store.add_task_run(record.run)
    elif isinstance(record, TaskRunImage):
        run = record.run
        run.state = record.states[-1] if record.states else None
        store.add_task_run(run)
        for state in record.states:
            store.append_task_run_state(run.id, state)
    elif isinstance(record, RunImage):
        image = record.run
        live = store.get_task_run(image.id)
        if live is None:
            store.task_run_states(image.id)  # raises ObjectNotFound
            return
        before = store.snapshot_task_run(live)
        current = live.state
        _copy_into(live, image)
        live.state = current
        store.reindex_task_run(live, before)
    elif isinstance(record, RunRemoved):
        if record.flow:
            store.remove_flow_run(record.run_id)
        else:
            store.remove_task_run(record.run_id)
    elif isinstance(record, ResultWritten):
        results.write(record.key, record.value)
    elif isinstance(record, ResultDeleted):
        results.delete(record.key, missing_ok=True)
    elif isinstance(record, StateDeleted):
        store.remove_run_state(record.state_id, flow=record.flow)
    else:  # pragma: no cover - the codec rebuilds only record classes
        raise TypeError(f"not a journal record: {record!r}")

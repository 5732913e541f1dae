"""Applying journal records to a fresh engine's tables, not through the policies.

Restore decodes every record in order and hands it to :class:`Replay`, which applies
task runs' commits and a snapshot's task runs in bulk and every other record with
:func:`apply_record`; together they change the engine's store, work-queue filing and
result store as the original change did: a flow or run added, a run's fields and state
replaced by its image after a commit, a run or a past state removed, a result written or
deleted. The indexes are
those the store's own adds and re-files build. Task queues, slots and leases are not
replayed: recovery (``_restore.py``) rebuilds what a restored engine needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core._models import FlowRun, TaskRun
from .._core._states import State
from .._journal._records import (
    DecisionMade,
    DeploymentImage,
    DeploymentRemoved,
    FlowAdded,
    MirroredDecisions,
    PlainDecision,
    PoolsImage,
    Record,
    ResultDeleted,
    ResultWritten,
    RunAdded,
    RunHistory,
    RunImage,
    RunRemoved,
    StateCommitted,
    StateDeleted,
    TableChanged,
    TaskKeyConfigured,
)
from .._journal._writer import run_fields
from ._decision_journal import apply_decision, apply_mirrored, apply_plain_decision
from ._object_journal import apply_deployment, apply_pools
from ._table_replay import apply_table_change

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["Replay", "apply_record"]


def _live(engine: Engine, image: TaskRun | FlowRun) -> TaskRun | FlowRun:
    store = engine.store
    live = (
        store.get_task_run(image.id) if isinstance(image, TaskRun) else store.get_flow_run(image.id)
    )
    if live is None:
        raise ValueError(f"the journal changes run {image.id}, which it never added")
    return live


def _copy_into(engine: Engine, image: TaskRun | FlowRun, state: object) -> TaskRun | FlowRun:
    """Give the stored run every field of ``image`` (private ones too) and re-file it.

    ``state`` is the run's state object afterwards: the committed one (the last of its
    history) rather than the image's own copy.
    """
    store = engine.store
    live = _live(engine, image)
    if isinstance(live, TaskRun):
        before = store.snapshot_task_run(live)
    else:
        before = store.snapshot_flow_run(live)
    live.__setstate__(run_fields(image))  # type: ignore[union-attr]
    live.state = state  # type: ignore[assignment]
    if isinstance(live, TaskRun):
        store.reindex_task_run(live, before)
    else:
        store.reindex_flow_run(live, before)
        engine.work_pools.file(live)
    return live


def _add(engine: Engine, run: TaskRun | FlowRun) -> None:
    if isinstance(run, TaskRun):
        engine.store.add_task_run(run)
    else:
        engine.store.add_flow_run(run)
        engine.work_pools.file(run)


def _append(engine: Engine, run: TaskRun | FlowRun, state: State) -> None:
    engine.store.append_restored_state(run.id, state, flow=run.__class__ is FlowRun)


def _set_bookkeeping(run: TaskRun | FlowRun, record: StateCommitted) -> None:
    """Give ``run`` the fields a commit left (:data:`COMMITTED_FIELDS`) and its state."""
    (
        run.run_count,
        parent_count,
        run.total_run_time,
        run.updated,
        run.expected_start_time,
        run.next_scheduled_start_time,
        run.start_time,
        run.end_time,
    ) = record.values
    if parent_count is not None:  # a flow run has none
        run.flow_run_run_count = parent_count  # type: ignore[union-attr]
    run.state = record.state


def _commit_flow(engine: Engine, record: StateCommitted) -> FlowRun:
    """Set a flow run's bookkeeping, state and policy as a commit left them, append the
    state and re-file the run in its work queue; return the run. (A task run's commits
    are :class:`Replay`'s, re-filed once per run.)"""
    store = engine.store
    flow_run = store.get_flow_run(record.run_id)
    if flow_run is None:
        raise ValueError(f"the journal commits to run {record.run_id}, never added")
    before = store.snapshot_flow_run(flow_run)
    _set_bookkeeping(flow_run, record)
    if record.policy is not None:
        flow_run.empirical_policy = record.policy
    store.reindex_flow_run(flow_run, before)
    store.append_restored_state(flow_run.id, record.state, flow=True)
    engine.work_pools.file(flow_run)
    return flow_run


def _delete_state(engine: Engine, record: StateDeleted) -> None:
    """Take a past state out of its run's history, keeping the decision log right."""
    store = engine.store
    flow = record.flow
    run_id = store.state_run_id(record.state_id, flow=flow)
    run = None
    if run_id is not None:
        run = store.get_flow_run(run_id) if flow else store.get_task_run(run_id)
    if run is None:
        raise ValueError(f"the journal deletes state {record.state_id}, which no run has")
    history = store.flow_run_states(run.id) if flow else store.task_run_states(run.id)
    index = next(i for i, state in enumerate(history) if state.id == record.state_id)
    engine.decisions.before_state_deleted(run, history, index)
    store.remove_run_state(record.state_id, flow=flow)


def apply_record(engine: Engine, record: Record) -> None:
    """Apply one decoded record to ``engine``'s tables (telling no journal or observer);
    a task run's commit and a snapshot's task run go through :class:`Replay` instead.

    Raises:
        ValueError, ObjectNotFound, ObjectAlreadyExists: the record does not fit (the
            journal is inconsistent; restore reports it as corrupted).
    """
    store = engine.store
    if record.__class__ is StateCommitted:
        if not record.flow:
            raise TypeError("a task run's commit is replayed by Replay")  # pragma: no cover
        committed = _commit_flow(engine, record)
        if record.plain:  # the plain decision folded into it
            engine.decisions.restore_plain(committed, record.state, forced=record.plain == 2)
    elif isinstance(record, RunImage):
        _copy_into(engine, record.run, _live(engine, record.run).state)
    elif isinstance(record, RunAdded):
        _add(engine, record.run)
    elif isinstance(record, RunHistory):
        run = record.run
        run.state = record.states[-1] if record.states else None
        _add(engine, run)
        for state in record.states:
            _append(engine, run, state)
    elif isinstance(record, ResultWritten):
        engine.results.write(record.key, record.value)
    elif isinstance(record, ResultDeleted):
        engine.results.delete(record.key, missing_ok=True)
    elif isinstance(record, RunRemoved):
        if record.flow:
            flow_run = store.get_flow_run(record.run_id)
            if flow_run is not None:
                engine.work_pools.unfile(flow_run)
            store.remove_flow_run(record.run_id)
        else:
            store.remove_task_run(record.run_id)
        engine.decisions.forget(record.run_id)
    elif isinstance(record, StateDeleted):
        _delete_state(engine, record)
    elif isinstance(record, PlainDecision):
        apply_plain_decision(engine, record)
    elif isinstance(record, MirroredDecisions):
        apply_mirrored(engine, record)
    elif isinstance(record, DecisionMade):
        apply_decision(engine, record)
    elif isinstance(record, TaskKeyConfigured):
        engine.queues.configure_task_key(
            record.task_key, scheduled_size=record.scheduled_size, retry_size=record.retry_size
        )
    elif isinstance(record, PoolsImage):
        apply_pools(engine, record)
    elif isinstance(record, DeploymentImage | DeploymentRemoved):
        apply_deployment(engine, record)
    elif isinstance(record, TableChanged):
        apply_table_change(engine, record)
    elif isinstance(record, FlowAdded):
        store.add_flow(record.flow)
    else:  # pragma: no cover - the codec rebuilds only record classes
        raise TypeError(f"not a journal record: {record!r}")


class Replay:
    """Applies a journal's records in order, in bulk where the order allows.

    A snapshot's consecutive task runs go into the store together
    (:meth:`~orchestrator._store._store.Store.restore_task_runs`), and the commits to a
    task run are re-filed in the store's indexes once, not once each: the run is noted
    with its fields before the first, and re-filed before any other kind of record is
    applied (that one may read the indexes) or at :meth:`finish`.
    """

    __slots__ = ("_engine", "_histories", "_unfiled")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._histories: list[tuple[TaskRun, list[State]]] = []
        self._unfiled: dict[object, tuple[TaskRun, Any]] = {}

    def apply(self, record: Record) -> None:
        """Apply one record (see :func:`apply_record` for what it raises)."""
        cls = record.__class__
        if cls is StateCommitted and not record.flow:  # type: ignore[union-attr]
            self._flush_histories()
            self._commit_task(record)  # type: ignore[arg-type]
            return
        if cls is RunHistory and record.run.__class__ is TaskRun:  # type: ignore[union-attr]
            self._file()
            run: TaskRun = record.run  # type: ignore[union-attr]
            states = list(record.states)  # type: ignore[union-attr]
            run.state = states[-1] if states else None
            self._histories.append((run, states))
            return
        self._flush_histories()
        if cls is not RunAdded:  # an addition reads no index another run is in
            self._file()
        apply_record(self._engine, record)

    def finish(self) -> None:
        """Apply what is held back."""
        self._flush_histories()
        self._file()

    def _commit_task(self, record: StateCommitted) -> None:
        store = self._engine.store
        run = store.get_task_run(record.run_id)
        if run is None:
            raise ValueError(f"the journal commits to run {record.run_id}, never added")
        unfiled = self._unfiled
        if run.id not in unfiled:
            unfiled[run.id] = (run, store.snapshot_task_run(run))
        _set_bookkeeping(run, record)
        store.append_restored_state(run.id, record.state, flow=False)
        if record.plain:  # the plain decision folded into it
            self._engine.decisions.restore_plain(run, record.state, forced=record.plain == 2)

    def _file(self) -> None:
        if self._unfiled:
            store = self._engine.store
            for run, before in self._unfiled.values():
                store.reindex_task_run(run, before)
            self._unfiled.clear()

    def _flush_histories(self) -> None:
        if self._histories:
            self._engine.store.restore_task_runs(self._histories)
            self._histories = []

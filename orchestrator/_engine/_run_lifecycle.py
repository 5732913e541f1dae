"""Inserting and removing an engine's runs, all or nothing.

A new run is added to the store and its first state committed with force through
:meth:`Engine.propose <orchestrator._engine._engine.Engine.propose>`; when that fails,
the run is removed again. Removing a run takes its states, slots, decisions, logs,
queue entry and stored parameters with it (a flow run: its task runs too), and tells
the observers. :class:`~orchestrator._engine._engine.Engine` has these functions as its
methods ``insert_task_run``, ``insert_flow_run``, ``remove_task_run`` and
``remove_flow_run``: ``engine`` is the engine they are called on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._core._models import FlowRun, TaskRun
from .._core._state_record import held_id
from .._core._states import State
from .._journal._records import RunAdded, RunRemoved
from .._store._results import parameters_key
from ..filters import TaskRunFilter

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["insert_flow_run", "insert_task_run", "remove_flow_run", "remove_task_run"]


def insert_task_run(engine: Engine, run: TaskRun, initial: State) -> None:
    """Add ``run`` and commit ``initial`` with force, at ``run.created``; all or nothing.

    When a rule or the commit raises, the run is removed again and the error raised.
    """
    if held_id(initial) is not None:  # a client's id (the check of None is a no-op)
        engine.store.check_state_id(initial)
    engine.store.add_task_run(run)
    _journal_addition(engine, run, engine.store.remove_task_run)
    if engine.observers:  # no closure or call to tell nobody (every creation)
        engine.notify(lambda o: o.task_run_created(run))
    policy = engine.choose_task_policy(initial, True)
    try:
        engine.propose(
            run, initial, force=True, policy=policy, raise_commit_error=True, now=run.created
        )
    except BaseException:
        engine.remove_task_run(run)
        raise


def _journal_addition(
    engine: Engine, run: TaskRun | FlowRun, remove: Callable[[uuid.UUID], object]
) -> None:
    """Journal the addition of ``run``; if that fails, ``remove`` it again and raise."""
    if engine.journal is not None:
        try:
            engine.journal.append(RunAdded(run))
        except BaseException:
            remove(run.id)
            raise


def insert_flow_run(engine: Engine, run: FlowRun, initial: State) -> None:
    """Add ``run`` and commit ``initial`` through the minimal flow policy; all or nothing."""
    engine.store.check_state_id(initial)
    engine.store.add_flow_run(run)
    _journal_addition(engine, run, engine.store.remove_flow_run)
    engine.notify(lambda o: o.flow_run_created(run))
    policy = engine.policies.minimal_flow
    try:
        engine.propose(run, initial, force=True, policy=policy, raise_commit_error=True)
    except BaseException:
        engine.remove_flow_run(run)
        raise


def remove_task_run(engine: Engine, run: TaskRun) -> None:
    """Delete a task run with its states, slots, decisions and queue entry.

    The queue entry goes too, so its key's room comes back at once (and a submitter
    waiting for room wakes); so do the parameters stored for a submitted run.

    Only the store's removal and the journal's append can fail, and they change nothing
    when they do.
    """
    if engine.journal is not None:
        if run.id not in engine.store.task_runs:
            engine.store.remove_task_run(run.id)  # raises ObjectNotFound
        engine.journal.append(RunRemoved(run.id, flow=False))
    engine.store.remove_task_run(run.id)
    engine.slots.release(run.id, run.tags)
    engine.slots.forget_waiter(run.id)
    engine.decisions.forget(run.id)
    engine.run_logs.forget(run.id)
    engine.queues.discard(run.id)
    parameters_id = None if run.state is None else run.state.details.task_parameters_id
    if parameters_id is not None:
        engine.results.delete(parameters_key(parameters_id), missing_ok=True)
    engine.notify(lambda o: o.task_run_deleted(run))


def remove_flow_run(engine: Engine, run: FlowRun) -> None:
    """Delete a flow run with its states, decisions and task runs.

    Each run's removal is all or nothing. Should one fail, the orchestrator stays
    consistent: the task runs removed before it are gone, the rest and the flow run
    (filed in its work queue as before) remain, and calling this again finishes the job.
    """
    children = engine.store.query_task_runs(task_runs=TaskRunFilter(flow_run_id=[run.id]))
    for child in children:
        engine.remove_task_run(child)
    if engine.journal is not None:
        if run.id not in engine.store.flow_runs:
            engine.store.remove_flow_run(run.id)  # raises ObjectNotFound
        engine.journal.append(RunRemoved(run.id, flow=True))
    filing = engine.work_pools.unfile(run)
    try:
        engine.store.remove_flow_run(run.id)
    except BaseException:
        engine.work_pools.restore(run, filing)
        raise
    engine.decisions.forget(run.id)
    engine.run_logs.forget(run.id)
    engine.deployment_slots.release_all(run.id)
    engine.deployment_slots.forget_waiter(run.id)
    engine.notify(lambda o: o.flow_run_deleted(run))

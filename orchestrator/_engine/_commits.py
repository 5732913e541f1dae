"""The commit step of a transition: the validated state goes into its run and the store.

:func:`commit_task` and :func:`commit_flow` are what the engine hands
:func:`~orchestrator._rules._context.run_transition` as its commit: stamp the state,
do the bookkeeping, reindex the run, append the state to its history and tell the
observers, all undone when a step raises. A flow run's commit also files the run in its
work queue, frees its deployment slot and mirrors a subflow's state onto its parent
task run. They run under the engine's lock and use only its public fields.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import attrs

from .._core._models import FlowRun, TaskRun
from .._core._states import TERMINAL_TYPES, State, StateType
from .._rules._bookkeeping import apply_bookkeeping
from .._rules._context import TransitionContext
from ._end_logging import engine_logger, log_end_state
from ._rollback import undo_commit
from ._stamping import stamp

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["commit_flow", "commit_task"]

_logger = logging.getLogger("orchestrator")
_SCHEDULED: Final = StateType.SCHEDULED
_PENDING: Final = StateType.PENDING
_RUNNING: Final = StateType.RUNNING


def commit_task(engine: Engine, ctx: TransitionContext) -> State:
    """Write the validated state into a task run: stamp it, do the bookkeeping, reindex,
    append it to the history, tell the observers; undo it all if a step raises."""
    run = ctx.run
    assert isinstance(run, TaskRun)
    state = stamp(run, ctx, engine.new_id_int, engine.store)
    store = engine.store
    before = store.snapshot_task_run(run)
    counts = run.run_count, run.total_run_time, run.updated
    try:
        apply_bookkeeping(run, ctx.initial, state)
        run.updated = ctx.now
        store.reindex_task_run(run, before)
        store.append_task_run_state(run.id, state)
        if engine.journal is not None:  # before the observers; a failure undoes it all
            engine.journal.append_commit(run, state)
    except BaseException:
        undo_commit(store, run, before, counts, state)
        raise
    engine.slots.forget_waiter(run.id)
    if engine.observers:
        engine.notify(lambda o: o.task_run_state_committed(run, state))
    if state.type in TERMINAL_TYPES and engine_logger.isEnabledFor(logging.INFO):
        log_end_state("task run", run, state)
    return state


def commit_flow(engine: Engine, ctx: TransitionContext) -> State:
    """Write the validated state into a flow run as :func:`commit_task` does, and also file
    the run in its work queue, settle its deployment slot and mirror a subflow's state
    onto its parent task run."""
    run = ctx.run
    assert isinstance(run, FlowRun)
    state = stamp(run, ctx, engine.new_id_int, engine.store)
    store = engine.store
    before = store.snapshot_flow_run(run)
    policy = run.empirical_policy
    counts = run.run_count, run.total_run_time, run.updated
    try:
        apply_bookkeeping(run, ctx.initial, state, count_runs=not policy.resuming)
        run.updated = ctx.now
        store.reindex_flow_run(run, before)
        store.append_flow_run_state(run.id, state)
        if policy.resuming and (state.type is _RUNNING or state.type in TERMINAL_TYPES):
            run.empirical_policy = attrs.evolve(policy, resuming=False)
        engine.work_pools.file(run)
        if engine.journal is not None:  # before the observers; a failure undoes it all
            engine.journal.append_commit(run, state)
    except BaseException:
        run.empirical_policy = policy
        undo_commit(store, run, before, counts, state)
        engine.work_pools.file(run)  # back where the restored state puts it
        raise
    _settle_deployment_slot(engine, run, state)
    engine.notify(lambda o: o.flow_run_state_committed(run, state))
    if state.type in TERMINAL_TYPES and engine_logger.isEnabledFor(logging.INFO):
        log_end_state("flow run", run, state)
    if run.parent_task_run_id is not None:
        _mirror_onto_parent(engine, run, state)
    return state


def _settle_deployment_slot(engine: Engine, run: FlowRun, state: State) -> None:
    """Free the run's deployment slot once it leaves PENDING and RUNNING.

    Only a SCHEDULED run keeps its place in the deployment's line of waiting runs.
    Neither step can fail.
    """
    if run.deployment_id is None:
        return
    kind = state.type
    if kind is not _SCHEDULED:
        engine.deployment_slots.forget_waiter(run.id)
    if kind is not _PENDING and kind is not _RUNNING:
        engine.deployment_slots.release_all(run.id)


def _mirror_onto_parent(engine: Engine, run: FlowRun, state: State) -> None:
    """Force a copy of a subflow's new state onto its parent task run.

    Runs inside the commit: it must not raise, or the committed state would be
    reported as refused. A failure to update the parent task run is logged.
    """
    parent_id = run.parent_task_run_id
    assert parent_id is not None
    parent = engine.store.get_task_run(parent_id)
    if parent is None:
        return
    mirror = state.copy(details=state.details.replace(child_flow_run_id=run.id))
    try:
        engine.propose(parent, mirror, force=True, policy=engine.policies.minimal_task)
    except Exception:
        _logger.exception(
            "could not copy the state of subflow run %s onto its parent task run %s",
            run.id,
            parent_id,
        )

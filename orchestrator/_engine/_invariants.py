"""The engine's cross-table invariants, checked on demand (tests, ``check_invariants()``).

Each table checks itself (its indexes against its primary data); this adds what no table
can see alone: every run's state is the last of its history, and every slot holder is an
existing task run that is RUNNING or CANCELLING (no leaked slot).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Final

from .._core._states import StateType

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["check_deployment_slots", "check_engine"]

_HOLDING: Final = (StateType.RUNNING, StateType.CANCELLING)
_DEPLOYMENT_HOLDING: Final = (StateType.PENDING, StateType.RUNNING)


def check_engine(engine: Engine) -> None:
    """Verify every table and the cross-references; raise AssertionError on the first problem.

    The caller holds the engine's lock.
    """
    store, slots = engine.store, engine.slots
    store.check_invariants()
    slots.check_invariants()
    engine.cache.check_invariants()
    if engine.retention.active:
        engine.retention.check_invariants()
    engine.queues.check_invariants()
    check_deployment_slots(engine)
    engine.work_pools.check_invariants(store.flow_runs.values())
    for run in store.task_runs.values():
        states = store.task_run_states(run.id)
        if (states[-1] if states else None) is not run.state:
            raise AssertionError(f"task run {run.id}: current state is not the last of its history")
    for limit in slots.all():
        for holder in limit.active_slots:
            holder_run = store.get_task_run(holder)
            if holder_run is None:
                raise AssertionError(f"tag {limit.tag!r} holds a slot for deleted run {holder}")
            if holder_run.state_type not in _HOLDING:
                raise AssertionError(
                    f"tag {limit.tag!r}: slot held by run {holder} in {holder_run.state_type}"
                )


def check_deployment_slots(engine: Engine) -> None:
    """Every deployment slot is held by a PENDING or RUNNING run of that deployment.

    And every limit belongs to an existing deployment with that limit, and every waiting
    run is a SCHEDULED run of its deployment.
    """
    store, table = engine.store, engine.deployment_slots
    table.check_invariants()
    for limit in table.all():
        deployment = store.deployments.get(uuid.UUID(limit.tag))
        if deployment is None or deployment.concurrency_limit != limit.concurrency_limit:
            raise AssertionError(f"deployment slots {limit.tag}: no deployment with this limit")
        for holder in limit.active_slots:
            run = store.get_flow_run(holder)
            if run is None or str(run.deployment_id) != limit.tag:
                raise AssertionError(f"deployment {limit.tag}: slot held by {holder}, not its run")
            if run.state_type not in _DEPLOYMENT_HOLDING:
                raise AssertionError(
                    f"deployment {limit.tag}: slot held by run {holder} in {run.state_type}"
                )
        for waiter in table.waiters(limit.tag):
            run = store.get_flow_run(waiter)
            if run is None or run.state_type is not StateType.SCHEDULED:
                raise AssertionError(f"deployment {limit.tag}: {waiter} waits but is not scheduled")

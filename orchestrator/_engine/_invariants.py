"""The engine's cross-table invariants, checked on demand (tests, ``check_invariants()``).

Each table checks itself (its indexes against its primary data); this adds what no table
can see alone: every run's state is the last of its history, and every slot holder is an
existing task run that is RUNNING or CANCELLING (no leaked slot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._core._states import StateType

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["check_engine"]

_HOLDING: Final = (StateType.RUNNING, StateType.CANCELLING)


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

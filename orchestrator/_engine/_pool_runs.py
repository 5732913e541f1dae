"""Resolve a work-pool filter of a flow-run query to the ids of the runs it keeps.

As in the reference (a flow run joined to its queue, the queue to its pool), a run
matches when it is filed in a queue, that queue exists in the run's pool, and the pool
satisfies the filter. Pools and queues are few: each pool is tested, then the runs of
its queues come from the flow-run table's queue index, O(p + q + k) for p pools, q
queues and k runs in them.
"""

from __future__ import annotations

import uuid

from .._core._checks_objects import check_instance
from ..filters import WorkPoolFilter
from ._engine import Engine

__all__ = ["runs_in_pools"]


def runs_in_pools(engine: Engine, work_pools: WorkPoolFilter | None) -> frozenset[uuid.UUID] | None:
    """Return the ids of the flow runs in a pool ``work_pools`` keeps (None for no filter).

    Raises:
        InvalidArgument: ``work_pools`` is not a WorkPoolFilter.
    """
    if work_pools is None:
        return None
    check_instance(work_pools, WorkPoolFilter, "work_pools")
    table = engine.work_pools
    ids: set[uuid.UUID] = set()
    for name, pool in table.pools.items():
        if not work_pools.matches(pool):
            continue
        for queue in table.queues[name]:
            ids.update(
                run.id
                for run in engine.store.flow_runs_in_queue(queue)
                if run.work_pool_name == name
            )
    return frozenset(ids)

"""Finding a work pool's queues by name, refusing what does not exist.

:class:`PoolLookups` is the base of :class:`~orchestrator._pools._work_pools.WorkPoolTable`
that reads only its ``pools`` and ``queues``: a pool or queue by name (an
:class:`~orchestrator.ObjectNotFound` naming what there is when one is missing), the queue
a run goes to, and a pool's queues in the order a worker polls them.
"""

from __future__ import annotations

from collections.abc import Collection

from .._core._errors import ObjectNotFound
from .._core._models import WorkPool, WorkQueue

__all__ = ["PoolLookups"]


class PoolLookups:
    """Lookups of pools and queues by name (a base of ``WorkPoolTable``)."""

    __slots__ = ()

    pools: dict[str, WorkPool]
    queues: dict[str, dict[str, WorkQueue]]

    def pool(self, name: str) -> WorkPool:
        """The pool named ``name``; :class:`ObjectNotFound` naming the pools there are."""
        pool = self.pools.get(name)
        if pool is None:
            known = ", ".join(repr(n) for n in self.pools) or "none"
            raise ObjectNotFound("work pool", repr(name), f"create it first (pools: {known})")
        return pool

    def queue(self, pool_name: str, name: str) -> WorkQueue:
        """The queue ``name`` of pool ``pool_name``; :class:`ObjectNotFound` if one is missing."""
        self.pool(pool_name)
        queue = self.queues[pool_name].get(name)
        if queue is None:
            raise ObjectNotFound(
                "work queue", repr(name), f"work pool {pool_name!r} has no queue by that name"
            )
        return queue

    def run_queue(self, pool_name: str, queue_name: str | None) -> str:
        """The queue a run of ``pool_name`` goes to (the default one for None); both must exist."""
        if pool_name not in self.pools:
            known = ", ".join(repr(n) for n in self.pools) or "none"
            raise ObjectNotFound("work pool", repr(pool_name), f"create it first (pools: {known})")
        queue = self.pools[pool_name].default_queue_name if queue_name is None else queue_name
        if queue not in self.queues[pool_name]:
            raise ObjectNotFound(
                "work queue", repr(queue), f"work pool {pool_name!r} has no queue by that name"
            )
        return queue

    def polled_queues(
        self, pool_name: str, names: Collection[str] | None
    ) -> tuple[WorkPool, list[WorkQueue]]:
        """The pool and, best first, the queues a worker polls (every queue for None)."""
        pool = self.pool(pool_name)
        if names is not None:
            for name in names:
                self.queue(pool_name, name)
        return pool, self.ordered_queues(pool_name, names)

    def ordered_queues(self, pool: str, names: Collection[str] | None = None) -> list[WorkQueue]:
        """Return a pool's queues (those in ``names``, if given) by priority, then age."""
        queues = self.queues.get(pool, {})
        chosen = queues.values() if names is None else [q for n, q in queues.items() if n in names]
        return sorted(chosen, key=lambda queue: queue.priority)

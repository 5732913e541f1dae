"""Work queues of the :class:`~orchestrator.Orchestrator`: create, read, update, delete.

A queue belongs to one work pool. Workers take the runs of a pool's queues in priority
order (a lower number first); a queue may cap how many of its runs are PENDING or
RUNNING at once, and a paused queue hands out nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .._core._checks import (
    UNSET,
    Unset,
    check_bool,
    check_name,
    check_names,
    check_optional_count,
    check_text,
)
from .._core._errors import InvalidArgument, ObjectAlreadyExists
from .._core._models import WorkQueue
from .._journal._records import RunImage
from .._pools._pool_checks import check_priority, first_free_priority, give_priority
from ._facet import Facet
from ._object_journal import journal_deployment, journal_pools
from ._pools import add_queue

__all__ = ["WorkQueues"]


class WorkQueues(Facet):
    """Create / read / update / delete the queues of work pools."""

    __slots__ = ()

    # -- work queues ------------------------------------------------------------------------
    def create_work_queue(
        self,
        work_pool_name: str,
        name: str,
        *,
        priority: int | None = None,
        concurrency_limit: int | None = None,
        is_paused: bool = False,
    ) -> WorkQueue:
        """Create a queue in a pool.

        Args:
            work_pool_name: the pool.
            name: unique within the pool.
            priority: >= 1, a lower number is served first; when None the first gap in
                the pool's priorities, or one more than the highest. Priorities stay
                unique within a pool: a queue holding this priority moves down by one
                (and so on down the line), as in Prefect.
            concurrency_limit: the most runs of the queue PENDING or RUNNING at once.
            is_paused: a paused queue hands out no runs.

        Raises:
            ObjectNotFound: no such pool.
            ObjectAlreadyExists: the pool has a queue with this name.
            InvalidArgument: a bad name, priority or limit.
        """
        check_text(work_pool_name, "work_pool_name")
        check_name(name, "a work queue name")
        if priority is not None:
            check_priority(priority)
        check_optional_count(concurrency_limit, "concurrency_limit")
        check_bool(is_paused, "is_paused")
        with self._engine.lock:
            pool = self._engine.work_pools.pool(work_pool_name)
            queues = self._engine.work_pools.queues[work_pool_name]
            if name in queues:
                raise ObjectAlreadyExists(
                    f"work pool {work_pool_name!r} already has a queue named {name!r}"
                )
            if priority is None:
                priority = first_free_priority(q.priority for q in queues.values())
            queue = add_queue(self._engine, pool, name, priority, concurrency_limit, is_paused)
            give_priority(queues.values(), queue, priority, queue.created)
            journal_pools(self._engine)
            self._engine.work_pools.notify(work_pool_name)
            return queue

    def read_work_queue(self, work_pool_name: str, name: str) -> WorkQueue:
        """Return a pool's queue (the live record: treat it as read-only).

        Raises:
            ObjectNotFound: no such pool or queue.
        """
        check_text(work_pool_name, "work_pool_name")
        check_text(name, "name")
        with self._engine.lock:
            return self._engine.work_pools.queue(work_pool_name, name)

    def read_work_queues(
        self, work_pool_name: str, *, names: Iterable[str] | None = None
    ) -> list[WorkQueue]:
        """Return a pool's queues (those in ``names``, if given) by priority, then age.

        Raises:
            ObjectNotFound: no such pool.
        """
        check_text(work_pool_name, "work_pool_name")
        wanted = check_names(names, "names", item="a work queue name")
        with self._engine.lock:
            self._engine.work_pools.pool(work_pool_name)
            return self._engine.work_pools.ordered_queues(work_pool_name, wanted)

    def update_work_queue(
        self,
        work_pool_name: str,
        work_queue_name: str,
        /,
        *,
        name: str | Unset = UNSET,
        priority: int | Unset = UNSET,
        concurrency_limit: int | Unset | None = UNSET,
        is_paused: bool | Unset = UNSET,
    ) -> WorkQueue:
        """Change a queue's name, priority, limit or pause; fields left UNSET stay as they are.

        A priority another queue of the pool holds moves that queue down by one (and so
        on down the line), as in :meth:`create_work_queue`.

        A new ``name`` re-keys the queue as Prefect does (its runs and deployments refer
        to the queue itself there): every flow run filed under it, whatever its state,
        and every deployment pointing at it move to the new name, and a renamed default
        queue stays the pool's default (runs created without a queue name go there).

        Raises:
            ObjectNotFound: no such pool or queue.
            ObjectAlreadyExists: another queue of the pool has the new name.
            InvalidArgument: a bad value (nothing is changed).
        """
        check_text(work_pool_name, "work_pool_name")
        check_text(work_queue_name, "work_queue_name")
        if not isinstance(name, Unset):
            check_name(name, "name")
        if priority is not UNSET:
            check_priority(priority)
        if concurrency_limit is not UNSET:
            check_optional_count(concurrency_limit, "concurrency_limit")
        if not isinstance(is_paused, Unset):
            check_bool(is_paused, "is_paused")
        with self._engine.lock:
            pools = self._engine.work_pools
            queue = pools.queue(work_pool_name, work_queue_name)
            renamed = not isinstance(name, Unset) and name != work_queue_name
            if renamed and name in pools.queues[work_pool_name]:
                raise ObjectAlreadyExists(
                    f"work pool {work_pool_name!r} already has a queue named {name!r}; "
                    "pass a name no other queue of the pool uses"
                )
            now = self._engine.clock.now()
            # Every check is done: nothing below can fail, so the update is all or nothing.
            if renamed:
                assert isinstance(name, str)
                self._rename(work_pool_name, work_queue_name, name, now)
            if not isinstance(priority, Unset):
                queues = pools.queues[work_pool_name].values()
                give_priority(queues, queue, priority, now)
            if not isinstance(concurrency_limit, Unset):
                queue.concurrency_limit = concurrency_limit
            if not isinstance(is_paused, Unset):
                queue.is_paused = is_paused
            queue.updated = now
            journal_pools(self._engine)
            pools.notify(work_pool_name)
            return queue

    def delete_work_queue(self, work_pool_name: str, name: str) -> None:
        """Delete a queue.

        Raises:
            ObjectNotFound: no such pool or queue.
            InvalidArgument: it is the pool's default queue (see
                ``WorkPool.default_queue_name``), or deployments or
                waiting or running flow runs still use it.
        """
        check_text(work_pool_name, "work_pool_name")
        check_text(name, "name")
        with self._engine.lock:
            self._engine.work_pools.queue(work_pool_name, name)
            if name == self._engine.work_pools.pool(work_pool_name).default_queue_name:
                raise InvalidArgument(
                    f"{name!r} is the default queue of work pool {work_pool_name!r} and "
                    "cannot be deleted; delete the pool instead"
                )
            users = [
                d.name
                for d in self._engine.store.deployments.values()
                if d.work_pool_name == work_pool_name and d.work_queue_name == name
            ]
            if users:
                raise InvalidArgument(
                    f"work queue {name!r} is used by deployments {sorted(users)}; move them "
                    "to another queue first"
                )
            self._engine.work_pools.refuse_busy_queue(work_pool_name, name, "work queue")
            del self._engine.work_pools.queues[work_pool_name][name]
            journal_pools(self._engine)

    def _rename(self, pool: str, old: str, new: str, now: datetime) -> None:
        """Re-key queue ``old`` of ``pool`` as ``new`` with its runs and deployments."""
        store = self._engine.store
        runs = [run for run in store.flow_runs_in_queue(old) if run.work_pool_name == pool]
        before = [store.snapshot_flow_run(run) for run in runs]
        self._engine.work_pools.rename_queue(pool, old, new, runs)
        for run, snapshot in zip(runs, before, strict=True):
            store.reindex_flow_run(run, snapshot)
        for deployment in store.deployments.values():
            if deployment.work_pool_name == pool and deployment.work_queue_name == old:
                deployment.work_queue_name = new
                deployment.updated = now
                journal_deployment(self._engine, deployment)
        journal = self._engine.journal
        if journal is not None:
            for run in runs:
                journal.append(RunImage(run))

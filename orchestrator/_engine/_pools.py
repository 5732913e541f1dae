"""Work pools and work queues of the :class:`~orchestrator.Orchestrator`, and what workers poll.

A work pool groups the flow runs a kind of worker executes (``type``, "process" for
the :class:`~orchestrator.ProcessWorker`) and holds the *base job template* those
workers render per run. Its queues order the work: a lower ``priority`` number is
served first, and each queue and the pool may cap how many of their runs are PENDING
or RUNNING at once. Every pool is created with a queue named "default", its default queue
(``WorkPool.default_queue_name``, which follows the queue when it is renamed).

:meth:`WorkPools.get_scheduled_flow_runs` is what a worker asks for work: the due
SCHEDULED runs of a pool's unpaused queues, best first, within every limit. Workers
wait on :meth:`WorkPools.work_pool_signal` between polls instead of polling on a
timer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .._core._checks import (
    UNSET,
    Unset,
    check_bool,
    check_name,
    check_names,
    check_optional_count,
    check_optional_text,
    check_text,
)
from .._core._checks_objects import check_optional_datetime
from .._core._errors import InvalidArgument, ObjectAlreadyExists
from .._core._models import FlowRun, WorkPool, WorkQueue
from .._core._wakeup import Signal
from .._pools._pool_checks import (
    check_base_job_template,
    default_base_job_template,
)
from .._pools._work_pools import DEFAULT_QUEUE_NAME, WorkPoolTable
from ._engine import Engine
from ._facet import Facet
from ._object_journal import journal_pools

__all__ = ["WorkPools", "add_queue"]


class WorkPools(Facet):
    """Create / read / update / delete work pools and queues; hand due runs to workers."""

    __slots__ = ()

    _work_pools: WorkPoolTable

    # -- work pools -------------------------------------------------------------------------
    def create_work_pool(
        self,
        name: str,
        *,
        type: str = "process",
        base_job_template: Mapping[str, Any] | None = None,
        concurrency_limit: int | None = None,
        is_paused: bool = False,
    ) -> WorkPool:
        """Create a work pool, with its "default" queue.

        Args:
            name: unique among pools; no ``/`` or ``%``.
            type: the kind of worker that serves it ("process" for the ProcessWorker).
            base_job_template: ``{"job_configuration": {...}, "variables": {...}}``; the
                type's default when None (the process worker's for "process").
            concurrency_limit: the most runs of the pool PENDING or RUNNING at once
                (None: no limit).
            is_paused: a paused pool hands out no runs.

        Raises:
            InvalidArgument: a bad name, type or limit.
            TemplateError: the template is not a mapping with ``job_configuration`` and
                ``variables`` mappings, or does not render for a "process" pool.
            ObjectAlreadyExists: a pool with this name exists.
        """
        check_name(name, "a work pool name")
        check_name(type, "a work pool type")
        check_optional_count(concurrency_limit, "concurrency_limit")
        check_bool(is_paused, "is_paused")
        template = (
            default_base_job_template(type)
            if base_job_template is None
            else check_base_job_template(base_job_template, type)
        )
        with self._engine.lock:
            table = self._engine.work_pools
            if name in table.pools:
                raise ObjectAlreadyExists(
                    f"a work pool named {name!r} already exists; use update_work_pool() to "
                    "change it"
                )
            now = self._engine.clock.now()
            pool = WorkPool(
                id=self._engine.new_id(),
                name=name,
                type=type,
                base_job_template=template,
                concurrency_limit=concurrency_limit,
                is_paused=is_paused,
                created=now,
                updated=now,
            )
            table.pools[name] = pool
            table.queues[name] = {}
            add_queue(self._engine, pool, DEFAULT_QUEUE_NAME, 1, None, False)
            journal_pools(self._engine)
            return pool

    def read_work_pool(self, name: str) -> WorkPool:
        """Return the work pool named ``name`` (the live record: treat it as read-only).

        Raises:
            ObjectNotFound: no such pool.
        """
        check_text(name, "name")
        with self._engine.lock:
            return self._engine.work_pools.pool(name)

    def read_work_pools(
        self,
        *,
        names: Iterable[str] | None = None,
        type: str | None = None,
        is_paused: bool | None = None,
    ) -> list[WorkPool]:
        """Return the pools matching every given criterion, in creation order.

        Raises:
            InvalidArgument: ``names`` is not a list of names, ``type`` not None or a
                string, or ``is_paused`` not None, True or False.
        """
        wanted = check_names(names, "names", item="a work pool name")
        check_optional_text(type, "type")
        if is_paused is not None:
            check_bool(is_paused, "is_paused")
        with self._engine.lock:
            return [
                pool
                for pool in self._engine.work_pools.pools.values()
                if (wanted is None or pool.name in wanted)
                and (type is None or pool.type == type)
                and (is_paused is None or pool.is_paused is is_paused)
            ]

    def update_work_pool(
        self,
        name: str,
        *,
        base_job_template: Mapping[str, Any] | Unset = UNSET,
        concurrency_limit: int | Unset | None = UNSET,
        is_paused: bool | Unset = UNSET,
    ) -> WorkPool:
        """Change a pool's template, limit or pause; fields left UNSET stay as they are.

        Raises:
            ObjectNotFound: no such pool.
            InvalidArgument, TemplateError: a bad value (nothing is changed).
        """
        check_text(name, "name")
        if concurrency_limit is not UNSET:
            check_optional_count(concurrency_limit, "concurrency_limit")
        if not isinstance(is_paused, Unset):
            check_bool(is_paused, "is_paused")
        with self._engine.lock:
            pool = self._engine.work_pools.pool(name)
            if base_job_template is not UNSET:
                pool.base_job_template = check_base_job_template(base_job_template, pool.type)
            if not isinstance(concurrency_limit, Unset):
                pool.concurrency_limit = concurrency_limit
            if not isinstance(is_paused, Unset):
                pool.is_paused = is_paused
            pool.updated = self._engine.clock.now()
            journal_pools(self._engine)
            self._engine.work_pools.notify(name)
            return pool

    def delete_work_pool(self, name: str) -> None:
        """Delete a pool and its queues.

        Raises:
            ObjectNotFound: no such pool.
            InvalidArgument: deployments or waiting or running flow runs still use it.
        """
        check_text(name, "name")
        with self._engine.lock:
            self._engine.work_pools.pool(name)
            users = [
                d.name for d in self._engine.store.deployments.values() if d.work_pool_name == name
            ]
            if users:
                raise InvalidArgument(
                    f"work pool {name!r} is used by deployments {sorted(users)}; delete them or "
                    "move them to another pool first"
                )
            table = self._engine.work_pools
            for queue in table.queues[name]:
                self._engine.work_pools.refuse_busy_queue(name, queue, "work pool")
            del table.queues[name]
            del table.pools[name]
            journal_pools(self._engine)
            table.notify(name)

    # -- what workers ask ---------------------------------------------------------------------
    def get_scheduled_flow_runs(
        self,
        work_pool_name: str,
        *,
        work_queue_names: Iterable[str] | None = None,
        scheduled_before: datetime | None = None,
        limit: int | None = None,
        scheduled_after: datetime | None = None,
        respect_queue_priorities: bool = True,
    ) -> list[FlowRun]:
        """Return the flow runs a worker of the pool may take, best first.

        SCHEDULED runs scheduled in ``[scheduled_after, scheduled_before]`` (as in
        Prefect, no bound on a side left None: without ``scheduled_before`` runs
        scheduled in the future come too; a worker passes now plus its prefetch) in the
        pool's queues (those named, or all), skipping paused queues and every queue of a
        paused pool, and runs an earlier process retries itself (``retry_type ==
        "in_process"``). Ordered by queue priority, then scheduled time, then creation;
        with ``respect_queue_priorities=False`` by scheduled time, then creation, across
        the queues. Each queue gives at most its free slots (its limit minus its runs in
        PENDING or RUNNING), all together at most the pool's free slots (its limit minus
        the runs in PENDING or RUNNING of its unpaused queues) and ``limit``. The queues
        looked at are marked as polled now (``last_polled``). Claim a run by proposing
        Pending.

        Raises:
            ObjectNotFound: no such pool, or no such queue in it.
            InvalidArgument: a bad limit, a ``scheduled_before`` or ``scheduled_after``
                that is not an aware datetime, or a ``respect_queue_priorities`` that is
                not True or False.
        """
        check_text(work_pool_name, "work_pool_name")
        names = check_names(work_queue_names, "work_queue_names", item="a work queue name")
        check_optional_count(limit, "limit")
        before = check_optional_datetime(scheduled_before, "scheduled_before")
        after = check_optional_datetime(scheduled_after, "scheduled_after")
        check_bool(respect_queue_priorities, "respect_queue_priorities")
        with self._engine.lock:
            pool, queues = self._engine.work_pools.polled_queues(work_pool_name, names)
            now = self._engine.clock.now()
            for queue in queues:
                queue.last_polled = now
            return self._engine.work_pools.due_runs(
                pool, queues, before, limit, after=after, by_priority=respect_queue_priorities
            )

    def next_scheduled_time(
        self,
        work_pool_name: str,
        *,
        work_queue_names: Iterable[str] | None = None,
        after: datetime | None = None,
    ) -> datetime | None:
        """Return when the next run of these queues falls due after ``after`` (default now).

        None when no run is scheduled later (paused queues and pools count as empty).
        A worker sleeps until then, or until :meth:`work_pool_signal` fires.

        Raises:
            ObjectNotFound: no such pool, or no such queue in it.
            InvalidArgument: ``after`` is not an aware datetime, or a bad name.
        """
        check_text(work_pool_name, "work_pool_name")
        names = check_names(work_queue_names, "work_queue_names", item="a work queue name")
        moment = check_optional_datetime(after, "after")
        with self._engine.lock:
            pool, queues = self._engine.work_pools.polled_queues(work_pool_name, names)
            return self._engine.work_pools.next_due_time(
                pool, queues, self._engine.clock.now() if moment is None else moment
            )

    def work_pool_signal(self, work_pool_name: str) -> Signal:
        """Return the signal notified whenever a worker of the pool may find new work.

        It fires when a run becomes due in one of the pool's queues, when a run leaves
        PENDING or RUNNING (freeing a slot), and when the pool or a queue changes.
        Snapshot ``signal.generation`` before :meth:`get_scheduled_flow_runs`, then wait
        with that generation so that nothing is missed in between.
        """
        check_name(work_pool_name, "work_pool_name")
        with self._engine.lock:
            return self._engine.work_pools.signal(work_pool_name)


def add_queue(
    engine: Engine, pool: WorkPool, name: str, priority: int, limit: int | None, paused: bool
) -> WorkQueue:
    """Make a work queue of ``pool`` and file it (the caller holds the engine's lock)."""
    now = engine.clock.now()
    queue = WorkQueue(
        id=engine.new_id(),
        name=name,
        work_pool_name=pool.name,
        priority=priority,
        concurrency_limit=limit,
        is_paused=paused,
        created=now,
        updated=now,
    )
    engine.work_pools.queues[pool.name][name] = queue
    journal_pools(engine)
    return queue

"""What a :class:`~orchestrator.workers.TaskWorker` is before it serves, and what it reports.

:class:`TaskWorkerBase` checks the worker's options and builds its parts at construction
(the executor with its slots and claims, the queue of its task keys, the lease table),
and answers for them: the read-only properties, :meth:`TaskWorkerBase.status`,
:meth:`TaskWorkerBase.describe` and the repr. Serving and the lifecycle (run, start,
stop, ``async with``) are the ``TaskWorker``'s own, in ``_task_worker.py``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from .._core._checks import check_optional_count, check_seconds
from .._core._checks_objects import check_instance
from .._core._errors import WorkerError
from .._core._tasks import Task
from .._engine._leases import DEFAULT_LEASE_SECONDS
from .._engine._orchestrator import Orchestrator
from ._execution import RunExecutor
from ._status import StatusServer, TaskWorkerStatus
from ._worker_setup import Post, check_executor, check_tasks

if TYPE_CHECKING:
    from ._worker_setup import ExecutorOption

__all__ = ["TaskWorkerBase"]


class TaskWorkerBase:
    """A TaskWorker's options, parts and status; ``TaskWorker`` adds serving to it.

    Its arguments are the ``TaskWorker``'s (its docstring has them).
    """

    __slots__ = (
        "_client_id",
        "_executor",
        "_group",
        "_intake_scope",
        "_leases",
        "_orchestrator",
        "_post",
        "_queue",
        "_server",
        "_started",
        "_started_at",
        "_stop_requested",
        "_stopping",
        "_tasks",
        "_thread",
    )

    def __init__(
        self,
        *tasks: Task[..., Any],
        orchestrator: Orchestrator | None = None,
        limit: int | None = 10,
        pending_lease_seconds: float = DEFAULT_LEASE_SECONDS,
        executor: ExecutorOption | None = None,
    ) -> None:
        by_key = check_tasks(tasks)
        default_executor, executors = check_executor(executor, by_key)
        limit = check_optional_count(limit, "limit", minimum=1)
        lease = check_seconds(
            pending_lease_seconds, "pending_lease_seconds", positive=True, finite=False
        )
        if orchestrator is None:
            try:
                orchestrator = Orchestrator.current()
            except RuntimeError:
                raise WorkerError(
                    "a TaskWorker needs an orchestrator: pass orchestrator=..., or build "
                    "the worker inside `with orchestrator:`"
                ) from None
        else:
            check_instance(orchestrator, Orchestrator, "orchestrator")
        self._orchestrator = orchestrator
        self._tasks = MappingProxyType(by_key)
        # host-pid, plus a suffix so that two workers of one process differ (drawn from the
        # orchestrator's seeded ids, so the same under the same seed).
        suffix = orchestrator.new_id().hex[:8]
        self._client_id = f"{socket.gethostname()}-{os.getpid()}-{suffix}"
        self._executor = RunExecutor(
            orchestrator,
            by_key,
            limit=limit,
            lease_seconds=lease,
            executor=default_executor,
            executors=executors,
        )
        self._leases = orchestrator.pending_leases
        self._queue = orchestrator.multi_queue(by_key)
        self._started = False
        self._started_at: datetime | None = None
        self._stopping = False
        self._stop_requested = False
        self._intake_scope: anyio.CancelScope | None = None
        self._post: Post | None = None
        self._thread: int | None = None
        self._server: StatusServer | None = None
        self._group: TaskGroup | None = None

    # -- properties -------------------------------------------------------------------------
    @property
    def client_id(self) -> str:
        """The worker's id: ``<host>-<pid>-<suffix>``, distinct for each worker."""
        return self._client_id

    @property
    def orchestrator(self) -> Orchestrator:
        """The orchestrator whose runs the worker executes."""
        return self._orchestrator

    @property
    def tasks(self) -> Mapping[str, Task[..., Any]]:
        """The served tasks by key (read-only)."""
        return self._tasks

    @property
    def task_keys(self) -> tuple[str, ...]:
        """The served task keys, in the order the tasks were given."""
        return tuple(self._tasks)

    @property
    def started(self) -> bool:
        """Whether the worker is serving now."""
        return self._started

    @property
    def started_at(self) -> datetime | None:
        """When the worker last started serving (orchestrator clock); None before."""
        return self._started_at

    @property
    def stopping(self) -> bool:
        """Whether the worker was told to stop and is finishing its runs."""
        return self._stopping

    @property
    def limit(self) -> int | None:
        """The most runs held at once (None: no limit)."""
        return self._executor.slots.limit

    @property
    def current_tasks(self) -> int:
        """The runs held now (claimed and not finished)."""
        return len(self._executor.claims)

    @property
    def available_tasks(self) -> int | None:
        """How many more runs the worker could take now (None without a limit)."""
        executor = self._executor
        limit = executor.slots.limit
        return None if limit is None else limit - len(executor.claims) - len(executor.abandoned)

    @property
    def status_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the status server while it serves, else None."""
        server = self._server
        return None if server is None else server.address

    def status(self) -> TaskWorkerStatus:
        """Return what the worker is doing now, as a frozen record."""
        executor = self._executor
        return TaskWorkerStatus.capture(
            client_id=self._client_id,
            started_at=self._started_at,
            stopping=self._stopping,
            limit=executor.slots.limit,
            current=self.current_tasks,
            available=self.available_tasks,
            tasks=self._tasks,
            finished=executor.finished,
            in_flight=executor.in_flight,
            abandoned=executor.abandoned,
        )

    def describe(self) -> str:
        """Return one line saying what the worker serves, its limit and its status address.

        For example ``"serving tasks.send_invoice, tasks.charge (limit 10)"``; the start
        log line and ``serve_sync``'s start message are made of it.
        """
        limit = self._executor.slots.limit
        line = f"serving {', '.join(self._tasks)} (limit {'none' if limit is None else limit})"
        address = self.status_address
        if address is not None:
            line += f", status at http://{address[0]}:{address[1]}/status"
        return line

    def __repr__(self) -> str:
        state = "stopping" if self._stopping else "serving" if self._started else "idle"
        return (
            f"<TaskWorker {self._client_id} {state} keys={list(self._tasks)} "
            f"current={self.current_tasks} limit={self.limit}>"
        )

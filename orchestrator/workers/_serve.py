"""``serve``: run a task worker for some tasks until it is stopped, timed out or cancelled."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import anyio
from anyio.abc import TaskStatus

from .._core._checks import check_optional_seconds, check_port
from .._core._checks_objects import check_choice
from ._http import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_SECONDS, check_limits
from ._task_worker import TaskWorker

if TYPE_CHECKING:
    from .._core._tasks import Task
    from .._engine._orchestrator import Orchestrator

__all__ = ["serve", "serve_sync"]


#: The event loops ``serve_sync`` (and ``run_until_idle_sync``) can run.
BACKENDS: Final = ("asyncio", "trio")


def _check_serving(
    timeout: object,
    status_server_port: object,
    status_timeout: object = DEFAULT_TIMEOUT_SECONDS,
    status_cap: object = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Refuse a bad timeout or status server option before a worker is built (it takes an id)."""
    check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
    if status_server_port is not None:
        check_port(status_server_port, "status_server_port")
    check_limits(status_timeout, status_cap, "status_server")


@contextlib.contextmanager
def _sigterm_stops(worker: TaskWorker) -> Iterator[None]:
    """While serving from the main thread, let SIGTERM stop the worker gracefully."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = signal.signal(signal.SIGTERM, worker.handle_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def serve(
    *tasks: Task[..., Any],
    orchestrator: Orchestrator | None = None,
    limit: int | None = 10,
    timeout: float | None = None,  # noqa: ASYNC109 - orchestrator clock, not real time
    status_server_port: int | None = None,
    task_status: TaskStatus[TaskWorker] = anyio.TASK_STATUS_IGNORED,
    status_server_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    status_server_max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve ``tasks`` with a :class:`TaskWorker` until it is stopped or times out.

    From the main thread, SIGTERM stops the worker gracefully (the previous handler is
    restored afterwards). A stop, a SIGTERM or the timeout end it quietly: it returns
    once the worker's runs finished or were handed back.

    Args:
        *tasks: the tasks to serve.
        orchestrator: where the runs are (the current orchestrator when None).
        limit: the most runs at once (None: no limit).
        timeout: stop after this many seconds on the orchestrator's clock (None: never).
        status_server_port: serve ``GET /status`` as JSON on 127.0.0.1 at this port (0:
            any free port, see ``worker.status_address``).
        task_status: reports the worker once it takes runs
            (``worker = await task_group.start(serve, ...)``).
        status_server_timeout_seconds, status_server_max_connections: the status
            server's limits (see :meth:`TaskWorker.run`).

    Raises:
        TypeError, InvalidArgument, WorkerError: as :class:`TaskWorker` raises them.
        OSError: the status port cannot be bound.
    """
    _check_serving(
        timeout, status_server_port, status_server_timeout_seconds, status_server_max_connections
    )
    worker = TaskWorker(*tasks, orchestrator=orchestrator, limit=limit)
    with _sigterm_stops(worker):
        await worker.run(
            timeout=timeout,
            status_server_port=status_server_port,
            task_status=task_status,
            status_server_timeout_seconds=status_server_timeout_seconds,
            status_server_max_connections=status_server_max_connections,
        )


def serve_sync(
    *tasks: Task[..., Any],
    orchestrator: Orchestrator | None = None,
    limit: int | None = 10,
    timeout: float | None = None,
    status_server_port: int | None = None,
    backend: str = "asyncio",
    status_server_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    status_server_max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Run :func:`serve` in a new event loop (``backend``: "asyncio" or "trio") and block.

    For scripts; from async code await :func:`serve` instead.

    Raises:
        InvalidArgument: ``backend`` is not "asyncio" or "trio", or a bad ``timeout`` or
            status server option (checked before the loop starts).
        RuntimeError: an event loop already runs in this thread.
    """
    check_choice(backend, "backend", BACKENDS)
    _check_serving(
        timeout, status_server_port, status_server_timeout_seconds, status_server_max_connections
    )
    anyio.run(
        functools.partial(
            serve,
            *tasks,
            orchestrator=orchestrator,
            limit=limit,
            timeout=timeout,
            status_server_port=status_server_port,
            status_server_timeout_seconds=status_server_timeout_seconds,
            status_server_max_connections=status_server_max_connections,
        ),
        backend=backend,
    )

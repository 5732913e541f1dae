"""``serve``: run a task worker for some tasks until it is stopped, timed out or cancelled."""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Final, final

import anyio
from anyio.abc import TaskStatus

from .._core._checks import check_optional_seconds, check_port
from .._core._checks_objects import check_choice
from .._core._errors import WorkerError
from .._core._wakeup import current_async_library
from ._http import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_SECONDS, check_limits
from ._task_worker import TaskWorker

if TYPE_CHECKING:
    from .._core._tasks import Task
    from .._engine._orchestrator import Orchestrator
    from ._worker_setup import ExecutorOption

__all__ = ["serve", "serve_sync"]


logger: Final = logging.getLogger("orchestrator.workers")

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


def serve(
    *tasks: Task[..., Any],
    orchestrator: Orchestrator | None = None,
    limit: int | None = 10,
    timeout: float | None = None,
    status_server_port: int | None = None,
    task_status: TaskStatus[TaskWorker] = anyio.TASK_STATUS_IGNORED,
    status_server_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    status_server_max_connections: int = DEFAULT_MAX_CONNECTIONS,
    executor: ExecutorOption | None = None,
) -> Coroutine[Any, Any, None]:
    """Serve ``tasks`` with a :class:`TaskWorker` until it is stopped or times out.

    Await it from async code (``await serve(add)``, or ``await group.start(serve, add)``
    to get the worker). From plain code use :func:`serve_sync`: ``serve(...)`` called
    where no event loop runs raises at once rather than return an awaitable that nobody
    awaits (which would serve nothing). The options are checked when it is called.

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
        executor: where task functions run (see :class:`TaskWorker`); not closed here.

    Returns:
        The coroutine that serves; await it.

    Raises:
        WorkerError: called where no event loop runs (use :func:`serve_sync`).
        InvalidArgument: a bad ``timeout`` or status server option.
        TypeError, InvalidArgument, WorkerError: as :class:`TaskWorker` raises them
            (when awaited).
        OSError: the status port cannot be bound (when awaited).
    """
    _check_serving(
        timeout, status_server_port, status_server_timeout_seconds, status_server_max_connections
    )
    if current_async_library() is None:
        names = ", ".join(getattr(t, "name", repr(t)) for t in tasks) or "your tasks"
        raise WorkerError(
            "serve(...) was called outside an event loop, where it can only return an "
            "awaitable that nobody awaits, and would serve nothing. From plain code call "
            f"serve_sync({names}, ...), which runs the event loop and blocks; from async "
            "code write `await serve(...)`"
        )
    return _serve(
        tasks,
        orchestrator=orchestrator,
        limit=limit,
        timeout=timeout,
        status_server_port=status_server_port,
        task_status=task_status,
        status_server_timeout_seconds=status_server_timeout_seconds,
        status_server_max_connections=status_server_max_connections,
        executor=executor,
    )


async def _serve(
    tasks: tuple[Task[..., Any], ...],
    *,
    orchestrator: Orchestrator | None,
    limit: int | None,
    timeout: float | None,  # noqa: ASYNC109 - orchestrator clock, not real time
    status_server_port: int | None,
    task_status: TaskStatus[TaskWorker],
    status_server_timeout_seconds: float,
    status_server_max_connections: int,
    announce: bool = False,
    executor: ExecutorOption | None = None,
) -> None:
    worker = TaskWorker(*tasks, orchestrator=orchestrator, limit=limit, executor=executor)
    reported: TaskStatus[TaskWorker] = _Announcing(worker, task_status) if announce else task_status
    with _sigterm_stops(worker):
        await worker.run(
            timeout=timeout,
            status_server_port=status_server_port,
            task_status=reported,
            status_server_timeout_seconds=status_server_timeout_seconds,
            status_server_max_connections=status_server_max_connections,
        )


@final
class _Announcing:
    """Prints what the worker serves to stderr once it takes runs (``serve_sync``)."""

    __slots__ = ("_status", "_worker")

    def __init__(self, worker: TaskWorker, status: TaskStatus[TaskWorker]) -> None:
        self._worker = worker
        self._status = status

    def started(self, value: TaskWorker | None = None) -> None:
        print(
            f"orchestrator: task worker {self._worker.client_id} {self._worker.describe()}; "
            "press Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        self._status.started(self._worker)  # TaskWorker.run reports itself


async def _until_interrupted(serving: Callable[[], Awaitable[object]]) -> bool:
    """Await ``serving``; on the first SIGINT cancel it and return True.

    The signal is taken as an event of the loop (``anyio.open_signal_receiver``), so the
    worker is cancelled like any task rather than torn down by a KeyboardInterrupt raised
    wherever the loop happened to be. Off the main thread, where signal handlers cannot be
    set, ``serving`` is simply awaited (and Ctrl-C arrives as KeyboardInterrupt).
    """
    if threading.current_thread() is not threading.main_thread():
        await serving()
        return False
    interrupted = False

    async def watch(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        nonlocal interrupted
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                interrupted = True
                group.cancel_scope.cancel()
                return

    async with anyio.create_task_group() as group:
        await group.start(watch)
        await serving()
        group.cancel_scope.cancel()
    return interrupted


def serve_sync(
    *tasks: Task[..., Any],
    orchestrator: Orchestrator | None = None,
    limit: int | None = 10,
    timeout: float | None = None,
    status_server_port: int | None = None,
    backend: str = "asyncio",
    status_server_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    status_server_max_connections: int = DEFAULT_MAX_CONNECTIONS,
    executor: ExecutorOption | None = None,
) -> None:
    """Run :func:`serve` in a new event loop (``backend``: "asyncio" or "trio") and block.

    For scripts; from async code await :func:`serve` instead.

    It says what it serves once the worker takes runs: one line on stderr (``orchestrator:
    task worker HOST-PID-ID serving KEYS (limit N); press Ctrl-C to stop``), as a
    command-line server does, besides the worker's INFO start line on the
    ``orchestrator.workers`` logger.

    Ctrl-C (SIGINT) cancels the worker (runs it was executing are handed back or
    crashed, as on any cancellation), prints ``orchestrator: interrupted, task worker
    stopped`` on stderr and raises ``SystemExit(130)``: a script ends quietly with the
    shell's status for an interrupt, no KeyboardInterrupt traceback; ``finally`` blocks
    and ``with`` exits of the caller still run, and a caller that wants to go on can
    catch ``SystemExit``. SIGTERM, a stop or the timeout return normally.

    ``executor`` is where task functions run (see :class:`TaskWorker`); not closed here.

    Raises:
        InvalidArgument: ``backend`` is not "asyncio" or "trio", or a bad ``timeout`` or
            status server option (checked before the loop starts).
        RuntimeError: an event loop already runs in this thread.
        SystemExit: with code 130, after Ctrl-C.
    """
    check_choice(backend, "backend", BACKENDS)
    _check_serving(
        timeout, status_server_port, status_server_timeout_seconds, status_server_max_connections
    )
    serving = functools.partial(
        _serve,
        tasks,
        orchestrator=orchestrator,
        limit=limit,
        timeout=timeout,
        status_server_port=status_server_port,
        task_status=anyio.TASK_STATUS_IGNORED,
        status_server_timeout_seconds=status_server_timeout_seconds,
        status_server_max_connections=status_server_max_connections,
        announce=True,
        executor=executor,
    )
    try:
        interrupted = anyio.run(_until_interrupted, serving, backend=backend)
    except KeyboardInterrupt:
        pass  # before the SIGINT watch was in place, or off the main thread
    except BaseExceptionGroup as group:  # trio raises it in a task: it comes out grouped
        _, rest = group.split(KeyboardInterrupt)
        if rest is not None:
            raise
    else:
        if not interrupted:
            return
    logger.info("serve_sync: interrupted (Ctrl-C); the task worker stopped")
    print("orchestrator: interrupted, task worker stopped", file=sys.stderr, flush=True)
    raise SystemExit(130) from None

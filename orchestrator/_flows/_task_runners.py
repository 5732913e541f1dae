"""Task runners: where a flow's submitted tasks execute.

``task.submit(...)`` and ``task.map(...)`` inside a flow hand the new task run to the
flow run's task runner and return its future at once. :class:`ThreadPoolTaskRunner`
(the default, as in Prefect) executes each run in a thread of its pool: a sync function
in that thread, an async one on an event loop of that thread's own. So submitted runs
never execute on the flow's event loop, and a flow may block on their futures (sync
``result()``) even in an async body without a deadlock. The pool is unbounded by default
(threads are made only when no idle one is free), so nested ``submit(...).result()``
calls cannot starve it.

A flow run uses a fresh copy of the flow's runner (:meth:`duplicate`), entered for the
length of the run; leaving it waits for every run submitted to it, so a flow never
ends with its tasks still running.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, final

import anyio

from .._core._checks import check_count
from .._engine._foreign_loop import foreign_loop

if TYPE_CHECKING:
    from ._task_runs import RemoteFunction, TaskRunCall

__all__ = ["RunnerThreads", "ThreadPoolTaskRunner", "run_in_own_loop"]

logger: Final = logging.getLogger("orchestrator.engine")


@final
class RunnerThreads:
    """The threads a task runner runs its submitted runs in, for one flow run.

    Started when the runner is entered; stopping waits for every run submitted, including
    runs submitted meanwhile by runs still going (a task that submits another and waits
    on it), before the pool refuses new work.

    Args:
        name: the threads' name prefix.
    """

    __slots__ = ("_name", "_pending", "_pool")

    def __init__(self, name: str) -> None:
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    def start(self, workers: int) -> None:
        """Start a pool of at most ``workers`` threads.

        Raises:
            RuntimeError: already started (a runner is entered once per flow run).
        """
        if self._pool is not None:
            raise RuntimeError("this task runner is already started; use duplicate()")
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=self._name)

    def stop(self) -> None:
        """Wait for every submitted run, then shut the pool down."""
        while pending := [future for future in self._pending if not future.done()]:
            wait_all(pending)
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self._pending.clear()

    def run(self, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` in a thread, in a copy of this context (the run's, the
        current orchestrator, the caller's variables).

        Raises:
            RuntimeError: not started (only a running flow submits).
        """
        pool = self._pool
        if pool is None:
            raise RuntimeError("task runner is not started: submit tasks from inside a flow")
        context = contextvars.copy_context()

        def in_context() -> None:
            context.run(fn, *args)

        self._pending.append(pool.submit(in_context))


@final
class ThreadPoolTaskRunner:
    """Runs submitted task runs in a pool of threads (Prefect's default task runner).

    Args:
        max_workers: the most threads at once; None (the default) for no limit.

    Raises:
        InvalidArgument: ``max_workers`` is not a positive int or None.
    """

    __slots__ = ("_threads", "max_workers")

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None:
            check_count(max_workers, "max_workers", minimum=1)
        self.max_workers: int | None = max_workers
        """The most threads at once, or None for no limit."""
        self._threads = RunnerThreads("orchestrator-task")

    def duplicate(self) -> ThreadPoolTaskRunner:
        """A fresh, unstarted runner with the same settings (one per flow run)."""
        return ThreadPoolTaskRunner(self.max_workers)

    def __enter__(self) -> ThreadPoolTaskRunner:
        self._threads.start(sys.maxsize if self.max_workers is None else self.max_workers)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._threads.stop()

    def submit(self, call: TaskRunCall, *, is_async: bool, backend: str | None) -> None:
        """Start executing ``call`` in a thread; its future reports how it went.

        Args:
            call: the created task run.
            is_async: whether the task's function is async (run on a loop of its own).
            backend: the async library of the submitting flow ("asyncio" or "trio"),
                used for the async run's own loop; None for asyncio.

        Raises:
            RuntimeError: the runner is not started (only a running flow submits).
        """
        if is_async:
            self._threads.run(run_in_own_loop, call, backend or "asyncio")
        else:
            self._threads.run(_run_blocking, call)

    def __repr__(self) -> str:
        workers = "unbounded" if self.max_workers is None else self.max_workers
        return f"ThreadPoolTaskRunner(max_workers={workers})"


async def _counted_async(call: TaskRunCall, remote: RemoteFunction | None) -> None:
    # This thread's loop is a foreign loop to the time skipper: counted busy until idle.
    async with foreign_loop(call.orchestrator.activity):
        await call.run_async(remote)


# A run's failure is its state; what reaches here tore the run down (it ended Crashed):
# logged, since no one reads the pool's own futures.


def _run_blocking(call: TaskRunCall) -> None:
    try:
        call.run_blocking()  # counted busy, but for its waits on the orchestrator
    except BaseException:
        logger.exception("task run %s crashed in its runner thread", call.task_run_id)


def run_in_own_loop(call: TaskRunCall, backend: str, remote: RemoteFunction | None = None) -> None:
    """Execute ``call`` on an event loop of this runner thread's own (``backend``).

    With ``remote``, the function's calls go through it (an executor) instead of being
    awaited here. What tears the run down is logged: the run itself ended Crashed.
    """
    # This thread runs in a copy of the submitting flow's context. When the flow is
    # async, that copy says (through sniffio's context variable, set by the flow's event
    # loop) that an async library runs here, and anyio.run would refuse to start. No
    # loop runs in this thread: clear it, in this copy only.
    sniffio = sys.modules.get("sniffio")
    if sniffio is not None:
        sniffio.current_async_library_cvar.set(None)
    try:
        anyio.run(_counted_async, call, remote, backend=backend)
    except BaseException:
        logger.exception("task run %s crashed in its runner thread", call.task_run_id)

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

import collections
import contextvars
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, final

import anyio
import attrs

from .._core._checks import check_count
from .._engine._foreign_loop import foreign_loop

if TYPE_CHECKING:
    from .._core._activity import Activity
    from ._task_runs import RemoteFunction, TaskRunCall

__all__ = ["RunnerThreads", "ThreadPoolTaskRunner", "run_in_own_loop"]

logger: Final = logging.getLogger("orchestrator.engine")


@final
class RunnerThreads:
    """The threads a task runner runs its submitted runs in, for one flow run.

    Started when the runner is entered; stopping waits for every run submitted, including
    runs submitted meanwhile by runs still going (a task that submits another and waits
    on it), before the pool refuses new work.

    Time skipping must see a run from the moment it is handed to a thread, or it could
    jump while the run sits in the pool's queue with a thread about to take it. A run
    is counted busy on its activity from that hand-off; in its thread it is a busy unit
    (``activity.counted()``) that parks while it waits on the orchestrator. A run beyond
    the limit is not handed off: it waits here, uncounted, for a run to finish (the runs
    holding the threads hold time, or wait on it, as a full pool would in real time),
    and the finishing run hands it its thread before it stops counting.

    Args:
        name: the threads' name prefix.
    """

    __slots__ = ("_limit", "_lock", "_name", "_pending", "_pool", "_running", "_waiting")

    def __init__(self, name: str) -> None:
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._limit = 0
        self._running = 0
        self._waiting: collections.deque[_Handed] = collections.deque()
        self._pending: list[Future[None]] = []

    def start(self, workers: int) -> None:
        """Start running at most ``workers`` runs at once, each in a thread.

        Raises:
            RuntimeError: already started (a runner is entered once per flow run).
        """
        if self._pool is not None:
            raise RuntimeError("this task runner is already started; use duplicate()")
        self._limit = workers
        # Unbounded: the limit is kept here, where a waiting run is not yet counted.
        self._pool = ThreadPoolExecutor(sys.maxsize, thread_name_prefix=self._name)

    def stop(self) -> None:
        """Wait for every submitted run, then shut the pool down."""
        while True:
            with self._lock:
                pending = [future for future in self._pending if not future.done()]
            if not pending:
                break
            wait_all(pending)
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self._pending.clear()

    def run(self, activity: Activity, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` in a thread, in a copy of this context (the run's, the
        current orchestrator, the caller's variables), counted busy on ``activity``.

        Raises:
            RuntimeError: not started (only a running flow submits).
        """
        if self._pool is None:
            raise RuntimeError("task runner is not started: submit tasks from inside a flow")
        handed = _Handed(activity, contextvars.copy_context(), fn, args)
        with self._lock:
            if self._running >= self._limit:
                self._waiting.append(handed)
                return
            self._hand_off(handed)
            self._running += 1

    def _hand_off(self, handed: _Handed) -> None:
        """Give ``handed`` to a thread, counted from now (under the lock)."""
        pool = self._pool
        if pool is None:
            raise RuntimeError("task runner is stopped: submit tasks from inside a flow")
        handed.activity.begin()
        try:
            self._pending.append(pool.submit(handed.context.run, self._counted, handed))
        except BaseException:
            handed.activity.end()
            raise

    def _counted(self, handed: _Handed) -> None:
        """Run ``handed`` as this thread's busy unit, taking over the hand-off's count."""
        with handed.activity.counted(begun=True):  # the count begun at the hand-off
            try:
                handed.fn(*handed.args)
            finally:
                self._next()  # counted before this run stops counting: no idle gap

    def _next(self) -> None:
        """A run finished: hand its thread to the next waiting run, if any."""
        with self._lock:
            if not self._waiting:
                self._running -= 1
                return
            waiting = self._waiting.popleft()
            try:
                self._hand_off(waiting)
            except BaseException:
                self._running -= 1
                logger.exception("a task run could not be handed to a runner thread")


@final
@attrs.frozen
class _Handed:
    """A run handed to the runner: its activity, its context, and what to call."""

    activity: Activity
    context: contextvars.Context
    fn: Callable[..., None]
    args: tuple[Any, ...]


@final
class ThreadPoolTaskRunner:
    """Runs submitted task runs in a pool of threads (Prefect's default task runner).

    Args:
        max_workers: the most runs executing at once, each in a thread; None (the
            default) for no limit. A run beyond it waits for one of them to finish.

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
        activity = call.orchestrator.activity
        if is_async:
            self._threads.run(activity, run_in_own_loop, call, backend or "asyncio")
        else:
            self._threads.run(activity, _run_blocking, call)

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

"""The ``task_worker`` fixture's factory: task workers serving for the length of a test.

Kept apart from the plugin module so that ``orchestrator.testing`` can export it (for
annotations) without importing pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, final

import anyio
import anyio.lowlevel

from .._core._errors import WorkerError
from .._engine._autojump import wait_until_idle

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from .._core._tasks import Task
    from .._engine._orchestrator import Orchestrator
    from ..workers import TaskWorker
    from ..workers._worker_setup import ExecutorOption

__all__ = ["TaskWorkerFactory", "task_workers_in_own_task"]


@final
class TaskWorkerFactory:
    """What the ``task_worker`` fixture gives: starts task workers for the test.

    ``worker = await task_worker(*tasks, limit=10)`` starts a
    :class:`~orchestrator.TaskWorker` serving ``tasks`` on the test's orchestrator, in a
    task group the fixture holds open for the whole test, and returns it once it takes
    runs. Start as many as you like; stop one early with ``worker.stop()``.

    At teardown every worker still serving is stopped gracefully (no new run is taken,
    runs waiting for their turn are handed back, running ones may finish). A worker
    whose runs still cannot finish once everything is idle (an ``async`` function
    blocked on something nothing will set, a sleep on the virtual clock that nobody
    advances) is then cancelled, which crashes those runs (or schedules their retry).
    A sync function that never returns blocks teardown: a thread cannot be
    interrupted, so make a hanging stub ``async``.

    Args:
        orchestrator: the test's orchestrator.
    """

    __slots__ = ("_group", "_loop", "_orchestrator", "_workers")

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._orchestrator = orchestrator
        self._group: TaskGroup | None = None
        self._loop: anyio.lowlevel.EventLoopToken | None = None
        self._workers: list[TaskWorker] = []

    @property
    def workers(self) -> tuple[TaskWorker, ...]:
        """Every worker started so far, in order (stopped ones too)."""
        return tuple(self._workers)

    async def __call__(
        self, *tasks: Task[..., Any], limit: int | None = 10, executor: ExecutorOption | None = None
    ) -> TaskWorker:
        """Start a worker serving ``tasks`` and return it once it takes runs.

        Args:
            *tasks: the tasks to serve (made with ``@task``).
            limit: the most runs it holds at once (None: no limit).
            executor: where it runs task functions (an
                :class:`orchestrator.executors.Executor`, for example a ``DaskExecutor``
                on a ``LocalCluster``); None: the event loop and threads. The fixture
                does not close it.

        Raises:
            TypeError, InvalidArgument: as :class:`~orchestrator.TaskWorker` raises them.
            WorkerError: the fixture was torn down already.
        """
        from ..workers import TaskWorker  # the runtime layer, loaded only when used

        group = self._group
        if group is None:
            raise WorkerError("the task_worker fixture is not active (torn down, or not set up)")
        if anyio.lowlevel.current_token() != self._loop:
            raise WorkerError(
                "the task_worker fixture was set up on another event loop than the one "
                "this code runs on, so its workers would never serve here; under "
                "pytest-asyncio give the test's marker the loop_scope its fixtures use "
                "(by default both are 'function')"
            )
        worker = TaskWorker(*tasks, orchestrator=self._orchestrator, limit=limit, executor=executor)
        await group.start(worker.run)
        self._workers.append(worker)
        return worker

    async def __aenter__(self) -> TaskWorkerFactory:
        """Open the task group the workers serve in."""
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        self._loop = anyio.lowlevel.current_token()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop every worker (see the class docstring) and close the task group."""
        group = self._group
        assert group is not None, "TaskWorkerFactory.__aexit__ without __aenter__"
        self._group = None
        try:
            serving = [worker for worker in self._workers if worker.started]
            for worker in serving:
                if not worker.stopping:
                    worker.stop()
            if serving:
                # Idle: every task is blocked and nothing executes, so a worker still
                # serving now waits on runs that nothing will move.
                await wait_until_idle(self._orchestrator.activity)
                if any(worker.started for worker in serving):
                    group.cancel_scope.cancel()
        except BaseException:
            group.cancel_scope.cancel()
            raise
        finally:
            await group.__aexit__(None, None, None)

    def __repr__(self) -> str:
        serving = sum(1 for worker in self._workers if worker.started)
        return f"<TaskWorkerFactory workers={len(self._workers)} serving={serving}>"


@contextlib.asynccontextmanager
async def task_workers_in_own_task(orchestrator: Orchestrator) -> AsyncIterator[TaskWorkerFactory]:
    """A TaskWorkerFactory whose task group lives in a task of its own (asyncio only).

    pytest-asyncio runs an async fixture's setup, the test and the teardown as three
    separate tasks on one loop, and a task group must be left by the task that entered
    it. So a host task on the test's loop enters and leaves the factory, and the test
    starts workers in it from its own task; leaving this context stops the host (as
    :meth:`TaskWorkerFactory.__aexit__` does) and raises whatever it raised.
    """
    stop = anyio.Event()
    ready = anyio.Event()
    handed: list[TaskWorkerFactory] = []

    async def host() -> None:
        try:
            async with TaskWorkerFactory(orchestrator) as factory:
                handed.append(factory)
                ready.set()
                await stop.wait()
        finally:
            ready.set()

    task = asyncio.get_running_loop().create_task(host(), name="orchestrator task_worker")
    await ready.wait()
    if not handed:  # the factory failed to open: its error, at setup
        await task
    try:
        yield handed[0]
    finally:
        stop.set()
        await task

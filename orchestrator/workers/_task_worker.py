"""The task worker: serves background runs of some tasks, in this process.

A :class:`TaskWorker` takes runs of its tasks' keys from the orchestrator's queues (one
:class:`~orchestrator.MultiQueue`: fair across keys, retries first, never before a
run is due) and executes them as :mod:`orchestrator.workers._execution` describes:
claimed through the engine (a second claimant is refused), run under the core policy,
handed back or crashed (never stranded) when the worker goes away.

**Backpressure.** The worker takes a run from the queue only when it holds a free slot
(``limit`` of them), so runs it cannot start now stay queued for other workers. Nothing
polls: a full worker waits for a slot to free, an idle one for a run to be queued or
come due.

**Lifecycle.** :meth:`TaskWorker.run` serves until stopped or cancelled and reports
"ready" through ``task_status`` (``await task_group.start(worker.run)``);
:meth:`TaskWorker.start` does the same and raises :class:`~orchestrator.StopTaskWorker`
once stopped; ``async with TaskWorker(...)`` serves for the duration of the block.
:meth:`TaskWorker.stop` (or :meth:`TaskWorker.handle_sigterm`) is graceful: no new run is
taken, runs waiting for their turn are handed back, running ones finish, then the
worker ends. Cancelling the worker crashes the runs it is executing (retried when they
have retries left). Every serving worker also sweeps expired claim leases (the
orchestrator's :attr:`~orchestrator.Orchestrator.pending_leases`).

**Timeouts of sync functions.** A thread cannot be stopped: at its timeout (or when the
worker is cancelled) a sync call is left running, its run is failed as TimedOut (or
crashed) at once, and the run does not start again, on any worker of the orchestrator,
before the call has returned (a claim of its retry waits PENDING, saying why). The call
keeps its slot meanwhile, listed in :attr:`TaskWorkerStatus.abandoned` (run id -> since
when). Stopping or cancelling the worker does not wait for such calls: it stops holding
their slots and logs each one it leaves (the rule on their runs still holds, and the
interpreter waits for the threads at exit). See :mod:`orchestrator.workers._abandoning`.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Final, final

import anyio
from anyio.abc import TaskGroup, TaskStatus

from .._core._checks import check_optional_seconds
from .._core._errors import ArgumentTypeError, StopTaskWorker, WorkerError
from .._core._models import TaskRun
from ._http import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_SECONDS, check_limits
from ._runners import RunnerPool
from ._status import StatusServer
from ._task_worker_base import TaskWorkerBase
from ._worker_setup import loop_poster

__all__ = ["TaskWorker"]

logger: Final = logging.getLogger("orchestrator.workers")


@final
class TaskWorker(TaskWorkerBase):
    """Execute the background runs of some tasks, at most ``limit`` at a time.

    Serve with ``async with TaskWorker(...):`` (for the block), ``await worker.run()``
    or ``await task_group.start(worker.run)`` (until stopped). From outside, a serving
    worker is ended by:

    * :meth:`stop`, from any thread (or :meth:`handle_sigterm` as a signal handler),
      or ``run(timeout=...)`` on the orchestrator's clock: graceful. It takes no new
      run, hands the runs waiting for their turn back to their queue, lets running ones
      finish, then ``run()`` returns (``start()`` raises :class:`~orchestrator.StopTaskWorker`)
      and an ``async with`` block's exit returns;
    * cancelling the task group or cancel scope it serves in (or an exception leaving
      its ``async with`` block): not graceful. The runs it is executing end Crashed, or
      are retried when they have retries left; runs not yet started go back to their
      queue. A sync function's thread cannot be stopped: its call is left to return
      on its own, and its run does not start again before it has.

    Either way no run is stranded and none runs twice.

    Args:
        *tasks: the tasks to serve (made with ``@task``); runs are matched by task key.
        orchestrator: where the runs are; the current orchestrator (``with
            orchestrator:``) when None, looked up now.
        limit: the most runs held at once, and the most worker threads for sync
            functions (None: no limit).
        pending_lease_seconds: how long a run this worker claimed may stay PENDING
            past a wait for its turn before any worker's sweeper hands it back.
        executor: where task functions run (an :class:`orchestrator.executors.Executor`,
            such as a ``ProcessPoolExecutor`` or a ``DaskExecutor``); None runs async
            functions in the event loop and sync ones in worker threads. With one, sync
            and async functions alike run there (an async one under ``asyncio.run``);
            claims, slots, tag limits, caching and retries stay here, before the
            hand-off. A run whose executing process dies ends Crashed (retried per its
            policy); a remote exception's traceback text is in the Failed state's
            message. A mapping from served tasks (or task keys) to executors sends
            each task it names to its executor and runs the others here. Remote
            functions run without the run's context (no ``get_run_context()``, no
            ``log_prints``); a task stubbed by ``orchestrator.testing.stub_task``
            runs its stand-in here. The worker does not close the executor.

    Raises:
        InvalidArgument: an argument is not a Task (an ArgumentTypeError, also a
            TypeError), no tasks, two tasks with one key, or a bad orchestrator, limit,
            lease or executor.
        WorkerError: no orchestrator was given and none is current.
    """

    __slots__ = ()

    # -- serving ----------------------------------------------------------------------------
    async def run(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - orchestrator clock, not real time
        status_server_port: int | None = None,
        task_status: TaskStatus[TaskWorker] = anyio.TASK_STATUS_IGNORED,
        status_server_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        status_server_max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        """Serve until stopped, timed out or cancelled; report the worker through ``task_status``.

        Args:
            timeout: stop (gracefully) after this many seconds on the orchestrator's
                clock; None serves until stopped.
            status_server_port: serve ``GET /status`` on 127.0.0.1 at this port (0: a
                free one, see :attr:`status_address`); None: no server.
            task_status: reports the worker once it is taking runs.
            status_server_timeout_seconds: real seconds a status connection has to send
                its request, and again to take the answer (10 by default).
            status_server_max_connections: the most status connections open at once;
                one more is closed unanswered (32 by default).

        Returns when stopped (:meth:`stop`, :meth:`handle_sigterm`) or timed out, after
        its runs finished or were handed back.

        Raises:
            WorkerError: the worker is serving already.
            InvalidArgument: a negative timeout, a bad port, or a status server timeout
                or cap that is not a number > 0.
            OSError: the status port cannot be bound (nothing was started).
        """
        if self._started:
            raise WorkerError(f"task worker {self._client_id} is serving already")
        check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
        check_limits(status_server_timeout_seconds, status_server_max_connections, "status_server")
        server = None
        if status_server_port is not None:
            server = StatusServer(
                self.status,
                status_server_port,
                timeout_seconds=status_server_timeout_seconds,
                max_connections=status_server_max_connections,
            )
            await server.bind()
        self._open(server)
        try:
            async with anyio.create_task_group() as background:
                background.start_soon(self._leases.run)
                if timeout is not None:
                    background.start_soon(self._stop_after, timeout)
                if server is not None:
                    background.start_soon(server.serve)
                task_status.started(self)
                try:
                    async with anyio.create_task_group() as runs:
                        await self._intake(runs)
                finally:
                    background.cancel_scope.cancel()
        finally:
            self._close()
            if server is not None:
                with anyio.CancelScope(shield=True):
                    await server.aclose()

    async def start(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - clock time
        """Serve until stopped or timed out (see :meth:`run`).

        Raises:
            StopTaskWorker: the worker was stopped with :meth:`stop` or
                :meth:`handle_sigterm` (after its runs finished or were handed back).
            WorkerError: the worker is serving already.
        """
        await self.run(timeout=timeout)
        if self._stop_requested:
            raise StopTaskWorker(f"task worker {self._client_id} was stopped")

    def stop(self) -> None:
        """Stop gracefully: take no new run, hand back waiting ones, let running ones finish.

        Safe from any thread; returns at once (the serving call returns once done).

        Raises:
            WorkerError: the worker is not serving.
        """
        if not self._started:
            raise WorkerError(f"task worker {self._client_id} is not serving; nothing to stop")
        self._mark_stopping()
        if threading.get_ident() == self._thread:
            self._stop_in_loop()
        elif self._post is not None:
            self._post(self._stop_in_loop)

    def handle_sigterm(self, signum: int, frame: object) -> None:
        """Stop gracefully when SIGTERM arrives (what :func:`serve` installs).

        Install by hand with ``signal.signal(signal.SIGTERM, worker.handle_sigterm)``.
        Signal-safe: it only hands the stop to the event loop. Does nothing when the
        worker is not serving.
        """
        post = self._post
        if not self._started or post is None:
            return
        self._mark_stopping()
        post(self._stop_in_loop)

    async def execute_task_run(self, task_run: TaskRun) -> None:
        """Claim and execute one run now, within this worker's limit; return when it ends.

        Works whether or not the worker is serving. A run this worker holds already,
        or one that is not SCHEDULED (claimed elsewhere, finished), is skipped.

        Raises:
            InvalidArgument: ``task_run`` is not a TaskRun.
            ObjectNotFound: the run no longer exists.
        """
        if not isinstance(task_run, TaskRun):
            raise ArgumentTypeError(f"execute_task_run takes a TaskRun, got {task_run!r}")
        executor = self._executor
        if task_run.id.int in executor.claims:
            logger.info("task run %s is already being executed by this worker", task_run.id)
            return
        run = self._orchestrator.read_task_run(task_run.id)
        slots = executor.slots
        await slots.acquire()
        try:
            claim = executor.claim(run)
            if claim is None:
                logger.info("task run %s was not claimed: it is %s", run.id, run.state_name)
                return
            await executor.execute(claim)
        finally:
            slots.release()

    # -- context manager ------------------------------------------------------------------------
    async def __aenter__(self) -> TaskWorker:
        """Start serving in the background; the block runs once the worker takes runs."""
        group = anyio.create_task_group()
        await group.__aenter__()
        try:
            await group.start(self.run)
        except BaseException:
            await group.__aexit__(None, None, None)
            raise
        self._group = group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop gracefully after a clean block; cancel (crashing running runs) after an error."""
        group = self._group
        assert group is not None, "TaskWorker.__aexit__ without __aenter__"
        self._group = None
        if exc_type is None and self._started:
            self._mark_stopping()
            self._stop_in_loop()
        else:
            group.cancel_scope.cancel()
        # The block's own exception propagates as it is, not in an exception group.
        await group.__aexit__(None, None, None)

    # -- internals ---------------------------------------------------------------------------
    def _open(self, server: StatusServer | None) -> None:
        self._started = True
        self._stopping = self._stop_requested = False
        self._executor.reset()
        self._started_at = self._orchestrator.clock.now()
        self._thread = threading.get_ident()
        self._post = loop_poster()
        self._server = server
        self._orchestrator.activity.add_worker(self)
        if logger.isEnabledFor(logging.INFO):
            logger.info("task worker %s started: %s", self._client_id, self.describe())

    def _close(self) -> None:
        self._orchestrator.activity.remove_worker(self)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "task worker %s stopped after %d claim(s)",
                self._client_id,
                sum(self._executor.finished.values()),
            )
        self._started = False
        self._intake_scope = None
        self._post = None
        self._thread = None
        self._server = None

    def _mark_stopping(self) -> None:
        self._stop_requested = True
        self._stopping = True
        self._executor.stopping = True

    def _stop_in_loop(self) -> None:
        """Stop taking runs and hand back the waiting ones (in the loop's thread)."""
        self._stopping = True
        self._executor.stopping = True
        scope = self._intake_scope
        if scope is not None:
            scope.cancel()
        for claim in list(self._executor.waiting):
            if claim.wait_scope is not None:
                claim.wait_scope.cancel()
        self._executor.stop_holding()

    async def _stop_after(self, seconds: float) -> None:
        await self._orchestrator.clock.sleep(seconds)
        logger.info("task worker %s: its timeout of %g s is up", self._client_id, seconds)
        self._stop_in_loop()

    async def _intake(self, runs: TaskGroup) -> None:
        """Take and execute runs until stopped (see :mod:`orchestrator.workers._runners`)."""
        pool = RunnerPool(self._executor, self._queue)
        with anyio.CancelScope() as scope:
            self._intake_scope = scope
            if not self._stopping:
                await pool.serve(runs)
        self._intake_scope = None
        pool.close()

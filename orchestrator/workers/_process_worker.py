"""The process worker: runs the flow runs of a work pool as local subprocesses.

A :class:`ProcessWorker` serves one work pool (all its queues, or some). It looks for
work when there may be some, never on a fixed timer: when a run becomes due in one of
its queues, when a slot frees, when the pool or a queue changes (the pool's signal),
when the next scheduled run comes within the prefetch window (the orchestrator's
clock), and once per heartbeat as a liveness check. For each run it takes:

1. it claims the run by proposing Pending (a second claimant is refused by the flow
   policy), then renders the run's job configuration from the pool's template and the
   deployment's and the run's job variables, and proposes Pending "Submitting";
2. at the run's scheduled time it starts the command, an argument list and never a
   shell, in the configured working directory (a new temporary one by default, removed
   afterwards) with the configured environment, plus the file holding the run's
   parameters (see :func:`~orchestrator.read_flow_run_parameters`); it records the
   process id as the run's ``infrastructure_pid`` and proposes Running (on Linux the
   process runs under a small launcher, see "Platforms and process lifetime" in the
   README);
3. it copies the process's output to ``printer`` line by line (a line longer than
   ``max_output_line_bytes`` in pieces, so memory stays bounded); exit status 0 ends the
   run Completed, any other Crashed with the explained status;
4. a run moved to Cancelling meanwhile is stopped (SIGTERM, a grace period, SIGKILL,
   to everything the process started) and ends Cancelled; what a process leaves
   running when it exits on its own is stopped too (``kill_leftovers``).

Runs of a deleted deployment are cancelled; a run whose job cannot be rendered or
whose command cannot start ends Crashed with the reason. Stopping the worker with
:meth:`ProcessWorker.stop` lets running processes finish; cancelling :meth:`start`
stops them (their runs end Crashed). Either way, claimed runs whose process has not
started yet go back to their queue.

Threat model: who writes what, and what each may reach.

* The **operator** writes the pool's base job template (its ``job_configuration`` and
  its variables' defaults) and the worker's options, ``environ`` included. Only that
  template is rendered as a template: its ``{{ $NAME }}`` placeholders read the
  worker's environment, and its ``inherit_env`` and ``inherit_env_names`` bound what a
  child inherits from it.
* **Deployment authors and whoever creates flow runs** write job variables and
  parameters. Job variables fill the operator's placeholders as they stand and are
  never rendered: a ``{{ $NAME }}`` in them (in an ``env`` mapping, a dotted key, a
  command list or string, a name, labels, a nested path) stays literal text, and with
  ``strict_templates=True`` the run ends Crashed saying job variables cannot read the
  worker's environment. ``{{ ctx.* }}`` placeholders read the run's own records at
  prepare time; what they put in place is not rendered again. Job variables may narrow
  ``inherit_env`` and ``inherit_env_names``, never widen them past what the template
  alone gives.
* Not covered: the flow's code runs in the child and can read whatever the child gets,
  the operator's ``{{ $NAME }}`` values included; with ``inherit_env`` true (the
  default) that is the worker's whole environment. The child runs as the worker's user;
  it is not sandboxed.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import ClassVar, final

import anyio
import anyio.abc

from .._core._checks import (
    check_bool,
    check_name,
    check_names,
    check_optional_count,
    check_seconds,
    wrong_type,
)
from .._core._checks_objects import check_instance
from .._core._errors import WorkerError
from .._core._models import FlowRun
from .._core._wakeup import Signal, wait_for_any
from .._engine._orchestrator import Orchestrator
from .._pools._process_config import ProcessJobConfiguration
from ._healthcheck import HealthServer
from ._http import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_SECONDS
from ._output import DEFAULT_MAX_LINE_BYTES
from ._process_runs import HeldRuns, ProcessOptions
from ._run_states import CancelWatcher, ProcessWorkerResult, RunHandle, RunStates

__all__ = ["ProcessWorker", "ProcessWorkerResult"]

Printer = Callable[..., None]


@final
class ProcessWorker:
    """Run the flow runs of a work pool as subprocesses (see the module docstring).

    Args:
        orchestrator: where the runs are.
        work_pool_name: the pool to serve; it must exist when the worker starts.
        work_queues: the queues to serve (all of the pool's when None).
        name: the worker's name (no ``/`` or ``%``); ``ProcessWorker <uuid>`` by default.
        limit: the most flow-run processes at once (None: no limit).
        prefetch_seconds: claim runs due within this many seconds, so they start on time.
        heartbeat_seconds: the longest the worker goes without looking for work, to
            prove it is alive.
        health_window_seconds: :meth:`health` is False when the worker has not looked
            for work for longer than this (3 heartbeats by default).
        cancel_grace_seconds: real seconds a cancelled process gets between SIGTERM and
            SIGKILL.
        kill_leftovers: when a flow run's command exits on its own, stop what it left
            running (SIGTERM, at most 2 s of grace, SIGKILL); False lets it run on. A
            worker setting, not a job variable: a flow run cannot keep processes alive
            after it ends unless the operator allows it. See "Platforms and process
            lifetime" in the README.
        strict_templates: refuse a job whose template leaves placeholders unresolved
            (the run ends Crashed naming them) instead of dropping or blanking them.
        environ: the environment processes start from (``os.environ`` when None;
            ``inherit_env=False`` in the job configuration passes only a few basics).
        max_output_line_bytes: the longest output line handed to the printer in one
            piece; a longer one is split (see :meth:`FlowRunProcess.stream_output
            <orchestrator.workers._processes.FlowRunProcess.stream_output>`), so the
            worker's memory stays bounded whatever a process writes.
        healthcheck_host, healthcheck_port: where ``GET /health`` listens with
            ``start(with_healthcheck=True)``; port 0 picks a free one. A host that is
            not a loopback address (127.0.0.1, ::1, localhost) needs
            ``healthcheck_public=True``.
        healthcheck_public: allow a ``healthcheck_host`` beyond this machine (such as
            ``"0.0.0.0"``); a warning is logged when it is bound.
        healthcheck_timeout_seconds: real seconds a health connection has to send its
            request, and again to take the answer (10 by default).
        healthcheck_max_connections: the most health connections open at once; one
            more is closed unanswered (32 by default).

    Raises:
        InvalidArgument: a bad argument, such as an ``environ`` value that is not a
            string, a ``healthcheck_port`` that is not a port number, or a
            ``healthcheck_host`` beyond this machine without ``healthcheck_public=True``;
            every option is checked here, not when a process starts.
    """

    type: ClassVar[str] = "process"

    def __init__(
        self,
        orchestrator: Orchestrator,
        work_pool_name: str,
        *,
        work_queues: Iterable[str] | None = None,
        name: str | None = None,
        limit: int | None = None,
        prefetch_seconds: float = 10.0,
        heartbeat_seconds: float = 30.0,
        health_window_seconds: float | None = None,
        cancel_grace_seconds: float = 30.0,
        kill_leftovers: bool = True,
        strict_templates: bool = False,
        environ: Mapping[str, str] | None = None,
        max_output_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        healthcheck_host: str = "127.0.0.1",
        healthcheck_port: int = 0,
        healthcheck_public: bool = False,
        healthcheck_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        healthcheck_max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        check_instance(orchestrator, Orchestrator, "orchestrator")
        check_name(work_pool_name, "work_pool_name")
        queues = check_names(work_queues, "work_queues", item="a work queue name")
        check_optional_count(limit, "limit", minimum=1)
        self._orchestrator = orchestrator
        self._clock = orchestrator.clock
        self._pool = work_pool_name
        self._queues = queues
        self._name = check_name(f"ProcessWorker {uuid.uuid4()}" if name is None else name, "name")
        self._limit = limit
        self._prefetch = timedelta(seconds=check_seconds(prefetch_seconds, "prefetch_seconds"))
        heartbeat = check_seconds(heartbeat_seconds, "heartbeat_seconds", positive=True)
        self._heartbeat = timedelta(seconds=heartbeat)
        window = 3 * heartbeat if health_window_seconds is None else health_window_seconds
        self._health_window = timedelta(
            seconds=check_seconds(window, "health_window_seconds", positive=True)
        )
        options = ProcessOptions.check(
            environ=environ,
            cancel_grace_seconds=cancel_grace_seconds,
            kill_leftovers=kill_leftovers,
            max_output_line_bytes=max_output_line_bytes,
        )
        strict = check_bool(strict_templates, "strict_templates")
        self._states = RunStates(
            orchestrator, work_pool_name, self._name, strict=strict, environ=options.environ
        )
        self._health_server = HealthServer(
            self.health,
            host=healthcheck_host,
            port=healthcheck_port,
            public=healthcheck_public,
            timeout_seconds=healthcheck_timeout_seconds,
            max_connections=healthcheck_max_connections,
        )
        self._stopping = False
        self._held = HeldRuns(self._states, options, self._clock, self._stop_requested)
        self._handles = self._held.handles
        self._wake = self._held.wake
        self._started = False
        self._last_polled: datetime | None = None

    # -- properties -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The worker's name (given to its processes as an environment variable)."""
        return self._name

    @property
    def work_pool_name(self) -> str:
        """The pool this worker serves."""
        return self._pool

    @property
    def work_queues(self) -> tuple[str, ...] | None:
        """The queues it serves, or None for all of the pool's."""
        return self._queues

    @property
    def limit(self) -> int | None:
        """The most flow-run processes at once (None: no limit)."""
        return self._limit

    @property
    def started(self) -> bool:
        """True while :meth:`start` runs."""
        return self._started

    @property
    def last_polled(self) -> datetime | None:
        """When the worker last looked for work (orchestrator clock), or None."""
        return self._last_polled

    @property
    def current_flow_runs(self) -> frozenset[uuid.UUID]:
        """The ids of the flow runs the worker has claimed and not finished."""
        return frozenset(self._handles)

    @property
    def health_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of ``GET /health`` while it is served, else None."""
        return self._health_server.address

    def health(self) -> bool:
        """True when the worker has looked for work within its health window.

        Safe from any thread (the health server calls it in the event loop).
        """
        last = self._last_polled
        return last is not None and self._clock.now() - last <= self._health_window

    def stop(self) -> None:
        """Stop looking for work; :meth:`start` returns once the running processes finish.

        Claimed runs waiting for their scheduled time go back to their queue. Safe from
        any thread.
        """
        self._stopping = True
        self._wake.notify()

    # -- the loop -------------------------------------------------------------------------
    async def start(
        self,
        run_once: bool = False,
        with_healthcheck: bool = False,
        printer: Printer = print,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve the pool until :meth:`stop` (or cancellation).

        Args:
            run_once: look for work once, then return when the runs taken have finished.
            with_healthcheck: serve ``GET /health`` (see :attr:`health_address`).
            printer: a print-like function given each line the processes write.
            task_status: for ``task_group.start(worker.start)``: reports once the
                worker has looked for work the first time.

        Raises:
            WorkerError: the worker is already started.
            InvalidArgument: ``run_once`` or ``with_healthcheck`` is not a bool, or
                ``printer`` is not callable.
            ObjectNotFound: the pool, or one of the queues, does not exist.
            OSError: the health server cannot bind its port.
        """
        if self._started:
            raise WorkerError(f"worker {self._name!r} is already started")
        check_bool(run_once, "run_once")
        check_bool(with_healthcheck, "with_healthcheck")
        if not callable(printer):
            raise wrong_type("printer", printer, "a print-like function")
        orchestrator = self._orchestrator
        orchestrator.read_work_queues(self._pool, names=self._queues)
        for queue in self._queues or ():
            orchestrator.read_work_queue(self._pool, queue)
        self._started, self._stopping = True, False
        watcher = CancelWatcher(self._handles)
        orchestrator.subscribe(watcher)
        signal = orchestrator.work_pool_signal(self._pool)
        try:
            health = self._health_server.serving() if with_healthcheck else contextlib.nullcontext()
            async with health, anyio.create_task_group() as group:
                ready = False
                while not self._stop_requested():
                    seen = (signal.generation, self._wake.generation)
                    horizon = await self._poll(group, printer)
                    if not ready:
                        task_status.started()  # ready: it has looked for work once
                        ready = True
                    if run_once:
                        break
                    await self._wait_for_work(signal, seen, horizon)
                if not ready:
                    task_status.started()
        finally:
            orchestrator.unsubscribe(watcher)
            self._started = False

    def _stop_requested(self) -> bool:
        return self._stopping

    async def _wait_for_work(
        self, signal: Signal, seen: tuple[int, int], horizon: datetime
    ) -> None:
        """Sleep until the pool's signal, a wake-up, the next prefetch time or the heartbeat.

        ``horizon`` is how far the last poll looked: a run due after it is the next to
        wake for, ``prefetch_seconds`` ahead of its time.
        """
        deadline = (self._last_polled or self._clock.now()) + self._heartbeat
        upcoming = self._orchestrator.next_scheduled_time(
            self._pool, work_queue_names=self._queues, after=horizon
        )
        if upcoming is not None:
            deadline = min(deadline, upcoming - self._prefetch)
        await wait_for_any(
            [(signal, seen[0]), (self._wake, seen[1])],
            until=functools.partial(self._clock.sleep_until, deadline),
        )

    async def _poll(self, group: anyio.abc.TaskGroup, printer: Printer) -> datetime:
        """Take what work there is: claim, prepare, and start (or schedule) each run.

        Returns how far ahead it looked (now plus the prefetch window).
        """
        orchestrator = self._orchestrator
        now = self._clock.now()
        horizon = now + self._prefetch
        room = None if self._limit is None else self._limit - len(self._handles)
        self._last_polled = now
        if room is not None and room <= 0:
            return horizon
        runs = orchestrator.get_scheduled_flow_runs(
            self._pool, work_queue_names=self._queues, scheduled_before=horizon, limit=room
        )
        for run in runs:
            if run.id in self._handles:
                continue
            if not self._states.claim(run):
                continue  # another worker was first
            handle = self._handles[run.id] = RunHandle()
            configuration = self._states.prepare(run)
            if configuration is None:
                self._held.release(run.id)
                continue
            state = run.state
            due = None if state is None else state.details.scheduled_time
            if due is not None and due > self._clock.now():
                group.start_soon(
                    self._held.start_when_due, run, configuration, handle, due, printer
                )
            else:
                # Started one after another, so processes start in the order runs were given.
                await group.start(self._held.supervise, run, configuration, handle, printer)
        return horizon

    # -- the process --------------------------------------------------------------------------
    async def run(
        self,
        flow_run: FlowRun,
        configuration: ProcessJobConfiguration,
        task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
        *,
        printer: Printer = print,
    ) -> ProcessWorkerResult:
        """Run one flow run's process to its end and return its pid and exit status.

        Starts ``configuration.command`` in its working directory (a new temporary one,
        removed afterwards, when it has none) with its environment plus
        ``ORCHESTRATOR_FLOW_RUN_PARAMETERS_FILE``, reports the pid through
        ``task_status``, copies the output to ``printer`` (when ``stream_output``), and
        waits for it to exit. While :meth:`start` runs, a cancellation of the flow run
        stops the process (SIGTERM, the grace period, SIGKILL).

        Raises:
            WorkerError: there is no command, the parameters are not JSON, or the
                process could not be started (not found, not executable, ...).
        """
        return await self._held.run(flow_run, configuration, task_status, printer=printer)

    def __repr__(self) -> str:
        return f"<ProcessWorker {self._name!r} pool={self._pool!r} runs={len(self._handles)}>"

"""The runs a process worker holds, each from its claim to its final state.

:class:`HeldRuns` is the process worker's part that deals with one run at a time: it
waits for a prefetched run's scheduled time, starts its process, proposes Running and
the final state, and gives the run back to its queue when the worker stops or is
cancelled first. The worker's loop (finding and claiming work) lives in
``_process_worker.py``; the operating-system side in ``_process_runner.py``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import final

import anyio
import anyio.abc
import attrs

from .._core._checks import check_bool, check_count, check_seconds
from .._core._checks_objects import check_mapping_of_str
from .._core._clock import Clock
from .._core._errors import WorkerError
from .._core._models import FlowRun
from .._core._states import Crashed
from .._core._wakeup import Signal, wait_for_any
from .._pools._process_config import ProcessJobConfiguration
from ._output import MIN_LINE_BYTES
from ._process_runner import run_flow_run_process
from ._run_states import ProcessWorkerResult, RunHandle, RunStates

__all__ = ["HeldRuns", "ProcessOptions"]

Printer = Callable[..., None]


@final
@attrs.frozen(kw_only=True)
class ProcessOptions:
    """How a process worker starts, reads and stops its processes (checked options).

    Attributes:
        environ: the environment processes start from (None: ``os.environ``).
        grace_seconds: real seconds between SIGTERM and SIGKILL (may be infinite).
        kill_leftovers: stop what a command leaves running when it exits on its own.
        max_line_bytes: the longest output line handed on in one piece.
    """

    environ: Mapping[str, str] | None
    grace_seconds: float
    kill_leftovers: bool
    max_line_bytes: int

    @classmethod
    def check(
        cls,
        *,
        environ: object,
        cancel_grace_seconds: object,
        kill_leftovers: object,
        max_output_line_bytes: object,
    ) -> ProcessOptions:
        """Check the worker's arguments (named as the worker spells them) and keep them.

        Raises:
            InvalidArgument: an argument of the wrong type or value, named.
        """
        return cls(
            # Checked now, not when a process starts: a process environment holds strings.
            environ=None if environ is None else check_mapping_of_str(environ, "environ"),
            # Infinity: wait for a cancelled process however long it takes to exit.
            grace_seconds=check_seconds(cancel_grace_seconds, "cancel_grace_seconds", finite=False),
            kill_leftovers=check_bool(kill_leftovers, "kill_leftovers"),
            max_line_bytes=check_count(
                max_output_line_bytes, "max_output_line_bytes", minimum=MIN_LINE_BYTES
            ),
        )


@final
class HeldRuns:
    """The flow runs a process worker has claimed and not finished.

    Args:
        states: the worker's proposals for its runs.
        options: how processes are started and stopped.
        clock: the orchestrator's clock (scheduled times).
        stopping: tells whether the worker was asked to stop.
    """

    __slots__ = ("_clock", "_options", "_states", "_stopping", "handles", "wake")

    def __init__(
        self,
        states: RunStates,
        options: ProcessOptions,
        clock: Clock,
        stopping: Callable[[], bool],
    ) -> None:
        self._states = states
        self._options = options
        self._clock = clock
        self._stopping = stopping
        #: The runs held, by id (the worker's cancel watcher trips their handles).
        self.handles: dict[uuid.UUID, RunHandle] = {}
        #: Notified when a run is released and when the worker is told to stop.
        self.wake = Signal()

    def release(self, flow_run_id: uuid.UUID) -> None:
        """Forget a run (finished or given back) and wake whoever waits for room."""
        self.handles.pop(flow_run_id, None)
        self.wake.notify()

    async def start_when_due(
        self,
        run: FlowRun,
        configuration: ProcessJobConfiguration,
        handle: RunHandle,
        due: datetime,
        printer: Printer,
    ) -> None:
        """Wait for a prefetched run's scheduled time, then run it.

        A cancellation of the run ends the wait (and the run, Cancelled); stopping or
        cancelling the worker gives the run back to its queue.
        """
        try:
            while True:
                seen = (handle.signal.generation, self.wake.generation)
                if handle.cancel_requested or self._clock.now() >= due:
                    break
                if self._stopping():
                    self._states.abandon(run)
                    self.release(run.id)
                    return
                await wait_for_any(
                    [(handle.signal, seen[0]), (self.wake, seen[1])],
                    until=functools.partial(self._clock.sleep_until, due),
                )
        except anyio.get_cancelled_exc_class():
            self._states.abandon(run)
            self.release(run.id)
            raise
        await self.supervise(run, configuration, handle, printer)

    async def supervise(
        self,
        run: FlowRun,
        configuration: ProcessJobConfiguration,
        handle: RunHandle,
        printer: Printer,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run one claimed flow run to its final state; reports once its process started."""
        outcome: list[ProcessWorkerResult] = []
        reported = False
        try:
            if handle.cancel_requested:
                self._states.end_cancelled(run, "before its process started")
                return
            async with anyio.create_task_group() as group:
                try:
                    pid = await group.start(self._run_into, run, configuration, printer, outcome)
                except WorkerError as exc:
                    self._states.end(run, Crashed(message=f"Flow run could not start: {exc}"))
                    return
                await self._states.mark_running(run, handle, pid)
                task_status.started()
                reported = True
            self._states.finish(run, handle, outcome[0])
        except anyio.get_cancelled_exc_class():
            self._states.abandon(run)
            raise
        finally:
            self.release(run.id)
            if not reported:
                task_status.started()

    async def _run_into(
        self,
        run: FlowRun,
        configuration: ProcessJobConfiguration,
        printer: Printer,
        outcome: list[ProcessWorkerResult],
        *,
        task_status: anyio.abc.TaskStatus[int],
    ) -> None:
        outcome.append(await self.run(run, configuration, task_status, printer=printer))

    async def run(
        self,
        flow_run: FlowRun,
        configuration: ProcessJobConfiguration,
        task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
        *,
        printer: Printer = print,
    ) -> ProcessWorkerResult:
        """Run one flow run's process to its end (see :meth:`ProcessWorker.run
        <orchestrator.workers._process_worker.ProcessWorker.run>`)."""
        return await run_flow_run_process(
            flow_run,
            configuration,
            self.handles.get(flow_run.id) or RunHandle(),
            environ=self._options.environ,
            grace_seconds=self._options.grace_seconds,
            printer=printer,
            max_line_bytes=self._options.max_line_bytes,
            kill_leftovers=self._options.kill_leftovers,
            task_status=task_status,
        )

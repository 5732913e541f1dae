"""What a process worker proposes for the flow runs it takes, from claim to final state.

:class:`RunStates` holds the worker's side of each transition: claim (Pending), render
the job and mark it Submitting, Running once the process started (proposed again once
the engine has served a WAIT), then Completed, Crashed or Cancelled.
:class:`RunHandle` is the worker's token for one run in flight; :class:`CancelWatcher`
is the observer that trips it when the run is cancelled or deleted, from whichever
thread did it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Final, final

import attrs

from .._core._errors import InvalidArgument, ObjectNotFound, TemplateError
from .._core._events import Observer
from .._core._models import FlowRun
from .._core._outcomes import OrchestrationResult, SetStateStatus
from .._core._states import (
    Cancelled,
    Completed,
    Crashed,
    Pending,
    Running,
    Scheduled,
    State,
    StateType,
)
from .._core._wakeup import Signal
from .._engine._orchestrator import Orchestrator
from .._pools._pool_checks import merge_job_variables
from .._pools._process_config import ProcessJobConfiguration
from ._processes import crash_message

__all__ = ["CancelWatcher", "ProcessWorkerResult", "RunHandle", "RunStates"]

_logger: Final = logging.getLogger("orchestrator.workers")
_ACCEPT: Final = SetStateStatus.ACCEPT
_CANCEL_TYPES: Final = frozenset({StateType.CANCELLING, StateType.CANCELLED})


@final
@attrs.frozen
class ProcessWorkerResult:
    """What became of one flow-run process: its pid (as text) and its exit status.

    Truthy only when the status is 0.
    """

    identifier: str
    status_code: int

    def __bool__(self) -> bool:
        return self.status_code == 0


@final
class RunHandle:
    """A flow run in a worker's hands; ``signal`` fires when its process should stop."""

    __slots__ = ("cancel_requested", "signal")

    def __init__(self) -> None:
        self.cancel_requested = False
        self.signal = Signal()

    def request_cancel(self) -> None:
        """Ask for the run's process to stop (safe from any thread)."""
        self.cancel_requested = True
        self.signal.notify()


@final
class CancelWatcher(Observer):
    """Trips the handle of a worker's run when the run is cancelled or deleted."""

    def __init__(self, handles: Mapping[uuid.UUID, RunHandle]) -> None:
        self._handles = handles

    def flow_run_state_committed(self, run: FlowRun, state: State) -> None:
        """Trip the run's handle on CANCELLING or CANCELLED."""
        if state.type in _CANCEL_TYPES:
            handle = self._handles.get(run.id)
            if handle is not None:
                handle.request_cancel()

    def flow_run_deleted(self, run: FlowRun) -> None:
        """Trip the run's handle: nobody wants it any more."""
        handle = self._handles.get(run.id)
        if handle is not None:
            handle.request_cancel()


@final
class RunStates:
    """A worker's proposals for its flow runs (every method is synchronous but one).

    Args:
        orchestrator: where the runs are.
        work_pool_name: the worker's pool (its template renders the jobs).
        worker_name: given to the job configuration.
        strict: refuse templates with unresolved placeholders.
        environ: what the pool template's ``{{ $NAME }}`` placeholders read (``os.environ``
            when None); job variables never read it.
    """

    __slots__ = ("_environ", "_orchestrator", "_pool", "_strict", "_worker_name")

    def __init__(
        self,
        orchestrator: Orchestrator,
        work_pool_name: str,
        worker_name: str,
        *,
        strict: bool,
        environ: Mapping[str, str] | None,
    ) -> None:
        self._orchestrator = orchestrator
        self._pool = work_pool_name
        self._worker_name = worker_name
        self._strict = strict
        self._environ = environ

    def claim(self, run: FlowRun) -> bool:
        """Propose Pending; True when this worker now owns the run."""
        return self._orchestrator.set_flow_run_state(run.id, Pending()).status is _ACCEPT

    def prepare(self, run: FlowRun) -> ProcessJobConfiguration | None:
        """Render the run's job and mark it Submitting; None when the run cannot go on.

        A run whose deployment is gone is cancelled (forced); a job that cannot be
        rendered crashes the run with the reason.
        """
        orchestrator = self._orchestrator
        deployment = None
        if run.deployment_id is not None:
            try:
                deployment = orchestrator.read_deployment(run.deployment_id)
            except ObjectNotFound:
                message = "The deployment of this flow run was deleted."
                orchestrator.set_flow_run_state(run.id, Cancelled(message=message), force=True)
                return None
        try:
            pool = orchestrator.read_work_pool(self._pool)
            base = {} if deployment is None else deployment.job_variables
            configuration = ProcessJobConfiguration.from_template_and_values(
                pool.base_job_template,
                merge_job_variables(base, run.job_variables),
                strict=self._strict,
                environ=self._environ,
            ).prepare_for_flow_run(
                run,
                deployment,
                orchestrator.read_flow(run.flow_id),
                pool,
                worker_name=self._worker_name,
            )
        except (TemplateError, InvalidArgument, ObjectNotFound) as exc:
            self.end(run, Crashed(message=f"Failed to submit flow run to infrastructure: {exc}"))
            return None
        submitting = orchestrator.set_flow_run_state(run.id, Pending(name="Submitting"))
        return configuration if submitting.status is _ACCEPT else None

    async def mark_running(self, run: FlowRun, handle: RunHandle, pid: int) -> None:
        """Record the pid and propose Running; a refusal trips ``handle``.

        A WAIT is served by the engine (:meth:`~orchestrator.Orchestrator.wait_for_turn`:
        the WAIT's delay on the orchestrator's clock, or less for a WAIT on tag slots
        that the slot table would admit sooner), then Running is proposed again.
        """
        orchestrator = self._orchestrator
        try:
            orchestrator.update_flow_run(run.id, infrastructure_pid=str(pid))
            result = orchestrator.set_flow_run_state(run.id, Running())
            while result.status is SetStateStatus.WAIT:
                await orchestrator.wait_for_turn(run.id, result)
                result = orchestrator.set_flow_run_state(run.id, Running())
        except ObjectNotFound:
            handle.request_cancel()
            return
        if result.status is not _ACCEPT:
            _logger.warning("flow run %s may not run (%s); stopping its process", run.id, result)
            handle.request_cancel()

    def finish(self, run: FlowRun, handle: RunHandle, result: ProcessWorkerResult) -> None:
        """Commit the final state of a run whose process has ended."""
        try:
            state_type = self._orchestrator.read_flow_run(run.id).state_type
        except ObjectNotFound:
            return
        if state_type is StateType.CANCELLED:
            return
        if state_type is StateType.CANCELLING:
            self.end_cancelled(run, f"and its process {result.identifier} stopped")
        elif handle.cancel_requested:
            self.end(run, Crashed(message="The worker stopped the flow run's process."))
        elif result:
            self.end(run, Completed())
        else:
            self.end(run, Crashed(message=crash_message(result.status_code)))

    def end_cancelled(self, run: FlowRun, how: str) -> None:
        """Propose Cancelled, saying ``how`` the run stopped."""
        self.end(run, Cancelled(message=f"The flow run was cancelled {how}."))

    def end(self, run: FlowRun, state: State) -> OrchestrationResult | None:
        """Propose ``state``; log a refusal; None when the run is gone."""
        try:
            result = self._orchestrator.set_flow_run_state(run.id, state)
        except ObjectNotFound:
            return None
        if result.status is not _ACCEPT:
            _logger.warning("flow run %s: %s was not accepted (%s)", run.id, state.name, result)
        return result

    def abandon(self, run: FlowRun) -> None:
        """The worker is going away: crash a started run, give an unstarted one back."""
        try:
            state = self._orchestrator.read_flow_run(run.id).state
        except ObjectNotFound:
            return
        if state is None:
            return
        if state.type is StateType.RUNNING:
            self.end(run, Crashed(message="The worker stopped before the flow run finished."))
        elif state.type is StateType.PENDING:
            self.end(run, Scheduled(state.details.scheduled_time))

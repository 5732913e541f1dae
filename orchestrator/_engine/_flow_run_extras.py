"""More flow-run methods of the :class:`~orchestrator.Orchestrator`: pages, history, resume.

* :meth:`FlowRunExtras.paginate_flow_runs` and :meth:`FlowRunExtras.flow_run_history`
  mirror their task-run twins (``paginate_task_runs``, ``task_run_history``).
* :meth:`FlowRunExtras.resume_flow_run` resumes a paused flow run as the reference's
  resume endpoint does: a blocking pause goes back to RUNNING, a suspension (a pause that
  reschedules) to SCHEDULED "Resuming" due now, both through the flow policy, whose
  resuming rule refuses a suspended run without a deployment and fails an expired pause.
"""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .._core._checks import check_count, check_id, check_positive_int, check_text
from .._core._checks_objects import check_instance, check_mapping
from .._core._errors import ArgumentValueError, ObjectNotFound
from .._core._models import FlowRun
from .._core._outcomes import AbortDetails, OrchestrationResult, SetStateStatus
from .._core._states import Running, Scheduled, StateType
from .._journal._records import RunImage
from .._store._history import HistoryBucket, flow_run_history
from ..filters import (
    DeploymentFilter,
    FlowFilter,
    FlowRunFilter,
    FlowRunSort,
    TaskRunFilter,
    WorkPoolFilter,
)
from ._facet import Facet
from ._pool_runs import runs_in_pools
from ._task_run_reads import Page

__all__ = ["FlowRunExtras", "job_variables_change"]

NOT_PAUSED = "Cannot resume a flow run that is not paused."
NO_INPUT = "Cannot resume with input: the flow run is not waiting for input."


class FlowRunExtras(Facet):
    """Flow-run pages, run history, and resuming paused flow runs."""

    __slots__ = ()

    def paginate_flow_runs(
        self,
        *,
        page: int = 1,
        limit: int = 200,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        task_runs: TaskRunFilter | None = None,
        work_pools: WorkPoolFilter | None = None,
        sort: FlowRunSort = FlowRunSort.ID_DESC,
    ) -> Page[FlowRun]:
        """Return page ``page`` (from 1) of ``limit`` flow runs, with the total and page count.

        ``pages`` is ``ceil(count / limit)`` (0 when ``limit`` is 0); page ``n`` holds the
        runs from offset ``(n - 1) * limit`` of what :meth:`read_flow_runs` returns.

        Raises:
            InvalidArgument: ``page`` < 1, a limit that is not an integer >= 0, a sort that
                is not a FlowRunSort, or a filter of the wrong type.
        """
        check_positive_int(page, "page")
        check_count(limit, "limit")
        check_instance(sort, FlowRunSort, "sort")
        store = self._engine.store
        with self._engine.lock:
            within = runs_in_pools(self._engine, work_pools)
            count = store.count_flow_runs(
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                task_runs=task_runs,
                within=within,
            )
            results = store.query_flow_runs(
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                task_runs=task_runs,
                within=within,
                sort=sort,
                limit=limit,
                offset=(page - 1) * limit,
            )
        pages = math.ceil(count / limit) if limit else 0
        return Page(results=results, count=count, limit=limit, pages=pages, page=page)

    def flow_run_history(
        self,
        *,
        history_start: datetime,
        history_end: datetime,
        history_interval: float | timedelta,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        max_buckets: int = 500,
    ) -> list[HistoryBucket]:
        """Count flow runs per time bucket and current state, like :meth:`task_run_history`.

        Buckets are ``[start + i*interval, start + (i+1)*interval)`` while their start is
        before ``history_end``; a run falls in the bucket holding its expected start time.

        Raises:
            InvalidArgument: ``history_start`` or ``history_end`` is not an aware datetime,
                ``history_end`` is before ``history_start``, or the interval is under
                1 second, NaN or infinite.
            HistoryTooLarge: more than ``max_buckets`` buckets.
        """
        with self._engine.lock:
            return flow_run_history(
                self._engine.store,
                history_start=history_start,
                history_end=history_end,
                history_interval=history_interval,
                now=self._engine.clock.now(),
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                max_buckets=max_buckets,
            )

    def resume_flow_run(
        self, flow_run_id: uuid.UUID, run_input: Mapping[str, Any] | None = None
    ) -> OrchestrationResult:
        """Resume a paused flow run, as the reference's resume endpoint does.

        A blocking pause (``pause_reschedule`` False) is resumed by proposing RUNNING; a
        suspension (``pause_reschedule`` True) by proposing SCHEDULED "Resuming" due now,
        for a worker of its deployment to start again. Both go through the flow policy:
        a suspended run without a deployment is REJECTED ("Cannot reschedule a suspended
        flow run without a deployment."), and a pause past its ``pause_timeout`` is
        rejected into FAILED. The resumed run continues its attempt (``run_count`` does
        not grow).

        Args:
            flow_run_id: the paused flow run.
            run_input: values for a pause that waits for input (a mapping with string
                keys). As in Prefect, the paused state must say where the answer goes
                (its ``details.run_input_keyset`` has a ``"response"`` key); when the
                resume is accepted a copy is stored under that key, for the run to read
                with :meth:`read_flow_run_input`. Not validated against a schema (the
                keyset's ``"schema"`` key is not read).

        Returns:
            The result of the proposal; for a run that is not PAUSED, an ABORT carrying
            the run's current state and the reason "Cannot resume a flow run that is not
            paused."; for ``run_input`` given to a pause that waits for none, an ABORT
            with the reason "Cannot resume with input: the flow run is not waiting for
            input." (nothing changes in either case).

        Raises:
            ObjectNotFound: no such flow run.
            InvalidArgument: ``flow_run_id`` is not a UUID, or ``run_input`` not a mapping.
        """
        flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
        if run_input is not None:
            check_mapping(run_input, "run_input")
        engine = self._engine
        with engine.lock:
            run = engine.flow_run(flow_run_id)
            state = run.state
            if state is None or state.type is not StateType.PAUSED:
                return OrchestrationResult(
                    state=state, status=SetStateStatus.ABORT, details=AbortDetails(NOT_PAUSED)
                )
            keyset = state.details.run_input_keyset
            response_key = None if keyset is None else keyset.get("response")
            if run_input and response_key is None:
                return OrchestrationResult(
                    state=state, status=SetStateStatus.ABORT, details=AbortDetails(NO_INPUT)
                )
            proposal = (
                Scheduled(engine.clock.now(), name="Resuming")
                if state.details.pause_reschedule
                else Running()
            )
            result = engine.propose(
                run, proposal, force=False, policy=engine.choose_flow_policy(False)
            )
            if run_input and response_key is not None and result.status is SetStateStatus.ACCEPT:
                run.inputs[response_key] = copy.deepcopy(dict(run_input))
                if engine.journal is not None:
                    engine.journal.append(RunImage(run))
            return result

    def read_flow_run_input(self, flow_run_id: uuid.UUID, key: str) -> Any:
        """Return the input stored for a flow run under ``key`` (a copy).

        ``resume_flow_run(run_input=...)`` stores its input under the ``"response"`` key
        of the paused state's ``run_input_keyset``.

        Raises:
            ObjectNotFound: no such flow run, or it has no input under ``key``.
            InvalidArgument: ``flow_run_id`` is not a UUID, or ``key`` not a non-empty string.
        """
        flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
        check_text(key, "key")
        with self._engine.lock:
            run = self._engine.flow_run(flow_run_id)
            if key not in run.inputs:
                known = ", ".join(repr(k) for k in sorted(run.inputs)) or "none"
                raise ObjectNotFound(
                    "flow run input", repr(key), f"flow run {flow_run_id} has inputs: {known}"
                )
            return copy.deepcopy(run.inputs[key])


def job_variables_change(run: FlowRun, job_variables: Mapping[str, Any]) -> dict[str, Any]:
    """Return the checked change of ``run``'s job variables, refused as the reference does.

    Only a deployment's run that is still SCHEDULED may change its job variables: a run
    with no deployment has no pool template they belong to, and a run past SCHEDULED has
    been (or is being) given to a worker with the old ones.

    Raises:
        ArgumentValueError: ``run`` has no deployment or is not SCHEDULED.
    """
    if run.deployment_id is None:
        raise ArgumentValueError(
            f"job_variables of flow run {run.id} cannot be updated: it has no deployment "
            "(only a deployment's scheduled runs take new job variables)"
        )
    if run.state_type is not StateType.SCHEDULED:
        state = "no state" if run.state is None else f"state {run.state.type.value}"
        raise ArgumentValueError(
            f"job_variables of flow run {run.id} in {state} cannot be updated: only a "
            "SCHEDULED run's can (before a worker takes it)"
        )
    return {"job_variables": dict(job_variables)}

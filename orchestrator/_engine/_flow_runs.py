"""Flow and flow-run methods of the :class:`~orchestrator.Orchestrator`.

Flow runs are the parents of task runs (a task runs only while its flow run is
RUNNING) and the jobs of work pools. Their transitions go through the orchestrator's
flow policy (the core flow policy by default; the minimal one with ``force``), with
the same machinery and bookkeeping as task runs. After every committed flow-run state
the engine's commit path (``commit_flow`` in ``_commits.py``) also, whatever the policy:

* clears the run's "resuming" mark once it is RUNNING again or finished;
* files the run in its work queue's indexes (due, or holding a slot, or neither);
* for a subflow, forces a fresh copy of the state onto its parent task run, with
  ``child_flow_run_id`` naming the subflow (the subflow's own states carry the parent
  task run's id as their ``task_run_id``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .._core._checks import (
    UNSET,
    Unset,
    check_bool,
    check_id,
    check_optional_text,
    check_page,
    check_tags,
    check_text,
    wrong_type,
)
from .._core._checks_objects import check_instance, check_mapping_of_str
from .._core._errors import ObjectNotFound
from .._core._models import Flow, FlowRun, FlowRunPolicy
from .._core._outcomes import OrchestrationResult
from .._core._states import State
from .._journal._records import FlowAdded
from .._pools._pool_checks import check_job_variables
from ..filters import (
    DeploymentFilter,
    FlowFilter,
    FlowRunFilter,
    FlowRunSort,
    TaskRunFilter,
    WorkPoolFilter,
)
from ._facet import Facet, check_state
from ._flow_run_create import new_flow_run
from ._flow_run_extras import job_variables_change
from ._pool_runs import runs_in_pools
from ._rollback import journal_change
from ._state_records import delete_run_state, read_run_state

__all__ = ["FlowRuns"]


class FlowRuns(Facet):
    """Flows and flow runs: create, read, query, update, set state, delete."""

    __slots__ = ()

    # -- flows ------------------------------------------------------------------------------
    def create_flow(self, name: str, *, tags: Iterable[str] = ()) -> Flow:
        """Create a flow, or return the existing flow with this name.

        Raises:
            InvalidArgument: ``name`` is not a non-empty string.
        """
        check_text(name, "name")
        frozen_tags = check_tags(tags)
        with self._engine.lock:
            existing = self._engine.store.get_flow_by_name(name)
            if existing is not None:
                return existing
            flow = Flow(
                id=self._engine.new_id(),
                name=name,
                tags=frozen_tags,
                created=self._engine.clock.now(),
            )
            if self._engine.journal is not None:  # first: the add cannot fail now
                self._engine.journal.append(FlowAdded(flow))
            self._engine.store.add_flow(flow)
            return flow

    def read_flow(self, flow_id: uuid.UUID) -> Flow:
        """Return the flow with this id.

        Raises:
            ObjectNotFound: no such flow.
        """
        flow_id = check_id(flow_id, "flow_id", text=True)
        with self._engine.lock:
            flow = self._engine.store.get_flow(flow_id)
            if flow is None:
                raise ObjectNotFound("flow", flow_id)
            return flow

    def read_flows(self, *, flows: FlowFilter | None = None) -> list[Flow]:
        """Return the flows matching ``flows`` (all when None), in creation order.

        Raises:
            InvalidArgument: ``flows`` is not a FlowFilter.
        """
        if flows is not None:
            check_instance(flows, FlowFilter, "flows")
        with self._engine.lock:
            found = list(self._engine.store.flows.values())
            if flows is None:
                return found
            criterion = flows.criterion
            return [flow for flow in found if criterion.test(flow, self._engine.store)]

    # -- flow runs --------------------------------------------------------------------------
    def create_flow_run(
        self,
        flow_id: uuid.UUID,
        *,
        name: str | None = None,
        state: State | None = None,
        parameters: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        policy: FlowRunPolicy | None = None,
        parent_task_run_id: uuid.UUID | None = None,
        deployment_id: uuid.UUID | None = None,
        work_pool_name: str | None = None,
        work_queue_name: str | None = None,
        job_variables: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        flow_version: str | None = None,
    ) -> FlowRun:
        """Create a flow run of ``flow_id``; ``state`` (default Pending) is applied with force.

        Args:
            flow_id: the flow.
            name: display name; ``flow-run-<8 hex digits>`` by default.
            state: the initial state, committed through the minimal flow policy.
            parameters: the run's parameters.
            tags, labels: tags and labels of the run. As in Prefect, the labels are
                merged over automatic ones (the client's win): the flow's id
                (``orchestrator.flow.id``) and, for a deployment's run, the deployment's
                id (``orchestrator.deployment.id``).
            policy: retries and retry delay.
            parent_task_run_id: the task run this run is a subflow of.
            deployment_id: the deployment it runs, if any (see
                :meth:`create_flow_run_from_deployment`).
            work_pool_name: the pool whose workers run it; ``work_queue_name`` (the
                pool's default queue when None) must then be one of its queues.
            job_variables: values for the pool's job template, over the deployment's.
            idempotency_key: when a run of this flow already has this key, that run is
                returned unchanged and nothing is created (Prefect's create-or-return; the
                key is unique per flow, deployment runs included).
            flow_version: the version of the flow's code, kept on the run.

        Raises:
            ObjectNotFound: the flow, the parent task run, the deployment, the work pool
                or the work queue does not exist.
            InvalidArgument: a bad argument; nothing is created.
        """
        return new_flow_run(
            self._engine,
            flow_id,
            name=name,
            state=state,
            parameters=parameters,
            tags=tags,
            labels=labels,
            policy=policy,
            parent_task_run_id=parent_task_run_id,
            deployment_id=deployment_id,
            work_pool_name=work_pool_name,
            work_queue_name=work_queue_name,
            job_variables=job_variables,
            idempotency_key=idempotency_key,
            flow_version=flow_version,
        )

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRun:
        """Return the flow run with this id (the live record: treat it as read-only).

        Raises:
            ObjectNotFound: no such flow run.
        """
        flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
        with self._engine.lock:
            return self._engine.flow_run(flow_run_id)

    def read_flow_runs(
        self,
        *,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        task_runs: TaskRunFilter | None = None,
        work_pools: WorkPoolFilter | None = None,
        sort: FlowRunSort = FlowRunSort.ID_DESC,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[FlowRun]:
        """Return the flow runs matching every filter, sorted, from ``offset``, at most ``limit``.

        ``sort`` is a :class:`~orchestrator.filters.FlowRunSort` member: equal keys go
        in creation order and runs whose key is None come last (its docstring has the
        rules).

        As in Prefect, ``task_runs`` keeps the runs that have a task run matching it, and
        ``work_pools`` the runs filed in a queue of a matching pool (runs without a pool,
        or without such a task run, are left out).

        Raises:
            InvalidArgument: a bad filter, sort, limit or offset.
        """
        check_page(limit, offset)
        with self._engine.lock:
            return self._engine.store.query_flow_runs(
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                task_runs=task_runs,
                within=runs_in_pools(self._engine, work_pools),
                sort=sort,
                limit=limit,
                offset=offset,
            )

    def count_flow_runs(
        self,
        *,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        task_runs: TaskRunFilter | None = None,
        work_pools: WorkPoolFilter | None = None,
    ) -> int:
        """Return how many flow runs match every filter (as for :meth:`read_flow_runs`).

        Raises:
            InvalidArgument: a filter of the wrong type.
        """
        with self._engine.lock:
            return self._engine.store.count_flow_runs(
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                task_runs=task_runs,
                within=runs_in_pools(self._engine, work_pools),
            )

    def update_flow_run(
        self,
        flow_run_id: uuid.UUID,
        *,
        name: str | Unset = UNSET,
        infrastructure_pid: str | Unset | None = UNSET,
        labels: Mapping[str, str | None] | Unset = UNSET,
        flow_version: str | Unset | None = UNSET,
        job_variables: Mapping[str, Any] | Unset = UNSET,
    ) -> FlowRun:
        """Change a flow run's name, infrastructure pid or labels (UNSET: leave as is).

        Workers record the pid of the process running the flow run here, as a string
        (``str(pid)``; as in the reference, any infrastructure's id fits). Labels are
        merged over the run's (a None value removes one). ``flow_version`` replaces the
        run's. ``job_variables`` replace the run's, as in the reference only for a
        deployment's run that is still SCHEDULED (its worker has not taken it yet).

        Raises:
            ObjectNotFound: no such flow run.
            InvalidArgument: a bad value, or ``job_variables`` for a run with no deployment
                or not SCHEDULED (nothing is changed).
        """
        flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
        changes: dict[str, Any] = {}
        if not isinstance(name, Unset):
            changes["name"] = check_text(name, "name")
        if not isinstance(infrastructure_pid, Unset):
            if infrastructure_pid is not None and not isinstance(infrastructure_pid, str):
                raise wrong_type(
                    "infrastructure_pid",
                    infrastructure_pid,
                    "None or a string, such as str(pid) for a process id",
                )
            changes["infrastructure_pid"] = infrastructure_pid
        new_labels = (
            None
            if isinstance(labels, Unset)
            else check_mapping_of_str(labels, "labels", none_values=True)
        )
        if not isinstance(flow_version, Unset):
            changes["flow_version"] = check_optional_text(flow_version, "flow_version", empty=True)
        variables = None if isinstance(job_variables, Unset) else check_job_variables(job_variables)
        with self._engine.lock:
            run = self._engine.flow_run(flow_run_id)
            if variables is not None:
                changes.update(job_variables_change(run, variables))
            if new_labels is not None:
                merged = {**run.labels, **new_labels}
                changes["labels"] = {k: v for k, v in merged.items() if v is not None}
            journal_change(self._engine, run, changes)
            self._engine.notify(lambda o: o.flow_run_updated(run, changes))
            return run

    def read_flow_run_states(self, flow_run_id: uuid.UUID) -> list[State]:
        """Return every state the flow run has had, in commit order.

        Raises:
            ObjectNotFound: no such flow run.
        """
        flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
        with self._engine.lock:
            self._engine.flow_run(flow_run_id)
            return self._engine.store.flow_run_states(flow_run_id)

    def set_flow_run_state(
        self, flow_run_id: uuid.UUID, state: State, *, force: bool = False
    ) -> OrchestrationResult:
        """Propose ``state`` for a flow run through the flow policy (minimal with ``force``).

        Raises:
            ObjectNotFound: no such flow run.
            InvalidArgument: ``state`` is not a State, or ``force`` not True or False.
        """
        flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
        check_state(state)
        check_bool(force, "force")
        with self._engine.lock:
            run = self._engine.flow_run(flow_run_id)
            policy = self._engine.choose_flow_policy(force)
            return self._engine.propose(run, state, force=force, policy=policy)

    def delete_flow_run(self, flow_run_id: uuid.UUID) -> None:
        """Delete a flow run with its states; its task runs are deleted too.

        Raises:
            ObjectNotFound: no such flow run.
        """
        flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
        with self._engine.lock:
            self._engine.remove_flow_run(self._engine.flow_run(flow_run_id))

    def read_flow_run_state(self, state_id: uuid.UUID) -> State:
        """Return the flow-run state with this id (any state of a flow run's history).

        Raises:
            InvalidArgument: ``state_id`` is not a UUID or its string form.
            ObjectNotFound: no flow-run state has this id.
        """
        return read_run_state(self._engine, state_id, flow=True)

    def delete_flow_run_state(self, state_id: uuid.UUID) -> None:
        """Delete one past state from its flow run's history; the run is otherwise unchanged.

        A flow run's current state cannot be deleted (unlike in the reference, which leaves
        the run with no state): propose a new state first, or delete the run.

        Raises:
            InvalidArgument: ``state_id`` is not a UUID, or names a run's current state.
            ObjectNotFound: no flow-run state has this id.
        """
        delete_run_state(self._engine, state_id, flow=True)

    def delete_flow_runs(
        self,
        *,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        task_runs: TaskRunFilter | None = None,
        work_pools: WorkPoolFilter | None = None,
    ) -> int:
        """Delete every flow run matching all the given filters; return how many.

        The filters mean what they mean to :meth:`read_flow_runs`: with none, every flow
        run matches, so ``delete_flow_runs()`` deletes them all (Prefect's bulk delete
        likewise deletes whatever its filter matches). Each run goes as with
        :meth:`delete_flow_run`, its task runs with it; the count is of flow runs.

        Raises:
            InvalidArgument: a filter of the wrong type (nothing is deleted).
        """
        engine = self._engine
        with engine.lock:
            runs = engine.store.query_flow_runs(
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                task_runs=task_runs,
                within=runs_in_pools(engine, work_pools),
            )
            for run in runs:
                engine.remove_flow_run(run)
            return len(runs)

"""Deployments of the :class:`~orchestrator.Orchestrator`, and flow runs made from them.

A deployment says how to run a flow away from the caller: in which work pool and
queue, with which default parameters and job variables, and with which command (an
argument list, never a shell line). :meth:`Deployments.create_flow_run_from_deployment`
makes a flow run a worker of that pool will pick up.

Everything is checked before anything is stored: an unknown flow, pool or queue, a
template that does not render the deployment's job variables, a non-string env value
or parameters that cannot travel as JSON each raise a clear error and create nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._core._checks import (
    UNSET,
    Unset,
    check_bool,
    check_id,
    check_name,
    check_optional_count,
    check_optional_text,
    check_tags,
)
from .._core._checks_objects import check_instance
from .._core._errors import ArgumentValueError, ObjectAlreadyExists, ObjectNotFound
from .._core._models import Deployment, FlowRun, FlowRunPolicy
from .._core._states import Scheduled, State
from .._pools._pool_checks import (
    check_command,
    check_job_variables,
    check_parameters,
    first_free_priority,
    merge_job_variables,
)
from ..filters import DeploymentFilter
from ._deployment_limits import drop_concurrency_limit, set_concurrency_limit
from ._facet import Facet
from ._flow_run_create import new_flow_run
from ._object_journal import journal_deployment, journal_deployment_removed
from ._pools import add_queue

__all__ = ["Deployments"]


class Deployments(Facet):
    """Create / read / filter / update / delete deployments; create their flow runs."""

    __slots__ = ()

    def create_deployment(
        self,
        flow_id: uuid.UUID,
        name: str,
        *,
        work_pool_name: str | None = None,
        work_queue_name: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        job_variables: Mapping[str, Any] | None = None,
        command: Sequence[str] | None = None,
        tags: Iterable[str] = (),
        paused: bool = False,
        concurrency_limit: int | None = None,
    ) -> Deployment:
        """Create a deployment of a flow.

        Args:
            flow_id: the flow it runs.
            name: unique among the flow's deployments.
            work_pool_name: the pool whose workers run it (None: no pool).
            work_queue_name: the queue in that pool (the pool's default queue when None).
            parameters: default parameters of its runs (JSON-serialisable).
            job_variables: values for the pool's job template; env values are strings.
            command: the program and arguments that run the flow, e.g.
                ``["python", "flow.py"]``; used when the job configuration has none.
            tags: tags given to its runs.
            paused: informational (runs can still be created).
            concurrency_limit: the most of its flow runs PENDING or RUNNING at once
                (None: no limit). A run refused a slot goes back to SCHEDULED, named
                "AwaitingConcurrencySlot", and freed slots go first come first served.

        Raises:
            ObjectNotFound: the flow, pool or queue does not exist.
            ObjectAlreadyExists: the flow has a deployment with this name.
            InvalidArgument: a bad argument, such as a non-string env value or a command
                given as one string.
            TemplateError: the pool's template does not render these job variables.
        """
        flow_id = check_id(flow_id, "flow_id", text=True)
        check_name(name, "a deployment name")
        values = self._check_deployment_values(
            parameters, job_variables, command, paused, work_queue_name, work_pool_name
        )
        frozen_tags = check_tags(tags)
        check_optional_count(concurrency_limit, "concurrency_limit")
        with self._engine.lock:
            if self._engine.store.get_flow(flow_id) is None:
                raise ObjectNotFound("flow", flow_id, "create it with create_flow() first")
            for existing in self._engine.store.deployments.values():
                if existing.flow_id == flow_id and existing.name == name:
                    raise ObjectAlreadyExists(
                        f"flow {flow_id} already has a deployment named {name!r} "
                        f"({existing.id}); use update_deployment() to change it"
                    )
            queue = None
            if work_pool_name is not None:
                queue = self._engine.work_pools.run_queue(work_pool_name, work_queue_name)
                self._check_renders(work_pool_name, values["job_variables"])
            now = self._engine.clock.now()
            deployment = Deployment(
                id=self._engine.new_id(),
                name=name,
                flow_id=flow_id,
                work_pool_name=work_pool_name,
                work_queue_name=queue,
                tags=frozen_tags,
                concurrency_limit=concurrency_limit,
                created=now,
                updated=now,
                **values,
            )
            journal_deployment(self._engine, deployment)
            self._engine.store.add_deployment(deployment)
            if concurrency_limit is not None:
                self._engine.deployment_slots.upsert(str(deployment.id), concurrency_limit, now=now)
            return deployment

    def _check_deployment_values(
        self,
        parameters: object,
        job_variables: object,
        command: object,
        paused: object,
        work_queue_name: str | None,
        work_pool_name: str | None,
    ) -> dict[str, Any]:
        check_bool(paused, "paused")
        if work_pool_name is not None:
            check_name(work_pool_name, "work_pool_name")
        if work_queue_name is not None:
            check_name(work_queue_name, "work_queue_name")
            if work_pool_name is None:
                raise ArgumentValueError(
                    f"work_queue_name {work_queue_name!r} needs a work_pool_name to belong to"
                )
        return {
            "parameters": check_parameters(parameters),
            "job_variables": check_job_variables(job_variables),
            "command": check_command(command),
            "paused": paused,
        }

    def _check_renders(self, pool_name: str, job_variables: Mapping[str, Any]) -> None:
        pool = self._engine.work_pools.pool(pool_name)
        if pool.type == "process":
            # Imported here: job configurations belong to the worker layer above the engine.
            from .._pools._process_config import ProcessJobConfiguration

            ProcessJobConfiguration.from_template_and_values(
                pool.base_job_template, job_variables, environ={}
            )

    def read_deployment(self, deployment_id: uuid.UUID) -> Deployment:
        """Return the deployment with this id (the live record: treat it as read-only).

        Raises:
            ObjectNotFound: no such deployment.
        """
        deployment_id = check_id(deployment_id, "deployment_id", text=True)
        with self._engine.lock:
            return self._deployment(deployment_id)

    def read_deployments(self, *, deployments: DeploymentFilter | None = None) -> list[Deployment]:
        """Return the deployments matching ``deployments`` (all when None), oldest first.

        Raises:
            InvalidArgument: ``deployments`` is not a DeploymentFilter.
        """
        if deployments is not None:
            check_instance(deployments, DeploymentFilter, "deployments")
        with self._engine.lock:
            found = list(self._engine.store.deployments.values())
            if deployments is None:
                return found
            criterion = deployments.criterion
            return [d for d in found if criterion.test(d, self._engine.store)]

    def update_deployment(
        self,
        deployment_id: uuid.UUID,
        *,
        work_pool_name: str | Unset | None = UNSET,
        work_queue_name: str | Unset | None = UNSET,
        parameters: Mapping[str, Any] | Unset = UNSET,
        job_variables: Mapping[str, Any] | Unset = UNSET,
        command: Sequence[str] | Unset | None = UNSET,
        tags: Iterable[str] | Unset = UNSET,
        paused: bool | Unset = UNSET,
        concurrency_limit: int | Unset | None = UNSET,
    ) -> Deployment:
        """Change a deployment; fields left UNSET stay as they are.

        Changing the pool without a queue moves the deployment to that pool's default
        queue. Runs already created keep the values they were created with. A new
        ``concurrency_limit`` applies to later admissions: runs holding a slot keep it;
        a limit set where there was none counts the runs already PENDING or RUNNING;
        None removes the limit (and the line of runs waiting for a slot).

        Raises:
            ObjectNotFound: no such deployment, pool or queue.
            InvalidArgument, TemplateError: a bad value (nothing is changed).
        """
        deployment_id = check_id(deployment_id, "deployment_id", text=True)
        with self._engine.lock:
            deployment = self._deployment(deployment_id)
            pool = (
                deployment.work_pool_name if isinstance(work_pool_name, Unset) else work_pool_name
            )
            queue: str | None
            if isinstance(work_queue_name, Unset):
                queue = deployment.work_queue_name if pool == deployment.work_pool_name else None
            else:
                queue = work_queue_name
            values = self._check_deployment_values(
                deployment.parameters if isinstance(parameters, Unset) else parameters,
                deployment.job_variables if isinstance(job_variables, Unset) else job_variables,
                deployment.command if isinstance(command, Unset) else command,
                deployment.paused if isinstance(paused, Unset) else paused,
                queue,
                pool,
            )
            new_tags = deployment.tags if isinstance(tags, Unset) else check_tags(tags)
            if not isinstance(concurrency_limit, Unset):
                check_optional_count(concurrency_limit, "concurrency_limit")
            if pool is not None:
                queue = self._engine.work_pools.run_queue(pool, queue)
                self._check_renders(pool, values["job_variables"])
            deployment.work_pool_name = pool
            deployment.work_queue_name = queue
            deployment.tags = new_tags
            for field, value in values.items():
                setattr(deployment, field, value)
            now = self._engine.clock.now()
            if not isinstance(concurrency_limit, Unset):
                set_concurrency_limit(self._engine, deployment, concurrency_limit, now)
            deployment.updated = now
            journal_deployment(self._engine, deployment)
            return deployment

    def delete_deployment(self, deployment_id: uuid.UUID) -> None:
        """Delete a deployment; its flow runs stay (a worker cancels those not started).

        Raises:
            ObjectNotFound: no such deployment.
        """
        deployment_id = check_id(deployment_id, "deployment_id", text=True)
        with self._engine.lock:
            journal_deployment_removed(self._engine, self._deployment(deployment_id))
            self._engine.store.remove_deployment(deployment_id)
            drop_concurrency_limit(self._engine, deployment_id)

    def create_flow_run_from_deployment(
        self,
        deployment_id: uuid.UUID,
        *,
        parameters: Mapping[str, Any] | None = None,
        job_variables: Mapping[str, Any] | None = None,
        state: State | None = None,
        name: str | None = None,
        tags: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        policy: FlowRunPolicy | None = None,
        work_queue_name: str | None = None,
        idempotency_key: str | None = None,
    ) -> FlowRun:
        """Create a flow run of a deployment, for a worker of its pool to pick up.

        Args:
            deployment_id: the deployment.
            parameters: merged over the deployment's parameters.
            job_variables: the run's own job variables, applied over the deployment's
                when a worker renders the job (``env`` merged name by name).
            state: the initial state; ``Scheduled()`` (due now) when None.
            name, labels, policy: as for :meth:`create_flow_run`.
            tags: added to the deployment's tags.
            work_queue_name: another queue of the deployment's pool; as in Prefect, a
                queue of that name is created in the pool (with the first free
                priority) when it has none.
            idempotency_key: as for :meth:`create_flow_run`: when a run of the
                deployment's flow already has this key, that run is returned unchanged.

        Raises:
            ObjectNotFound: no such deployment, or its pool or queue is gone.
            InvalidArgument: a bad argument; nothing is created.
            TemplateError: the pool's template does not render the merged job variables.
        """
        deployment_id = check_id(deployment_id, "deployment_id", text=True)
        if work_queue_name is not None:
            check_name(work_queue_name, "work_queue_name")
        run_parameters = check_parameters(parameters)
        run_variables = check_job_variables(job_variables)
        extra_tags = check_tags(tags)
        check_optional_text(idempotency_key, "idempotency_key")
        with self._engine.lock:
            deployment = self._deployment(deployment_id)
            pool = deployment.work_pool_name
            queue = deployment.work_queue_name if work_queue_name is None else work_queue_name
            created_queue: str | None = None
            if pool is not None:
                self._check_renders(
                    pool, merge_job_variables(deployment.job_variables, run_variables)
                )
                created_queue = self._make_queue(pool, work_queue_name)
                queue = self._engine.work_pools.run_queue(pool, queue)
            elif work_queue_name is not None:
                raise ArgumentValueError(
                    f"deployment {deployment.name!r} has no work pool, so no queue "
                    f"{work_queue_name!r}"
                )
            try:
                return self._new_deployment_run(
                    deployment,
                    state,
                    name,
                    run_parameters,
                    extra_tags,
                    labels,
                    policy,
                    queue,
                    run_variables,
                    idempotency_key,
                )
            except BaseException:
                if created_queue is not None:  # all or nothing: the new queue goes too
                    assert pool is not None
                    del self._engine.work_pools.queues[pool][created_queue]
                raise

    def _make_queue(self, pool_name: str, name: str | None) -> str | None:
        """Create queue ``name`` in the pool if it has none (returns it), else None."""
        queues = self._engine.work_pools.queues.get(pool_name)
        if name is None or queues is None or name in queues:
            return None
        pool = self._engine.work_pools.pool(pool_name)
        priority = first_free_priority(q.priority for q in queues.values())
        add_queue(self._engine, pool, name, priority, None, False)
        return name

    def _new_deployment_run(
        self,
        deployment: Deployment,
        state: State | None,
        name: str | None,
        run_parameters: Mapping[str, Any],
        extra_tags: frozenset[str],
        labels: Mapping[str, str] | None,
        policy: FlowRunPolicy | None,
        queue: str | None,
        run_variables: Mapping[str, Any],
        idempotency_key: str | None,
    ) -> FlowRun:
        """Insert the flow run of ``create_flow_run_from_deployment`` (lock held)."""
        pool = deployment.work_pool_name
        return new_flow_run(
            self._engine,
            deployment.flow_id,
            name=name,
            state=Scheduled() if state is None else state,
            parameters={**deployment.parameters, **run_parameters},
            tags=deployment.tags | extra_tags,
            labels=labels,
            policy=policy,
            deployment_id=deployment.id,
            work_pool_name=pool,
            work_queue_name=queue,
            job_variables=run_variables,
            idempotency_key=idempotency_key,
        )

    def _deployment(self, deployment_id: uuid.UUID) -> Deployment:
        deployment = self._engine.store.get_deployment(deployment_id)
        if deployment is None:
            raise ObjectNotFound(
                "deployment", deployment_id, "check the id, or whether it was deleted"
            )
        return deployment

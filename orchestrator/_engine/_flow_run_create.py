"""Creating a flow run: check every argument, build the record, insert it all or nothing.

:func:`new_flow_run` is shared by ``create_flow_run`` and
``create_flow_run_from_deployment``: idempotency keys are looked up first (a known key
returns its run unchanged), then the flow, parent task run, deployment, pool and queue are
checked, the automatic labels merged under the client's, and the run inserted with its
initial state through the engine, which removes it again if that state is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .._core._checks import (
    check_id,
    check_name,
    check_optional_text,
    check_tags,
    check_text,
)
from .._core._checks_objects import check_instance, check_mapping, check_mapping_of_str
from .._core._errors import ArgumentValueError, ObjectNotFound
from .._core._models import FlowRun, FlowRunPolicy
from .._core._states import Pending, State
from .._pools._pool_checks import check_job_variables
from ._engine import Engine
from ._facet import check_state
from ._flow_run_keys import find_by_idempotency_key

__all__ = ["new_flow_run"]


def new_flow_run(
    engine: Engine,
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
    """Check the arguments, build the flow run and insert it (see :meth:`FlowRuns.create_flow_run`).

    Shared by ``create_flow_run`` and ``create_flow_run_from_deployment``: a refused call
    creates nothing.
    """
    flow_id = check_id(flow_id, "flow_id", text=True)
    if state is not None:
        check_state(state)
    if policy is not None:
        check_instance(policy, FlowRunPolicy, "policy")
    if name is not None:
        check_text(name, "name")
    if parameters is not None:
        check_mapping(parameters, "parameters")
    if labels is not None:
        labels = check_mapping_of_str(labels, "labels")
    if work_pool_name is not None:
        check_name(work_pool_name, "work_pool_name")
    if work_queue_name is not None:
        check_name(work_queue_name, "work_queue_name")
        if work_pool_name is None:
            raise ArgumentValueError(
                f"work_queue_name {work_queue_name!r} needs a work_pool_name to belong to"
            )
    variables = check_job_variables(job_variables)
    check_optional_text(idempotency_key, "idempotency_key")
    check_optional_text(flow_version, "flow_version", empty=True)
    frozen_tags = check_tags(tags)
    parent_id = (
        None
        if parent_task_run_id is None
        else check_id(parent_task_run_id, "parent_task_run_id", text=True)
    )
    deployment = (
        None if deployment_id is None else check_id(deployment_id, "deployment_id", text=True)
    )
    with engine.lock:
        if engine.store.get_flow(flow_id) is None:
            raise ObjectNotFound("flow", flow_id, "create it with create_flow() first")
        if idempotency_key is not None:
            existing = find_by_idempotency_key(engine.store, flow_id, idempotency_key)
            if existing is not None:
                return existing
        if parent_id is not None:
            engine.task_run(parent_id)
        if deployment is not None and engine.store.get_deployment(deployment) is None:
            raise ObjectNotFound("deployment", deployment)
        if work_pool_name is not None:
            work_queue_name = engine.work_pools.run_queue(work_pool_name, work_queue_name)
        run_id = engine.new_id()
        now = engine.clock.now()
        run = FlowRun(
            id=run_id,
            name=f"flow-run-{run_id.hex[:8]}" if name is None else name,
            flow_id=flow_id,
            deployment_id=deployment,
            work_pool_name=work_pool_name,
            work_queue_name=work_queue_name,
            parameters=dict(parameters or {}),
            job_variables=variables,
            tags=frozen_tags,
            labels=_automatic_labels(flow_id, deployment, labels),
            parent_task_run_id=parent_id,
            empirical_policy=FlowRunPolicy() if policy is None else policy,
            created=now,
            updated=now,
            idempotency_key=idempotency_key,
            flow_version=flow_version,
        )
        engine.insert_flow_run(run, Pending() if state is None else state)
        return run


def _automatic_labels(
    flow_id: uuid.UUID, deployment_id: uuid.UUID | None, labels: Mapping[str, str] | None
) -> dict[str, str]:
    """A new flow run's labels: its flow's id and its deployment's id (if any), then the
    client's labels, which win (Prefect's ``prefect.flow.id`` and ``prefect.deployment.id``)."""
    merged = {"orchestrator.flow.id": str(flow_id)}
    if deployment_id is not None:
        merged["orchestrator.deployment.id"] = str(deployment_id)
    merged.update(labels or {})
    return merged

"""Filters and sort orders for querying runs: ``from orchestrator.filters import ...``.

The names and semantics follow the reference server's filter objects. The queries are
methods of :class:`~orchestrator.Orchestrator`: ``read_task_runs``, ``count_task_runs``,
``paginate_task_runs`` and ``task_run_history``, and their flow-run twins
(``read_flow_runs``, ``count_flow_runs``, ``paginate_flow_runs``, ``delete_flow_runs``,
``flow_run_history``). A query takes a ``TaskRunFilter`` (or ``FlowRunFilter``) for the
runs themselves and, for task runs, the cross-entity ``FlowRunFilter``, ``FlowFilter``
and ``DeploymentFilter`` that select by parent flow run. Filters are frozen values built
from plain Python values; each has ``matches(record, lookup=None)`` for testing one
record directly::

    from orchestrator.filters import TaskRunFilter, TaskRunFilterTaskKey, TaskRunSort

    runs = orchestrator.read_task_runs(
        task_runs=TaskRunFilter(task_key=TaskRunFilterTaskKey(any_=["etl.load"])),
        sort=TaskRunSort.EXPECTED_START_TIME_DESC,
        limit=10,
    )

``sort=`` takes a :class:`TaskRunSort` (or :class:`FlowRunSort`) member. Every order is
total and deterministic: equal keys go in creation order (oldest first for an ``*_ASC``
order, newest first for a ``*_DESC`` one), and runs whose key is None come last in
either direction, so ``limit`` and ``offset`` page through the same order every time.
"""

from __future__ import annotations

from ._core._sorts import FlowRunSort as FlowRunSort
from ._core._sorts import TaskRunSort as TaskRunSort
from ._store._filters_base import Operator as Operator
from ._store._filters_flow import FlowRunFilter as FlowRunFilter
from ._store._filters_flow import FlowRunFilterDeploymentId as FlowRunFilterDeploymentId
from ._store._filters_flow import FlowRunFilterEndTime as FlowRunFilterEndTime
from ._store._filters_flow import FlowRunFilterExpectedStartTime as FlowRunFilterExpectedStartTime
from ._store._filters_flow import FlowRunFilterId as FlowRunFilterId
from ._store._filters_flow import FlowRunFilterName as FlowRunFilterName
from ._store._filters_flow import (
    FlowRunFilterNextScheduledStartTime as FlowRunFilterNextScheduledStartTime,
)
from ._store._filters_flow import FlowRunFilterParentTaskRunId as FlowRunFilterParentTaskRunId
from ._store._filters_flow import FlowRunFilterStartTime as FlowRunFilterStartTime
from ._store._filters_flow import FlowRunFilterState as FlowRunFilterState
from ._store._filters_flow import FlowRunFilterStateName as FlowRunFilterStateName
from ._store._filters_flow import FlowRunFilterStateType as FlowRunFilterStateType
from ._store._filters_flow import FlowRunFilterTags as FlowRunFilterTags
from ._store._filters_flow import FlowRunFilterWorkQueueName as FlowRunFilterWorkQueueName
from ._store._filters_flow_deployment import DeploymentFilter as DeploymentFilter
from ._store._filters_flow_deployment import DeploymentFilterId as DeploymentFilterId
from ._store._filters_flow_deployment import DeploymentFilterName as DeploymentFilterName
from ._store._filters_flow_deployment import DeploymentFilterTags as DeploymentFilterTags
from ._store._filters_flow_deployment import (
    DeploymentFilterWorkPoolName as DeploymentFilterWorkPoolName,
)
from ._store._filters_flow_deployment import (
    DeploymentFilterWorkQueueName as DeploymentFilterWorkQueueName,
)
from ._store._filters_flow_deployment import FlowFilter as FlowFilter
from ._store._filters_flow_deployment import FlowFilterId as FlowFilterId
from ._store._filters_flow_deployment import FlowFilterName as FlowFilterName
from ._store._filters_flow_deployment import FlowFilterTags as FlowFilterTags
from ._store._filters_flow_extra import FlowRunFilterFlowVersion as FlowRunFilterFlowVersion
from ._store._filters_flow_extra import FlowRunFilterIdempotencyKey as FlowRunFilterIdempotencyKey
from ._store._filters_flow_extra import (
    FlowRunFilterParentFlowRunId as FlowRunFilterParentFlowRunId,
)
from ._store._filters_pool import WorkPoolFilter as WorkPoolFilter
from ._store._filters_pool import WorkPoolFilterId as WorkPoolFilterId
from ._store._filters_pool import WorkPoolFilterName as WorkPoolFilterName
from ._store._filters_pool import WorkPoolFilterType as WorkPoolFilterType
from ._store._filters_task import TaskRunFilter as TaskRunFilter
from ._store._filters_task import TaskRunFilterEndTime as TaskRunFilterEndTime
from ._store._filters_task import TaskRunFilterExpectedStartTime as TaskRunFilterExpectedStartTime
from ._store._filters_task import TaskRunFilterFlowRunId as TaskRunFilterFlowRunId
from ._store._filters_task import TaskRunFilterId as TaskRunFilterId
from ._store._filters_task import TaskRunFilterName as TaskRunFilterName
from ._store._filters_task import TaskRunFilterStartTime as TaskRunFilterStartTime
from ._store._filters_task import TaskRunFilterState as TaskRunFilterState
from ._store._filters_task import TaskRunFilterStateName as TaskRunFilterStateName
from ._store._filters_task import TaskRunFilterStateType as TaskRunFilterStateType
from ._store._filters_task import TaskRunFilterSubFlowRuns as TaskRunFilterSubFlowRuns
from ._store._filters_task import TaskRunFilterTags as TaskRunFilterTags
from ._store._filters_task import TaskRunFilterTaskKey as TaskRunFilterTaskKey

__all__ = (
    "DeploymentFilter",
    "DeploymentFilterId",
    "DeploymentFilterName",
    "DeploymentFilterTags",
    "DeploymentFilterWorkPoolName",
    "DeploymentFilterWorkQueueName",
    "FlowFilter",
    "FlowFilterId",
    "FlowFilterName",
    "FlowFilterTags",
    "FlowRunFilter",
    "FlowRunFilterDeploymentId",
    "FlowRunFilterEndTime",
    "FlowRunFilterExpectedStartTime",
    "FlowRunFilterFlowVersion",
    "FlowRunFilterId",
    "FlowRunFilterIdempotencyKey",
    "FlowRunFilterName",
    "FlowRunFilterNextScheduledStartTime",
    "FlowRunFilterParentFlowRunId",
    "FlowRunFilterParentTaskRunId",
    "FlowRunFilterStartTime",
    "FlowRunFilterState",
    "FlowRunFilterStateName",
    "FlowRunFilterStateType",
    "FlowRunFilterTags",
    "FlowRunFilterWorkQueueName",
    "FlowRunSort",
    "Operator",
    "TaskRunFilter",
    "TaskRunFilterEndTime",
    "TaskRunFilterExpectedStartTime",
    "TaskRunFilterFlowRunId",
    "TaskRunFilterId",
    "TaskRunFilterName",
    "TaskRunFilterStartTime",
    "TaskRunFilterState",
    "TaskRunFilterStateName",
    "TaskRunFilterStateType",
    "TaskRunFilterSubFlowRuns",
    "TaskRunFilterTags",
    "TaskRunFilterTaskKey",
    "TaskRunSort",
    "WorkPoolFilter",
    "WorkPoolFilterId",
    "WorkPoolFilterName",
    "WorkPoolFilterType",
)

"""Flow-run, flow and deployment filters (also the cross-entity filters of task-run queries).

Given to a task-run query, these select the task runs whose parent flow run (and its
flow, and its deployment) match; task runs without a flow run never match them.
"""

from __future__ import annotations

from typing import final

import attrs

from ._criteria import TRUE, Criterion, Range, combine
from ._filters_base import (
    FilterBase,
    IdsArg,
    Operator,
    StateTypesArg,
    StrsArg,
    names_fields,
    optional_instance,
    shorthand,
    to_operator,
)
from ._filters_common import (
    IdFilterBase,
    NameFilterBase,
    NullableIdFilterBase,
    NullableStrFilterBase,
    StateNameFilterBase,
    StateTypeFilterBase,
    StrFilterBase,
    TagsFilterBase,
    TimeBoundsFilterBase,
    TimeFilterBase,
    state_criterion,
)
from ._filters_flow_extra import (
    FlowRunFilterFlowVersion,
    FlowRunFilterIdempotencyKey,
    FlowRunFilterParentFlowRunId,
)

__all__ = [
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
    "FlowRunFilterId",
    "FlowRunFilterName",
    "FlowRunFilterNextScheduledStartTime",
    "FlowRunFilterParentTaskRunId",
    "FlowRunFilterStartTime",
    "FlowRunFilterState",
    "FlowRunFilterStateName",
    "FlowRunFilterStateType",
    "FlowRunFilterTags",
    "FlowRunFilterWorkQueueName",
]


def _join(subs: tuple[FilterBase | None, ...], operator: Operator) -> Criterion:
    return combine((sub.criterion for sub in subs if sub is not None), operator is Operator.AND)


# -- flow runs ------------------------------------------------------------------------


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterId(IdFilterBase):
    """Flow runs whose id is in ``any_``."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterName(NameFilterBase):
    """Flow runs named one of ``any_`` and/or whose name contains ``like_``, ignoring case."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterTags(TagsFilterBase):
    """Flow runs by tags: ``all_`` (has every one), ``any_`` (has one), ``is_null_`` (none)."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterStateType(StateTypeFilterBase):
    """Flow runs whose current state type is one of ``any_``."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterStateName(StateNameFilterBase):
    """Flow runs whose current state name is one of ``any_``."""


def _flow_state_types(
    value: FlowRunFilterStateType | StateTypesArg | None,
) -> FlowRunFilterStateType | None:
    return shorthand(FlowRunFilterStateType, "any_", value)


def _flow_state_names(
    value: FlowRunFilterStateName | StrsArg | None,
) -> FlowRunFilterStateName | None:
    return shorthand(FlowRunFilterStateName, "any_", value)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterState(FilterBase):
    """Flow runs by current state: ``type`` and ``name`` joined by ``operator``."""

    type: FlowRunFilterStateType | None = attrs.field(default=None, converter=_flow_state_types)
    name: FlowRunFilterStateName | None = attrs.field(default=None, converter=_flow_state_names)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        return state_criterion(self.type, self.name, self.operator)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterDeploymentId(NullableIdFilterBase):
    """Flow runs of the deployments in ``any_``; ``is_null_=True``: runs with no deployment."""

    _attribute = "deployment_id"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterWorkQueueName(NullableStrFilterBase):
    """Flow runs on the work queues named in ``any_``; ``is_null_=True``: on none."""

    _attribute = "work_queue_name"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterParentTaskRunId(NullableIdFilterBase):
    """Subflow runs of the task runs in ``any_``; ``is_null_=True``: runs that are no subflow."""

    _attribute = "parent_task_run_id"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterStartTime(TimeFilterBase):
    """Flow runs by start time, as the reference filters them.

    ``before_``/``after_`` bound the run's ``effective_start_time`` (inclusive): its start
    time, or, for a run that has not started, when it is expected to start.
    ``is_null_=True`` selects the runs that never started (whatever their expected time).
    """

    _attribute = "start_time"

    def _bounds(self) -> Criterion:
        if self.before_ is None and self.after_ is None:
            return TRUE
        return Range("effective_start_time", self.after_, self.before_)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterEndTime(TimeFilterBase):
    """Flow runs that ended in ``[after_, before_]``; ``is_null_=True``: not ended."""

    _attribute = "end_time"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterExpectedStartTime(TimeBoundsFilterBase):
    """Flow runs expected to start in ``[after_, before_]``."""

    _attribute = "expected_start_time"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterNextScheduledStartTime(TimeBoundsFilterBase):
    """Scheduled flow runs due in ``[after_, before_]``."""

    _attribute = "next_scheduled_start_time"


def _flow_run_ids(value: FlowRunFilterId | IdsArg | None) -> FlowRunFilterId | None:
    return shorthand(FlowRunFilterId, "any_", value)


def _flow_run_names(value: FlowRunFilterName | StrsArg | None) -> FlowRunFilterName | None:
    return shorthand(FlowRunFilterName, "any_", value)


def _flow_run_tags(value: FlowRunFilterTags | StrsArg | None) -> FlowRunFilterTags | None:
    return shorthand(FlowRunFilterTags, "all_", value)


def _flow_run_state(value: FlowRunFilterState | StateTypesArg | None) -> FlowRunFilterState | None:
    return shorthand(FlowRunFilterState, "type", value)


def _flow_run_deployment_ids(
    value: FlowRunFilterDeploymentId | IdsArg | None,
) -> FlowRunFilterDeploymentId | None:
    return shorthand(FlowRunFilterDeploymentId, "any_", value)


def _flow_run_work_queues(
    value: FlowRunFilterWorkQueueName | StrsArg | None,
) -> FlowRunFilterWorkQueueName | None:
    return shorthand(FlowRunFilterWorkQueueName, "any_", value)


def _flow_run_parents(
    value: FlowRunFilterParentTaskRunId | IdsArg | None,
) -> FlowRunFilterParentTaskRunId | None:
    return shorthand(FlowRunFilterParentTaskRunId, "any_", value)


def _flow_run_idempotency_keys(
    value: FlowRunFilterIdempotencyKey | StrsArg | None,
) -> FlowRunFilterIdempotencyKey | None:
    return shorthand(FlowRunFilterIdempotencyKey, "any_", value)


def _flow_run_parent_flow_runs(
    value: FlowRunFilterParentFlowRunId | IdsArg | None,
) -> FlowRunFilterParentFlowRunId | None:
    return shorthand(FlowRunFilterParentFlowRunId, "any_", value)


def _flow_run_flow_versions(
    value: FlowRunFilterFlowVersion | StrsArg | None,
) -> FlowRunFilterFlowVersion | None:
    return shorthand(FlowRunFilterFlowVersion, "any_", value)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilter(FilterBase):
    """Select flow runs; the sub-filters that are set are joined by ``operator``.

    Fields also take their sub-filter's main values directly: ids for ``id``,
    ``deployment_id``, ``parent_task_run_id`` and ``parent_flow_run_id`` (``any_``),
    strings for ``name``, ``work_queue_name``, ``idempotency_key`` and ``flow_version``
    (``any_``) and ``tags`` (``all_``), state
    types for ``state``.
    """

    id: FlowRunFilterId | None = attrs.field(default=None, converter=_flow_run_ids)
    name: FlowRunFilterName | None = attrs.field(default=None, converter=_flow_run_names)
    tags: FlowRunFilterTags | None = attrs.field(default=None, converter=_flow_run_tags)
    state: FlowRunFilterState | None = attrs.field(default=None, converter=_flow_run_state)
    deployment_id: FlowRunFilterDeploymentId | None = attrs.field(
        default=None, converter=_flow_run_deployment_ids
    )
    work_queue_name: FlowRunFilterWorkQueueName | None = attrs.field(
        default=None, converter=_flow_run_work_queues
    )
    parent_task_run_id: FlowRunFilterParentTaskRunId | None = attrs.field(
        default=None, converter=_flow_run_parents
    )
    start_time: FlowRunFilterStartTime | None = attrs.field(
        default=None, validator=optional_instance(FlowRunFilterStartTime)
    )
    end_time: FlowRunFilterEndTime | None = attrs.field(
        default=None, validator=optional_instance(FlowRunFilterEndTime)
    )
    expected_start_time: FlowRunFilterExpectedStartTime | None = attrs.field(
        default=None, validator=optional_instance(FlowRunFilterExpectedStartTime)
    )
    next_scheduled_start_time: FlowRunFilterNextScheduledStartTime | None = attrs.field(
        default=None, validator=optional_instance(FlowRunFilterNextScheduledStartTime)
    )
    idempotency_key: FlowRunFilterIdempotencyKey | None = attrs.field(
        default=None, converter=_flow_run_idempotency_keys
    )
    parent_flow_run_id: FlowRunFilterParentFlowRunId | None = attrs.field(
        default=None, converter=_flow_run_parent_flow_runs
    )
    flow_version: FlowRunFilterFlowVersion | None = attrs.field(
        default=None, converter=_flow_run_flow_versions
    )
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        return _join(
            (
                self.id,
                self.name,
                self.tags,
                self.state,
                self.deployment_id,
                self.work_queue_name,
                self.parent_task_run_id,
                self.start_time,
                self.end_time,
                self.expected_start_time,
                self.next_scheduled_start_time,
                self.idempotency_key,
                self.parent_flow_run_id,
                self.flow_version,
            ),
            self.operator,
        )


# -- flows ----------------------------------------------------------------------------


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowFilterId(IdFilterBase):
    """Flows whose id is in ``any_``."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowFilterName(NameFilterBase):
    """Flows named one of ``any_`` and/or whose name contains ``like_``, ignoring case."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowFilterTags(TagsFilterBase):
    """Flows by tags: ``all_`` (has every one), ``any_`` (has one), ``is_null_`` (none)."""


def _flow_ids(value: FlowFilterId | IdsArg | None) -> FlowFilterId | None:
    return shorthand(FlowFilterId, "any_", value)


def _flow_names(value: FlowFilterName | StrsArg | None) -> FlowFilterName | None:
    return shorthand(FlowFilterName, "any_", value)


def _flow_tags(value: FlowFilterTags | StrsArg | None) -> FlowFilterTags | None:
    return shorthand(FlowFilterTags, "all_", value)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowFilter(FilterBase):
    """Select flows; the sub-filters that are set are joined by ``operator``.

    ``id``, ``name`` and ``tags`` also take ids, names and tags (``all_``) directly.
    """

    id: FlowFilterId | None = attrs.field(default=None, converter=_flow_ids)
    name: FlowFilterName | None = attrs.field(default=None, converter=_flow_names)
    tags: FlowFilterTags | None = attrs.field(default=None, converter=_flow_tags)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        return _join((self.id, self.name, self.tags), self.operator)


# -- deployments ----------------------------------------------------------------------


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class DeploymentFilterId(IdFilterBase):
    """Deployments whose id is in ``any_``."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class DeploymentFilterName(NameFilterBase):
    """Deployments named one of ``any_`` and/or whose name contains ``like_``, ignoring case."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class DeploymentFilterTags(TagsFilterBase):
    """Deployments by tags: ``all_`` (has every one), ``any_`` (has one), ``is_null_`` (none)."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class DeploymentFilterWorkPoolName(StrFilterBase):
    """Deployments whose work pool is named one of ``any_``."""

    _attribute = "work_pool_name"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class DeploymentFilterWorkQueueName(StrFilterBase):
    """Deployments whose work queue is named one of ``any_``."""

    _attribute = "work_queue_name"


def _deployment_ids(value: DeploymentFilterId | IdsArg | None) -> DeploymentFilterId | None:
    return shorthand(DeploymentFilterId, "any_", value)


def _deployment_names(value: DeploymentFilterName | StrsArg | None) -> DeploymentFilterName | None:
    return shorthand(DeploymentFilterName, "any_", value)


def _deployment_tags(value: DeploymentFilterTags | StrsArg | None) -> DeploymentFilterTags | None:
    return shorthand(DeploymentFilterTags, "all_", value)


def _deployment_pools(
    value: DeploymentFilterWorkPoolName | StrsArg | None,
) -> DeploymentFilterWorkPoolName | None:
    return shorthand(DeploymentFilterWorkPoolName, "any_", value)


def _deployment_queues(
    value: DeploymentFilterWorkQueueName | StrsArg | None,
) -> DeploymentFilterWorkQueueName | None:
    return shorthand(DeploymentFilterWorkQueueName, "any_", value)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class DeploymentFilter(FilterBase):
    """Select deployments; the sub-filters that are set are joined by ``operator``.

    Every field also takes its values directly (ids, names, tags for ``all_``).
    """

    id: DeploymentFilterId | None = attrs.field(default=None, converter=_deployment_ids)
    name: DeploymentFilterName | None = attrs.field(default=None, converter=_deployment_names)
    tags: DeploymentFilterTags | None = attrs.field(default=None, converter=_deployment_tags)
    work_pool_name: DeploymentFilterWorkPoolName | None = attrs.field(
        default=None, converter=_deployment_pools
    )
    work_queue_name: DeploymentFilterWorkQueueName | None = attrs.field(
        default=None, converter=_deployment_queues
    )
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        return _join(
            (self.id, self.name, self.tags, self.work_pool_name, self.work_queue_name),
            self.operator,
        )

"""Flow-run filters (also a cross-entity filter of task-run queries).

The flow and deployment filters are in ``_filters_flow_deployment.py``. Given to a
task-run query, these filters select the task runs whose parent flow run (and its
flow, and its deployment) match; task runs without a flow run never match them.
"""

from __future__ import annotations

from typing import final

import attrs

from ._criteria import TRUE, Criterion, Range
from ._filters_base import (
    FilterBase,
    IdsArg,
    Operator,
    StateTypesArg,
    StrsArg,
    join_filters,
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
        return join_filters(
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

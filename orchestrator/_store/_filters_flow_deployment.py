"""Flow and deployment filters (also cross-entity filters of flow-run and task-run queries).

Given to a flow-run query, these select the runs whose flow (or deployment) matches;
given to a task-run query, the task runs whose parent flow run's flow (or deployment)
matches. The flow-run filters are in ``_filters_flow.py``.
"""

from __future__ import annotations

from typing import final

import attrs

from ._criteria import Criterion
from ._filters_base import (
    FilterBase,
    IdsArg,
    Operator,
    StrsArg,
    join_filters,
    names_fields,
    shorthand,
    to_operator,
)
from ._filters_common import (
    IdFilterBase,
    NameFilterBase,
    StrFilterBase,
    TagsFilterBase,
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
]


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
        return join_filters((self.id, self.name, self.tags), self.operator)


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
        return join_filters(
            (self.id, self.name, self.tags, self.work_pool_name, self.work_queue_name),
            self.operator,
        )

"""Task-run filters, with the reference's field names and semantics.

``TaskRunFilter`` joins the sub-filters that are set with its ``operator`` (AND by
default). Every sub-filter is a frozen value; build them with plain Python values::

    TaskRunFilter(
        state=TaskRunFilterState(type=TaskRunFilterStateType(any_=StateType.COMPLETED)),
        task_key=TaskRunFilterTaskKey(any_="etl.load"),
    )
"""

from __future__ import annotations

import uuid
from typing import final

import attrs

from ._criteria import FALSE, TRUE, Criterion, In, IsNull, IsSubflowParent, combine
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
    to_optional_bool,
    to_uuids,
)
from ._filters_common import (
    IdFilterBase,
    NameFilterBase,
    StateNameFilterBase,
    StateTypeFilterBase,
    StrFilterBase,
    TagsFilterBase,
    TimeBoundsFilterBase,
    TimeFilterBase,
    state_criterion,
)

__all__ = [
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
]


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterId(IdFilterBase):
    """Task runs whose id is in ``any_`` (one id or several; UUIDs or their strings)."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterName(NameFilterBase):
    """Task runs named one of ``any_`` and/or whose name contains ``like_``, ignoring case."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterTags(TagsFilterBase):
    """Task runs by tags: ``all_`` (has every one), ``any_`` (has one), ``is_null_`` (none)."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterStateType(StateTypeFilterBase):
    """Task runs whose current state type is one of ``any_``."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterStateName(StateNameFilterBase):
    """Task runs whose current state name is one of ``any_`` (exact, e.g. ``"AwaitingRetry"``)."""


def _task_state_types(
    value: TaskRunFilterStateType | StateTypesArg | None,
) -> TaskRunFilterStateType | None:
    return shorthand(TaskRunFilterStateType, "any_", value)


def _task_state_names(
    value: TaskRunFilterStateName | StrsArg | None,
) -> TaskRunFilterStateName | None:
    return shorthand(TaskRunFilterStateName, "any_", value)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterState(FilterBase):
    """Task runs by current state: ``type`` and ``name`` joined by ``operator``.

    ``type`` also takes state types directly, ``name`` state names.
    """

    type: TaskRunFilterStateType | None = attrs.field(default=None, converter=_task_state_types)
    name: TaskRunFilterStateName | None = attrs.field(default=None, converter=_task_state_names)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        return state_criterion(self.type, self.name, self.operator)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterStartTime(TimeFilterBase):
    """Task runs that first ran in ``[after_, before_]``; ``is_null_=True``: never started."""

    _attribute = "start_time"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterEndTime(TimeFilterBase):
    """Task runs that ended in ``[after_, before_]``; ``is_null_=True``: not ended."""

    _attribute = "end_time"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterExpectedStartTime(TimeBoundsFilterBase):
    """Task runs expected to start in ``[after_, before_]`` (inclusive)."""

    _attribute = "expected_start_time"


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterSubFlowRuns(FilterBase):
    """``exists_=True``: task runs that stand for a subflow (some flow run's parent task).

    ``exists_=False``: the others. Testing it with ``matches`` needs the store as lookup.
    """

    exists_: bool | None = attrs.field(default=None, converter=to_optional_bool)

    def _compile(self) -> Criterion:
        return TRUE if self.exists_ is None else IsSubflowParent(self.exists_)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterFlowRunId(FilterBase):
    """Task runs by parent flow run.

    ``is_null_`` defaults to False, as in the reference. ``is_null_=True`` selects the
    runs with no flow run (``any_`` is then ignored); ``is_null_=False`` with no ``any_``
    selects every run that has a flow run; otherwise (``is_null_=False`` or None)
    ``any_`` selects runs of those flow runs, and ``is_null_=None`` with no ``any_``
    restricts nothing. It is a single criterion, so ``operator`` is accepted for symmetry
    but changes nothing.
    """

    any_: frozenset[uuid.UUID] | None = attrs.field(default=None, converter=to_uuids)
    is_null_: bool | None = attrs.field(default=False, converter=to_optional_bool)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        if self.is_null_ is True:
            return IsNull("flow_run_id", True)
        if self.any_ is not None:
            return In("flow_run_id", self.any_) if self.any_ else FALSE
        if self.is_null_ is False:
            return IsNull("flow_run_id", False)
        return TRUE


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilterTaskKey(StrFilterBase):
    """Task runs whose task key is one of ``any_`` (an extension of the reference)."""

    _attribute = "task_key"


def _task_run_ids(value: TaskRunFilterId | IdsArg | None) -> TaskRunFilterId | None:
    return shorthand(TaskRunFilterId, "any_", value)


def _task_run_names(value: TaskRunFilterName | StrsArg | None) -> TaskRunFilterName | None:
    return shorthand(TaskRunFilterName, "any_", value)


def _task_run_tags(value: TaskRunFilterTags | StrsArg | None) -> TaskRunFilterTags | None:
    return shorthand(TaskRunFilterTags, "all_", value)


def _task_run_state(value: TaskRunFilterState | StateTypesArg | None) -> TaskRunFilterState | None:
    return shorthand(TaskRunFilterState, "type", value)


def _task_run_subflows(
    value: TaskRunFilterSubFlowRuns | bool | None,
) -> TaskRunFilterSubFlowRuns | None:
    return shorthand(TaskRunFilterSubFlowRuns, "exists_", value)


def _task_run_flow_run_ids(
    value: TaskRunFilterFlowRunId | IdsArg | None,
) -> TaskRunFilterFlowRunId | None:
    return shorthand(TaskRunFilterFlowRunId, "any_", value)


def _task_run_task_keys(
    value: TaskRunFilterTaskKey | StrsArg | None,
) -> TaskRunFilterTaskKey | None:
    return shorthand(TaskRunFilterTaskKey, "any_", value)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TaskRunFilter(FilterBase):
    """Select task runs; the sub-filters that are set are joined by ``operator``.

    A filter with nothing set matches every run. See each ``TaskRunFilter*`` class for
    the semantics of its field. Fields also take their sub-filter's main values
    directly: ``id``, ``flow_run_id`` (ids: its ``any_``), ``name``, ``task_key``
    (strings: ``any_``), ``tags`` (strings: ``all_``), ``state`` (state types) and
    ``subflow_runs`` (a bool: ``exists_``).
    """

    id: TaskRunFilterId | None = attrs.field(default=None, converter=_task_run_ids)
    name: TaskRunFilterName | None = attrs.field(default=None, converter=_task_run_names)
    tags: TaskRunFilterTags | None = attrs.field(default=None, converter=_task_run_tags)
    state: TaskRunFilterState | None = attrs.field(default=None, converter=_task_run_state)
    start_time: TaskRunFilterStartTime | None = attrs.field(
        default=None, validator=optional_instance(TaskRunFilterStartTime)
    )
    end_time: TaskRunFilterEndTime | None = attrs.field(
        default=None, validator=optional_instance(TaskRunFilterEndTime)
    )
    expected_start_time: TaskRunFilterExpectedStartTime | None = attrs.field(
        default=None, validator=optional_instance(TaskRunFilterExpectedStartTime)
    )
    subflow_runs: TaskRunFilterSubFlowRuns | None = attrs.field(
        default=None, converter=_task_run_subflows
    )
    flow_run_id: TaskRunFilterFlowRunId | None = attrs.field(
        default=None, converter=_task_run_flow_run_ids
    )
    task_key: TaskRunFilterTaskKey | None = attrs.field(default=None, converter=_task_run_task_keys)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        subs = (
            self.id,
            self.name,
            self.tags,
            self.state,
            self.start_time,
            self.end_time,
            self.expected_start_time,
            self.subflow_runs,
            self.flow_run_id,
            self.task_key,
        )
        return combine(
            (sub.criterion for sub in subs if sub is not None), self.operator is Operator.AND
        )

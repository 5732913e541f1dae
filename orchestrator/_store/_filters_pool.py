"""Work-pool filters, for selecting flow runs by the pool they are filed in.

``WorkPoolFilter`` tests :class:`~orchestrator.WorkPool` records (by id, name or type).
A flow-run query given one keeps the runs filed in a queue of a matching pool (as the
reference joins a flow run to its queue and the queue to its pool): runs without a pool
never match. Pools are few, so the engine tests each pool and then takes the runs of its
queues from the flow-run table's queue index.
"""

from __future__ import annotations

from typing import ClassVar, final

import attrs

from ._criteria import Criterion, combine
from ._filters_base import (
    FilterBase,
    IdsArg,
    Operator,
    StrsArg,
    names_fields,
    shorthand,
    to_operator,
)
from ._filters_common import IdFilterBase, NameFilterBase, StrFilterBase

__all__ = ["WorkPoolFilter", "WorkPoolFilterId", "WorkPoolFilterName", "WorkPoolFilterType"]


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class WorkPoolFilterId(IdFilterBase):
    """Work pools whose id is in ``any_`` (and not in ``not_any_``)."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class WorkPoolFilterName(NameFilterBase):
    """Work pools named one of ``any_`` and/or whose name contains ``like_``, ignoring case."""


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class WorkPoolFilterType(StrFilterBase):
    """Work pools whose type is one of ``any_``."""

    _attribute: ClassVar[str] = "type"


def _pool_ids(value: WorkPoolFilterId | IdsArg | None) -> WorkPoolFilterId | None:
    return shorthand(WorkPoolFilterId, "any_", value)


def _pool_names(value: WorkPoolFilterName | StrsArg | None) -> WorkPoolFilterName | None:
    return shorthand(WorkPoolFilterName, "any_", value)


def _pool_types(value: WorkPoolFilterType | StrsArg | None) -> WorkPoolFilterType | None:
    return shorthand(WorkPoolFilterType, "any_", value)


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class WorkPoolFilter(FilterBase):
    """Select work pools; the sub-filters that are set are joined by ``operator``.

    Every field also takes its values directly (ids, names, types).
    """

    id: WorkPoolFilterId | None = attrs.field(default=None, converter=_pool_ids)
    name: WorkPoolFilterName | None = attrs.field(default=None, converter=_pool_names)
    type: WorkPoolFilterType | None = attrs.field(default=None, converter=_pool_types)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        subs = (self.id, self.name, self.type)
        return combine(
            (sub.criterion for sub in subs if sub is not None), self.operator is Operator.AND
        )

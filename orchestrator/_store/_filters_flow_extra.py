"""Flow-run filters added with the flow-run surface: idempotency keys, parent flow runs
and flow versions.

* ``idempotency_key``: ``any_`` is served by the flow-run table's key index; ``not_any_``
  is tested run by run (like the reference's ``NOT IN``, it never matches a run without
  a key).
* ``parent_flow_run_id``: subflow runs whose parent task run belongs to one of the given
  flow runs (the reference selects the parent task runs of those flow runs).
* ``flow_version``: runs whose flow version is one of ``any_``.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, final

import attrs

from ._criteria import FALSE, TRUE, Criterion, Lookup, all_of
from ._exclusion import exclusion
from ._filters_base import FilterBase, names_fields, to_strings, to_uuids
from ._filters_common import StrFilterBase, membership

__all__ = [
    "FlowRunFilterFlowVersion",
    "FlowRunFilterIdempotencyKey",
    "FlowRunFilterParentFlowRunId",
    "SubflowOf",
]


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterIdempotencyKey(FilterBase):
    """Flow runs whose idempotency key is one of ``any_`` and none of ``not_any_``.

    A run without a key matches neither (as in the reference, where both compare the key).
    """

    any_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)
    not_any_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)

    def _compile(self) -> Criterion:
        return all_of(
            (
                membership("idempotency_key", self.any_),
                exclusion("idempotency_key", self.not_any_),
            )
        )


@final
@attrs.frozen
class SubflowOf(Criterion):
    """The flow run's parent task run exists and belongs to one of ``flow_run_ids``."""

    flow_run_ids: frozenset[uuid.UUID]

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        parent_id = item.parent_task_run_id
        if parent_id is None or lookup is None:
            return False
        parent = lookup.get_task_run(parent_id)
        return parent is not None and parent.flow_run_id in self.flow_run_ids


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterParentFlowRunId(FilterBase):
    """Subflow runs of the flow runs in ``any_`` (their parent task run is in one of them)."""

    any_: frozenset[uuid.UUID] | None = attrs.field(default=None, converter=to_uuids)

    def _compile(self) -> Criterion:
        if self.any_ is None:
            return TRUE
        return SubflowOf(self.any_) if self.any_ else FALSE


@final
@names_fields
@attrs.frozen(kw_only=True, repr=False)
class FlowRunFilterFlowVersion(StrFilterBase):
    """Flow runs whose ``flow_version`` is one of ``any_``."""

    _attribute: ClassVar[str] = "flow_version"

"""Flow-run filters on idempotency keys, with ``not_any_`` (exclusion) as well as ``any_``.

``any_`` is served by the flow-run table's key index; ``not_any_`` is tested run by run
(like the reference's ``NOT IN``, it never matches a run without a key).
"""

from __future__ import annotations

from typing import Any, final

import attrs

from ._criteria import Criterion, Lookup, all_of
from ._filters_base import FilterBase, names_fields, to_strings
from ._filters_common import membership

__all__ = ["FlowRunFilterIdempotencyKey", "NotIn"]


@final
@attrs.frozen
class NotIn(Criterion):
    """``item.<attribute>`` is set and is none of ``values``."""

    attribute: str
    values: frozenset[Any]

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        value = getattr(item, self.attribute)
        return value is not None and value not in self.values


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
        parts = [membership("idempotency_key", self.any_)]
        if self.not_any_ is not None:
            parts.append(NotIn("idempotency_key", self.not_any_))
        return all_of(parts)

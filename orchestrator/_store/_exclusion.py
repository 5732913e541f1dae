"""The exclusion criterion behind every ``not_any_`` filter field.

``not_any_`` is the reference's ``NOT IN``: a record matches when its value is set and is
none of the given values, so a record whose value is null matches no ``not_any_`` (as in
SQL). No index serves it: the planner tests it run by run on what other criteria select.
"""

from __future__ import annotations

from typing import Any, final

import attrs

from ._criteria import TRUE, Criterion, Lookup

__all__ = ["NotIn", "exclusion"]


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


def exclusion(attribute: str, not_any_: frozenset[Any] | None) -> Criterion:
    """``attribute`` set and not in ``not_any_`` (TRUE when ``not_any_`` is None)."""
    return TRUE if not_any_ is None else NotIn(attribute, not_any_)

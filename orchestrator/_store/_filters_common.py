"""Filter shapes shared by several entities: ids, names, tags, states, times, memberships.

Each public sub-filter (``TaskRunFilterName``, ``FlowRunFilterName``, ...) is a final
subclass of one of these bases that only names the record attribute it reads, so the
semantics are written once. Within one sub-filter, the criteria that are set are joined
by its ``operator`` where it has one (AND otherwise); a sub-filter with nothing set
matches everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar

import attrs

from .._core._states import StateType
from ._criteria import (
    FALSE,
    TRUE,
    Criterion,
    HasAll,
    HasAny,
    In,
    IsEmpty,
    IsNull,
    Like,
    Range,
    combine,
)
from ._exclusion import exclusion
from ._filters_base import (
    FilterBase,
    Operator,
    names_fields,
    to_operator,
    to_optional_bool,
    to_optional_str,
    to_state_types,
    to_strings,
    to_time,
    to_uuids,
)

__all__ = [
    "IdFilterBase",
    "NameFilterBase",
    "NullableIdFilterBase",
    "NullableStrFilterBase",
    "StateNameFilterBase",
    "StateTypeFilterBase",
    "StrFilterBase",
    "TagsFilterBase",
    "TimeBoundsFilterBase",
    "TimeFilterBase",
    "membership",
    "state_criterion",
]


def membership(attribute: str, any_: frozenset[object] | None) -> Criterion:
    """``attribute`` in ``any_`` (TRUE when ``any_`` is None, FALSE when it is empty)."""
    if any_ is None:
        return TRUE
    if not any_:
        return FALSE
    return In(attribute, any_)


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class IdFilterBase(FilterBase):
    """Records whose id is in ``any_`` and not in ``not_any_``."""

    _attribute: ClassVar[str] = "id"
    any_: frozenset[uuid.UUID] | None = attrs.field(default=None, converter=to_uuids)
    not_any_: frozenset[uuid.UUID] | None = attrs.field(default=None, converter=to_uuids)

    def _compile(self) -> Criterion:
        return combine(
            (membership(self._attribute, self.any_), exclusion(self._attribute, self.not_any_)),
            True,
        )


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class NullableIdFilterBase(FilterBase):
    """Records whose id-valued attribute is in ``any_``, and/or is (not) null."""

    _attribute: ClassVar[str]
    any_: frozenset[uuid.UUID] | None = attrs.field(default=None, converter=to_uuids)
    is_null_: bool | None = attrs.field(default=None, converter=to_optional_bool)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        parts = []
        if self.any_ is not None:
            parts.append(membership(self._attribute, self.any_))
        if self.is_null_ is not None:
            parts.append(IsNull(self._attribute, self.is_null_))
        return combine(parts, self.operator is Operator.AND)


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class StrFilterBase(FilterBase):
    """Records whose string attribute is one of ``any_``."""

    _attribute: ClassVar[str]
    any_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)

    def _compile(self) -> Criterion:
        return membership(self._attribute, self.any_)


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class NullableStrFilterBase(FilterBase):
    """Records whose string attribute is one of ``any_``, and/or is (not) null."""

    _attribute: ClassVar[str]
    any_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)
    is_null_: bool | None = attrs.field(default=None, converter=to_optional_bool)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        parts = []
        if self.any_ is not None:
            parts.append(membership(self._attribute, self.any_))
        if self.is_null_ is not None:
            parts.append(IsNull(self._attribute, self.is_null_))
        return combine(parts, self.operator is Operator.AND)


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class NameFilterBase(FilterBase):
    """Records named one of ``any_`` and/or whose name contains ``like_`` (any case)."""

    any_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)
    like_: str | None = attrs.field(default=None, converter=to_optional_str)

    def _compile(self) -> Criterion:
        parts = [membership("name", self.any_)]
        if self.like_ is not None:
            parts.append(Like("name", self.like_.casefold()))
        return combine(parts, True)


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TagsFilterBase(FilterBase):
    """Records by their tags.

    ``all_``: the record has every one of these tags (an empty list matches all);
    ``any_``: it has at least one of them; ``is_null_``: True for records with no tags,
    False for records with some. The criteria set are joined by ``operator``.
    """

    all_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)
    any_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)
    is_null_: bool | None = attrs.field(default=None, converter=to_optional_bool)
    operator: Operator = attrs.field(default=Operator.AND, converter=to_operator)

    def _compile(self) -> Criterion:
        parts: list[Criterion] = []
        if self.all_ is not None:
            parts.append(HasAll("tags", self.all_) if self.all_ else TRUE)
        if self.any_ is not None:
            parts.append(HasAny("tags", self.any_) if self.any_ else FALSE)
        if self.is_null_ is not None:
            parts.append(IsEmpty("tags", self.is_null_))
        return combine(parts, self.operator is Operator.AND)


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class StateTypeFilterBase(FilterBase):
    """Runs whose current state type is one of ``any_`` and none of ``not_any_``.

    Both take members or names; a run with no state matches no ``not_any_``.
    """

    any_: frozenset[StateType] | None = attrs.field(default=None, converter=to_state_types)
    not_any_: frozenset[StateType] | None = attrs.field(default=None, converter=to_state_types)

    def _compile(self) -> Criterion:
        return combine(
            (membership("state_type", self.any_), exclusion("state_type", self.not_any_)), True
        )


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class StateNameFilterBase(FilterBase):
    """Runs whose current state name is one of ``any_`` and none of ``not_any_`` (exact)."""

    any_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)
    not_any_: frozenset[str] | None = attrs.field(default=None, converter=to_strings)

    def _compile(self) -> Criterion:
        return combine(
            (membership("state_name", self.any_), exclusion("state_name", self.not_any_)), True
        )


def state_criterion(
    type_: StateTypeFilterBase | None, name: StateNameFilterBase | None, operator: Operator
) -> Criterion:
    """Join a state-type and a state-name sub-filter with ``operator``."""
    parts = [sub.criterion for sub in (type_, name) if sub is not None]
    return combine(parts, operator is Operator.AND)


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TimeBoundsFilterBase(FilterBase):
    """Records whose time attribute lies in ``[after_, before_]`` (inclusive; None never does)."""

    _attribute: ClassVar[str]
    before_: datetime | None = attrs.field(default=None, converter=to_time)
    after_: datetime | None = attrs.field(default=None, converter=to_time)

    def _compile(self) -> Criterion:
        return self._bounds()

    def _bounds(self) -> Criterion:
        if self.before_ is None and self.after_ is None:
            return TRUE
        return Range(self._attribute, self.after_, self.before_)


@names_fields
@attrs.frozen(kw_only=True, repr=False)
class TimeFilterBase(TimeBoundsFilterBase):
    """Time bounds as in the base, plus ``is_null_``: True for records without the time."""

    is_null_: bool | None = attrs.field(default=None, converter=to_optional_bool)

    def _compile(self) -> Criterion:
        parts: Iterable[Criterion] = [self._bounds()]
        if self.is_null_ is not None:
            parts = [*parts, IsNull(self._attribute, self.is_null_)]
        return combine(parts, True)

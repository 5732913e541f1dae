"""Criteria: the small condition trees every filter compiles to.

A filter object (``TaskRunFilter``, ``FlowRunFilter``, ...) is what users write; on
construction it compiles itself once into a tree of the primitive criteria below
(membership, null test, inclusive range, substring, tag tests, subflow parent) joined
by :class:`AllOf` / :class:`AnyOf`. Two things read the tree: ``matches`` evaluates it
against one record (the brute-force path, and the predicate of every query plan), and
the query planner maps each primitive to an index (see ``_planner``).

The combinators simplify as they build: a conjunction with no children is
:data:`TRUE`, a disjunction with no children is :data:`FALSE`, a single child stands
for itself, and nested conjunctions flatten.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, Protocol, final

import attrs

from .._core._errors import InvalidArgument
from .._core._models import Deployment, Flow, FlowRun, TaskRun

__all__ = [
    "FALSE",
    "TRUE",
    "AllOf",
    "AnyOf",
    "Criterion",
    "HasAll",
    "HasAny",
    "In",
    "InFlowRun",
    "IsEmpty",
    "IsNull",
    "IsSubflowParent",
    "Like",
    "Lookup",
    "OfDeployment",
    "OfFlow",
    "Range",
    "all_of",
    "any_of",
    "combine",
    "flow_run_query",
    "task_run_query",
]


class Lookup(Protocol):
    """What criteria that look past the record itself need (the store provides it)."""

    def get_flow_run(self, flow_run_id: uuid.UUID, /) -> FlowRun | None:
        """Return the flow run with this id, or None."""

    def get_flow(self, flow_id: uuid.UUID, /) -> Flow | None:
        """Return the flow with this id, or None."""

    def get_deployment(self, deployment_id: uuid.UUID, /) -> Deployment | None:
        """Return the deployment with this id, or None."""

    def has_subflow(self, task_run_id: uuid.UUID, /) -> bool:
        """Return whether some flow run has this task run as its parent task run."""

    def get_task_run(self, task_run_id: uuid.UUID, /) -> TaskRun | None:
        """Return the task run with this id, or None."""


class Criterion(ABC):
    """A condition on one record (a run, a flow or a deployment)."""

    __slots__ = ()

    @abstractmethod
    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """Return whether ``item`` satisfies the condition."""


@final
@attrs.frozen
class In(Criterion):
    """``item.<attribute>`` is one of ``values`` (never true for an empty set)."""

    attribute: str
    values: frozenset[Any]

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        return bool(getattr(item, self.attribute) in self.values)


@final
@attrs.frozen
class IsNull(Criterion):
    """``item.<attribute>`` is None (``null=True``) or is not None (``null=False``)."""

    attribute: str
    null: bool

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        return (getattr(item, self.attribute) is None) == self.null


@final
@attrs.frozen
class Range(Criterion):
    """``lo <= item.<attribute> <= hi``, inclusive; a None bound is open; None never matches."""

    attribute: str
    lo: datetime | None
    hi: datetime | None

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        value = getattr(item, self.attribute)
        if value is None:
            return False
        if self.lo is not None and value < self.lo:
            return False
        return self.hi is None or value <= self.hi


@final
@attrs.frozen
class Like(Criterion):
    """``item.<attribute>`` contains ``needle``, ignoring case (``needle`` is casefolded)."""

    attribute: str
    needle: str

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        value = getattr(item, self.attribute)
        return value is not None and self.needle in value.casefold()


@final
@attrs.frozen
class HasAll(Criterion):
    """The set ``item.<attribute>`` contains every one of ``values`` (non-empty)."""

    attribute: str
    values: frozenset[str]

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        return self.values.issubset(getattr(item, self.attribute))


@final
@attrs.frozen
class HasAny(Criterion):
    """The set ``item.<attribute>`` contains at least one of ``values``."""

    attribute: str
    values: frozenset[str]

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        return not self.values.isdisjoint(getattr(item, self.attribute))


@final
@attrs.frozen
class IsEmpty(Criterion):
    """The set ``item.<attribute>`` is empty (``empty=True``) or not (``empty=False``)."""

    attribute: str
    empty: bool

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        return (not getattr(item, self.attribute)) is self.empty


@final
@attrs.frozen
class IsSubflowParent(Criterion):
    """The task run is (``exists=True``) or is not the parent task of some flow run."""

    exists: bool

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring.

        Raises:
            InvalidArgument: no ``lookup`` was given (this test needs the flow runs).
        """
        return _need(lookup).has_subflow(item.id) is self.exists


@final
@attrs.frozen
class AllOf(Criterion):
    """Every child holds (true when there are none). Build it with :func:`all_of`."""

    children: tuple[Criterion, ...]

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        # A plain loop: all() over a generator costs more on the query hot path.
        for child in self.children:  # noqa: SIM110
            if not child.test(item, lookup):
                return False
        return True


@final
@attrs.frozen
class AnyOf(Criterion):
    """Some child holds (false when there are none). Build it with :func:`any_of`."""

    children: tuple[Criterion, ...]

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        for child in self.children:  # noqa: SIM110
            if child.test(item, lookup):
                return True
        return False


@final
@attrs.frozen
class InFlowRun(Criterion):
    """The task run has a flow run, the store holds it, and it satisfies ``criterion``."""

    criterion: Criterion

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        flow_run_id = item.flow_run_id
        if flow_run_id is None:
            return False
        flow_run = _need(lookup).get_flow_run(flow_run_id)
        return flow_run is not None and self.criterion.test(flow_run, lookup)


@final
@attrs.frozen
class OfFlow(Criterion):
    """The flow run's flow is in the store and satisfies ``criterion``."""

    criterion: Criterion

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        flow = _need(lookup).get_flow(item.flow_id)
        return flow is not None and self.criterion.test(flow, lookup)


@final
@attrs.frozen
class OfDeployment(Criterion):
    """The flow run has a deployment, the store holds it, and it satisfies ``criterion``."""

    criterion: Criterion

    def test(self, item: Any, lookup: Lookup | None) -> bool:
        """See the class docstring."""
        deployment_id = item.deployment_id
        if deployment_id is None:
            return False
        deployment = _need(lookup).get_deployment(deployment_id)
        return deployment is not None and self.criterion.test(deployment, lookup)


def _need(lookup: Lookup | None) -> Lookup:
    if lookup is None:
        raise InvalidArgument(
            "flow-run, flow and deployment filters need to see those records: pass the "
            "store as the lookup"
        )
    return lookup


#: The criterion that always holds.
TRUE: Final = AllOf(())
#: The criterion that never holds.
FALSE: Final = AnyOf(())


def all_of(children: Iterable[Criterion]) -> Criterion:
    """Return the conjunction of ``children``, simplified (flattened, TRUE dropped)."""
    flat: list[Criterion] = []
    for child in children:
        if isinstance(child, AllOf):
            flat.extend(child.children)
        elif child == FALSE:
            return FALSE
        else:
            flat.append(child)
    if len(flat) == 1:
        return flat[0]
    return AllOf(tuple(flat))


def any_of(children: Iterable[Criterion]) -> Criterion:
    """Return the disjunction of ``children``, simplified (flattened, FALSE dropped)."""
    flat: list[Criterion] = []
    for child in children:
        if child == TRUE:
            return TRUE
        if isinstance(child, AnyOf):
            flat.extend(child.children)
        else:
            flat.append(child)
    if len(flat) == 1:
        return flat[0]
    return AnyOf(tuple(flat))


def combine(children: Iterable[Criterion], conjunction: bool) -> Criterion:
    """Return :func:`all_of` or :func:`any_of` of ``children``; no children means TRUE.

    Filters follow the reference: a filter with no criteria set matches everything,
    whichever operator joins them.
    """
    items = list(children)
    if not items:
        return TRUE
    return all_of(items) if conjunction else any_of(items)


def flow_run_query(
    flow_runs: Criterion | None, flows: Criterion | None, deployments: Criterion | None
) -> Criterion:
    """Return the condition on a flow run of a flow-run query with cross-entity filters."""
    parts = [] if flow_runs is None else [flow_runs]
    if flows is not None:
        parts.append(OfFlow(flows))
    if deployments is not None:
        parts.append(OfDeployment(deployments))
    return all_of(parts)


def task_run_query(
    task_runs: Criterion | None,
    flow_runs: Criterion | None,
    flows: Criterion | None,
    deployments: Criterion | None,
) -> Criterion:
    """Return the condition on a task run of a task-run query with cross-entity filters.

    Any cross-entity filter requires a parent flow run that matches them all, so runs
    without a flow run are excluded. As in the reference, a flow-run filter whose only
    effective criterion is a non-empty id list (and no flow or deployment filter) reduces
    to "flow_run_id in ids", whether or not those flow runs are in the store.
    """
    parts = [] if task_runs is None else [task_runs]
    if flow_runs is not None or flows is not None or deployments is not None:
        if (
            isinstance(flow_runs, In)
            and flow_runs.attribute == "id"
            and flows is None
            and deployments is None
        ):
            parts.append(In("flow_run_id", flow_runs.values))
        else:
            parts.append(InFlowRun(flow_run_query(flow_runs, flows, deployments)))
    return all_of(parts)

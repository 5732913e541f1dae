"""Query analysis: which index can supply the candidates of each criterion, and how many.

Each primitive criterion maps to a *source*: a set of candidate rows taken from an
index, with its size known in O(1) or O(log n) (a set's length, the distance between
two bisections of a sorted index). A conjunction offers every child's sources (each is
a superset of the answer); a disjunction offers the union of each child's smallest
source, or nothing if one child has none. A source is *exact* when it yields precisely
the rows of the whole query, each once: then no predicate is needed and a count is its
size. The analysis also records, per sortable attribute, the range a conjunction
confines it to (:class:`Bounds`). ``_planner`` chooses a plan from this.

Flows and deployments are few, so their own filters are evaluated by lookup where an
id or name is given and by a scan of them otherwise.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Final, Generic, Protocol, TypeVar, final

import attrs

from .._core._models import Deployment, Flow, FlowRun, TaskRun
from ._criteria import (
    AllOf,
    AnyOf,
    Criterion,
    HasAll,
    HasAny,
    In,
    InFlowRun,
    IsEmpty,
    IsNull,
    IsSubflowParent,
    Lookup,
    OfDeployment,
    OfFlow,
    Range,
)
from ._table import PARTITION_FIELDS, RunTable, state_key

__all__ = ["EAGER_FLOW_RUNS", "FULL", "Analysis", "Bounds", "Catalog", "Source", "analyse"]

R = TypeVar("R", TaskRun, FlowRun)

#: A cross-entity source with at most this many flow runs is evaluated while planning,
#: which makes its size exact.
EAGER_FLOW_RUNS: Final = 64


class Catalog(Lookup, Protocol):
    """What the planner reads from the store."""

    @property
    def task_table(self) -> RunTable[TaskRun]:
        """The task runs and their indexes."""

    @property
    def flow_table(self) -> RunTable[FlowRun]:
        """The flow runs and their indexes."""

    @property
    def flows(self) -> Mapping[uuid.UUID, Flow]:
        """Flows by id."""

    @property
    def deployments(self) -> Mapping[uuid.UUID, Deployment]:
        """Deployments by id."""

    def get_flow_by_name(self, name: str, /) -> Flow | None:
        """Return the flow with this name, or None."""

    def matching_flow_runs(self, crit: Criterion, /) -> list[FlowRun]:
        """Return every flow run matching ``crit`` (a query of its own, planned likewise)."""


@final
@attrs.frozen
class Source(Generic[R]):
    """Candidate rows from one index: at most ``size`` rows (exactly, if ``exact``).

    ``field`` names the sorted index a range source comes from; ``container`` is the
    set itself when the source is one set, so a walk can test membership in C;
    ``partition`` is ``(field, value)`` when the source is the runs with one value of a
    partition field, whose partitioned indexes a walk can use.
    """

    size: int
    fetch: Callable[[], Iterable[R]]
    exact: bool
    distinct: bool = True
    field: str | None = None
    container: AbstractSet[R] | None = None
    partition: tuple[str, Any] | None = None


@final
@attrs.frozen
class Bounds:
    """Where a conjunction confines a sortable attribute: ``[lo, hi]`` and/or None."""

    lo: Any = None
    hi: Any = None
    values: bool = True
    nulls: bool = True

    def meet(self, other: Bounds) -> Bounds:
        """Return the bounds that satisfy both."""
        lo = _tighter(self.lo, other.lo, max)
        hi = _tighter(self.hi, other.hi, min)
        return Bounds(lo, hi, self.values and other.values, self.nulls and other.nulls)


def _tighter(a: Any, b: Any, pick: Callable[[Any, Any], Any]) -> Any:
    """The tighter of two optional bounds (None is open)."""
    if a is None:
        return b
    return a if b is None else pick(a, b)


#: Bounds that exclude nothing.
FULL: Final = Bounds()


@final
@attrs.frozen
class Analysis(Generic[R]):
    """What the indexes offer for one criterion (see the module docstring)."""

    sources: tuple[Source[R], ...] = ()
    exact: bool = False
    bounds: Mapping[str, Bounds] = attrs.field(factory=dict)
    everything: bool = False


def analyse(crit: Criterion, table: RunTable[R], cat: Catalog) -> Analysis[R]:
    """Return the sources and bounds the indexes of ``table`` offer for ``crit``.

    O(size of the tree) set lengths and O(log n) bisections; eager only for id lists,
    subflow parents, flows, deployments and small cross-entity flow-run sets.
    """
    if isinstance(crit, AllOf):
        if not crit.children:
            return Analysis(everything=True)
        parts = [analyse(child, table, cat) for child in crit.children]
        bounds: dict[str, Bounds] = {}
        for part in parts:
            for name, bound in part.bounds.items():
                bounds[name] = bounds[name].meet(bound) if name in bounds else bound
        sources = tuple(itertools.chain.from_iterable(part.sources for part in parts))
        return Analysis(sources, False, bounds)
    if isinstance(crit, AnyOf):
        if not crit.children:
            return Analysis((Source(0, tuple, True),), True)
        bests: list[Source[R]] = []
        for child in crit.children:
            part = analyse(child, table, cat)
            if not part.sources:
                return Analysis()
            bests.append(min(part.sources, key=_size))
        size = sum(best.size for best in bests)
        return Analysis((Source(size, _chain_fetch(bests), False, distinct=False),))
    source = _primitive(crit, table, cat)
    if source is None:
        return Analysis()
    bounds = {}
    if source.field is not None:
        bounds[source.field] = _bounds_of(crit)
    return Analysis((source,), source.exact, bounds)


def _size(source: Source[Any]) -> int:
    return source.size


def _chain_fetch(sources: list[Source[R]]) -> Callable[[], Iterable[R]]:
    return lambda: itertools.chain.from_iterable(source.fetch() for source in sources)


def _bounds_of(crit: Criterion) -> Bounds:
    if isinstance(crit, Range):
        return Bounds(crit.lo, crit.hi, True, False)
    assert isinstance(crit, IsNull)
    return Bounds(values=not crit.null, nulls=crit.null)


def _sets_source(sets: list[Any], exact: bool = True) -> Source[Any]:
    return Source(
        sum(len(s) for s in sets),
        lambda: itertools.chain.from_iterable(sets),
        exact,
        distinct=len(sets) <= 1 or exact,
        container=sets[0] if len(sets) == 1 else None,
    )


def _primitive(crit: Criterion, table: RunTable[R], cat: Catalog) -> Source[R] | None:
    attribute = getattr(crit, "attribute", None)
    if isinstance(crit, In):
        if attribute == "id":
            runs = table.runs
            found = [runs[i] for i in crit.values if i in runs]
            return Source(len(found), lambda: found, True)
        if attribute in table.sets:
            index = table.sets[attribute]
            keys = [state_key(v) for v in crit.values] if attribute == "state_type" else crit.values
            source = _sets_source([index.get(key) for key in keys])
            if len(keys) == 1 and attribute in PARTITION_FIELDS:
                return attrs.evolve(source, partition=(attribute, next(iter(keys))))
            return source
        if attribute in table.sorted:
            sorted_index = table.sorted[attribute]
            values = crit.values
            size = sum(sorted_index.count(v, v) for v in values)
            return Source(
                size,
                lambda: itertools.chain.from_iterable(sorted_index.irange(v, v) for v in values),
                True,
            )
        return None
    if isinstance(crit, IsNull):
        if attribute in table.sorted:
            sorted_index = table.sorted[crit.attribute]
            if crit.null:
                return Source(sorted_index.null_count, sorted_index.nulls, True, field=attribute)
            size = len(sorted_index) - sorted_index.null_count
            return Source(size, sorted_index.irange, True, field=attribute)
        if attribute in table.sets and crit.null:
            return _sets_source([table.sets[crit.attribute].get(None)])
        return None
    if isinstance(crit, Range) and attribute in table.sorted:
        sorted_index = table.sorted[crit.attribute]
        lo, hi = crit.lo, crit.hi
        size = sorted_index.count(lo, hi)
        return Source(size, lambda: sorted_index.irange(lo, hi), True, field=attribute)
    if isinstance(crit, HasAll):
        tags = table.tags
        smallest = min(crit.values, key=tags.size)
        members = tags.get(smallest)
        return Source(len(members), lambda: members, len(crit.values) == 1, container=members)
    if isinstance(crit, HasAny):
        return _sets_source([table.tags.get(tag) for tag in crit.values], len(crit.values) == 1)
    if isinstance(crit, IsEmpty) and crit.empty:
        return _sets_source([table.untagged])
    if isinstance(crit, IsSubflowParent) and crit.exists:
        runs = table.runs
        parents = cat.flow_table.sets["parent_task_run_id"].keys()
        found = [runs[key] for key in parents if key is not None and key in runs]
        return Source(len(found), lambda: found, True)
    if isinstance(crit, InFlowRun):
        return _flow_run_source(crit.criterion, table, cat)
    if isinstance(crit, OfFlow):
        flows = _matching(crit.criterion, cat.flows, cat)
        return _sets_source([table.sets["flow_id"].get(flow.id) for flow in flows])
    if isinstance(crit, OfDeployment):
        deployments = _matching(crit.criterion, cat.deployments, cat)
        return _sets_source([table.sets["deployment_id"].get(d.id) for d in deployments])
    return None


def _flow_run_source(crit: Criterion, table: RunTable[R], cat: Catalog) -> Source[R]:
    # Selecting the matching flow runs is itself a query, which the catalog plans.
    flow_table = cat.flow_table
    by_flow_run = table.sets["flow_run_id"]
    part = analyse(crit, flow_table, cat)
    estimate = min((s.size for s in part.sources), default=len(flow_table))
    if estimate <= EAGER_FLOW_RUNS:
        return _sets_source([by_flow_run.get(fr.id) for fr in cat.matching_flow_runs(crit)])
    with_flow_run = len(table) - by_flow_run.size(None)
    per_flow_run = with_flow_run / max(1, len(flow_table))

    def fetch() -> Iterator[R]:
        for flow_run in cat.matching_flow_runs(crit):
            yield from by_flow_run.get(flow_run.id)

    return Source(math.ceil(estimate * per_flow_run), fetch, False)


def _matching(crit: Criterion, items: Mapping[uuid.UUID, Any], cat: Catalog) -> list[Any]:
    candidates: Iterable[Any]
    if isinstance(crit, In) and crit.attribute == "id":
        candidates = [items[i] for i in crit.values if i in items]
    elif isinstance(crit, In) and crit.attribute == "name" and items is cat.flows:
        found = (cat.get_flow_by_name(name) for name in crit.values)
        candidates = [flow for flow in found if flow is not None]
    else:
        candidates = items.values()
    return [item for item in candidates if crit.test(item, cat)]

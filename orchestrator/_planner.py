"""The query planner: answer a filter + sort + limit from the indexes, not by scanning.

A query is one criterion tree (``_criteria``) over a :class:`~orchestrator._table.RunTable`.
Planning has two steps.

**Analysis** maps each primitive criterion to a *source*: a set of candidate rows taken
from an index, with its size known in O(1) or O(log n) (a set's length, the distance
between two bisections of a sorted index). A conjunction offers every child's sources
(each is a superset of the answer); a disjunction offers the union of each child's
smallest source, or nothing if one child has none. A source is *exact* when it yields
precisely the rows of the whole query, each once: then no predicate is needed and a
count is its size. The analysis also records, per sortable attribute, the range a
conjunction confines it to (``Bounds``).

**Choice** between two plans, by estimated rows touched (one unit is one predicate
test, about a microsecond):

* *walk*: iterate the sort's index in order, inside the filter's bounds on the sort key
  (``irange``), test each row, stop after ``offset + limit`` matches. Assuming matches are
  spread evenly, it touches ``min(range, (offset + limit) * n / s)`` rows, where ``s`` is
  the smallest source not on the sort key (``n`` when there is none). When a source is
  a single set (one state type, one task key, one tag...), rows are first screened by
  membership in it, which runs in C and costs a quarter of a unit per row.
* *candidates*: fetch the smallest source, test each row, sort the matches (a heap of
  ``offset + limit`` when there is a limit): about ``2 * size`` units.

The cheaper one runs. A filtered, sorted, limited query therefore costs O(log n + k):
``k`` is the limit divided by the filter's selectivity when walking, or the size of the
smallest candidate set. Flows and deployments are few, so their own filters are
evaluated by lookup where an id or name is given and by a scan of them otherwise.
"""

from __future__ import annotations

import heapq
import itertools
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from operator import attrgetter
from typing import Any, Final, Generic, Protocol, TypeVar, final

import attrs

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
from ._indexes import SortedIndex
from ._models import Deployment, Flow, FlowRun, TaskRun
from ._table import RunTable, state_key

__all__ = ["Catalog", "QueryPlan", "count", "iterate", "plan", "select"]

R = TypeVar("R", TaskRun, FlowRun)

#: The cost of walking one row that a set-membership test screens (in C), relative to
#: testing the filter on a row in Python (1.0) and fetching and sorting a candidate (2.0).
PREFILTERED_ROW_COST: Final = 0.25

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


@final
@attrs.frozen
class Source(Generic[R]):
    """Candidate rows from one index: at most ``size`` rows (exactly, if ``exact``).

    ``field`` names the sorted index a range source comes from; ``container`` is the
    set itself when the source is one set, so a walk can test membership in C.
    """

    size: int
    fetch: Callable[[], Iterable[R]]
    exact: bool
    distinct: bool = True
    field: str | None = None
    container: AbstractSet[R] | None = None


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
        lo = (
            self.lo if other.lo is None else other.lo if self.lo is None else max(self.lo, other.lo)
        )
        hi = (
            self.hi if other.hi is None else other.hi if self.hi is None else min(self.hi, other.hi)
        )
        return Bounds(lo, hi, self.values and other.values, self.nulls and other.nulls)


_FULL: Final = Bounds()


@final
@attrs.frozen
class _Analysis(Generic[R]):
    sources: tuple[Source[R], ...] = ()
    exact: bool = False
    bounds: Mapping[str, Bounds] = attrs.field(factory=dict)
    everything: bool = False


@final
@attrs.frozen
class QueryPlan:
    """How a query will run: ``strategy`` is "walk", "candidates" or "empty".

    ``index`` names the sorted index walked or the source fetched ("all" for every row),
    ``estimated_rows`` the rows the plan expects to touch, ``predicate`` whether each
    row is tested against the filter, and ``prefilter`` whether a walk first screens rows
    by membership in a candidate set.
    """

    strategy: str
    index: str
    estimated_rows: int
    predicate: bool
    prefilter: bool = False


# -- analysis -------------------------------------------------------------------------


def _analyse(crit: Criterion, table: RunTable[R], cat: Catalog) -> _Analysis[R]:
    if isinstance(crit, AllOf):
        if not crit.children:
            return _Analysis(everything=True)
        parts = [_analyse(child, table, cat) for child in crit.children]
        bounds: dict[str, Bounds] = {}
        for part in parts:
            for name, bound in part.bounds.items():
                bounds[name] = bounds[name].meet(bound) if name in bounds else bound
        sources = tuple(itertools.chain.from_iterable(part.sources for part in parts))
        return _Analysis(sources, False, bounds)
    if isinstance(crit, AnyOf):
        if not crit.children:
            return _Analysis((Source(0, tuple, True),), True)
        bests: list[Source[R]] = []
        for child in crit.children:
            part = _analyse(child, table, cat)
            if not part.sources:
                return _Analysis()
            bests.append(min(part.sources, key=_size))
        size = sum(best.size for best in bests)
        return _Analysis((Source(size, _chain_fetch(bests), False, distinct=False),))
    source = _primitive(crit, table, cat)
    if source is None:
        return _Analysis()
    bounds = {}
    if source.field is not None:
        bounds[source.field] = _bounds_of(crit)
    return _Analysis((source,), source.exact, bounds)


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
            return _sets_source([index.get(key) for key in keys])
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
    flow_table = cat.flow_table
    by_flow_run = table.sets["flow_run_id"]
    part = _analyse(crit, flow_table, cat)
    estimate = min((s.size for s in part.sources), default=len(flow_table))
    if estimate <= EAGER_FLOW_RUNS:
        return _sets_source([by_flow_run.get(fr.id) for fr in iterate(flow_table, crit, cat)])
    with_flow_run = len(table) - by_flow_run.size(None)
    per_flow_run = with_flow_run / max(1, len(flow_table))

    def fetch() -> Iterator[R]:
        for flow_run in iterate(flow_table, crit, cat):
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


# -- execution ------------------------------------------------------------------------


def plan(
    table: RunTable[R],
    crit: Criterion,
    cat: Catalog,
    *,
    sort: tuple[str, bool] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[QueryPlan, Callable[[], list[R]]]:
    """Choose how to answer a query; return the plan and a function that runs it.

    ``sort`` is ``(attribute, descending)``, or None for no particular order.
    """
    analysis = _analyse(crit, table, cat)
    n = len(table)
    best = min(analysis.sources, key=_size) if analysis.sources else None
    predicate = not (analysis.everything or analysis.exact)
    need = None if limit is None else offset + limit
    if limit == 0 or (best is not None and best.size == 0):
        return QueryPlan("empty", "none", 0, False), list
    cand_cost = 2 * (n if best is None else best.size)
    if sort is None:
        if best is None:
            return QueryPlan("candidates", "all", n, predicate), lambda: _filter(
                table.runs.values(), crit if predicate else None, cat, offset, limit
            )
        chosen = best
        return QueryPlan(
            "candidates", chosen.field or "set", chosen.size, predicate
        ), lambda: _filter(_fetch(chosen), crit if predicate else None, cat, offset, limit)
    field, descending = sort
    index = table.sorted[field]
    bounds = analysis.bounds.get(field, _FULL)
    if not (bounds.values or bounds.nulls):
        return QueryPlan("empty", field, 0, False), list
    span = index.count(bounds.lo, bounds.hi) if bounds.values else 0
    if bounds.nulls:
        span += index.null_count
    others = [s for s in analysis.sources if s.field != field]
    selective = min((s.size for s in others), default=n)
    walk_rows = span if need is None else min(span, math.ceil(need * n / max(1, selective)))
    # The smallest single-set source screens walked rows by set membership, in C.
    members = min((s for s in others if s.container is not None), key=_size, default=None)
    walk_cost = walk_rows * (PREFILTERED_ROW_COST if members is not None else 1.0)
    if walk_cost <= cand_cost:
        # Bounds or membership stand in for the filter when the filter is exactly that
        # range, null test or set; otherwise every surviving row is tested.
        exact = analysis.exact and (
            analysis.sources[0].field == field or analysis.sources[0] is members
        )
        walk_predicate = not (analysis.everything or exact)
        container = None if members is None else members.container

        def run_walk() -> list[R]:
            rows = _walk(index, bounds, descending)
            if container is not None:
                rows = filter(container.__contains__, rows)
            return _filter(rows, crit if walk_predicate else None, cat, offset, limit)

        plan = QueryPlan("walk", field, walk_rows, walk_predicate, container is not None)
        return plan, run_walk
    source = best

    def run_candidates() -> list[R]:
        rows = table.runs.values() if source is None else _fetch(source)
        matches = _filter(rows, crit if predicate else None, cat, 0, None)
        return _sort(table, matches, field, descending, need)[offset:need]

    label = "all" if source is None else source.field or "set"
    return QueryPlan("candidates", label, cand_cost // 2, predicate), run_candidates


def select(
    table: RunTable[R],
    crit: Criterion,
    cat: Catalog,
    *,
    sort: tuple[str, bool] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[R]:
    """Return the rows matching ``crit``, in ``sort`` order, from ``offset``, at most ``limit``."""
    return plan(table, crit, cat, sort=sort, limit=limit, offset=offset)[1]()


def iterate(table: RunTable[R], crit: Criterion, cat: Catalog) -> list[R]:
    """Return every row matching ``crit``, in no particular order."""
    return plan(table, crit, cat)[1]()


def count(table: RunTable[R], crit: Criterion, cat: Catalog) -> int:
    """Return how many rows match ``crit``: O(1) when one exact source answers it."""
    analysis = _analyse(crit, table, cat)
    if analysis.everything:
        return len(table)
    if analysis.exact:
        return analysis.sources[0].size
    rows: Iterable[R] = table.runs.values()
    if analysis.sources:
        rows = _fetch(min(analysis.sources, key=_size))
    return sum(1 for row in rows if crit.test(row, cat))


def _fetch(source: Source[R]) -> Iterable[R]:
    rows = source.fetch()
    return rows if source.distinct else dict.fromkeys(rows)


def _walk(index: SortedIndex[Any, R], bounds: Bounds, descending: bool) -> Iterator[R]:
    values = index.irange(bounds.lo, bounds.hi, reverse=descending) if bounds.values else None
    nulls = index.nulls(reverse=descending) if bounds.nulls else None
    if values is None:
        return nulls if nulls is not None else iter(())
    return values if nulls is None else itertools.chain(values, nulls)


def _filter(
    rows: Iterable[R], crit: Criterion | None, cat: Catalog, offset: int, limit: int | None
) -> list[R]:
    test = None if crit is None else crit.test
    if test is None:
        return list(itertools.islice(rows, offset, None if limit is None else offset + limit))
    if limit is None and not offset:
        return [row for row in rows if test(row, cat)]
    out: list[R] = []
    skip = offset
    for row in rows:
        if test is not None and not test(row, cat):
            continue
        if skip:
            skip -= 1
            continue
        out.append(row)
        if limit is not None and len(out) >= limit:
            break
    return out


def _sort(
    table: RunTable[R], rows: list[R], field: str, descending: bool, need: int | None
) -> list[R]:
    seq = table.seq
    get: Callable[[R], Any] = (lambda run: run.id.int) if field == "id" else attrgetter(field)
    keyed: list[tuple[Any, int, R]] = []
    nulls: list[tuple[int, R]] = []
    for run in rows:
        key = get(run)
        if key is None:
            nulls.append((seq[run], run))
        else:
            keyed.append((key, seq[run], run))
    if need is not None and need < len(keyed):
        top = heapq.nlargest(need, keyed) if descending else heapq.nsmallest(need, keyed)
    else:
        top = sorted(keyed, reverse=descending)
    result = [entry[2] for entry in top]
    if need is None or len(result) < need:
        nulls.sort(reverse=descending)
        result.extend(entry[1] for entry in nulls)
    return result

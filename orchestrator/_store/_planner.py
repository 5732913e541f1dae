"""The query planner: answer a filter + sort + limit from the indexes, not by scanning.

A query is one criterion tree (``_criteria``) over a :class:`~orchestrator._store._table.RunTable`.
``_sources`` analyses it: the candidate sets the indexes offer, with their sizes, and
the bounds the filter puts on each sortable attribute. The planner then chooses among
plans by estimated rows touched (one unit is one predicate test in Python, about a
microsecond):

* *walk*: iterate the sort's index in order, inside the filter's bounds on the sort key
  (``irange``), test each row, stop after ``offset + limit`` matches. Assuming matches are
  spread evenly, it touches ``min(range, (offset + limit) * n / s)`` rows, where ``s`` is
  the smallest source not on the sort key (``n`` when there is none). When a source is
  a single set (one state type, one task key, one tag...), rows are first screened by
  membership in it, which runs in C and costs a quarter of a unit per row.
* *candidates*: fetch the smallest source, test each row, sort the matches (a heap of
  ``offset + limit`` when there is a limit): about ``2 * size`` units.
* *partition walk*: when the filter has one exact value on a partition field (a task
  key, ...), walk that value's own sorted index of the sort key
  (:mod:`~orchestrator._store._partitions`) inside the bounds, testing the rest of the
  filter: ``min(span in the partition, (offset + limit) * n / s)`` rows, ``s`` the
  smallest other source (``offset + limit`` when there is none), at a quarter of a unit
  each when the value is the whole filter or a set screens them. The plan names the index
  ``field=value/sort key``; it runs only when strictly cheaper than the other two.

The cheaper one runs. A filtered, sorted, limited query therefore costs O(log n + k):
``k`` is the limit divided by the filter's selectivity when walking, or the size of the
smallest candidate set. Counting needs no order: a single exact source is counted in
O(1), anything else by testing the smallest source.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter
from typing import Any, Final, TypeVar, final

import attrs

from .._core._indexes import SortedIndex
from .._core._models import FlowRun, TaskRun
from ._criteria import Criterion
from ._sources import FULL, Analysis, Bounds, Catalog, Source, analyse
from ._table import RunTable

__all__ = ["QueryPlan", "count", "iterate", "plan", "select"]

R = TypeVar("R", TaskRun, FlowRun)

#: The cost of walking one row that a set-membership test screens (in C), relative to
#: testing the filter on a row in Python (1.0) and fetching and sorting a candidate (2.0).
PREFILTERED_ROW_COST: Final = 0.25


@final
@attrs.frozen
class QueryPlan:
    """How a query will run: ``strategy`` is "walk", "candidates" or "empty".

    ``index`` names the sorted index walked (``"task_key=K/name"`` for one partition's
    index) or the source fetched ("all" for every row),
    ``estimated_rows`` the rows the plan expects to touch, ``predicate`` whether each
    row is tested against the filter, and ``prefilter`` whether a walk first screens rows
    by membership in a candidate set.
    """

    strategy: str
    index: str
    estimated_rows: int
    predicate: bool
    prefilter: bool = False


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
    analysis = analyse(crit, table, cat)
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
    bounds = analysis.bounds.get(field, FULL)
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
    partitioned = _partition_walk(table, analysis, crit, cat, sort, bounds, need, offset, limit)
    if partitioned is not None and partitioned[0].estimated_rows * partitioned[2] < min(
        walk_cost, cand_cost
    ):
        return partitioned[0], partitioned[1]
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


def _partition_walk(
    table: RunTable[R],
    analysis: Analysis[R],
    crit: Criterion,
    cat: Catalog,
    sort: tuple[str, bool],
    bounds: Bounds,
    need: int | None,
    offset: int,
    limit: int | None,
) -> tuple[QueryPlan, Callable[[], list[R]], float] | None:
    """The walk of one partition's sorted index, with its cost per row, if one applies.

    For a filter with one exact value on a partition field: the rows of that value in
    sort order, inside the bounds; it touches ``min(span, need * n / s)`` rows, ``s`` the
    smallest other source (``need`` when there is none).
    """
    field, descending = sort
    found = _partition_of(table, analysis, field)
    if found is None:
        return None
    source, label, index = found
    span = index.count(bounds.lo, bounds.hi) if bounds.values else 0
    if bounds.nulls:
        span += index.null_count
    others = [s for s in analysis.sources if s is not source and s.field != field]
    rows = span
    if need is not None:
        selective = min((s.size for s in others), default=0)
        rows = min(span, math.ceil(need * len(table) / max(1, selective)) if others else need)
    members = min((s for s in others if s.container is not None), key=_size, default=None)
    # The index stands in for the filter when the filter is exactly this value.
    exact = analysis.everything or (analysis.exact and analysis.sources[0] is source)
    container = None if members is None else members.container
    row_cost = PREFILTERED_ROW_COST if exact or container is not None else 1.0

    def run_walk() -> list[R]:
        walked = _walk(index, bounds, descending)
        if container is not None:
            walked = filter(container.__contains__, walked)
        return _filter(walked, None if exact else crit, cat, offset, limit)

    plan = QueryPlan("walk", label, rows, not exact, container is not None)
    return plan, run_walk, row_cost


def _partition_of(
    table: RunTable[R], analysis: Analysis[R], field: str
) -> tuple[Source[R], str, SortedIndex[Any, R]] | None:
    """The smallest single-value partition source with an index on ``field`` (woken now)."""
    for source in sorted(analysis.sources, key=_size):
        if source.partition is None:
            continue
        part, value = source.partition
        partitioned = table.partitions.get(part, field)
        if partitioned is None:
            continue
        index = partitioned.get(value)
        return None if index is None else (source, f"{part}={value}/{field}", index)
    return None


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
    analysis = analyse(crit, table, cat)
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


def _size(source: Source[Any]) -> int:
    return source.size

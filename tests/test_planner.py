"""The query planner: which plan it picks, and that every plan answers like a scan.

``BIG`` holds 3000 task runs: 1 in 9 COMPLETED (the rest SCHEDULED), keys cycling over
50 values plus a "rare" key on 3 runs, every other run tagged "t".
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import StateType
from orchestrator._store._planner import QueryPlan
from orchestrator._store._store import Store
from orchestrator.filters import (
    FlowRunFilter,
    TaskRunFilter,
    TaskRunFilterEndTime,
    TaskRunFilterExpectedStartTime,
    TaskRunFilterName,
    TaskRunSort,
)
from tests.strategies import at, commit, make_flow, make_flow_run, make_task_run, numbers

S = StateType


def big_store(runs: int = 3000) -> Store:
    """A store where 1 run in 9 is COMPLETED, keys cycle over 50, and one key is rare."""
    store = Store()
    batch = []
    for n in range(1, runs + 1):
        key = "rare" if n % 1000 == 0 else f"key-{n % 50}"
        batch.append(make_task_run(n, task_key=key, tags=["t"] if n % 2 else []))
    store.add_task_runs(batch)
    for run in batch:
        n = run.id.int
        commit(store, run, S.SCHEDULED, at(0), scheduled_time=at(n % 500))
        if n % 9 == 0:
            commit(store, run, S.RUNNING, at(600))
            commit(store, run, S.COMPLETED, at(600 + n % 60))
    return store


BIG = big_store()


def brute(
    store: Store, task_filter: TaskRunFilter, sort: TaskRunSort, limit: int | None
) -> list[int]:
    order = {run_id: i for i, run_id in enumerate(store.task_runs)}
    matched = [r for r in store.task_runs.values() if task_filter.matches(r, store)]

    def key(run: Any) -> Any:
        return run.id if sort.field == "id" else getattr(run, sort.field)

    keyed = sorted(
        (r for r in matched if key(r) is not None),
        key=lambda r: (key(r), order[r.id]),
        reverse=sort.descending,
    )
    nulls = sorted(
        (r for r in matched if key(r) is None), key=lambda r: order[r.id], reverse=sort.descending
    )
    return numbers([*keyed, *nulls][:limit])


PLAN_CASES: list[tuple[str, TaskRunFilter, TaskRunSort, int | None, QueryPlan]] = [
    (
        "no filter walks the sort index",
        TaskRunFilter(),
        TaskRunSort.EXPECTED_START_TIME_DESC,
        10,
        QueryPlan("walk", "expected_start_time", 10, predicate=False),
    ),
    (
        "one common state walks, screening by set membership",
        TaskRunFilter(state=S.COMPLETED),
        TaskRunSort.EXPECTED_START_TIME_DESC,
        10,
        QueryPlan("walk", "expected_start_time", 91, predicate=False, prefilter=True),
    ),
    (
        "two states walk and test each row",
        TaskRunFilter(state=[S.COMPLETED, S.SCHEDULED]),
        TaskRunSort.EXPECTED_START_TIME_DESC,
        10,
        QueryPlan("walk", "expected_start_time", 10, predicate=True),
    ),
    (
        "state and tag screen by the state, then test",
        TaskRunFilter(state=S.COMPLETED, tags="t"),
        TaskRunSort.NAME_DESC,
        10,
        QueryPlan("walk", "name", 91, predicate=True, prefilter=True),
    ),
    (
        "a rare key walks its partition untested",
        TaskRunFilter(task_key="rare"),
        TaskRunSort.EXPECTED_START_TIME_DESC,
        10,
        QueryPlan("walk", "task_key=rare/expected_start_time", 3, predicate=False),
    ),
    (
        "a common key walks its partition, touching only the rows it returns",
        TaskRunFilter(task_key="key-7"),
        TaskRunSort.EXPECTED_START_TIME_DESC,
        10,
        QueryPlan("walk", "task_key=key-7/expected_start_time", 10, predicate=False),
    ),
    (
        "a key and a state walk the key's partition, screening by the state",
        TaskRunFilter(task_key="key-7", state=S.COMPLETED),
        TaskRunSort.NAME_ASC,
        5,
        QueryPlan("walk", "task_key=key-7/name", 46, predicate=True, prefilter=True),
    ),
    (
        "a range on the sort key walks the range untested",
        TaskRunFilter(
            expected_start_time=TaskRunFilterExpectedStartTime(after_=at(100), before_=at(110))
        ),
        TaskRunSort.EXPECTED_START_TIME_ASC,
        5,
        QueryPlan("walk", "expected_start_time", 5, predicate=False),
    ),
    (
        "a range on another key fetches the range",
        TaskRunFilter(end_time=TaskRunFilterEndTime(after_=at(657))),
        TaskRunSort.NAME_ASC,
        10,
        QueryPlan("candidates", "end_time", 17, predicate=False),
    ),
    (
        "no limit on a large set still walks",
        TaskRunFilter(state=S.SCHEDULED),
        TaskRunSort.ID_DESC,
        None,
        QueryPlan("walk", "id", 3000, predicate=False, prefilter=True),
    ),
    (
        "an empty id list plans nothing",
        TaskRunFilter(id=[]),
        TaskRunSort.ID_DESC,
        10,
        QueryPlan("empty", "none", 0, predicate=False),
    ),
]


@pytest.mark.parametrize(
    ("task_filter", "sort", "limit", "expected"),
    [c[1:] for c in PLAN_CASES],
    ids=[c[0] for c in PLAN_CASES],
)
def test_the_planner_picks_the_cheaper_plan(
    task_filter: TaskRunFilter, sort: TaskRunSort, limit: int | None, expected: QueryPlan
) -> None:
    plan, run = BIG.plan_task_runs(task_runs=task_filter, sort=sort, limit=limit)
    assert plan == expected
    assert numbers(run()) == brute(BIG, task_filter, sort, limit)
    assert (
        numbers(BIG.query_task_runs(task_runs=task_filter, sort=sort, limit=limit, offset=3))
        == (brute(BIG, task_filter, sort, None if limit is None else limit + 3)[3:])
    )


def test_counts_of_a_single_indexed_criterion_are_exact_without_a_scan() -> None:
    assert BIG.count_task_runs(task_runs=TaskRunFilter(state=S.COMPLETED)) == 333
    assert BIG.count_task_runs(task_runs=TaskRunFilter(task_key=["rare", "key-1"])) == 63
    assert BIG.count_task_runs(task_runs=TaskRunFilter(tags="t")) == 1500
    assert BIG.count_task_runs() == 3000
    window = TaskRunFilterExpectedStartTime(after_=at(10), before_=at(19))
    assert BIG.count_task_runs(task_runs=TaskRunFilter(expected_start_time=window)) == 60
    both = TaskRunFilter(state=S.COMPLETED, tags="t")
    assert BIG.count_task_runs(task_runs=both) == 167


def test_cross_entity_filters_over_many_flow_runs_use_a_lazy_source() -> None:
    store = Store()
    flow = make_flow(1, "etl")
    store.add_flow(flow)
    flow_runs = [make_flow_run(n, flow_id=flow.id) for n in range(1, 101)]
    for flow_run in flow_runs:
        store.add_flow_run(flow_run)
        if flow_run.id.int % 4:
            commit(store, flow_run, S.RUNNING, at(0))
    store.add_task_runs(
        [make_task_run(n, flow_run_id=flow_runs[n % 100].id) for n in range(1, 301)]
    )
    running = FlowRunFilter(state=S.RUNNING)
    plan, run = store.plan_task_runs(flow_runs=running, sort=TaskRunSort.ID_DESC, limit=5)
    assert (plan.strategy, plan.index) == ("walk", "id")
    expected = [n for n in range(300, 0, -1) if flow_runs[n % 100].id.int % 4]
    assert numbers(run()) == expected[:5]
    assert store.count_task_runs(flow_runs=running) == len(expected)
    by_name = TaskRunFilter(name=TaskRunFilterName(any_=["task-7", "task-8"]))
    assert numbers(store.query_task_runs(task_runs=by_name, flow_runs=running)) == [
        n for n in (8, 7) if n in expected
    ]


def test_a_disjunction_without_an_index_on_every_branch_scans() -> None:
    either = TaskRunFilter(task_key="rare", name=TaskRunFilterName(like_="-1"), operator="or_")
    plan, run = BIG.plan_task_runs(task_runs=either, sort=TaskRunSort.NAME_ASC)
    assert (plan.strategy, plan.index, plan.predicate) == ("walk", "name", True)
    assert numbers(run()) == brute(BIG, either, TaskRunSort.NAME_ASC, None)

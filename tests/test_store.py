"""The store: tables, identity, state histories, sorts, the planner's choices, self-checks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from orchestrator import (
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    StateType,
)
from orchestrator._planner import QueryPlan
from orchestrator._store import Store, StoreStatistics
from orchestrator.filters import (
    FlowRunFilter,
    FlowRunSort,
    TaskRunFilter,
    TaskRunFilterEndTime,
    TaskRunFilterExpectedStartTime,
    TaskRunFilterName,
    TaskRunSort,
)
from tests.strategies import (
    at,
    commit,
    make_deployment,
    make_flow,
    make_flow_run,
    make_task_run,
    numbers,
    rename,
    rid,
    sample_store,
)

S = StateType


# -- records and identity --------------------------------------------------------------


def test_add_get_find_and_remove_task_runs() -> None:
    store = Store()
    autonomous = make_task_run(1, task_key="k", dynamic_key="a")
    child = make_task_run(2, task_key="k", dynamic_key="a", flow_run_id=rid(1001))
    store.add_task_run(autonomous)
    store.add_task_run(child)
    store.check_invariants()
    assert store.get_task_run(rid(1)) is autonomous
    assert store.get_task_run(rid(9)) is None
    assert store.find_task_run(None, "k", "a") is autonomous
    assert store.find_task_run(rid(1001), "k", "a") is child
    assert store.find_task_run(None, "k", "b") is None
    assert list(store.task_runs) == [rid(1), rid(2)]
    assert store.remove_task_run(rid(1)) is autonomous
    store.check_invariants()
    assert store.find_task_run(None, "k", "a") is None
    assert store.get_task_run(rid(1)) is None
    assert list(store.task_runs) == [rid(2)]


def test_duplicate_ids_and_identities_are_refused_and_change_nothing() -> None:
    store = Store()
    store.add_task_run(make_task_run(1, task_key="k", dynamic_key="a"))
    with pytest.raises(ObjectAlreadyExists, match=f"task run {rid(1)} already exists"):
        store.add_task_run(make_task_run(1, task_key="other"))
    with pytest.raises(ObjectAlreadyExists, match="task_key='k' and dynamic_key='a'"):
        store.add_task_run(make_task_run(2, task_key="k", dynamic_key="a"))
    with pytest.raises(ObjectAlreadyExists, match=f"task run {rid(3)} already exists"):
        store.add_task_runs([make_task_run(3), make_task_run(3, dynamic_key="x")])
    assert list(store.task_runs) == [rid(1)]
    store.check_invariants()


def test_unknown_ids_raise_object_not_found() -> None:
    store = Store()
    with pytest.raises(ObjectNotFound, match=f"task run {rid(1)} was not found"):
        store.remove_task_run(rid(1))
    with pytest.raises(ObjectNotFound):
        store.task_run_states(rid(1))
    with pytest.raises(ObjectNotFound):
        store.append_task_run_state(rid(1), commit_state_value())
    with pytest.raises(ObjectNotFound, match="flow run"):
        store.remove_flow_run(rid(1))
    with pytest.raises(ObjectNotFound):
        store.flow_run_states(rid(1))
    with pytest.raises(ObjectNotFound):
        store.append_flow_run_state(rid(1), commit_state_value())
    with pytest.raises(ObjectNotFound, match="flow"):
        store.remove_flow(rid(1))
    with pytest.raises(ObjectNotFound, match="deployment"):
        store.remove_deployment(rid(1))


def commit_state_value() -> Any:
    from tests.strategies import make_state

    return make_state(S.RUNNING, at(0))


def test_state_history_is_kept_in_commit_order_and_dropped_with_the_run() -> None:
    store = Store()
    run = make_task_run(1)
    store.add_task_run(run)
    first = commit(store, run, S.PENDING, at(0))
    second = commit(store, run, S.RUNNING, at(1))
    history = store.task_run_states(rid(1))
    assert history == [first, second]
    history.append(first)  # a copy: the store's history is unchanged
    assert store.task_run_states(rid(1)) == [first, second]
    assert store.statistics().task_run_states == 2
    store.remove_task_run(rid(1))
    assert store.statistics().task_run_states == 0
    store.check_invariants()


def test_flow_runs_flows_and_deployments() -> None:
    store = Store()
    flow = make_flow(1, "etl")
    store.add_flow(flow)
    with pytest.raises(ObjectAlreadyExists, match="a flow named 'etl' already exists"):
        store.add_flow(make_flow(2, "etl"))
    with pytest.raises(ObjectAlreadyExists, match="already exists"):
        store.add_flow(make_flow(1, "other"))
    assert store.get_flow_by_name("etl") is flow
    assert store.get_flow(rid(2001)) is flow
    deployment = make_deployment(1, flow_id=flow.id, name="d")
    store.add_deployment(deployment)
    with pytest.raises(ObjectAlreadyExists):
        store.add_deployment(deployment)
    assert store.get_deployment(rid(3001)) is deployment
    flow_run = make_flow_run(1, flow_id=flow.id, parent_task_run_id=rid(7))
    store.add_flow_run(flow_run)
    with pytest.raises(ObjectAlreadyExists):
        store.add_flow_run(make_flow_run(1, flow_id=flow.id))
    state = commit(store, flow_run, S.RUNNING, at(3))
    assert store.flow_run_states(flow_run.id) == [state]
    assert store.has_subflow(rid(7))
    assert store.get_flow_run(flow_run.id) is flow_run
    assert store.statistics() == StoreStatistics(
        task_runs=0, flow_runs=1, flows=1, deployments=1, task_run_states=0, flow_run_states=1
    )
    store.check_invariants()
    assert store.remove_flow_run(flow_run.id) is flow_run
    assert not store.has_subflow(rid(7))
    assert store.remove_deployment(deployment.id) is deployment
    assert store.remove_flow(flow.id) is flow
    assert store.get_flow_by_name("etl") is None
    assert store.statistics() == StoreStatistics(
        task_runs=0, flow_runs=0, flows=0, deployments=0, task_run_states=0, flow_run_states=0
    )
    store.check_invariants()


def test_reindex_follows_state_time_name_and_tag_changes() -> None:
    store = Store()
    run = make_task_run(1, tags=["a"])
    store.add_task_run(run)
    commit(store, run, S.SCHEDULED, at(0), scheduled_time=at(30))
    store.check_invariants()
    commit(store, run, S.RUNNING, at(31))
    store.check_invariants()
    rename(store, run, "renamed")
    store.check_invariants()
    before = store.snapshot_task_run(run)
    run.tags = frozenset({"b", "c"})
    store.reindex_task_run(run, before)
    store.check_invariants()
    assert numbers(store.query_task_runs(task_runs=TaskRunFilter(tags="b"))) == [1]
    assert store.query_task_runs(task_runs=TaskRunFilter(tags="a")) == []
    before = store.snapshot_task_run(run)
    run.tags = frozenset()
    store.reindex_task_run(run, before)
    store.check_invariants()
    assert numbers(store.query_task_runs(task_runs=TaskRunFilter(name="renamed"))) == [1]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda run: setattr(run, "name", "sneaky"), "sorted index 'name' files task run"),
        (
            lambda run: setattr(run, "end_time", at(999)),
            "sorted index 'end_time' files task run",
        ),
        (lambda run: setattr(run, "state", None), "task run index 'state_type', key"),
        (
            lambda run: setattr(run, "tags", frozenset({"x"})),
            "task run tag index, key 'etl': missing \\[\\], extra \\[UUID",
        ),
        (lambda run: setattr(run, "task_key", "other"), "task run index 'task_key'"),
    ],
)
def test_check_invariants_names_what_was_changed_behind_the_stores_back(
    tamper: Any, message: str
) -> None:
    store = sample_store()
    store.check_invariants()
    tamper(store.task_runs[rid(1)])
    with pytest.raises(AssertionError, match=message):
        store.check_invariants()


# -- sorts ---------------------------------------------------------------------------------

SORT_CASES = [
    (TaskRunSort.ID_DESC, [6, 5, 4, 3, 2, 1]),
    # expected start times: 1:60 2:120 3:30 4:200 5:None 6:40
    (TaskRunSort.EXPECTED_START_TIME_ASC, [3, 6, 1, 2, 4, 5]),
    (TaskRunSort.EXPECTED_START_TIME_DESC, [4, 2, 1, 6, 3, 5]),
    # "Transform-1" < "bg-1" < "extract-1" < "extract-2" < "extract-3" < "load-1"
    (TaskRunSort.NAME_ASC, [2, 5, 1, 4, 6, 3]),
    (TaskRunSort.NAME_DESC, [3, 6, 4, 1, 5, 2]),
    # next scheduled: 4:200, 6:100, the rest None (oldest first)
    (TaskRunSort.NEXT_SCHEDULED_START_TIME_ASC, [6, 4, 1, 2, 3, 5]),
    # end times: 1:90, 3:50, the rest None (newest first)
    (TaskRunSort.END_TIME_DESC, [1, 3, 6, 5, 4, 2]),
]


@pytest.mark.parametrize(("sort", "expected"), SORT_CASES, ids=[s.name for s, _ in SORT_CASES])
def test_every_sort_with_none_keys_last(sort: TaskRunSort, expected: list[int]) -> None:
    store = sample_store()
    assert numbers(store.query_task_runs(sort=sort)) == expected
    assert numbers(store.query_task_runs(sort=sort, offset=2, limit=3)) == expected[2:5]
    assert numbers(store.query_task_runs(sort=sort, offset=5, limit=3)) == expected[5:]
    assert store.query_task_runs(sort=sort, offset=6) == []
    assert store.query_task_runs(sort=sort, limit=0) == []
    # The same order through the candidate-set plan (a filter that selects everything).
    every = TaskRunFilter(task_key=["extract", "transform", "load"])
    assert numbers(store.query_task_runs(task_runs=every, sort=sort)) == expected
    assert (
        numbers(store.query_task_runs(task_runs=every, sort=sort, offset=1, limit=2))
        == (expected[1:3])
    )


def test_ties_break_by_creation_order() -> None:
    store = Store()
    for n in (3, 1, 2):
        run = make_task_run(n, name="same")
        store.add_task_run(run)
        commit(store, run, S.SCHEDULED, at(0), scheduled_time=at(10))
        commit(store, run, S.COMPLETED, at(20))
    assert numbers(store.query_task_runs(sort=TaskRunSort.NAME_ASC)) == [3, 1, 2]
    assert numbers(store.query_task_runs(sort=TaskRunSort.NAME_DESC)) == [2, 1, 3]
    assert numbers(store.query_task_runs(sort=TaskRunSort.EXPECTED_START_TIME_ASC)) == [3, 1, 2]
    assert numbers(store.query_task_runs(sort=TaskRunSort.END_TIME_DESC, offset=1)) == [1, 3]
    assert numbers(store.query_task_runs(sort=TaskRunSort.ID_DESC)) == [3, 2, 1]


FLOW_SORT_CASES = [
    (FlowRunSort.ID_DESC, [3, 2, 1]),
    (FlowRunSort.START_TIME_ASC, [1, 2, 3]),
    (FlowRunSort.START_TIME_DESC, [2, 1, 3]),
    (FlowRunSort.EXPECTED_START_TIME_ASC, [1, 2, 3]),
    (FlowRunSort.EXPECTED_START_TIME_DESC, [2, 1, 3]),
    (FlowRunSort.NAME_ASC, [1, 2, 3]),
    (FlowRunSort.NAME_DESC, [3, 2, 1]),
    (FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC, [1, 2, 3]),
    (FlowRunSort.END_TIME_DESC, [2, 3, 1]),
]


@pytest.mark.parametrize(
    ("sort", "expected"), FLOW_SORT_CASES, ids=[s.name for s, _ in FLOW_SORT_CASES]
)
def test_every_flow_run_sort(sort: FlowRunSort, expected: list[int]) -> None:
    assert numbers(sample_store().query_flow_runs(sort=sort)) == expected


def test_sort_metadata() -> None:
    assert TaskRunSort.NEXT_SCHEDULED_START_TIME_ASC.field == "next_scheduled_start_time"
    assert not TaskRunSort.NEXT_SCHEDULED_START_TIME_ASC.descending
    assert TaskRunSort.ID_DESC.field == "id"
    assert TaskRunSort.ID_DESC.descending
    assert repr(FlowRunSort.END_TIME_DESC) == "FlowRunSort.END_TIME_DESC"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.query_task_runs(limit=-1), "limit must be None or an integer >= 0"),
        (lambda s: s.query_task_runs(limit=True), "limit must be None or an integer >= 0"),
        (lambda s: s.query_task_runs(offset=-1), "offset must be an integer >= 0"),
        (lambda s: s.query_task_runs(sort="NAME_ASC"), "sort must be a TaskRunSort member"),
        (lambda s: s.query_flow_runs(sort=TaskRunSort.ID_DESC), "sort must be a FlowRunSort"),
        (lambda s: s.query_flow_runs(limit=1.5), "limit must be None or an integer"),
    ],
)
def test_bad_query_arguments_raise_invalid_argument(call: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        call(sample_store())


# -- the planner -------------------------------------------------------------------------


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
        "a rare key fetches its set",
        TaskRunFilter(task_key="rare"),
        TaskRunSort.EXPECTED_START_TIME_DESC,
        10,
        QueryPlan("candidates", "set", 3, predicate=False),
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


BIG = big_store()


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


def test_queries_return_live_runs_in_a_new_list() -> None:
    store = sample_store()
    first = store.query_task_runs()
    first.clear()
    assert len(store.query_task_runs()) == 6
    assert store.query_task_runs(task_runs=TaskRunFilter(id=rid(1)))[0] is store.task_runs[rid(1)]
    assert isinstance(next(iter(store.task_runs)), uuid.UUID)

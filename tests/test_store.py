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
from orchestrator._store._store import Store, StoreStatistics
from orchestrator.filters import (
    FlowRunSort,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
    TaskRunFilterState,
    TaskRunFilterTaskKey,
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


def test_set_indexes_sleep_until_a_query_reads_them_and_then_answer_exactly() -> None:
    store = sample_store()
    table = store.task_table
    asleep = [name for name, index in table.sets.items() if index.dormant]
    assert asleep == ["state_type", "state_name", "task_key", "flow_run_id"]
    assert table.tags.dormant
    run = store.task_runs[rid(4)]
    commit(store, run, S.RUNNING, at(220))  # a write while asleep files nothing
    store.check_invariants()

    def matching(**criteria: Any) -> list[int]:
        return sorted(numbers(store.query_task_runs(task_runs=TaskRunFilter(**criteria))))

    # The first read builds each index from the runs as they are now.
    assert matching(state=TaskRunFilterState(type=S.RUNNING)) == [2, 4]
    assert matching(state=TaskRunFilterState(name="AwaitingRetry")) == [6]
    assert matching(task_key=TaskRunFilterTaskKey(any_="extract")) == [1, 4, 6]
    assert matching(tags="etl") == [1, 2, 6]
    assert matching(flow_run_id=TaskRunFilterFlowRunId(is_null_=True)) == [4, 5]
    assert not table.sets["state_type"].dormant
    assert not table.sets["state_name"].dormant
    commit(store, run, S.COMPLETED, at(230))  # awake: kept from now on
    store.check_invariants()
    assert matching(state=TaskRunFilterState(type=S.RUNNING)) == [2]
    assert matching(state=TaskRunFilterState(name="Completed")) == [1, 4]


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
    table = store.task_table
    for index in table.sorted.values():
        index.count()  # a read builds a dormant index: from then on it is kept and checked
    for set_index in (*table.sets.values(), table.tags):
        len(set_index)  # the same for the set indexes that sleep
    assert len(table.untagged) == 2  # load-1 and bg-1 have no tags
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


def test_queries_return_live_runs_in_a_new_list() -> None:
    store = sample_store()
    first = store.query_task_runs()
    first.clear()
    assert len(store.query_task_runs()) == 6
    assert store.query_task_runs(task_runs=TaskRunFilter(id=rid(1)))[0] is store.task_runs[rid(1)]
    assert isinstance(next(iter(store.task_runs)), uuid.UUID)


def test_check_invariants_notices_damaged_tables() -> None:
    store = sample_store()
    store._task_run_states[rid(1)].append(commit_state_value())
    with pytest.raises(AssertionError, match="task run state count is 13, the histories hold 14"):
        store.check_invariants()
    store = sample_store()
    del store._task_keys[(None, "load", "5")]
    with pytest.raises(AssertionError, match=f"identity index misses task run {rid(5)}"):
        store.check_invariants()
    store = sample_store()
    store.flows[rid(2001)].name = "renamed"
    with pytest.raises(AssertionError, match="flows-by-name index differs from the flows"):
        store.check_invariants()

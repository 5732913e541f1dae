"""Filters: every field of every filter, on the sample store, through the store and ``matches``.

Each case states the task runs (or flow runs) it selects by number, in the default
ID_DESC order (ids are ``rid(n)``, so higher numbers come first). See
``tests.strategies.sample_store`` for the table of runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from orchestrator import InvalidArgument, StateType
from orchestrator._store._criteria import FALSE, TRUE
from orchestrator._store._store import Store
from orchestrator.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    DeploymentFilterWorkPoolName,
    DeploymentFilterWorkQueueName,
    FlowFilter,
    FlowFilterName,
    FlowFilterTags,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterId,
    FlowRunFilterName,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
    FlowRunFilterWorkQueueName,
    Operator,
    TaskRunFilter,
    TaskRunFilterEndTime,
    TaskRunFilterExpectedStartTime,
    TaskRunFilterFlowRunId,
    TaskRunFilterId,
    TaskRunFilterName,
    TaskRunFilterStartTime,
    TaskRunFilterState,
    TaskRunFilterStateName,
    TaskRunFilterStateType,
    TaskRunFilterSubFlowRuns,
    TaskRunFilterTags,
    TaskRunFilterTaskKey,
)
from tests.strategies import at, numbers, rid, sample_store

S = StateType
STORE = sample_store()
FR1, FR2, FR3 = rid(1001), rid(1002), rid(1003)


def task_numbers(store: Store = STORE, **filters: Any) -> list[int]:
    """Query the store, check the count and the brute-force ``matches``, return numbers."""
    found = store.query_task_runs(**filters)
    assert store.count_task_runs(**filters) == len(found)
    task_filter = filters.get("task_runs")
    if task_filter is not None and len(filters) == 1:
        brute = [r for r in store.task_runs.values() if task_filter.matches(r, store)]
        assert sorted(numbers(brute)) == sorted(numbers(found))
    return numbers(found)


def flow_numbers(store: Store = STORE, **filters: Any) -> list[int]:
    """Query the flow runs, check the count, return numbers."""
    found = store.query_flow_runs(**filters)
    assert store.count_flow_runs(**filters) == len(found)
    return numbers(found)


TASK_RUN_CASES: list[tuple[str, TaskRunFilter, list[int]]] = [
    ("everything", TaskRunFilter(), [6, 5, 4, 3, 2, 1]),
    ("id any_", TaskRunFilter(id=TaskRunFilterId(any_=[rid(1), rid(3), rid(99)])), [3, 1]),
    ("id any_ empty", TaskRunFilter(id=TaskRunFilterId(any_=[])), []),
    ("id as string", TaskRunFilter(id=str(rid(2))), [2]),
    ("name any_", TaskRunFilter(name=TaskRunFilterName(any_=["extract-1", "load-1"])), [3, 1]),
    ("name like_ ignores case", TaskRunFilter(name=TaskRunFilterName(like_="EXTRACT")), [6, 4, 1]),
    (
        "name any_ and like_",
        TaskRunFilter(name=TaskRunFilterName(any_=["extract-1", "bg-1", "load-1"], like_="t-")),
        [1],
    ),
    ("tags all_ one", TaskRunFilter(tags=TaskRunFilterTags(all_=["etl"])), [6, 2, 1]),
    ("tags all_ two", TaskRunFilter(tags=TaskRunFilterTags(all_=["etl", "gpu"])), [2]),
    (
        "tags all_ empty matches all",
        TaskRunFilter(tags=TaskRunFilterTags(all_=[])),
        [6, 5, 4, 3, 2, 1],
    ),
    ("tags any_", TaskRunFilter(tags=TaskRunFilterTags(any_=["gpu", "nightly"])), [4, 2]),
    ("tags is_null_ true", TaskRunFilter(tags=TaskRunFilterTags(is_null_=True)), [5, 3]),
    ("tags is_null_ false", TaskRunFilter(tags=TaskRunFilterTags(is_null_=False)), [6, 4, 2, 1]),
    (
        "tags all_ or is_null_",
        TaskRunFilter(tags=TaskRunFilterTags(all_="gpu", is_null_=True, operator=Operator.OR)),
        [5, 3, 2],
    ),
    (
        "state type",
        TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[S.SCHEDULED]))),
        [6, 4],
    ),
    (
        "state name",
        TaskRunFilter(state=TaskRunFilterState(name=TaskRunFilterStateName(any_="AwaitingRetry"))),
        [6],
    ),
    (
        "state type and name",
        TaskRunFilter(state=TaskRunFilterState(type=S.SCHEDULED, name="Scheduled")),
        [4],
    ),
    (
        "state type or name",
        TaskRunFilter(
            state=TaskRunFilterState(type=S.COMPLETED, name="AwaitingRetry", operator="or_")
        ),
        [6, 1],
    ),
    ("state type by name string", TaskRunFilter(state=TaskRunFilterState(type="failed")), [3]),
    (
        "start_time before_",
        TaskRunFilter(start_time=TaskRunFilterStartTime(before_=at(40))),
        [6, 3],
    ),
    (
        "start_time after_",
        TaskRunFilter(start_time=TaskRunFilterStartTime(after_=at(40))),
        [6, 2, 1],
    ),
    (
        "start_time between",
        TaskRunFilter(start_time=TaskRunFilterStartTime(after_=at(30), before_=at(35))),
        [3],
    ),
    (
        "start_time is_null_",
        TaskRunFilter(start_time=TaskRunFilterStartTime(is_null_=True)),
        [5, 4],
    ),
    ("end_time after_", TaskRunFilter(end_time=TaskRunFilterEndTime(after_=at(50))), [3, 1]),
    ("end_time before_", TaskRunFilter(end_time=TaskRunFilterEndTime(before_=at(50))), [3]),
    (
        "end_time is_null_ true",
        TaskRunFilter(end_time=TaskRunFilterEndTime(is_null_=True)),
        [6, 5, 4, 2],
    ),
    (
        "end_time is_null_ false",
        TaskRunFilter(end_time=TaskRunFilterEndTime(is_null_=False)),
        [3, 1],
    ),
    (
        "expected_start_time before_",
        TaskRunFilter(expected_start_time=TaskRunFilterExpectedStartTime(before_=at(60))),
        [6, 3, 1],
    ),
    (
        "expected_start_time after_",
        TaskRunFilter(expected_start_time=TaskRunFilterExpectedStartTime(after_=at(100))),
        [4, 2],
    ),
    (
        "subflow_runs exists",
        TaskRunFilter(subflow_runs=TaskRunFilterSubFlowRuns(exists_=True)),
        [2],
    ),
    (
        "subflow_runs not exists",
        TaskRunFilter(subflow_runs=TaskRunFilterSubFlowRuns(exists_=False)),
        [6, 5, 4, 3, 1],
    ),
    (
        "flow_run_id default: has one",
        TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId()),
        [6, 3, 2, 1],
    ),
    (
        "flow_run_id is_null_",
        TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(is_null_=True)),
        [5, 4],
    ),
    ("flow_run_id any_", TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[FR2])), [6, 3]),
    (
        "flow_run_id is_null_ ignores any_",
        TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[FR2], is_null_=True)),
        [5, 4],
    ),
    ("task_key", TaskRunFilter(task_key=TaskRunFilterTaskKey(any_="extract")), [6, 4, 1]),
    (
        "and of two fields",
        TaskRunFilter(task_key="extract", state=S.SCHEDULED),
        [6, 4],
    ),
    (
        "or of two fields",
        TaskRunFilter(task_key="load", tags=TaskRunFilterTags(all_="gpu"), operator=Operator.OR),
        [5, 3, 2],
    ),
    (
        "or with a field that matches everything",
        TaskRunFilter(task_key="load", tags=TaskRunFilterTags(), operator=Operator.OR),
        [6, 5, 4, 3, 2, 1],
    ),
]


@pytest.mark.parametrize(
    ("task_filter", "expected"), [c[1:] for c in TASK_RUN_CASES], ids=[c[0] for c in TASK_RUN_CASES]
)
def test_task_run_filter_fields(task_filter: TaskRunFilter, expected: list[int]) -> None:
    assert task_numbers(task_runs=task_filter) == expected


CROSS_CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("flow run ids reduce to flow_run_id", {"flow_runs": FlowRunFilter(id=[FR1])}, [2, 1]),
    ("any flow run", {"flow_runs": FlowRunFilter()}, [6, 3, 2, 1]),
    ("flow run state", {"flow_runs": FlowRunFilter(state=S.COMPLETED)}, [6, 3]),
    ("flow run tags", {"flow_runs": FlowRunFilter(tags="prod")}, [2, 1]),
    ("flow by name", {"flows": FlowFilter(name="etl")}, [2, 1]),
    ("flow by tag", {"flows": FlowFilter(tags=FlowFilterTags(all_="nightly"))}, [2, 1]),
    ("deployment pool", {"deployments": DeploymentFilter(work_pool_name="pool-b")}, [6, 3]),
    (
        "flow and deployment that disagree",
        {"flows": FlowFilter(name="etl"), "deployments": DeploymentFilter(name="d-report")},
        [],
    ),
    (
        "task filter and flow run filter",
        {"task_runs": TaskRunFilter(task_key="extract"), "flow_runs": FlowRunFilter(id=[FR1, FR2])},
        [6, 1],
    ),
]


@pytest.mark.parametrize(
    ("filters", "expected"), [c[1:] for c in CROSS_CASES], ids=[c[0] for c in CROSS_CASES]
)
def test_cross_entity_filters_select_by_parent_flow_run(
    filters: dict[str, Any], expected: list[int]
) -> None:
    assert task_numbers(**filters) == expected


def test_a_flow_run_id_filter_matches_runs_of_flow_runs_not_in_the_store() -> None:
    store = sample_store()
    from tests.strategies import make_task_run

    store.add_task_run(make_task_run(7, flow_run_id=rid(1999)))
    assert task_numbers(store, flow_runs=FlowRunFilter(id=[rid(1999)])) == [7]
    # Any other criterion needs the flow run itself.
    assert (
        task_numbers(store, flow_runs=FlowRunFilter(id=[rid(1999)], name="x", operator="or_")) == []
    )
    assert task_numbers(store, flow_runs=FlowRunFilter()) == [6, 3, 2, 1]


FLOW_RUN_CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("everything", {}, [3, 2, 1]),
    ("id", {"flow_runs": FlowRunFilter(id=FlowRunFilterId(any_=[FR1, FR3]))}, [3, 1]),
    ("name like_", {"flow_runs": FlowRunFilter(name=FlowRunFilterName(like_="RUN-2"))}, [2]),
    ("tags is_null_", {"flow_runs": FlowRunFilter(tags=FlowRunFilterTags(is_null_=True))}, [3, 2]),
    (
        "state type",
        {
            "flow_runs": FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=S.RUNNING))
            )
        },
        [1],
    ),
    (
        "deployment id",
        {"flow_runs": FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=rid(3002)))},
        [2],
    ),
    (
        "no deployment",
        {"flow_runs": FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(is_null_=True))},
        [3],
    ),
    (
        "work queue",
        {"flow_runs": FlowRunFilter(work_queue_name=FlowRunFilterWorkQueueName(any_="fast"))},
        [2],
    ),
    (
        "no work queue",
        {"flow_runs": FlowRunFilter(work_queue_name=FlowRunFilterWorkQueueName(is_null_=True))},
        [3],
    ),
    (
        "parent task run",
        {"flow_runs": FlowRunFilter(parent_task_run_id=FlowRunFilterParentTaskRunId(any_=rid(2)))},
        [3],
    ),
    (
        "not a subflow",
        {
            "flow_runs": FlowRunFilter(
                parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True)
            )
        },
        [2, 1],
    ),
    (
        "start_time",
        {"flow_runs": FlowRunFilter(start_time=FlowRunFilterStartTime(before_=at(0)))},
        [2, 1],
    ),
    ("end_time", {"flow_runs": FlowRunFilter(end_time=FlowRunFilterEndTime(after_=at(100)))}, [2]),
    (
        "expected_start_time",
        {
            "flow_runs": FlowRunFilter(
                expected_start_time=FlowRunFilterExpectedStartTime(after_=at(0))
            )
        },
        [2, 1],
    ),
    (
        "next_scheduled_start_time",
        {
            "flow_runs": FlowRunFilter(
                next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(after_=at(0))
            )
        },
        [],
    ),
    ("flow", {"flows": FlowFilter(name=FlowFilterName(any_="etl"))}, [3, 1]),
    ("flow id", {"flows": FlowFilter(id=[rid(2002)])}, [2]),
    (
        "deployment name",
        {"deployments": DeploymentFilter(name=DeploymentFilterName(like_="ETL"))},
        [1],
    ),
    (
        "deployment pool",
        {
            "deployments": DeploymentFilter(
                work_pool_name=DeploymentFilterWorkPoolName(any_="pool-a")
            )
        },
        [1],
    ),
    (
        "deployment queue",
        {
            "deployments": DeploymentFilter(
                work_queue_name=DeploymentFilterWorkQueueName(any_="fast")
            )
        },
        [2],
    ),
]


@pytest.mark.parametrize(
    ("filters", "expected"), [c[1:] for c in FLOW_RUN_CASES], ids=[c[0] for c in FLOW_RUN_CASES]
)
def test_flow_run_filter_fields(filters: dict[str, Any], expected: list[int]) -> None:
    assert flow_numbers(**filters) == expected


def test_matches_tests_one_record() -> None:
    run = STORE.task_runs[rid(2)]
    assert TaskRunFilter(task_key="transform").matches(run)
    assert not TaskRunFilter(task_key="load").matches(run)
    assert TaskRunFilter(subflow_runs=True).matches(run, STORE)
    flow_run = STORE.flow_runs[FR3]
    assert FlowRunFilter(parent_task_run_id=[rid(2)]).matches(flow_run)
    assert FlowFilter(name="etl").matches(STORE.flows[rid(2001)])
    assert DeploymentFilter(work_queue_name="fast").matches(STORE.deployments[rid(3002)])


def test_filters_that_look_past_the_record_need_a_lookup() -> None:
    with pytest.raises(InvalidArgument, match="pass the store as the lookup"):
        TaskRunFilter(subflow_runs=True).matches(STORE.task_runs[rid(2)])


def test_shorthands_build_the_same_filter_as_the_long_form() -> None:
    assert TaskRunFilter(id=rid(1)) == TaskRunFilter(id=TaskRunFilterId(any_=[rid(1)]))
    assert TaskRunFilter(tags=["a", "b"]) == TaskRunFilter(tags=TaskRunFilterTags(all_={"b", "a"}))
    assert TaskRunFilter(state=[S.RUNNING, "COMPLETED"]) == TaskRunFilter(
        state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[S.COMPLETED, S.RUNNING]))
    )
    assert TaskRunFilter(subflow_runs=False) == TaskRunFilter(
        subflow_runs=TaskRunFilterSubFlowRuns(exists_=False)
    )
    assert TaskRunFilter(flow_run_id=FR1) == TaskRunFilter(
        flow_run_id=TaskRunFilterFlowRunId(any_=FR1)
    )
    assert hash(TaskRunFilter(name="x")) == hash(TaskRunFilter(name=TaskRunFilterName(any_="x")))


def test_empty_filters_compile_to_true_and_empty_lists_to_false() -> None:
    assert TaskRunFilter().criterion == TRUE
    assert TaskRunFilter(operator=Operator.OR).criterion == TRUE
    assert TaskRunFilterTags().criterion == TRUE
    assert TaskRunFilter(task_key=[]).criterion == FALSE
    assert TaskRunFilter(tags=TaskRunFilterTags(any_=[])).criterion == FALSE


def test_repr_lists_only_the_fields_that_are_set() -> None:
    assert repr(TaskRunFilter(task_key="a", state=S.FAILED)) == (
        "TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType("
        "any_=[StateType.FAILED])), task_key=TaskRunFilterTaskKey(any_=['a']))"
    )
    assert repr(TaskRunFilter(operator=Operator.OR)) == "TaskRunFilter(operator=Operator.OR)"


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (TaskRunFilterId, {"any_": [42]}, "filter ids must be UUIDs or UUID strings"),
        (TaskRunFilterId, {"any_": "not-a-uuid"}, "filter ids must be UUIDs or UUID strings"),
        (TaskRunFilterId, {"any_": 7}, "filter ids must be UUIDs"),
        (TaskRunFilterName, {"any_": [1]}, "expected a string or an iterable of strings"),
        (TaskRunFilterName, {"like_": 3}, "expected a string or None"),
        (TaskRunFilterStateType, {"any_": ["DONE"]}, "state types are StateType members"),
        (TaskRunFilterStateType, {"any_": 5}, "expected a StateType or an iterable"),
        (TaskRunFilterStartTime, {"before_": datetime(2026, 1, 1)}, "has no timezone"),
        (TaskRunFilterStartTime, {"after_": "yesterday"}, "must be aware datetimes"),
        (TaskRunFilterTags, {"is_null_": "yes"}, "expected True, False or None"),
        (TaskRunFilter, {"operator": "xor"}, "operator must be Operator.AND or Operator.OR"),
        (TaskRunFilter, {"id": FlowRunFilterId(any_=FR1)}, "expected a TaskRunFilterId"),
        (TaskRunFilter, {"start_time": at(0)}, "takes a TaskRunFilterStartTime"),
        (FlowRunFilter, {"state": FlowRunFilterState(type=[]), "name": 5}, "expected a string"),
    ],
)
def test_bad_values_raise_invalid_argument(cls: type, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        cls(**kwargs)


def test_store_queries_refuse_filters_of_the_wrong_kind() -> None:
    with pytest.raises(InvalidArgument, match="task_runs must be a TaskRunFilter"):
        STORE.query_task_runs(task_runs=FlowRunFilter())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="flows must be a FlowFilter"):
        STORE.count_flow_runs(flows=DeploymentFilter())  # type: ignore[arg-type]


def test_uuid_strings_and_uuids_are_the_same_id() -> None:
    assert TaskRunFilterId(any_=str(rid(5))).any_ == frozenset({uuid.UUID(int=5)})

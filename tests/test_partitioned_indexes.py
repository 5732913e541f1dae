"""Partitioned sorted indexes: exact against brute force, and the plan they give.

The machine drives a store as :mod:`tests.test_store_hypothesis` does (runs added, moved
through states, given new expected start times, renamed, removed; flow runs moved to other
work queues and deployments) and, from a random step on, asks queries with one task key
(or one work queue or deployment) plus other criteria, sorts, limits and offsets: the
first such query wakes the partitioned indexes, which every later write must keep exact.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from orchestrator import StateType
from orchestrator._store._criteria import Like
from orchestrator._store._store import Store
from orchestrator.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterWorkQueueName,
    FlowRunSort,
    TaskRunFilter,
    TaskRunFilterName,
    TaskRunFilterTaskKey,
    TaskRunSort,
)
from tests import strategies as sts
from tests.strategies import at, commit, make_flow, make_flow_run, make_task_run
from tests.test_store_hypothesis import (
    _OPTIONAL_FLOW_RUN_FILTERS,
    _OPTIONAL_TASK_RUN_FILTERS,
    StoreMachine,
    brute_sort,
)

QUEUES = (None, "default", "fast")


class PartitionMachine(StoreMachine):
    """The store machine, querying by one key (from a random step on) after every rule."""

    def __init__(self) -> None:
        super().__init__()
        self.awake = False

    def check(self, data: st.DataObject) -> None:
        """Compare key queries with brute force once awake; check every index."""
        self.awake = self.awake or data.draw(st.booleans(), "wake")
        if self.awake:
            for _ in range(2):
                self.compare_key_query(data)
            self.compare_flow_partition_query(data)
        self.store.check_invariants()

    def compare_key_query(self, data: st.DataObject) -> None:
        other = data.draw(_OPTIONAL_TASK_RUN_FILTERS, "other")
        key = TaskRunFilterTaskKey(any_=[data.draw(st.sampled_from(sts.KEYS), "key")])
        task_filter = TaskRunFilter(task_key=key)
        if other is not None and data.draw(st.booleans(), "combine"):
            # The key joins the other criteria (an AND filter) or stands beside them.
            task_filter = attrs.evolve(other, task_key=key)
        self.compare_task_query(
            data.draw(sts.task_run_sorts, "sort"),
            data.draw(sts.limits, "limit"),
            data.draw(sts.offsets, "offset"),
            task_filter,
            None,
            None,
            None,
        )

    def compare_flow_partition_query(self, data: st.DataObject) -> None:
        store = self.store
        part = data.draw(
            st.sampled_from(QUEUES[1:]).map(
                lambda queue: FlowRunFilter(
                    work_queue_name=FlowRunFilterWorkQueueName(any_=[queue])
                )
            )
            | st.sampled_from(sts.DEPLOYMENT_IDS).map(
                lambda d: FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[d]))
            ),
            "partition",
        )
        other = data.draw(_OPTIONAL_FLOW_RUN_FILTERS, "flow_other")
        flow_filter = part
        if other is not None and other.operator is part.operator:
            flow_filter = attrs.evolve(
                other, work_queue_name=part.work_queue_name, deployment_id=part.deployment_id
            )
        sort = data.draw(sts.flow_run_sorts, "flow_sort")
        limit = data.draw(sts.limits, "flow_limit")
        offset = data.draw(sts.offsets, "flow_offset")
        stop = None if limit is None else offset + limit
        matched = [r for r in store.flow_runs.values() if flow_filter.matches(r, store)]
        expected = brute_sort(matched, sort.field, sort.descending, self.flow_order)[offset:stop]
        got = store.query_flow_runs(flow_runs=flow_filter, sort=sort, limit=limit, offset=offset)
        assert [r.id for r in got] == [r.id for r in expected], (flow_filter, sort, limit, offset)

    @precondition(lambda self: self.store.flow_runs)
    @rule(data=st.data())
    def move_flow_run(self, data: st.DataObject) -> None:
        """Move a flow run to another work queue or deployment, as the engine would."""
        run = data.draw(st.sampled_from(list(self.store.flow_runs.values())))
        before = self.store.snapshot_flow_run(run)
        if data.draw(st.booleans()):
            run.work_queue_name = data.draw(st.sampled_from(QUEUES))
        else:
            run.deployment_id = data.draw(st.none() | st.sampled_from(sts.DEPLOYMENT_IDS))
        self.store.reindex_flow_run(run, before)
        self.check(data)

    @precondition(lambda self: self.store.task_runs)
    @rule(data=st.data())
    def reschedule_task_run(self, data: st.DataObject) -> None:
        """Give a task run a new expected start time (a SCHEDULED state)."""
        run = data.draw(st.sampled_from(list(self.store.task_runs.values())))
        when = data.draw(sts.times)
        commit(self.store, run, StateType.SCHEDULED, when, scheduled_time=data.draw(sts.times))
        self.check(data)


PartitionMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_partitioned_indexes_against_brute_force = PartitionMachine.TestCase


def _key_store(runs: int) -> Store:
    """``runs`` task runs over 20 keys, every one SCHEDULED at a time of its own."""
    store = Store()
    batch = [make_task_run(n, task_key=f"key-{n % 20}") for n in range(1, runs + 1)]
    store.add_task_runs(batch)
    for run in batch:
        commit(store, run, StateType.SCHEDULED, at(0), scheduled_time=at(run.id.int % 997))
    return store


@pytest.mark.parametrize("runs", [2_000, 20_000])
def test_a_key_sort_and_limit_walk_the_keys_index_and_touch_only_the_rows_returned(
    runs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _key_store(runs)
    key_filter = TaskRunFilter(task_key="key-7")
    sort = TaskRunSort.EXPECTED_START_TIME_DESC
    plan, _ = store.plan_task_runs(task_runs=key_filter, sort=sort, limit=10)
    assert (plan.strategy, plan.index, plan.estimated_rows) == (
        "walk",
        "task_key=key-7/expected_start_time",
        10,
    )
    # With a criterion tested in Python on each row walked, count the rows touched.
    tested: list[Any] = []
    original = Like.test

    def counting(self: Like, item: Any, lookup: Any) -> bool:
        tested.append(item)
        return original(self, item, lookup)

    monkeypatch.setattr(Like, "test", counting)
    named = attrs.evolve(key_filter, name=TaskRunFilterName(like_="task"))
    got = store.query_task_runs(task_runs=named, sort=sort, limit=10, offset=2)
    assert len(got) == 10
    assert len(tested) == 12
    expected = sorted(
        (run for run in store.task_runs.values() if run.task_key == "key-7"),
        key=lambda run: (run.expected_start_time, -run.id.int),
        reverse=True,
    )
    # Ties on the time are broken by creation order (here the id order), latest first.
    assert [run.id for run in got] == [run.id for run in expected[2:12]]
    store.check_invariants()


def test_the_partitioned_indexes_sleep_until_a_query_can_use_them() -> None:
    store = _key_store(100)
    table = store._task_table
    assert table.partitions.awake == []
    store.query_task_runs(task_runs=TaskRunFilter(state=StateType.SCHEDULED), limit=3)
    assert table.partitions.awake == []
    store.query_task_runs(
        task_runs=TaskRunFilter(task_key="key-1"), sort=TaskRunSort.NAME_ASC, limit=3
    )
    assert [index.name for index in table.partitions.awake] == ["task_key/name"]
    flow = make_flow(0, "etl")
    store.add_flow(flow)
    store.add_flow_run(make_flow_run(1, flow_id=flow.id, work_queue_name="q"))
    store.query_flow_runs(flow_runs=FlowRunFilter(work_queue_name="q"), sort=FlowRunSort.ID_DESC)
    assert [i.name for i in store._flow_table.partitions.awake] == ["work_queue_name/id"]
    store.check_invariants()


def test_check_invariants_names_a_partitioned_index_that_differs() -> None:
    store = _key_store(50)
    store.query_task_runs(
        task_runs=TaskRunFilter(task_key="key-3"), sort=TaskRunSort.END_TIME_DESC, limit=3
    )
    run = next(run for run in store.task_runs.values() if run.task_key == "key-3")
    index = store._task_table.partitions.awake[0]
    index.parts["key-3"].discard(run.end_time, store._task_table.seq[run], run)
    with pytest.raises(AssertionError, match="task_key/end_time"):
        store.check_invariants()
    assert isinstance(run.id, uuid.UUID)


@pytest.mark.parametrize("bad", ["not a time", datetime(2026, 1, 1)])
def test_a_failed_change_is_undone_in_the_partitioned_indexes_too(bad: object) -> None:
    store = _key_store(40)
    for sort in (TaskRunSort.EXPECTED_START_TIME_DESC, TaskRunSort.NAME_ASC):
        store.query_task_runs(task_runs=TaskRunFilter(task_key="key-5"), sort=sort, limit=2)
    run = next(run for run in store.task_runs.values() if run.task_key == "key-5")
    before = store.snapshot_task_run(run)
    run.name = "renamed"
    run.expected_start_time = bad  # type: ignore[assignment]
    with pytest.raises(TypeError, match="expected_start_time"):
        store.reindex_task_run(run, before)
    store.restore_run(run, before)
    assert run.name != "renamed"
    store.check_invariants()
    got = store.query_task_runs(
        task_runs=TaskRunFilter(task_key="key-5"), sort=TaskRunSort.NAME_ASC, limit=50
    )
    assert sorted(r.id for r in got) == sorted(
        r.id for r in store.task_runs.values() if r.task_key == "key-5"
    )

"""Stateful Hypothesis test: the store against a brute-force model, after every step.

The machine adds, changes (state, times, name) and removes task runs, flow runs, flows
and deployments the way the engine does, and after every step it checks the store's
invariants, then draws random filters, a sort, a limit and an offset and compares
``query_*`` and ``count_*`` with a scan that tests every run with the filters'
``matches`` and sorts with the documented order (key, then creation order, None last).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from orchestrator import FlowRun, StateType, TaskRun
from orchestrator._store._criteria import In
from orchestrator._store._history import HistoryBucket, task_run_history
from orchestrator._store._store import Store
from orchestrator.filters import (
    DeploymentFilter,
    FlowFilter,
    FlowRunFilter,
    FlowRunFilterStartTime,
    FlowRunSort,
    TaskRunFilter,
    TaskRunSort,
)
from tests import strategies as sts


class BruteLookup:
    """The lookup ``matches`` needs, answered by scanning (no secondary index)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_flow_run(self, flow_run_id: uuid.UUID) -> FlowRun | None:
        return next((r for r in self.store.flow_runs.values() if r.id == flow_run_id), None)

    def get_flow(self, flow_id: uuid.UUID) -> Any:
        return next((f for f in self.store.flows.values() if f.id == flow_id), None)

    def get_deployment(self, deployment_id: uuid.UUID) -> Any:
        return next((d for d in self.store.deployments.values() if d.id == deployment_id), None)

    def has_subflow(self, task_run_id: uuid.UUID) -> bool:
        return any(r.parent_task_run_id == task_run_id for r in self.store.flow_runs.values())

    def get_task_run(self, task_run_id: uuid.UUID) -> Any:
        return next((r for r in self.store.task_runs.values() if r.id == task_run_id), None)


def flow_run_matches(
    run: FlowRun,
    lookup: BruteLookup,
    flow_runs: FlowRunFilter | None,
    flows: FlowFilter | None,
    deployments: DeploymentFilter | None,
) -> bool:
    if flow_runs is not None and not flow_runs.matches(run, lookup):
        return False
    if flows is not None:
        flow = lookup.get_flow(run.flow_id)
        if flow is None or not flows.matches(flow, lookup):
            return False
    if deployments is not None:
        deployment = None if run.deployment_id is None else lookup.get_deployment(run.deployment_id)
        if deployment is None or not deployments.matches(deployment, lookup):
            return False
    return True


def task_run_matches(
    run: TaskRun,
    lookup: BruteLookup,
    task_runs: TaskRunFilter | None,
    flow_runs: FlowRunFilter | None,
    flows: FlowFilter | None,
    deployments: DeploymentFilter | None,
) -> bool:
    if task_runs is not None and not task_runs.matches(run, lookup):
        return False
    if flow_runs is None and flows is None and deployments is None:
        return True
    if run.flow_run_id is None:
        return False
    # A flow-run filter whose only effective criterion is a non-empty id list reduces to
    # "flow_run_id in ids", whether or not those flow runs exist (the reference's rule).
    if flows is None and deployments is None and flow_runs is not None:
        criterion = flow_runs.criterion
        if isinstance(criterion, In) and criterion.attribute == "id":
            return run.flow_run_id in criterion.values
    flow_run = lookup.get_flow_run(run.flow_run_id)
    return flow_run is not None and flow_run_matches(
        flow_run, lookup, flow_runs, flows, deployments
    )


def brute_sort(
    runs: Sequence[Any], field: str, descending: bool, order: dict[uuid.UUID, int]
) -> list[Any]:
    def key(run: Any) -> Any:
        if field == "effective_start_time":
            # The reference's coalesce(start_time, expected_start_time), spelled out.
            return run.expected_start_time if run.start_time is None else run.start_time
        return run.id if field == "id" else getattr(run, field)

    keyed = sorted(
        (r for r in runs if key(r) is not None),
        key=lambda r: (key(r), order[r.id]),
        reverse=descending,
    )
    nulls = sorted(
        (r for r in runs if key(r) is None), key=lambda r: order[r.id], reverse=descending
    )
    return keyed + nulls


def brute_history(
    store: Store,
    start: Any,
    end: Any,
    interval: timedelta,
    now: Any,
    task_runs: TaskRunFilter | None,
) -> list[tuple[Any, list[tuple[Any, ...]]]]:
    lookup = BruteLookup(store)
    buckets = []
    left = start
    while left < end:
        groups: dict[tuple[Any, Any], list[Any]] = {}
        for run in store.task_runs.values():
            expected = run.expected_start_time
            if expected is None or not (left <= expected < left + interval):
                continue
            if task_runs is not None and not task_runs.matches(run, lookup):
                continue
            totals = groups.setdefault((run.state_type, run.state_name), [0, 0.0, 0.0])
            totals[0] += 1
            totals[1] += max(0.0, run.estimated_run_time(now))
            totals[2] += max(0.0, run.estimated_start_time_delta(now))
        rows = sorted(
            (
                (t.value if t else "", n or "", c, rt, late)
                for (t, n), (c, rt, late) in groups.items()
            )
        )
        buckets.append((left, rows))
        left += interval
    return buckets


def history_rows(buckets: list[HistoryBucket]) -> list[tuple[Any, list[tuple[Any, ...]]]]:
    return [
        (
            b.interval_start,
            [
                (
                    s.state_type.value if s.state_type else "",
                    s.state_name or "",
                    s.count_runs,
                    s.sum_estimated_run_time,
                    s.sum_estimated_lateness,
                )
                for s in b.states
            ],
        )
        for b in buckets
    ]


_TASK_STATES = [
    (StateType.SCHEDULED, None),
    (StateType.SCHEDULED, "AwaitingRetry"),
    (StateType.PENDING, None),
    (StateType.RUNNING, None),
    (StateType.RUNNING, "Retrying"),
    (StateType.COMPLETED, None),
    (StateType.FAILED, None),
    (StateType.CANCELLED, None),
    (StateType.CRASHED, None),
    (StateType.PAUSED, None),
    (StateType.CANCELLING, None),
]


_OPTIONAL_TASK_RUN_FILTERS = st.none() | sts.TASK_RUN_FILTERS
_OPTIONAL_FLOW_RUN_FILTERS = st.none() | sts.FLOW_RUN_FILTERS
_OPTIONAL_FLOW_FILTERS = st.none() | sts.FLOW_FILTERS
_OPTIONAL_DEPLOYMENT_FILTERS = st.none() | sts.DEPLOYMENT_FILTERS


class StoreMachine(RuleBasedStateMachine):
    """Drive a Store with engine-like operations; compare every query with brute force."""

    def __init__(self) -> None:
        super().__init__()
        self.store = Store()
        self.task_order: dict[uuid.UUID, int] = {}
        self.flow_order: dict[uuid.UUID, int] = {}
        self.counter = 0
        self.clock = 0

    # -- helpers ------------------------------------------------------------------------
    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _free(self, data: st.DataObject, pool: Sequence[uuid.UUID], used: Any) -> uuid.UUID | None:
        free = [i for i in pool if i not in used]
        return data.draw(st.sampled_from(free)) if free else None

    def _commit(self, data: st.DataObject, run: TaskRun | FlowRun) -> None:
        state_type, name = data.draw(st.sampled_from(_TASK_STATES))
        when = data.draw(sts.times)
        scheduled = data.draw(sts.times) if state_type is StateType.SCHEDULED else None
        sts.commit(self.store, run, state_type, when, name=name, scheduled_time=scheduled)

    def compare_task_query(
        self,
        sort: TaskRunSort,
        limit: int | None,
        offset: int,
        tf: TaskRunFilter | None,
        frf: FlowRunFilter | None,
        ff: FlowFilter | None,
        df: DeploymentFilter | None,
    ) -> None:
        store = self.store
        lookup = BruteLookup(store)
        filters: dict[str, Any] = {
            "task_runs": tf,
            "flow_runs": frf,
            "flows": ff,
            "deployments": df,
        }
        matched = [
            r for r in store.task_runs.values() if task_run_matches(r, lookup, tf, frf, ff, df)
        ]
        stop = None if limit is None else offset + limit
        expected = brute_sort(matched, sort.field, sort.descending, self.task_order)[offset:stop]
        got = store.query_task_runs(**filters, sort=sort, limit=limit, offset=offset)
        plan = store.plan_task_runs(**filters, sort=sort, limit=limit, offset=offset)[0]
        assert [r.id for r in got] == [r.id for r in expected], (
            filters,
            sort,
            limit,
            offset,
            plan,
            [(r.name, self.task_order[r.id]) for r in got],
            [(r.name, self.task_order[r.id]) for r in expected],
        )
        assert store.count_task_runs(**filters) == len(matched)

    def check(self, data: st.DataObject) -> None:
        store = self.store
        store.check_invariants()
        lookup = BruteLookup(store)
        tf = data.draw(_OPTIONAL_TASK_RUN_FILTERS, "task_runs")
        frf = data.draw(_OPTIONAL_FLOW_RUN_FILTERS, "flow_runs")
        ff = data.draw(_OPTIONAL_FLOW_FILTERS, "flows")
        df = data.draw(_OPTIONAL_DEPLOYMENT_FILTERS, "deployments")
        limit = data.draw(sts.limits, "limit")
        offset = data.draw(sts.offsets, "offset")
        self.compare_task_query(
            data.draw(sts.task_run_sorts, "sort"), limit, offset, tf, frf, ff, df
        )
        # A filter on the sort key itself, alone: the planner walks the bounded index.
        aligned_sort, aligned = data.draw(sts.SORT_ALIGNED_TASK_RUN_FILTERS, "aligned")
        self.compare_task_query(aligned_sort, limit, offset, aligned, None, None, None)
        stop = None if limit is None else offset + limit

        flow_sort = data.draw(sts.flow_run_sorts, "flow_sort")
        flow_matched = [
            r for r in store.flow_runs.values() if flow_run_matches(r, lookup, frf, ff, df)
        ]
        flow_expected = brute_sort(
            flow_matched, flow_sort.field, flow_sort.descending, self.flow_order
        )[offset:stop]
        flow_got = store.query_flow_runs(
            flow_runs=frf, flows=ff, deployments=df, sort=flow_sort, limit=limit, offset=offset
        )
        assert [r.id for r in flow_got] == [r.id for r in flow_expected], (
            frf,
            ff,
            df,
            flow_sort,
            limit,
            offset,
            [(r.name, self.flow_order[r.id]) for r in flow_got],
            [(r.name, self.flow_order[r.id]) for r in flow_expected],
        )
        assert store.count_flow_runs(flow_runs=frf, flows=ff, deployments=df) == len(flow_matched)
        self.compare_start_time_query(data, limit, offset)

    def compare_start_time_query(self, data: st.DataObject, limit: int | None, offset: int) -> None:
        """A start-time filter with a start-time sort: the planner walks the derived index.

        The expected answer spells out the reference: bounds on coalesce(start_time,
        expected_start_time), ``is_null_`` on start_time alone.
        """
        sort = data.draw(
            st.sampled_from([FlowRunSort.START_TIME_ASC, FlowRunSort.START_TIME_DESC]), "sort"
        )
        after = data.draw(st.none() | sts.times, "after_")
        before = data.draw(st.none() | sts.times, "before_")
        null = data.draw(st.none() | st.booleans(), "is_null_")
        sub = FlowRunFilterStartTime(after_=after, before_=before, is_null_=null)

        def selected(run: FlowRun) -> bool:
            key = run.expected_start_time if run.start_time is None else run.start_time
            if (after is not None or before is not None) and key is None:
                return False
            if after is not None and key is not None and key < after:
                return False
            if before is not None and key is not None and key > before:
                return False
            return null is None or (run.start_time is None) is null

        matched = [r for r in self.store.flow_runs.values() if selected(r)]
        stop = None if limit is None else offset + limit
        expected = brute_sort(matched, "effective_start_time", sort.descending, self.flow_order)[
            offset:stop
        ]
        query = FlowRunFilter(start_time=sub)
        got = self.store.query_flow_runs(flow_runs=query, sort=sort, limit=limit, offset=offset)
        assert [r.id for r in got] == [r.id for r in expected], (sub, sort, limit, offset)
        assert self.store.count_flow_runs(flow_runs=query) == len(matched)

    # -- rules ----------------------------------------------------------------------------
    @initialize()
    def start(self) -> None:
        etl, report, _ = sts.FLOW_IDS
        self.store.add_flow(attrs.evolve(sts.make_flow(0, "etl", tags=["nightly"]), id=etl))
        self.store.add_flow(attrs.evolve(sts.make_flow(1, "report"), id=report))

    def _new_task_run(self, data: st.DataObject, used: set[uuid.UUID]) -> TaskRun | None:
        run_id = self._free(data, sts.TASK_IDS, used | self.store.task_runs.keys())
        if run_id is None:
            return None
        used.add(run_id)
        n = self._next()
        self.task_order[run_id] = n
        return sts.make_task_run(
            n,
            id=run_id,
            name=data.draw(st.sampled_from(sts.NAMES)),
            task_key=data.draw(st.sampled_from(sts.KEYS)),
            flow_run_id=data.draw(st.none() | st.sampled_from(sts.FLOW_RUN_IDS)),
            tags=data.draw(st.lists(st.sampled_from(sts.TAGS), max_size=2)),
        )

    @rule(data=st.data())
    def add_task_run(self, data: st.DataObject) -> None:
        run = self._new_task_run(data, set())
        if run is None:
            return
        self.store.add_task_run(run)
        if data.draw(st.booleans()):
            self._commit(data, run)
        self.check(data)

    @rule(data=st.data(), count=st.integers(2, 8))
    def add_task_runs_in_bulk(self, data: st.DataObject, count: int) -> None:
        used: set[uuid.UUID] = set()
        runs = [run for _ in range(count) if (run := self._new_task_run(data, used)) is not None]
        self.store.add_task_runs(runs)
        for run in runs:
            for _ in range(data.draw(st.integers(0, 2))):
                self._commit(data, run)
        self.check(data)

    @precondition(lambda self: self.store.task_runs)
    @rule(data=st.data())
    def change_task_run_state(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from(list(self.store.task_runs.values())))
        self._commit(data, run)
        self.check(data)

    @precondition(lambda self: self.store.task_runs)
    @rule(data=st.data())
    def rename_task_run(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from(list(self.store.task_runs.values())))
        sts.rename(self.store, run, data.draw(st.sampled_from(sts.NAMES)))
        self.check(data)

    @precondition(lambda self: self.store.task_runs)
    @rule(data=st.data())
    def remove_task_run(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(list(self.store.task_runs)))
        states = self.store.task_run_states(run_id)
        removed = self.store.remove_task_run(run_id)
        assert removed.id == run_id
        assert self.store.get_task_run(run_id) is None
        assert len(states) == len([s for s in states if s.timestamp is not None])
        self.check(data)

    @rule(data=st.data())
    def add_flow_run(self, data: st.DataObject) -> None:
        run_id = self._free(data, sts.FLOW_RUN_IDS, self.store.flow_runs)
        if run_id is None:
            return
        n = self._next()
        run = sts.make_flow_run(
            n,
            id=run_id,
            flow_id=data.draw(st.sampled_from(sts.FLOW_IDS)),
            name=data.draw(st.sampled_from(sts.NAMES)),
            deployment_id=data.draw(st.none() | st.sampled_from(sts.DEPLOYMENT_IDS)),
            work_queue_name=data.draw(st.none() | st.sampled_from(["default", "fast"])),
            parent_task_run_id=data.draw(st.none() | st.sampled_from(sts.TASK_IDS)),
            tags=data.draw(st.lists(st.sampled_from(sts.TAGS), max_size=2)),
        )
        self.store.add_flow_run(run)
        self.flow_order[run.id] = n
        if data.draw(st.booleans()):
            self._commit(data, run)
        self.check(data)

    @rule(data=st.data(), count=st.integers(2, 6))
    def add_flow_runs(self, data: st.DataObject, count: int) -> None:
        for _ in range(count):
            self.add_flow_run(data)

    @precondition(lambda self: self.store.flow_runs)
    @rule(data=st.data())
    def change_flow_run(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from(list(self.store.flow_runs.values())))
        if data.draw(st.booleans()):
            self._commit(data, run)
        else:
            sts.rename(self.store, run, data.draw(st.sampled_from(sts.NAMES)))
        self.check(data)

    @precondition(lambda self: self.store.flow_runs)
    @rule(data=st.data())
    def remove_flow_run(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(list(self.store.flow_runs)))
        self.store.remove_flow_run(run_id)
        self.check(data)

    @rule(data=st.data(), pool=st.sampled_from(["pool-a", "pool-b"]))
    def add_deployment(self, data: st.DataObject, pool: str) -> None:
        deployment_id = self._free(data, sts.DEPLOYMENT_IDS, self.store.deployments)
        if deployment_id is None:
            return
        n = self._next()
        flow_id = data.draw(st.sampled_from(list(self.store.flows)))
        deployment = sts.make_deployment(
            n,
            flow_id=flow_id,
            name=f"d{n % 2}",
            work_pool_name=pool,
            work_queue_name=data.draw(st.sampled_from(["default", "fast"])),
        )
        self.store.add_deployment(attrs.evolve(deployment, id=deployment_id))
        self.check(data)

    @rule(data=st.data())
    def remove_or_restore_a_flow(self, data: st.DataObject) -> None:
        report = sts.FLOW_IDS[1]
        if report in self.store.flows:
            self.store.remove_flow(report)
        else:
            self.store.add_flow(attrs.evolve(sts.make_flow(1, "report"), id=report))
        self.check(data)

    @precondition(lambda self: self.store.deployments)
    @rule(data=st.data())
    def remove_deployment(self, data: st.DataObject) -> None:
        self.store.remove_deployment(data.draw(st.sampled_from(list(self.store.deployments))))
        self.check(data)

    @rule(
        data=st.data(),
        start=sts.times,
        buckets=st.integers(1, 8),
        interval=st.sampled_from([1.0, 7.0, 10.0, 25.0, 60.0]),
        now=sts.times,
    )
    def history(
        self, data: st.DataObject, start: Any, buckets: int, interval: float, now: Any
    ) -> None:
        tf = data.draw(_OPTIONAL_TASK_RUN_FILTERS)
        step = timedelta(seconds=interval)
        end = start + step * buckets - timedelta(microseconds=data.draw(st.sampled_from([0, 1])))
        got = task_run_history(
            self.store,
            history_start=start,
            history_end=end,
            history_interval=interval,
            now=now,
            task_runs=tf,
        )
        assert history_rows(got) == brute_history(self.store, start, end, step, now, tf)
        assert len(got) == buckets


StoreMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_store_against_brute_force = StoreMachine.TestCase

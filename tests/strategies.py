"""Record factories and Hypothesis strategies for store, filter and history tests.

There is no engine here: runs are built by hand with explicit timestamps, and
:func:`commit` changes a run's state the way the engine does (snapshot, bookkeeping,
reindex, append), so the store sees exactly the mutations it will see in production.
Times come from a coarse grid (:func:`at`) so that ties in every sort key are common.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hypothesis import strategies as st

from orchestrator import Deployment, Flow, FlowRun, State, StateDetails, StateType, TaskRun
from orchestrator._rules._bookkeeping import apply_bookkeeping
from orchestrator._store._store import Store
from orchestrator.filters import (
    DeploymentFilter,
    FlowFilter,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterId,
    FlowRunFilterName,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterStartTime,
    FlowRunFilterState,
    FlowRunFilterStateName,
    FlowRunFilterStateType,
    FlowRunFilterTags,
    FlowRunFilterWorkQueueName,
    FlowRunSort,
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
    TaskRunSort,
)

#: The time every test store starts at.
T0: Final = datetime(2026, 1, 1, tzinfo=UTC)

NAMES: Final = ("alpha", "beta", "Alpha-2", "gamma")
KEYS: Final = ("extract", "transform", "load")
TAGS: Final = ("etl", "nightly", "gpu")
STATE_NAMES: Final = ("Scheduled", "AwaitingRetry", "Late", "Running", "Retrying", "Completed")


def _id_pool(seed: int, size: int) -> tuple[uuid.UUID, ...]:
    rng = random.Random(seed)
    return tuple(uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(size))


#: Ids the random tests give their records (random-looking, so ID_DESC is a real order).
TASK_IDS: Final = _id_pool(1, 40)
FLOW_RUN_IDS: Final = _id_pool(2, 16)
FLOW_IDS: Final = _id_pool(3, 3)
DEPLOYMENT_IDS: Final = _id_pool(4, 4)


def at(seconds: float) -> datetime:
    """Return ``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def rid(n: int) -> uuid.UUID:
    """Return the readable id ``00000000-...-<n>``."""
    return uuid.UUID(int=n)


def make_task_run(
    n: int,
    *,
    id: uuid.UUID | None = None,
    name: str | None = None,
    task_key: str = "extract",
    dynamic_key: str | None = None,
    flow_run_id: uuid.UUID | None = None,
    tags: Iterable[str] = (),
) -> TaskRun:
    """Return task run number ``n`` (id ``rid(n)`` unless given) with no state."""
    return TaskRun(
        id=rid(n) if id is None else id,
        name=f"task-{n}" if name is None else name,
        task_key=task_key,
        dynamic_key=str(n) if dynamic_key is None else dynamic_key,
        flow_run_id=flow_run_id,
        tags=frozenset(tags),
        created=T0,
        updated=T0,
    )


def make_flow_run(
    n: int,
    *,
    flow_id: uuid.UUID,
    id: uuid.UUID | None = None,
    name: str | None = None,
    deployment_id: uuid.UUID | None = None,
    work_queue_name: str | None = None,
    parent_task_run_id: uuid.UUID | None = None,
    tags: Iterable[str] = (),
) -> FlowRun:
    """Return flow run number ``n`` (id ``rid(1000 + n)`` unless given) with no state."""
    return FlowRun(
        id=rid(1000 + n) if id is None else id,
        name=f"flow-run-{n}" if name is None else name,
        flow_id=flow_id,
        deployment_id=deployment_id,
        work_queue_name=work_queue_name,
        parent_task_run_id=parent_task_run_id,
        tags=frozenset(tags),
        created=T0,
        updated=T0,
    )


def make_flow(n: int, name: str, *, tags: Iterable[str] = ()) -> Flow:
    """Return flow number ``n`` (id ``rid(2000 + n)``)."""
    return Flow(id=rid(2000 + n), name=name, tags=frozenset(tags), created=T0)


def make_deployment(
    n: int,
    *,
    flow_id: uuid.UUID,
    name: str,
    work_pool_name: str | None = None,
    work_queue_name: str | None = None,
    tags: Iterable[str] = (),
) -> Deployment:
    """Return deployment number ``n`` (id ``rid(3000 + n)``)."""
    return Deployment(
        id=rid(3000 + n),
        name=name,
        flow_id=flow_id,
        work_pool_name=work_pool_name,
        work_queue_name=work_queue_name,
        tags=frozenset(tags),
        created=T0,
        updated=T0,
    )


def make_state(
    state_type: StateType,
    when: datetime,
    *,
    name: str | None = None,
    scheduled_time: datetime | None = None,
) -> State:
    """Return a committed state (with an id and timestamp ``when``)."""
    details = StateDetails()
    if state_type is StateType.SCHEDULED:
        details = StateDetails(scheduled_time=when if scheduled_time is None else scheduled_time)
    fields: dict[str, Any] = {} if name is None else {"name": name}
    return State(type=state_type, timestamp=when, details=details, id=uuid.uuid4(), **fields)


def commit(
    store: Store,
    run: TaskRun | FlowRun,
    state_type: StateType,
    when: datetime,
    *,
    name: str | None = None,
    scheduled_time: datetime | None = None,
) -> State:
    """Commit a new state on a stored run exactly as the engine does; return the state."""
    state = make_state(state_type, when, name=name, scheduled_time=scheduled_time)
    if isinstance(run, TaskRun):
        before = store.snapshot_task_run(run)
        apply_bookkeeping(run, run.state, state)
        run.updated = when
        store.reindex_task_run(run, before)
        store.append_task_run_state(run.id, state)
    else:
        flow_before = store.snapshot_flow_run(run)
        apply_bookkeeping(run, run.state, state)
        run.updated = when
        store.reindex_flow_run(run, flow_before)
        store.append_flow_run_state(run.id, state)
    return state


def rename(store: Store, run: TaskRun | FlowRun, name: str) -> None:
    """Rename a stored run as the engine does."""
    if isinstance(run, TaskRun):
        before = store.snapshot_task_run(run)
        run.name = name
        store.reindex_task_run(run, before)
    else:
        flow_before = store.snapshot_flow_run(run)
        run.name = name
        store.reindex_flow_run(run, flow_before)


# -- strategies ------------------------------------------------------------------------

#: Times on a 10-second grid over 200 seconds: ties are frequent.
times: Final = st.integers(0, 20).map(lambda k: at(10 * k))
operators: Final = st.sampled_from(list(Operator))


def _build(cls: type) -> Callable[[dict[str, Any]], Any]:
    return lambda kwargs: cls(**kwargs)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _subset(values: Sequence[Any], max_size: int = 3) -> st.SearchStrategy[list[Any]]:
    # Mostly non-empty: an empty any_ matches nothing, which unit tests cover.
    lists = st.lists(st.sampled_from(values), min_size=1, max_size=max_size, unique=True)
    return st.one_of(lists, lists, lists, st.just([]))


def _some(
    cls: type, subs: dict[str, st.SearchStrategy[Any]], most: int = 2
) -> st.SearchStrategy[Any]:
    """``cls`` with at most ``most`` of the ``subs`` fields set (more would rarely match)."""
    names = sorted(subs)
    combos: dict[tuple[str, ...], st.SearchStrategy[dict[str, Any]]] = {}
    for size in range(most + 1):
        for combo in itertools.combinations(names, size):
            combos[combo] = st.fixed_dictionaries({name: subs[name] for name in combo})
    picks = st.lists(st.sampled_from(names), max_size=most, unique=True)
    return picks.flatmap(lambda chosen: combos[tuple(sorted(chosen))]).map(lambda kw: cls(**kw))


def _times_filter(cls: type, nullable: bool) -> st.SearchStrategy[Any]:
    fields: dict[str, st.SearchStrategy[Any]] = {"before_": _maybe(times), "after_": _maybe(times)}
    if nullable:
        fields["is_null_"] = _maybe(st.booleans())
    return st.fixed_dictionaries({}, optional=fields).map(lambda kw: cls(**kw))


def _tags_filter(cls: type) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {},
        optional={
            "all_": _maybe(_subset(TAGS)),
            "any_": _maybe(_subset(TAGS)),
            "is_null_": _maybe(st.booleans()),
            "operator": operators,
        },
    ).map(lambda kw: cls(**kw))


def _task_run_filters() -> st.SearchStrategy[TaskRunFilter]:
    """Task-run filters over the id pools and the module's names, keys, tags and times."""
    state = st.builds(
        TaskRunFilterState,
        type=_maybe(st.builds(TaskRunFilterStateType, any_=_subset(list(StateType)))),
        name=_maybe(st.builds(TaskRunFilterStateName, any_=_subset(STATE_NAMES))),
        operator=operators,
    )
    subs: dict[str, st.SearchStrategy[Any]] = {
        "id": st.builds(TaskRunFilterId, any_=_subset(TASK_IDS, 4)),
        "name": st.builds(
            TaskRunFilterName,
            any_=_maybe(_subset(NAMES)),
            like_=_maybe(st.sampled_from(["a", "ALP", "-2"])),
        ),
        "tags": _tags_filter(TaskRunFilterTags),
        "state": state,
        "start_time": _times_filter(TaskRunFilterStartTime, True),
        "end_time": _times_filter(TaskRunFilterEndTime, True),
        "expected_start_time": _times_filter(TaskRunFilterExpectedStartTime, False),
        "subflow_runs": st.builds(TaskRunFilterSubFlowRuns, exists_=_maybe(st.booleans())),
        "flow_run_id": st.builds(
            TaskRunFilterFlowRunId,
            any_=_maybe(_subset(FLOW_RUN_IDS)),
            is_null_=_maybe(st.booleans()),
        ),
        "task_key": st.builds(TaskRunFilterTaskKey, any_=_subset(KEYS)),
        "operator": st.sampled_from([Operator.AND, Operator.AND, Operator.OR]),
    }
    return _some(TaskRunFilter, subs, 3)


def _flow_run_filters() -> st.SearchStrategy[FlowRunFilter]:
    """Flow-run filters over the id pools and the module's names, tags and times."""
    state = st.builds(
        FlowRunFilterState,
        type=_maybe(
            _subset(list(StateType))
            | st.builds(
                FlowRunFilterStateType,
                any_=_maybe(_subset(list(StateType))),
                not_any_=_maybe(_subset(list(StateType))),
            )
        ),
        name=_maybe(
            _subset(STATE_NAMES)
            | st.builds(
                FlowRunFilterStateName,
                any_=_maybe(_subset(STATE_NAMES)),
                not_any_=_maybe(_subset(STATE_NAMES)),
            )
        ),
        operator=operators,
    )

    def nullable_ids(cls: type, values: Sequence[uuid.UUID]) -> st.SearchStrategy[Any]:
        return st.builds(
            cls, any_=_maybe(_subset(values)), is_null_=_maybe(st.booleans()), operator=operators
        )

    subs: dict[str, st.SearchStrategy[Any]] = {
        "id": st.builds(
            FlowRunFilterId,
            any_=_subset(FLOW_RUN_IDS, 4),
            not_any_=_maybe(_subset(FLOW_RUN_IDS, 4)),
        ),
        "name": st.builds(
            FlowRunFilterName, any_=_maybe(_subset(NAMES)), like_=_maybe(st.just("a"))
        ),
        "tags": _tags_filter(FlowRunFilterTags),
        "state": state,
        "deployment_id": nullable_ids(FlowRunFilterDeploymentId, DEPLOYMENT_IDS),
        "work_queue_name": st.builds(
            FlowRunFilterWorkQueueName,
            any_=_maybe(_subset(["default", "fast"])),
            is_null_=_maybe(st.booleans()),
        ),
        "parent_task_run_id": nullable_ids(FlowRunFilterParentTaskRunId, TASK_IDS),
        "parent_flow_run_id": st.builds(
            FlowRunFilterParentFlowRunId, any_=_maybe(_subset(FLOW_RUN_IDS))
        ),
        "start_time": _times_filter(FlowRunFilterStartTime, True),
        "end_time": _times_filter(FlowRunFilterEndTime, True),
        "expected_start_time": _times_filter(FlowRunFilterExpectedStartTime, False),
        "next_scheduled_start_time": _times_filter(FlowRunFilterNextScheduledStartTime, False),
        "operator": st.sampled_from([Operator.AND, Operator.AND, Operator.OR]),
    }
    return _some(FlowRunFilter, subs, 3)


def _flow_filters() -> st.SearchStrategy[FlowFilter]:
    """Flow filters over the flow id pool and names."""
    return st.fixed_dictionaries(
        {},
        optional={
            "id": _subset(FLOW_IDS),
            "name": _subset(["etl", "report", "missing"]),
            "tags": _subset(TAGS, 2),
            "operator": operators,
        },
    ).map(_build(FlowFilter))


def _deployment_filters() -> st.SearchStrategy[DeploymentFilter]:
    """Deployment filters over the deployment id pool, names, pools and queues."""
    return st.fixed_dictionaries(
        {},
        optional={
            "id": _subset(DEPLOYMENT_IDS),
            "name": _subset(["d0", "d1"]),
            "work_pool_name": _subset(["pool-a", "pool-b"]),
            "work_queue_name": _subset(["default", "fast"]),
            "operator": operators,
        },
    ).map(_build(DeploymentFilter))


#: Ready-made strategies over the id pools (built once: building strategies is slow).
TASK_RUN_FILTERS: Final = _task_run_filters()
FLOW_RUN_FILTERS: Final = _flow_run_filters()
FLOW_FILTERS: Final = _flow_filters()
DEPLOYMENT_FILTERS: Final = _deployment_filters()


def _aligned(sort: TaskRunSort) -> st.SearchStrategy[tuple[TaskRunSort, TaskRunFilter]]:
    field = sort.field
    if field == "expected_start_time":
        sub = _times_filter(TaskRunFilterExpectedStartTime, False)
    elif field == "end_time":
        sub = _times_filter(TaskRunFilterEndTime, True)
    elif field == "name":
        sub = st.builds(TaskRunFilterName, any_=_subset(NAMES))
    else:
        sub = st.builds(TaskRunFilterId, any_=_subset(TASK_IDS, 6))
    return sub.map(lambda f: (sort, TaskRunFilter(**{field: f})))


#: A sort paired with a filter on its own key (exercises bounded index walks).
SORT_ALIGNED_TASK_RUN_FILTERS: Final = st.one_of(
    *(
        _aligned(sort)
        for sort in TaskRunSort
        if sort is not TaskRunSort.NEXT_SCHEDULED_START_TIME_ASC
    )
)

task_run_sorts: Final = st.sampled_from(list(TaskRunSort))
flow_run_sorts: Final = st.sampled_from(list(FlowRunSort))
limits: Final = st.none() | st.integers(0, 6)
offsets: Final = st.integers(0, 4)


# -- a small store with known contents ---------------------------------------------------


def sample_store() -> Store:
    """Return the store most unit tests read (ids ``rid(1)``..``rid(6)`` for task runs).

    Flows ``rid(2001)`` "etl" (tag nightly) and ``rid(2002)`` "report"; deployments
    ``rid(3001)`` "d-etl" (flow etl, pool-a/default) and ``rid(3002)`` "d-report" (flow
    report, pool-b/fast). Flow runs: ``rid(1001)`` (etl, d-etl, queue default, tag prod,
    RUNNING), ``rid(1002)`` (report, d-report, queue fast, COMPLETED), ``rid(1003)``
    (etl, no deployment, the subflow of task run 2, no state).

    ===  ===========  =========  =====  ============  ============================  =====
    run  name         key        flow   tags          states (seconds after T0)     now
    ===  ===========  =========  =====  ============  ============================  =====
    1    extract-1    extract    1001   etl           SCHEDULED@0 for 60, PENDING@60,
                                                      RUNNING@61, COMPLETED@90
    2    Transform-1  transform  1001   etl, gpu      SCHEDULED@0 for 120, RUNNING@125
    3    load-1       load       1002   -             SCHEDULED@10 for 30, RUNNING@30,
                                                      FAILED@50
    4    extract-2    extract    -      nightly       SCHEDULED@20 for 200
    5    bg-1         load       -      -             (no state)
    6    extract-3    extract    1002   etl           SCHEDULED@5 for 40, RUNNING@40,
                                                      AwaitingRetry@70 for 100
    ===  ===========  =========  =====  ============  ============================  =====
    """
    store = Store()
    etl, report = make_flow(1, "etl", tags=["nightly"]), make_flow(2, "report")
    store.add_flow(etl)
    store.add_flow(report)
    store.add_deployment(
        make_deployment(
            1, flow_id=etl.id, name="d-etl", work_pool_name="pool-a", work_queue_name="default"
        )
    )
    store.add_deployment(
        make_deployment(
            2, flow_id=report.id, name="d-report", work_pool_name="pool-b", work_queue_name="fast"
        )
    )
    fr1 = make_flow_run(
        1, flow_id=etl.id, deployment_id=rid(3001), work_queue_name="default", tags=["prod"]
    )
    fr2 = make_flow_run(2, flow_id=report.id, deployment_id=rid(3002), work_queue_name="fast")
    fr3 = make_flow_run(3, flow_id=etl.id, parent_task_run_id=rid(2))
    for flow_run in (fr1, fr2, fr3):
        store.add_flow_run(flow_run)
    commit(store, fr1, StateType.RUNNING, at(0))
    commit(store, fr2, StateType.RUNNING, at(0))
    commit(store, fr2, StateType.COMPLETED, at(100))
    S = StateType
    rows = [
        (1, "extract-1", "extract", fr1.id, ["etl"]),
        (2, "Transform-1", "transform", fr1.id, ["etl", "gpu"]),
        (3, "load-1", "load", fr2.id, []),
        (4, "extract-2", "extract", None, ["nightly"]),
        (5, "bg-1", "load", None, []),
        (6, "extract-3", "extract", fr2.id, ["etl"]),
    ]
    runs = {}
    for n, name, key, flow_run_id, tags in rows:
        runs[n] = make_task_run(n, name=name, task_key=key, flow_run_id=flow_run_id, tags=tags)
        store.add_task_run(runs[n])
    commit(store, runs[1], S.SCHEDULED, at(0), scheduled_time=at(60))
    commit(store, runs[1], S.PENDING, at(60))
    commit(store, runs[1], S.RUNNING, at(61))
    commit(store, runs[1], S.COMPLETED, at(90))
    commit(store, runs[2], S.SCHEDULED, at(0), scheduled_time=at(120))
    commit(store, runs[2], S.RUNNING, at(125))
    commit(store, runs[3], S.SCHEDULED, at(10), scheduled_time=at(30))
    commit(store, runs[3], S.RUNNING, at(30))
    commit(store, runs[3], S.FAILED, at(50))
    commit(store, runs[4], S.SCHEDULED, at(20), scheduled_time=at(200))
    commit(store, runs[6], S.SCHEDULED, at(5), scheduled_time=at(40))
    commit(store, runs[6], S.RUNNING, at(40))
    commit(store, runs[6], S.SCHEDULED, at(70), name="AwaitingRetry", scheduled_time=at(100))
    return store


def numbers(runs: Iterable[TaskRun | FlowRun]) -> list[int]:
    """Return the ``n`` of each run made by the factories (``rid(n)`` or ``rid(1000 + n)``)."""
    return [run.id.int % 1000 for run in runs]

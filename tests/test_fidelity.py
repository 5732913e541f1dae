"""Fidelity with Prefect: nullable filters, client state ids, states by id, run labels.

Each test names, in its docstring, the behaviour of the reference it checks (Prefect's
server: ``server/schemas/filters.py``, ``server/models/task_runs.py`` and
``flow_runs.py``, the ``/task_run_states`` and ``/flow_run_states`` routes). Deliberate
differences are named as such.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import (
    Completed,
    Failed,
    FlowRun,
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    Observer,
    Orchestrator,
    Pending,
    Running,
    SetStateStatus,
    State,
    StateType,
    TaskRun,
    TaskRunPolicy,
    VirtualClock,
)
from orchestrator._store._store import Store
from orchestrator.filters import (
    DeploymentFilter,
    DeploymentFilterTags,
    FlowFilter,
    FlowFilterTags,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterStartTime,
    FlowRunFilterTags,
    FlowRunFilterWorkQueueName,
    Operator,
    TaskRunFilter,
    TaskRunFilterEndTime,
    TaskRunFilterFlowRunId,
    TaskRunFilterStartTime,
    TaskRunFilterTags,
)
from tests.strategies import commit, make_task_run

START = VirtualClock().now()


# -- is_null_: None restricts nothing, True keeps nulls, False keeps non-nulls --------------
class World(NamedTuple):
    """A fixed set of records, each named, with known null and non-null fields."""

    orch: Orchestrator
    names: dict[uuid.UUID, str]


@pytest.fixture
def world() -> World:
    """Flows, deployments, flow runs and task runs with every nullable field both ways.

    * flows: ``etl`` (tagged) and ``adhoc`` (untagged);
    * deployments of etl: ``nightly`` (tagged) and ``manual`` (untagged);
    * flow runs: ``fr-a`` (tagged, deployment, work queue, RUNNING), ``fr-b`` (a subflow
      of the task run ``parent``, COMPLETED), ``fr-c`` (nothing set, PENDING);
    * task runs: ``t-in-a`` (of fr-a, tagged, RUNNING), ``t-in-b`` (of fr-b, COMPLETED),
      ``parent`` (no flow run, tagged, COMPLETED), ``t-alone`` (no flow run, PENDING).
    """
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=7)
    names: dict[uuid.UUID, str] = {}
    etl = orch.create_flow("etl", tags=["prod"])
    adhoc = orch.create_flow("adhoc")
    names[etl.id], names[adhoc.id] = "etl", "adhoc"
    orch.create_work_pool("pool")
    nightly = orch.create_deployment(etl.id, "nightly", work_pool_name="pool", tags=["prod"])
    manual = orch.create_deployment(etl.id, "manual")
    names[nightly.id], names[manual.id] = "nightly", "manual"

    parent = orch.create_task_run("parent", tags=["y"]).run
    alone = orch.create_task_run("alone").run
    fr_a = orch.create_flow_run(etl.id, tags=["x"], deployment_id=nightly.id, work_pool_name="pool")
    fr_b = orch.create_flow_run(adhoc.id, parent_task_run_id=parent.id)
    fr_c = orch.create_flow_run(adhoc.id)
    in_a = orch.create_task_run("in-a", flow_run_id=fr_a.id, tags=["x"]).run
    in_b = orch.create_task_run("in-b", flow_run_id=fr_b.id).run
    names.update(
        {
            parent.id: "parent",
            alone.id: "t-alone",
            in_a.id: "t-in-a",
            in_b.id: "t-in-b",
            fr_a.id: "fr-a",
            fr_b.id: "fr-b",
            fr_c.id: "fr-c",
        }
    )
    clock.advance(10)
    for flow_run in (fr_a, fr_b):
        orch.set_flow_run_state(flow_run.id, Running(), force=True)
    for task_run in (parent, in_a, in_b):
        orch.set_task_run_state(task_run.id, Running(), force=True)
    clock.advance(10)
    orch.set_flow_run_state(fr_b.id, Completed(), force=True)
    for task_run in (parent, in_b):
        orch.set_task_run_state(task_run.id, Completed(), force=True)
    orch.check_invariants()
    return World(orch, names)


ALL_TASK_RUNS = {"parent", "t-alone", "t-in-a", "t-in-b"}
ALL_FLOW_RUNS = {"fr-a", "fr-b", "fr-c"}

#: (filter class, entity, {is_null_: the names it selects}); None must select them all.
NULLABLE_FILTERS: list[tuple[type, str, dict[bool, set[str]]]] = [
    (
        TaskRunFilterFlowRunId,
        "task_runs",
        {True: {"parent", "t-alone"}, False: {"t-in-a", "t-in-b"}},
    ),
    (TaskRunFilterTags, "task_runs", {True: {"t-alone", "t-in-b"}, False: {"parent", "t-in-a"}}),
    (
        TaskRunFilterStartTime,
        "task_runs",
        {True: {"t-alone"}, False: {"parent", "t-in-a", "t-in-b"}},
    ),
    (TaskRunFilterEndTime, "task_runs", {True: {"t-alone", "t-in-a"}, False: {"parent", "t-in-b"}}),
    (FlowRunFilterTags, "flow_runs", {True: {"fr-b", "fr-c"}, False: {"fr-a"}}),
    (FlowRunFilterDeploymentId, "flow_runs", {True: {"fr-b", "fr-c"}, False: {"fr-a"}}),
    (FlowRunFilterWorkQueueName, "flow_runs", {True: {"fr-b", "fr-c"}, False: {"fr-a"}}),
    (FlowRunFilterParentTaskRunId, "flow_runs", {True: {"fr-a", "fr-c"}, False: {"fr-b"}}),
    (FlowRunFilterStartTime, "flow_runs", {True: {"fr-c"}, False: {"fr-a", "fr-b"}}),
    (FlowRunFilterEndTime, "flow_runs", {True: {"fr-a", "fr-c"}, False: {"fr-b"}}),
    (FlowFilterTags, "flows", {True: {"adhoc"}, False: {"etl"}}),
    (DeploymentFilterTags, "deployments", {True: {"manual"}, False: {"nightly"}}),
]

_FIELDS = {
    TaskRunFilterFlowRunId: "flow_run_id",
    TaskRunFilterTags: "tags",
    TaskRunFilterStartTime: "start_time",
    TaskRunFilterEndTime: "end_time",
    FlowRunFilterTags: "tags",
    FlowRunFilterDeploymentId: "deployment_id",
    FlowRunFilterWorkQueueName: "work_queue_name",
    FlowRunFilterParentTaskRunId: "parent_task_run_id",
    FlowRunFilterStartTime: "start_time",
    FlowRunFilterEndTime: "end_time",
    FlowFilterTags: "tags",
    DeploymentFilterTags: "tags",
}


def select(world: World, entity: str, sub_filter: Any) -> set[str]:
    """The names of the records of ``entity`` that ``sub_filter`` selects (read and count)."""
    orch, fields = world.orch, {_FIELDS[type(sub_filter)]: sub_filter}
    found: Iterable[Any]
    if entity == "task_runs":
        task_filter = TaskRunFilter(**fields)
        found = orch.read_task_runs(task_runs=task_filter)
        assert orch.count_task_runs(task_runs=task_filter) == len(list(found))
    elif entity == "flow_runs":
        flow_run_filter = FlowRunFilter(**fields)
        found = orch.read_flow_runs(flow_runs=flow_run_filter)
        assert orch.count_flow_runs(flow_runs=flow_run_filter) == len(list(found))
    elif entity == "flows":
        found = orch.read_flows(flows=FlowFilter(**fields))
    else:
        found = orch.read_deployments(deployments=DeploymentFilter(**fields))
    return {world.names[record.id] for record in found}


def everything(entity: str) -> set[str]:
    return {
        "task_runs": ALL_TASK_RUNS,
        "flow_runs": ALL_FLOW_RUNS,
        "flows": {"etl", "adhoc"},
        "deployments": {"nightly", "manual"},
    }[entity]


@pytest.mark.parametrize(
    ("cls", "entity", "expected"),
    NULLABLE_FILTERS,
    ids=[c.__name__ for c, _, _ in NULLABLE_FILTERS],
)
def test_is_null_none_true_and_false_on_every_nullable_filter(
    world: World, cls: type, entity: str, expected: dict[bool, set[str]]
) -> None:
    """Prefect: ``is_null_=None`` adds no criterion; True keeps nulls, False non-nulls.

    In ``server/schemas/filters.py`` every nullable sub-filter tests ``is_null_`` only when
    it is not None (``TaskRunFilterFlowRunId`` tests ``is True`` / ``is False``), so None
    restricts nothing, whatever the field's default.
    """
    assert select(world, entity, cls(is_null_=None)) == everything(entity)
    assert select(world, entity, cls(is_null_=True)) == expected[True]
    assert select(world, entity, cls(is_null_=False)) == expected[False]
    assert expected[True] | expected[False] == everything(entity)
    assert not expected[True] & expected[False]


def test_task_run_flow_run_id_filter_follows_the_reference_in_every_combination(
    world: World,
) -> None:
    """Prefect ``TaskRunFilterFlowRunId``: is_null_ defaults to False; True ignores ``any_``.

    ``is_null_=True`` -> no flow run (``any_`` ignored); False with no ``any_`` -> has a
    flow run; otherwise ``any_`` alone decides; None with no ``any_`` -> every run.
    """
    fr_a = next(i for i, n in world.names.items() if n == "fr-a")
    f = TaskRunFilterFlowRunId
    assert select(world, "task_runs", f()) == {"t-in-a", "t-in-b"}  # the default is False
    assert select(world, "task_runs", f(any_=[fr_a])) == {"t-in-a"}
    assert select(world, "task_runs", f(any_=[fr_a], is_null_=None)) == {"t-in-a"}
    assert select(world, "task_runs", f(any_=[fr_a], is_null_=False)) == {"t-in-a"}
    assert select(world, "task_runs", f(any_=[fr_a], is_null_=True)) == {"parent", "t-alone"}
    assert select(world, "task_runs", f(any_=[], is_null_=None)) == set()
    # The two defaults read differently, so their reprs do too.
    assert repr(f()) == "TaskRunFilterFlowRunId()"
    assert repr(f(is_null_=None)) == "TaskRunFilterFlowRunId(is_null_=None)"


# -- the same, as a property over random runs ------------------------------------------------
_TAGS = ["a", "b"]
_maybe_bool = st.sampled_from([None, True, False])
_operators = st.sampled_from([Operator.AND, Operator.OR])
_TIMES = [START + timedelta(seconds=s) for s in (0, 1, 2, 5, 30)]


class _FlowRunPlan(NamedTuple):
    tags: list[str]
    deployment: bool
    queue: str | None
    parent: int | None  # index of an autonomous task run
    steps: int  # 0 Pending, 1 Running, 2 Completed


class _TaskRunPlan(NamedTuple):
    tags: list[str]
    flow_run: int | None  # index of a flow run
    steps: int


_tags = st.lists(st.sampled_from(_TAGS), unique=True, max_size=2)
_flow_run_plans = st.lists(
    st.builds(
        _FlowRunPlan,
        tags=_tags,
        deployment=st.booleans(),
        queue=st.sampled_from([None, "default", "fast"]),
        parent=st.none() | st.integers(0, 2),
        steps=st.integers(0, 2),
    ),
    max_size=5,
)
_task_run_plans = st.lists(
    st.builds(
        _TaskRunPlan, tags=_tags, flow_run=st.none() | st.integers(0, 4), steps=st.integers(0, 2)
    ),
    max_size=8,
)


def _walk(
    set_state: Callable[..., object], run_id: uuid.UUID, steps: int, clock: VirtualClock
) -> None:
    for state in (Running, Completed)[:steps]:
        clock.advance(1)
        set_state(run_id, state(), force=True)


def _build(
    flow_runs: list[_FlowRunPlan], task_runs: list[_TaskRunPlan]
) -> tuple[Orchestrator, list[FlowRun], list[TaskRun]]:
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=3)
    flow = orch.create_flow("f")
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "fast")
    deployment = orch.create_deployment(flow.id, "d")
    parents = [orch.create_task_run(f"parent-{i}").run for i in range(3)]
    made_flow_runs = []
    for plan in flow_runs:
        run = orch.create_flow_run(
            flow.id,
            tags=plan.tags,
            deployment_id=deployment.id if plan.deployment else None,
            work_pool_name=None if plan.queue is None else "pool",
            work_queue_name=plan.queue,
            parent_task_run_id=None if plan.parent is None else parents[plan.parent].id,
        )
        _walk(orch.set_flow_run_state, run.id, plan.steps, clock)
        made_flow_runs.append(run)
    made_task_runs = list(parents)
    for task_plan in task_runs:
        parent_flow_run = (
            made_flow_runs[task_plan.flow_run % len(made_flow_runs)]
            if task_plan.flow_run is not None and made_flow_runs
            else None
        )
        task_run = orch.create_task_run(
            "t",
            flow_run_id=None if parent_flow_run is None else parent_flow_run.id,
            tags=task_plan.tags,
        ).run
        _walk(orch.set_task_run_state, task_run.id, task_plan.steps, clock)
        made_task_runs.append(task_run)
    orch.check_invariants()
    return orch, made_flow_runs, made_task_runs


def _nullable(
    value: object, any_: list[Any] | None, is_null_: bool | None, operator: Operator
) -> bool:
    """Prefect's nullable field: the criteria that are set, joined by ``operator``."""
    tests = []
    if any_ is not None:
        tests.append(value in any_)
    if is_null_ is not None:
        tests.append((value is None) is is_null_)
    if not tests:
        return True
    return all(tests) if operator is Operator.AND else any(tests)


def _tags_match(
    tags: frozenset[str],
    all_: list[str] | None,
    any_: list[str] | None,
    is_null_: bool | None,
    operator: Operator,
) -> bool:
    tests = []
    if all_ is not None:
        tests.append(set(all_) <= tags)
    if any_ is not None:
        tests.append(bool(set(any_) & tags))
    if is_null_ is not None:
        tests.append((not tags) is is_null_)
    if not tests:
        return True
    return all(tests) if operator is Operator.AND else any(tests)


def _time_match(value: datetime | None, before_: datetime | None, is_null_: bool | None) -> bool:
    if before_ is not None and (value is None or value > before_):
        return False
    return is_null_ is None or (value is None) is is_null_


def _flow_run_id_match(
    value: uuid.UUID | None, any_: list[uuid.UUID] | None, is_null_: bool | None
) -> bool:
    if is_null_ is True:
        return value is None
    if is_null_ is False and any_ is None:
        return value is not None
    return any_ is None or value in any_


def _check_task_runs(
    orch: Orchestrator, runs: list[TaskRun], flow_run_ids: list[uuid.UUID], draw: Callable[..., Any]
) -> None:
    """Draw a task-run filter over every nullable field; compare with a scan."""
    any_ = draw(st.none() | st.lists(st.sampled_from(flow_run_ids), max_size=2))
    is_null_ = draw(_maybe_bool)
    all_tags = draw(st.none() | st.lists(st.sampled_from(_TAGS), max_size=2))
    any_tags = draw(st.none() | st.lists(st.sampled_from(_TAGS), max_size=2))
    tags_null, tags_operator = draw(_maybe_bool), draw(_operators)
    start_before, start_null = draw(st.none() | st.sampled_from(_TIMES)), draw(_maybe_bool)
    end_null = draw(_maybe_bool)
    subs: dict[str, Any] = {
        "flow_run_id": TaskRunFilterFlowRunId(any_=any_, is_null_=is_null_),
        "tags": TaskRunFilterTags(
            all_=all_tags, any_=any_tags, is_null_=tags_null, operator=tags_operator
        ),
        "start_time": TaskRunFilterStartTime(before_=start_before, is_null_=start_null),
        "end_time": TaskRunFilterEndTime(is_null_=end_null),
    }
    tests: dict[str, Callable[[TaskRun], bool]] = {
        "flow_run_id": lambda r: _flow_run_id_match(r.flow_run_id, any_, is_null_),
        "tags": lambda r: _tags_match(r.tags, all_tags, any_tags, tags_null, tags_operator),
        "start_time": lambda r: _time_match(r.start_time, start_before, start_null),
        "end_time": lambda r: _time_match(r.end_time, None, end_null),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(subs)), unique=True, min_size=1))
    operator = draw(_operators)
    task_filter = TaskRunFilter(**{name: subs[name] for name in chosen}, operator=operator)
    join = all if operator is Operator.AND else any
    expected = {r.id for r in runs if join(tests[name](r) for name in chosen)}
    assert {r.id for r in orch.read_task_runs(task_runs=task_filter)} == expected
    assert orch.count_task_runs(task_runs=task_filter) == len(expected)


def _check_flow_runs(
    orch: Orchestrator,
    runs: list[FlowRun],
    deployment_ids: list[uuid.UUID],
    parent_ids: list[uuid.UUID],
    draw: Callable[..., Any],
) -> None:
    """Draw a flow-run filter over every nullable field; compare with a scan."""
    deployment_any = draw(st.none() | st.lists(st.sampled_from(deployment_ids), max_size=2))
    deployment_null, deployment_operator = draw(_maybe_bool), draw(_operators)
    queue_any = draw(st.none() | st.lists(st.sampled_from(["default", "fast"]), max_size=2))
    queue_null, queue_operator = draw(_maybe_bool), draw(_operators)
    parent_any = draw(st.none() | st.lists(st.sampled_from(parent_ids), max_size=2))
    parent_null, parent_operator = draw(_maybe_bool), draw(_operators)
    tags_null, start_null, end_null = draw(_maybe_bool), draw(_maybe_bool), draw(_maybe_bool)
    subs: dict[str, Any] = {
        "deployment_id": FlowRunFilterDeploymentId(
            any_=deployment_any, is_null_=deployment_null, operator=deployment_operator
        ),
        "work_queue_name": FlowRunFilterWorkQueueName(
            any_=queue_any, is_null_=queue_null, operator=queue_operator
        ),
        "parent_task_run_id": FlowRunFilterParentTaskRunId(
            any_=parent_any, is_null_=parent_null, operator=parent_operator
        ),
        "tags": FlowRunFilterTags(is_null_=tags_null),
        "start_time": FlowRunFilterStartTime(is_null_=start_null),
        "end_time": FlowRunFilterEndTime(is_null_=end_null),
    }
    tests: dict[str, Callable[[FlowRun], bool]] = {
        "deployment_id": lambda r: _nullable(
            r.deployment_id, deployment_any, deployment_null, deployment_operator
        ),
        "work_queue_name": lambda r: _nullable(
            r.work_queue_name, queue_any, queue_null, queue_operator
        ),
        "parent_task_run_id": lambda r: _nullable(
            r.parent_task_run_id, parent_any, parent_null, parent_operator
        ),
        "tags": lambda r: _tags_match(r.tags, None, None, tags_null, Operator.AND),
        "start_time": lambda r: _time_match(r.start_time, None, start_null),
        "end_time": lambda r: _time_match(r.end_time, None, end_null),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(subs)), unique=True, min_size=1))
    operator = draw(_operators)
    flow_filter = FlowRunFilter(**{name: subs[name] for name in chosen}, operator=operator)
    join = all if operator is Operator.AND else any
    expected = {r.id for r in runs if join(tests[name](r) for name in chosen)}
    assert {r.id for r in orch.read_flow_runs(flow_runs=flow_filter)} == expected
    assert orch.count_flow_runs(flow_runs=flow_filter) == len(expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_runs=_flow_run_plans, task_runs=_task_run_plans, data=st.data())
def test_indexed_answers_equal_a_brute_force_filter_over_random_runs(
    flow_runs: list[_FlowRunPlan], task_runs: list[_TaskRunPlan], data: st.DataObject
) -> None:
    """Prefect's ``is_null_`` semantics, checked against the indexes on random runs.

    For every nullable task-run and flow-run sub-filter, with ``is_null_`` drawn from
    None/True/False and the other fields set or not, ``read_*`` and ``count_*`` (which
    plan over the indexes) return exactly the runs a plain scan selects with the
    reference's rules.
    """
    orch, made_flow_runs, made_task_runs = _build(flow_runs, task_runs)
    unknown = uuid.UUID(int=1)
    flow_run_ids = [run.id for run in made_flow_runs] + [unknown]
    deployment_ids = [d.id for d in orch.read_deployments()] + [unknown]
    parent_ids = [run.id for run in made_task_runs[:3]] + [unknown]
    for _ in range(4):
        _check_task_runs(orch, made_task_runs, flow_run_ids, data.draw)
        _check_flow_runs(orch, made_flow_runs, deployment_ids, parent_ids, data.draw)


# -- client-chosen state ids ------------------------------------------------------------------
def _sid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n, version=4)


class Recorder(Observer):
    """Records the name of every observer call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def task_run_created(self, run: TaskRun) -> None:
        self.calls.append("task_run_created")

    def task_run_deleted(self, run: TaskRun) -> None:
        self.calls.append("task_run_deleted")

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        self.calls.append("task_run_state_committed")

    def flow_run_created(self, run: FlowRun) -> None:
        self.calls.append("flow_run_created")

    def flow_run_state_committed(self, run: FlowRun, state: State) -> None:
        self.calls.append("flow_run_state_committed")


@pytest.fixture
def orch() -> Orchestrator:
    return Orchestrator(VirtualClock(), seed=11)


def test_a_client_state_id_is_kept_at_task_run_creation_and_in_set_state(
    orch: Orchestrator,
) -> None:
    """Prefect: the state row is written with the proposed state's id (create and set_state).

    ``models.task_runs.create_task_run`` and ``set_task_run_state`` insert the validated
    state with the id the client gave it.
    """
    run = orch.create_task_run("k", state=Pending().copy(id=_sid(1))).run
    assert run.state is not None
    assert run.state.id == _sid(1)
    result = orch.set_task_run_state(run.id, State(type=StateType.RUNNING, id=_sid(2)))
    assert result.status is SetStateStatus.ACCEPT
    assert result.state is not None
    assert result.state.id == _sid(2)
    assert [s.id for s in orch.read_task_run_states(run.id)] == [_sid(1), _sid(2)]
    orch.check_invariants()


def test_a_client_state_id_is_kept_at_flow_run_creation_and_in_set_state(
    orch: Orchestrator,
) -> None:
    """Prefect: ``create_flow_run`` and ``set_flow_run_state`` keep the proposed state's id."""
    flow = orch.create_flow("f")
    run = orch.create_flow_run(flow.id, state=Pending().copy(id=_sid(1)))
    assert run.state is not None
    assert run.state.id == _sid(1)
    result = orch.set_flow_run_state(run.id, Running().copy(id=_sid(2)))
    assert result.status is SetStateStatus.ACCEPT
    assert [s.id for s in orch.read_flow_run_states(run.id)] == [_sid(1), _sid(2)]
    assert orch.read_flow_run_states(run.id)[0].type is StateType.PENDING
    orch.check_invariants()


def test_a_state_a_rule_puts_in_place_of_the_proposal_gets_a_new_id(orch: Orchestrator) -> None:
    """Prefect: a rule that rejects into a new state (Failed -> AwaitingRetry) writes that
    new state, with its own id; the proposal's id is not written and stays free."""
    run = orch.create_task_run("k", policy=TaskRunPolicy(retries=1)).run
    orch.set_task_run_state(run.id, Running())
    result = orch.set_task_run_state(run.id, Failed().copy(id=_sid(5)))
    assert result.status is SetStateStatus.REJECT
    assert result.state is not None
    assert result.state.name == "AwaitingRetry"
    assert result.state.id != _sid(5)
    again = orch.set_task_run_state(run.id, Running().copy(id=_sid(5)))
    assert again.state is not None
    assert again.state.id == _sid(5)
    orch.check_invariants()


def _snapshot(orch: Orchestrator) -> tuple[object, ...]:
    task_runs = orch.read_task_runs()
    flow_runs = orch.read_flow_runs()
    return (
        [(r.id, r.state, r.run_count, r.start_time) for r in task_runs],
        [(r.id, r.state, r.run_count) for r in flow_runs],
        [orch.read_task_run_states(r.id) for r in task_runs],
        [orch.read_flow_run_states(r.id) for r in flow_runs],
        [orch.read_decisions(r.id) for r in task_runs],
        [orch.read_decisions(r.id) for r in flow_runs],
        orch.statistics(),
    )


def test_a_duplicate_state_id_is_refused_and_changes_nothing(orch: Orchestrator) -> None:
    """Prefect: the state id is the primary key of the state tables, so a duplicate fails
    the insert and the transaction rolls back. Here: ``ObjectAlreadyExists``, nothing
    changed, whichever run (task or flow) holds the id and wherever it is proposed."""
    flow = orch.create_flow("f")
    flow_run = orch.create_flow_run(flow.id, state=Pending().copy(id=_sid(1)))
    task_run = orch.create_task_run("k", state=Pending().copy(id=_sid(2))).run
    orch.set_task_run_state(task_run.id, Running().copy(id=_sid(3)))
    recorder = Recorder()
    orch.subscribe(recorder)
    before = _snapshot(orch)
    taken = [_sid(1), _sid(2), _sid(3)]
    for state_id in taken:
        with pytest.raises(ObjectAlreadyExists, match=rf"state\.id {state_id} is already"):
            orch.set_task_run_state(task_run.id, Completed().copy(id=state_id))
        with pytest.raises(ObjectAlreadyExists, match=r"state\.id"):
            orch.set_task_run_state(task_run.id, Completed().copy(id=state_id), force=True)
        with pytest.raises(ObjectAlreadyExists, match=r"state\.id"):
            orch.set_flow_run_state(flow_run.id, Running().copy(id=state_id))
        with pytest.raises(ObjectAlreadyExists, match=r"state\.id"):
            orch.create_task_run("new", state=Pending().copy(id=state_id))
        with pytest.raises(ObjectAlreadyExists, match=r"state\.id"):
            orch.create_flow_run(flow.id, state=Pending().copy(id=state_id))
    assert _snapshot(orch) == before
    assert recorder.calls == []  # not even a created-then-deleted run
    orch.check_invariants()


def test_a_generated_state_id_never_takes_an_id_a_client_already_used() -> None:
    """Prefect draws random UUIDs; here ids come from the seed, so a client may hold the
    next one: the engine then draws again rather than commit a duplicate."""
    first = Orchestrator(VirtualClock(), seed=5)
    run_id = uuid.UUID(int=9, version=4)
    drawn = first.create_task_run("k", dynamic_key="a", id=run_id).run.state
    assert drawn is not None
    assert drawn.id is not None
    second = Orchestrator(VirtualClock(), seed=5)
    second.create_task_run("k", dynamic_key="a", id=run_id, state=Pending().copy(id=drawn.id))
    other = second.create_task_run("k", dynamic_key="b", id=uuid.UUID(int=10, version=4)).run
    assert other.state is not None
    assert other.state.id not in (None, drawn.id)
    second.check_invariants()


# -- one state by id: read_*_run_state and delete_*_run_state ------------------------------
class Kind(NamedTuple):
    """The task-run or the flow-run side of the API, for tests that cover both."""

    name: str
    create: Callable[[Orchestrator], uuid.UUID]
    set_state: Callable[..., Any]
    read_states: Callable[[uuid.UUID], list[State]]
    read_run: Callable[[uuid.UUID], Any]
    read_state: Callable[[Any], State]
    delete_state: Callable[[Any], None]
    delete_run: Callable[[uuid.UUID], None]


def _kind(orch: Orchestrator, name: str) -> Kind:
    if name == "task run":
        return Kind(
            name,
            lambda o: o.create_task_run("k").run.id,
            orch.set_task_run_state,
            orch.read_task_run_states,
            orch.read_task_run,
            orch.read_task_run_state,
            orch.delete_task_run_state,
            orch.delete_task_run,
        )
    flow = orch.create_flow("f")
    return Kind(
        name,
        lambda o: o.create_flow_run(flow.id).id,
        orch.set_flow_run_state,
        orch.read_flow_run_states,
        orch.read_flow_run,
        orch.read_flow_run_state,
        orch.delete_flow_run_state,
        orch.delete_flow_run,
    )


KINDS = ["task run", "flow run"]


def _run_with_history(orch: Orchestrator, kind: Kind) -> tuple[uuid.UUID, list[State]]:
    """A run taken Pending -> Running -> Completed, one second apart."""
    clock = orch.clock
    assert isinstance(clock, VirtualClock)
    run_id = kind.create(orch)
    for state in (Running(), Completed()):
        clock.advance(1)
        kind.set_state(run_id, state)
    history = kind.read_states(run_id)
    assert [s.type for s in history] == [StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]
    return run_id, history


@pytest.mark.parametrize("kind_name", KINDS)
def test_read_one_state_by_id(orch: Orchestrator, kind_name: str) -> None:
    """Prefect: ``GET /task_run_states/{id}`` and ``GET /flow_run_states/{id}`` return that
    state, and 404 when no state of that kind has the id."""
    kind = _kind(orch, kind_name)
    _run_id, history = _run_with_history(orch, kind)
    for state in history:
        assert state.id is not None
        assert kind.read_state(state.id) is state
        assert kind.read_state(str(state.id)) is state  # the string form works too
    unknown = _sid(999)
    with pytest.raises(ObjectNotFound, match=f"^{kind_name} state {unknown} was not found"):
        kind.read_state(unknown)
    other = _kind(orch, KINDS[1 - KINDS.index(kind_name)])
    with pytest.raises(ObjectNotFound, match=f"read_{kind_name.replace(' ', '_')}_state"):
        other.read_state(history[0].id)  # a state of the other kind is not one of these
    with pytest.raises(InvalidArgument, match="state_id"):
        kind.read_state(42)
    with pytest.raises(InvalidArgument, match="state_id"):
        kind.read_state("not-a-uuid")


@pytest.mark.parametrize("kind_name", KINDS)
def test_delete_a_past_state_removes_it_from_the_history_only(
    orch: Orchestrator, kind_name: str
) -> None:
    """Prefect: ``DELETE /task_run_states/{id}`` (and the flow-run route) deletes that one
    row; the run's fields are left as they are. Its id can then be used again."""
    kind = _kind(orch, kind_name)
    run_id, (pending, running, completed) = _run_with_history(orch, kind)
    run = kind.read_run(run_id)
    fields = (run.state, run.run_count, run.start_time, run.end_time, run.total_run_time)
    assert running.id is not None
    kind.delete_state(running.id)
    assert kind.read_states(run_id) == [pending, completed]
    assert (run.state, run.run_count, run.start_time, run.end_time, run.total_run_time) == fields
    with pytest.raises(ObjectNotFound, match=f"{kind_name} state {running.id} was not found"):
        kind.read_state(running.id)
    with pytest.raises(ObjectNotFound, match=f"{kind_name} state {running.id} was not found"):
        kind.delete_state(running.id)
    with pytest.raises(InvalidArgument, match="state_id"):
        kind.delete_state(["not", "an", "id"])
    orch.check_invariants()
    assert pending.id is not None
    kind.delete_state(str(pending.id))
    assert kind.read_states(run_id) == [completed]
    orch.check_invariants()
    # The freed id is a new state's id again.
    result = kind.set_state(run_id, Running().copy(id=running.id), force=True)
    assert result.state.id == running.id
    assert kind.read_state(running.id) is result.state
    orch.check_invariants()


@pytest.mark.parametrize("kind_name", KINDS)
def test_deleting_the_current_state_is_refused(orch: Orchestrator, kind_name: str) -> None:
    """Deliberate difference: Prefect deletes the row and leaves the run pointing at no
    state; here a run's current state is the last of its history, so deleting it raises
    ``InvalidArgument`` (a ValueError) naming ``state_id`` and saying what to do instead,
    and nothing changes."""
    kind = _kind(orch, kind_name)
    run_id, history = _run_with_history(orch, kind)
    current = history[-1]
    assert current.id is not None
    before = _snapshot(orch)
    setter = "set_task_run_state" if kind_name == "task run" else "set_flow_run_state"
    deleter = "delete_task_run" if kind_name == "task run" else "delete_flow_run"
    with pytest.raises(InvalidArgument, match="state_id") as caught:
        kind.delete_state(current.id)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert f"current state of {kind_name} {run_id}" in message
    assert setter in message
    assert deleter in message
    assert _snapshot(orch) == before
    orch.check_invariants()
    # After a new state, the old current one is a past state and can go.
    kind.set_state(run_id, Running(), force=True)
    kind.delete_state(current.id)
    assert current not in kind.read_states(run_id)
    orch.check_invariants()


def test_decisions_keep_what_they_moved_from_after_a_state_is_deleted(orch: Orchestrator) -> None:
    """Not in the reference (it has no decision log): deleting a state from a history
    leaves every decision as it was, including where each transition came from."""
    run = orch.create_task_run("k").run
    for state in (Running(), Completed()):
        orch.set_task_run_state(run.id, state)
    history = orch.read_task_run_states(run.id)
    decisions = orch.read_decisions(run.id)
    assert [d.from_type for d in decisions] == [None, StateType.PENDING, StateType.RUNNING]
    assert history[1].id is not None
    orch.delete_task_run_state(history[1].id)
    assert orch.read_decisions(run.id) == decisions


@pytest.mark.parametrize("kind_name", KINDS)
def test_deleting_a_run_removes_its_states_from_the_index(
    orch: Orchestrator, kind_name: str
) -> None:
    """Prefect: deleting a run cascades to its states, so they are gone by id too."""
    kind = _kind(orch, kind_name)
    run_id, history = _run_with_history(orch, kind)
    kind.delete_run(run_id)
    for state in history:
        assert state.id is not None
        with pytest.raises(ObjectNotFound):
            kind.read_state(state.id)
    orch.check_invariants()
    # Their ids are free again.
    assert history[0].id is not None
    again = kind.create(orch)
    kind.set_state(again, Running().copy(id=history[0].id), force=True)
    assert kind.read_state(history[0].id).type is StateType.RUNNING
    orch.check_invariants()


def test_deleting_a_flow_run_removes_its_task_runs_states_from_the_index(
    orch: Orchestrator,
) -> None:
    """Prefect: a flow run's task runs, and so their states, go with it."""
    flow = orch.create_flow("f")
    flow_run = orch.create_flow_run(flow.id)
    task_run = orch.create_task_run("k", flow_run_id=flow_run.id).run
    assert task_run.state is not None
    assert task_run.state.id is not None
    orch.delete_flow_run(flow_run.id)
    with pytest.raises(ObjectNotFound):
        orch.read_task_run_state(task_run.state.id)
    orch.check_invariants()


def test_check_invariants_verifies_the_state_id_index() -> None:
    """The store's own check: every stored state is filed under its run, and nothing else."""
    store = Store()
    run = make_task_run(1)
    store.add_task_run(run)
    state = commit(store, run, StateType.PENDING, START)
    store.check_invariants()
    assert state.id is not None
    assert store.get_run_state(state.id, flow=False) is state
    assert store.get_run_state(state.id, flow=True) is None
    with pytest.raises(ObjectAlreadyExists, match="already the id of a stored state"):
        store.append_task_run_state(run.id, state)  # the same id twice
    assert store.task_run_states(run.id) == [state]
    store.check_invariants()
    store.remove_run_state(state.id, flow=False)
    assert store.task_run_states(run.id) == []
    store.check_invariants()


def test_check_invariants_notices_a_damaged_state_id_index() -> None:
    """The store's own check catches a state missing from the index, filed under another
    run, an entry with no state, and an id used by a task-run and a flow-run state."""
    store = Store()
    run = make_task_run(1)
    store.add_task_run(run)
    state = commit(store, run, StateType.PENDING, START)
    assert state.id is not None
    store._state_ids.task.clear()
    with pytest.raises(AssertionError, match=f"does not file state {state.id} under its task run"):
        store.check_invariants()
    store._state_ids.task[state.id] = uuid.UUID(int=77)
    with pytest.raises(AssertionError, match="does not file state"):
        store.check_invariants()
    store._state_ids.task[state.id] = run.id
    store._state_ids.task[uuid.UUID(int=78)] = run.id
    with pytest.raises(AssertionError, match="holds 2 task run states, the histories 1"):
        store.check_invariants()
    del store._state_ids.task[uuid.UUID(int=78)]
    store.check_invariants()
    store._state_ids.flow[state.id] = run.id
    with pytest.raises(AssertionError, match="holds 1 flow run states, the histories 0"):
        store.check_invariants()


# -- the parent flow's id label on task runs ----------------------------------------------
def test_task_runs_of_a_flow_run_carry_the_flow_and_flow_run_id_labels(orch: Orchestrator) -> None:
    """Prefect: a task run's labels are its flow run's labels (which carry
    ``prefect.flow.id``), then ``prefect.flow-run.id``, then the client's labels, later
    ones winning. Here the system labels are ``orchestrator.flow.id`` and
    ``orchestrator.flow-run.id``."""
    flow = orch.create_flow("etl")
    flow_run = orch.create_flow_run(
        flow.id, labels={"team": "data", "orchestrator.flow.id": "from the flow run"}
    )
    run = orch.create_task_run("extract", flow_run_id=flow_run.id, labels={"env": "dev"}).run
    assert run.labels == {
        "team": "data",
        "orchestrator.flow.id": str(flow.id),
        "orchestrator.flow-run.id": str(flow_run.id),
        "env": "dev",
    }
    overridden = orch.create_task_run(
        "load", flow_run_id=flow_run.id, labels={"orchestrator.flow.id": "mine"}
    ).run
    assert overridden.labels["orchestrator.flow.id"] == "mine"  # the client's label wins
    alone = orch.create_task_run("alone").run
    assert alone.labels == {}  # no flow run, no system labels

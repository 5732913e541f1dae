"""The flow-run surface Prefect users expect: idempotency keys, pages, history, resuming.

Each test states the reference's behaviour it pins, on the virtual clock with exact times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import (
    AbortDetails,
    Completed,
    FlowRun,
    InvalidArgument,
    Orchestrator,
    Paused,
    RejectDetails,
    Running,
    Scheduled,
    SetStateStatus,
    StateDetails,
    StateType,
    Suspended,
    VirtualClock,
)
from orchestrator.filters import (
    FlowFilter,
    FlowRunFilter,
    FlowRunFilterFlowVersion,
    FlowRunFilterId,
    FlowRunFilterIdempotencyKey,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterState,
    FlowRunFilterStateName,
    FlowRunFilterStateType,
    FlowRunSort,
    TaskRunFilter,
    TaskRunFilterState,
    TaskRunFilterStateType,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock=clock)


# -- idempotency keys -----------------------------------------------------------------


def test_a_second_create_with_the_same_key_returns_the_first_run_unchanged(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    # Reference: POST /flow_runs inserts "on conflict (flow_id, idempotency_key) do
    # nothing" and returns the existing row; the new fields and state are ignored.
    flow = orch.create_flow("etl")
    first = orch.create_flow_run(flow.id, name="first", idempotency_key="nightly-2026-01-01")
    clock.advance(5)
    again = orch.create_flow_run(
        flow.id, name="second", state=Running(), idempotency_key="nightly-2026-01-01"
    )
    assert again is first
    assert (again.name, again.state_type, again.created) == ("first", StateType.PENDING, at(0))
    assert again.idempotency_key == "nightly-2026-01-01"
    assert orch.count_flow_runs() == 1
    assert [s.type for s in orch.read_flow_run_states(first.id)] == [StateType.PENDING]


def test_keys_are_unique_per_flow_and_runs_without_a_key_are_always_new(
    orch: Orchestrator,
) -> None:
    etl, report = orch.create_flow("etl"), orch.create_flow("report")
    a = orch.create_flow_run(etl.id, idempotency_key="k")
    b = orch.create_flow_run(report.id, idempotency_key="k")
    c = orch.create_flow_run(etl.id, idempotency_key="other")
    d, e = orch.create_flow_run(etl.id), orch.create_flow_run(etl.id)
    assert len({a.id, b.id, c.id, d.id, e.id}) == 5
    assert (d.idempotency_key, e.idempotency_key) == (None, None)


def test_a_deleted_run_frees_its_key(orch: Orchestrator) -> None:
    flow = orch.create_flow("etl")
    first = orch.create_flow_run(flow.id, idempotency_key="k")
    orch.delete_flow_run(first.id)
    second = orch.create_flow_run(flow.id, idempotency_key="k")
    assert second.id != first.id
    assert orch.read_flow_runs() == [second]


def test_deployment_runs_share_their_flows_key_space(orch: Orchestrator) -> None:
    # Reference: the unique index is (flow_id, idempotency_key), so two deployments of
    # one flow (and plain runs of it) share the keys; create-from-deployment returns the
    # existing run for a key it has seen.
    orch.create_work_pool("pool")
    flow = orch.create_flow("etl")
    daily = orch.create_deployment(flow.id, "daily", work_pool_name="pool")
    hourly = orch.create_deployment(flow.id, "hourly", work_pool_name="pool")
    run = orch.create_flow_run_from_deployment(daily.id, idempotency_key="2026-01-01")
    assert run.idempotency_key == "2026-01-01"
    assert orch.create_flow_run_from_deployment(daily.id, idempotency_key="2026-01-01") is run
    assert orch.create_flow_run_from_deployment(hourly.id, idempotency_key="2026-01-01") is run
    assert orch.create_flow_run(flow.id, idempotency_key="2026-01-01") is run
    other_flow = orch.create_flow("report")
    other = orch.create_deployment(other_flow.id, "daily", work_pool_name="pool")
    assert orch.create_flow_run_from_deployment(other.id, idempotency_key="2026-01-01") is not run
    assert orch.count_flow_runs() == 2


@pytest.mark.parametrize("key", ["", 7, b"k"])
def test_a_bad_key_is_refused_and_creates_nothing(orch: Orchestrator, key: object) -> None:
    flow = orch.create_flow("etl")
    with pytest.raises(InvalidArgument, match="idempotency_key"):
        orch.create_flow_run(flow.id, idempotency_key=key)  # type: ignore[arg-type]
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow.id, "d", work_pool_name="pool")
    with pytest.raises(InvalidArgument, match="idempotency_key"):
        orch.create_flow_run_from_deployment(deployment.id, idempotency_key=key)  # type: ignore[arg-type]
    assert orch.count_flow_runs() == 0


def test_the_idempotency_key_filter_selects_and_excludes(orch: Orchestrator) -> None:
    # Reference: FlowRunFilterIdempotencyKey any_ (IN) and not_any_ (NOT IN); a run
    # with no key matches neither.
    flow = orch.create_flow("etl")
    a = orch.create_flow_run(flow.id, idempotency_key="a")
    b = orch.create_flow_run(flow.id, idempotency_key="b")
    orch.create_flow_run(flow.id)

    def keys(flt: FlowRunFilter) -> list[str]:
        runs = orch.read_flow_runs(flow_runs=flt, sort=FlowRunSort.NAME_ASC)
        return sorted(r.idempotency_key or "" for r in runs)

    assert keys(FlowRunFilter(idempotency_key="a")) == ["a"]
    assert keys(FlowRunFilter(idempotency_key=["a", "b", "zz"])) == ["a", "b"]
    assert keys(FlowRunFilter(idempotency_key=FlowRunFilterIdempotencyKey(not_any_=["a"]))) == ["b"]
    both = FlowRunFilterIdempotencyKey(any_=["a", "b"], not_any_=["b"])
    assert orch.read_flow_runs(flow_runs=FlowRunFilter(idempotency_key=both)) == [a]
    assert orch.count_flow_runs(flow_runs=FlowRunFilter(idempotency_key=[])) == 0
    assert b.idempotency_key == "b"
    with pytest.raises(InvalidArgument, match="not_any_"):
        FlowRunFilterIdempotencyKey(not_any_=[1])  # type: ignore[list-item]


def test_flow_version_is_kept_from_creation(orch: Orchestrator) -> None:
    flow = orch.create_flow("etl")
    run = orch.create_flow_run(flow.id, flow_version="1.2.0")
    assert run.flow_version == "1.2.0"
    assert orch.create_flow_run(flow.id).flow_version is None
    with pytest.raises(InvalidArgument, match="flow_version"):
        orch.create_flow_run(flow.id, flow_version=3)  # type: ignore[arg-type]


# -- pages and history ----------------------------------------------------------------


def _runs(orch: Orchestrator, count: int) -> list[FlowRun]:
    flow = orch.create_flow("etl")
    return [orch.create_flow_run(flow.id, name=f"run-{i:02d}") for i in range(count)]


def test_paginate_flow_runs_counts_pages_like_the_reference(orch: Orchestrator) -> None:
    # Reference: {results, count, limit, pages = ceil(count / limit), page}, offset
    # (page - 1) * limit.
    runs = _runs(orch, 7)
    page = orch.paginate_flow_runs(page=2, limit=3, sort=FlowRunSort.NAME_ASC)
    assert [r.name for r in page.results] == ["run-03", "run-04", "run-05"]
    assert (page.count, page.limit, page.pages, page.page) == (7, 3, 3, 2)
    last = orch.paginate_flow_runs(page=3, limit=3, sort=FlowRunSort.NAME_ASC)
    assert [r.name for r in last.results] == ["run-06"]
    beyond = orch.paginate_flow_runs(page=9, limit=3)
    assert (beyond.results, beyond.count, beyond.pages) == ([], 7, 3)
    empty = orch.paginate_flow_runs(limit=0)
    assert (empty.results, empty.count, empty.pages) == ([], 7, 0)
    filtered = orch.paginate_flow_runs(flow_runs=FlowRunFilter(name=["run-01", "run-02"]))
    assert (filtered.count, filtered.pages, {r.id for r in filtered.results}) == (
        2,
        1,
        {runs[1].id, runs[2].id},
    )


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [({"page": 0}, "page"), ({"limit": -1}, "limit"), ({"sort": "NAME_ASC"}, "sort")],
)
def test_paginate_flow_runs_refuses_bad_pages(
    orch: Orchestrator, arguments: dict[str, object], parameter: str
) -> None:
    with pytest.raises(InvalidArgument, match=parameter):
        orch.paginate_flow_runs(**arguments)  # type: ignore[arg-type]


def test_flow_run_history_counts_runs_per_bucket_and_state(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    flow = orch.create_flow("etl")
    done = orch.create_flow_run(flow.id, state=Scheduled(at(30)))
    orch.create_flow_run(flow.id, state=Scheduled(at(90)))
    orch.create_flow_run(flow.id, state=Scheduled(at(100)))
    clock.advance(30)
    orch.set_flow_run_state(done.id, Running(), force=True)
    clock.advance(15)
    orch.set_flow_run_state(done.id, Completed(), force=True)
    history = orch.flow_run_history(history_start=at(0), history_end=at(120), history_interval=60)
    assert [(b.interval_start, b.interval_end) for b in history] == [
        (at(0), at(60)),
        (at(60), at(120)),
    ]
    assert [[(s.state_name, s.count_runs) for s in b.states] for b in history] == [
        [("Completed", 1)],
        [("Scheduled", 2)],
    ]
    assert history[0].states[0].sum_estimated_run_time == 15.0
    only_done = orch.flow_run_history(
        history_start=at(0),
        history_end=at(120),
        history_interval=timedelta(minutes=2),
        flow_runs=FlowRunFilter(state=StateType.COMPLETED),
    )
    assert [[(s.state_name, s.count_runs) for s in b.states] for b in only_done] == [
        [("Completed", 1)]
    ]
    with pytest.raises(InvalidArgument, match="history_interval"):
        orch.flow_run_history(history_start=at(0), history_end=at(60), history_interval=0.5)


# -- resume_flow_run ------------------------------------------------------------------


def _running(orch: Orchestrator, *, deployed: bool = True) -> FlowRun:
    flow = orch.create_flow("etl")
    if deployed:
        orch.create_work_pool("pool")
        deployment = orch.create_deployment(flow.id, "d", work_pool_name="pool")
        run = orch.create_flow_run_from_deployment(deployment.id)
    else:
        run = orch.create_flow_run(flow.id)
    assert orch.set_flow_run_state(run.id, Running(), force=True).status is SetStateStatus.ACCEPT
    return run


def test_resuming_a_blocking_pause_goes_back_to_running_in_the_same_attempt(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    run = _running(orch, deployed=False)
    assert orch.set_flow_run_state(run.id, Paused(pause_timeout=at(300))).status is (
        SetStateStatus.ACCEPT
    )
    clock.advance(60)
    result = orch.resume_flow_run(run.id)
    assert result.status is SetStateStatus.ACCEPT
    assert result.state is not None
    assert result.state.type is StateType.RUNNING
    assert result.state.timestamp == at(60)
    assert run.run_count == 1
    assert run.empirical_policy.resuming is False
    assert [s.type for s in orch.read_flow_run_states(run.id)] == [
        StateType.PENDING,
        StateType.RUNNING,
        StateType.PAUSED,
        StateType.RUNNING,
    ]


def test_resuming_a_suspension_reschedules_the_deployment_run_now(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    run = _running(orch)
    # A suspension waiting for input (the input now needs a keyset to go to, as in Prefect).
    waiting = Paused(
        name="Suspended",
        reschedule=True,
        details=StateDetails(run_input_keyset={"response": "answer"}),
    )
    assert orch.set_flow_run_state(run.id, waiting).status is SetStateStatus.ACCEPT
    clock.advance(120)
    result = orch.resume_flow_run(run.id, run_input={"approved": True})
    assert result.status is SetStateStatus.ACCEPT
    assert result.state is not None
    assert (result.state.type, result.state.name) == (StateType.SCHEDULED, "Resuming")
    assert result.state.details.scheduled_time == at(120)
    assert run.empirical_policy.resuming is True
    assert orch.set_flow_run_state(run.id, Running(), force=False).status is (SetStateStatus.ACCEPT)
    assert run.run_count == 1  # the resumed attempt continues


def test_resuming_a_run_that_is_not_paused_aborts_and_changes_nothing(
    orch: Orchestrator,
) -> None:
    run = _running(orch)
    result = orch.resume_flow_run(run.id)
    assert result.status is SetStateStatus.ABORT
    assert result.details == AbortDetails("Cannot resume a flow run that is not paused.")
    assert result.state is run.state
    assert [s.type for s in orch.read_flow_run_states(run.id)] == [
        StateType.SCHEDULED,
        StateType.RUNNING,
    ]


def test_resuming_a_suspension_without_a_deployment_is_rejected(orch: Orchestrator) -> None:
    # Such a pause can only be forced in; the resuming rule refuses to reschedule it.
    run = _running(orch, deployed=False)
    orch.set_flow_run_state(run.id, Suspended(), force=True)
    result = orch.resume_flow_run(run.id)
    assert result.status is SetStateStatus.REJECT
    assert result.details == RejectDetails(
        "Cannot reschedule a suspended flow run without a deployment."
    )
    assert run.state_type is StateType.PAUSED


def test_resuming_after_the_pause_timed_out_fails_the_run(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    run = _running(orch, deployed=False)
    orch.set_flow_run_state(run.id, Paused(pause_timeout=at(60)))
    clock.advance(61)
    result = orch.resume_flow_run(run.id)
    assert result.status is SetStateStatus.REJECT
    assert result.state is not None
    assert result.state.type is StateType.FAILED
    assert result.state.message == "The flow was paused and never resumed."


def test_resume_flow_run_refuses_bad_arguments(orch: Orchestrator) -> None:
    run = _running(orch, deployed=False)
    orch.set_flow_run_state(run.id, Paused())
    with pytest.raises(InvalidArgument, match="flow_run_id"):
        orch.resume_flow_run("nope")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="run_input"):
        orch.resume_flow_run(run.id, run_input=[1, 2])  # type: ignore[arg-type]
    assert run.state_type is StateType.PAUSED


# -- filters: not_any_, parent flow runs, flow versions --------------------------------


def test_not_any_excludes_ids_state_types_and_state_names(orch: Orchestrator) -> None:
    # Reference: FlowRunFilterId, FlowRunFilterStateType and FlowRunFilterStateName each
    # take not_any_ (NOT IN) beside any_.
    flow = orch.create_flow("etl")
    pending = orch.create_flow_run(flow.id, name="pending")
    late = orch.create_flow_run(flow.id, name="late", state=Scheduled(at(60), name="Late"))
    on_time = orch.create_flow_run(flow.id, name="on-time", state=Scheduled(at(60)))
    running = orch.create_flow_run(flow.id, name="running", state=Running())

    def names(flt: FlowRunFilter) -> list[str]:
        return [r.name for r in orch.read_flow_runs(flow_runs=flt, sort=FlowRunSort.NAME_ASC)]

    assert names(FlowRunFilter(id=FlowRunFilterId(not_any_=[pending.id, running.id]))) == [
        "late",
        "on-time",
    ]
    assert names(
        FlowRunFilter(id=FlowRunFilterId(any_=[pending.id, late.id], not_any_=[late.id]))
    ) == ["pending"]
    not_scheduled = FlowRunFilterStateType(not_any_=[StateType.SCHEDULED])
    assert names(FlowRunFilter(state=FlowRunFilterState(type=not_scheduled))) == [
        "pending",
        "running",
    ]
    not_running = FlowRunFilterState(type=FlowRunFilterStateType(not_any_="RUNNING"))
    assert names(FlowRunFilter(state=not_running)) == ["late", "on-time", "pending"]
    not_late = FlowRunFilterState(name=FlowRunFilterStateName(not_any_=["Late", "Pending"]))
    assert names(FlowRunFilter(state=not_late)) == ["on-time", "running"]
    both = FlowRunFilterState(
        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]),
        name=FlowRunFilterStateName(not_any_=["Late"]),
    )
    assert orch.read_flow_runs(flow_runs=FlowRunFilter(state=both)) == [on_time]
    nothing_excluded = FlowRunFilter(id=FlowRunFilterId(not_any_=[]))
    assert orch.count_flow_runs(flow_runs=nothing_excluded) == 4


def test_not_any_works_on_task_run_state_filters_too(orch: Orchestrator) -> None:
    orch.create_task_run("a", state=Running())
    orch.create_task_run("b", state=Completed())
    flt = TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(not_any_=["RUNNING"])))
    assert [r.task_key for r in orch.read_task_runs(task_runs=flt)] == ["b"]


def test_parent_flow_run_id_selects_the_subflows_of_those_flow_runs(orch: Orchestrator) -> None:
    # Reference: FlowRunFilterParentFlowRunId any_ selects flow runs whose parent task run
    # belongs to one of the given flow runs.
    flow = orch.create_flow("etl")
    parent = orch.create_flow_run(flow.id, name="parent", state=Running())
    other = orch.create_flow_run(flow.id, name="other", state=Running())
    task_in_parent = orch.create_task_run("sub", flow_run_id=parent.id).run
    task_in_other = orch.create_task_run("sub", flow_run_id=other.id).run
    child = orch.create_flow_run(flow.id, name="child", parent_task_run_id=task_in_parent.id)
    orch.create_flow_run(flow.id, name="cousin", parent_task_run_id=task_in_other.id)
    assert orch.read_flow_runs(flow_runs=FlowRunFilter(parent_flow_run_id=parent.id)) == [child]
    both = FlowRunFilter(
        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id, other.id])
    )
    assert sorted(r.name for r in orch.read_flow_runs(flow_runs=both)) == ["child", "cousin"]
    assert orch.count_flow_runs(flow_runs=FlowRunFilter(parent_flow_run_id=[])) == 0
    assert orch.count_flow_runs(flow_runs=FlowRunFilter(parent_flow_run_id=child.id)) == 0


def test_flow_version_filter_and_update(orch: Orchestrator, clock: VirtualClock) -> None:
    # Reference: FlowRunFilterFlowVersion any_; PATCH /flow_runs/{id} takes flow_version.
    flow = orch.create_flow("etl")
    old = orch.create_flow_run(flow.id, name="old", flow_version="1.0")
    new = orch.create_flow_run(flow.id, name="new", flow_version="2.0")
    orch.create_flow_run(flow.id, name="none")
    assert orch.read_flow_runs(flow_runs=FlowRunFilter(flow_version="2.0")) == [new]
    clock.advance(10)
    updated = orch.update_flow_run(old.id, flow_version="2.0")
    assert (updated.flow_version, updated.updated) == ("2.0", at(10))
    found = orch.read_flow_runs(
        flow_runs=FlowRunFilter(flow_version=FlowRunFilterFlowVersion(any_=["2.0"])),
        sort=FlowRunSort.NAME_ASC,
    )
    assert [r.name for r in found] == ["new", "old"]
    with pytest.raises(InvalidArgument, match="flow_version"):
        orch.update_flow_run(old.id, flow_version=2)  # type: ignore[arg-type]
    assert old.flow_version == "2.0"


# -- update_flow_run(job_variables=...) -----------------------------------------------


def test_job_variables_update_only_for_a_scheduled_deployment_run(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    # Reference: PATCH /flow_runs/{id} with job_variables needs the run's deployment and a
    # SCHEDULED state; otherwise it is refused and nothing changes.
    orch.create_work_pool("pool")
    flow = orch.create_flow("etl")
    deployment = orch.create_deployment(
        flow.id, "d", work_pool_name="pool", job_variables={"env": {"A": "1"}}
    )
    run = orch.create_flow_run_from_deployment(deployment.id, job_variables={"env": {"B": "2"}})
    clock.advance(5)
    updated = orch.update_flow_run(run.id, job_variables={"env": {"C": "3"}})
    assert (updated.job_variables, updated.updated) == ({"env": {"C": "3"}}, at(5))
    orch.set_flow_run_state(run.id, Running(), force=True)
    name = run.name
    with pytest.raises(InvalidArgument, match=r"job_variables.*RUNNING"):
        orch.update_flow_run(run.id, job_variables={"env": {}}, name="renamed")
    assert (run.job_variables, run.name) == ({"env": {"C": "3"}}, name)
    plain = orch.create_flow_run(flow.id, state=Scheduled(at(60)))
    with pytest.raises(InvalidArgument, match=r"job_variables.*no deployment"):
        orch.update_flow_run(plain.id, job_variables={"x": 1})
    assert plain.job_variables == {}
    with pytest.raises(InvalidArgument, match="job_variables"):
        orch.update_flow_run(run.id, job_variables="env=1")  # type: ignore[arg-type]


# -- property: one live run per (flow, key) ------------------------------------------


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["create", "create", "deploy", "delete"]),
            st.integers(0, 1),
            st.sampled_from(["a", "b", None]),
        ),
        max_size=25,
    )
)
@settings(max_examples=60, deadline=None)
def test_create_or_return_keeps_one_live_run_per_flow_and_key(
    steps: list[tuple[str, int, str | None]],
) -> None:
    orch = Orchestrator(clock=VirtualClock(START))
    orch.create_work_pool("pool")
    flows = [orch.create_flow("etl"), orch.create_flow("report")]
    deployments = [orch.create_deployment(f.id, "d", work_pool_name="pool") for f in flows]
    live: dict[tuple[int, str], FlowRun] = {}  # the model: the run holding each (flow, key)
    for action, index, key in steps:
        if action == "delete":
            if key is not None and (index, key) in live:
                orch.delete_flow_run(live.pop((index, key)).id)
            continue
        if action == "create":
            run = orch.create_flow_run(flows[index].id, idempotency_key=key)
        else:
            run = orch.create_flow_run_from_deployment(deployments[index].id, idempotency_key=key)
        if key is not None:
            assert run is live.setdefault((index, key), run)
    for (index, key), run in live.items():
        found = orch.read_flow_runs(
            flow_runs=FlowRunFilter(idempotency_key=key), flows=FlowFilter(id=flows[index].id)
        )
        assert found == [run]
    orch.check_invariants()

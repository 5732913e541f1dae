"""Flow runs as Prefect runs them (issue 10, scope B): start-time order and filters, flow rules.

Every test drives the public API on a virtual clock and checks exact times and states
against Prefect's documented behaviour:

* ``FlowRunSort.START_TIME_*`` and ``FlowRunFilterStartTime(before_/after_)`` read
  ``coalesce(start_time, expected_start_time)``; ``is_null_`` reads ``start_time`` alone.
  The task-run start-time filter reads ``start_time`` only (and TaskRunSort has no
  start-time order), as in the reference.
* Marking an already late run late leaves its Late state as it is.
* A flow run retried by RetryFailedFlows starts its new attempt with no pause keys and
  not resuming, so the same ``pause_key`` pauses it again.
* A COMPLETED run with a result may still go to FAILED, CANCELLED or COMPLETED with a new
  result; it may not run again nor lose its result to a result-less completion.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import (
    Cancelled,
    Completed,
    Failed,
    FlowRun,
    FlowRunPolicy,
    Late,
    Orchestrator,
    Paused,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateType,
    VirtualClock,
)
from orchestrator.filters import (
    FlowRunFilter,
    FlowRunFilterStartTime,
    FlowRunSort,
    TaskRunFilter,
    TaskRunFilterStartTime,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock, seed=10)


@pytest.fixture
def flow_id(orch: Orchestrator) -> uuid.UUID:
    return orch.create_flow("etl").id


# -- start times -----------------------------------------------------------------------------------


def _four_runs(orch: Orchestrator, clock: VirtualClock, flow_id: uuid.UUID) -> dict[str, FlowRun]:
    """A due at 300 (never starts), C due at 50 (starts at 200), B at 100, E pending at 150."""
    a = orch.create_flow_run(flow_id, name="a", state=Scheduled(at(300)))
    c = orch.create_flow_run(flow_id, name="c", state=Scheduled(at(50)))
    clock.set(at(100))
    b = orch.create_flow_run(flow_id, name="b", state=Running())
    clock.set(at(150))
    e = orch.create_flow_run(flow_id, name="e", state=Pending())
    clock.set(at(200))
    assert orch.set_flow_run_state(c.id, Pending()).status is SetStateStatus.ACCEPT
    assert orch.set_flow_run_state(c.id, Running()).status is SetStateStatus.ACCEPT
    runs = {"a": a, "b": b, "c": c, "e": e}
    times = {name: (r.expected_start_time, r.start_time) for name, r in runs.items()}
    assert times == {
        "a": (at(300), None),
        "b": (at(100), at(100)),
        "c": (at(50), at(200)),
        "e": (at(150), None),
    }
    return runs


def _names(runs: list[FlowRun]) -> list[str]:
    return [run.name for run in runs]


def test_start_time_sorts_place_unstarted_runs_at_their_expected_start(
    orch: Orchestrator, clock: VirtualClock, flow_id: uuid.UUID
) -> None:
    """Prefect sorts START_TIME_* by coalesce(start_time, expected_start_time)."""
    runs = _four_runs(orch, clock, flow_id)
    assert {name: run.effective_start_time for name, run in runs.items()} == {
        "a": at(300),
        "b": at(100),
        "c": at(200),
        "e": at(150),
    }
    assert _names(orch.read_flow_runs(sort=FlowRunSort.START_TIME_ASC)) == ["b", "e", "c", "a"]
    assert _names(orch.read_flow_runs(sort=FlowRunSort.START_TIME_DESC)) == ["a", "c", "e", "b"]
    page = orch.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, offset=1, limit=2)
    assert _names(page) == ["c", "e"]
    # The expected-start order is a different one: C was due first.
    expected_order = orch.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_ASC)
    assert _names(expected_order) == ["c", "b", "e", "a"]


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        (FlowRunFilterStartTime(after_=at(150)), {"e", "c", "a"}),
        (FlowRunFilterStartTime(before_=at(150)), {"b", "e"}),
        (FlowRunFilterStartTime(after_=at(120), before_=at(250)), {"e", "c"}),
        (FlowRunFilterStartTime(is_null_=True), {"a", "e"}),
        (FlowRunFilterStartTime(is_null_=False), {"b", "c"}),
        (FlowRunFilterStartTime(after_=at(120), is_null_=True), {"e", "a"}),
        (FlowRunFilterStartTime(before_=at(49)), set()),
    ],
    ids=["after", "before", "between", "null", "not-null", "after-and-null", "before-all"],
)
def test_start_time_filter_bounds_read_the_expected_start_of_unstarted_runs(
    orch: Orchestrator,
    clock: VirtualClock,
    flow_id: uuid.UUID,
    sub: FlowRunFilterStartTime,
    expected: set[str],
) -> None:
    """Prefect: before_/after_ bound coalesce(start_time, expected_start_time), inclusive;
    is_null_ tests start_time alone."""
    _four_runs(orch, clock, flow_id)
    query = FlowRunFilter(start_time=sub)
    found = orch.read_flow_runs(flow_runs=query, sort=FlowRunSort.START_TIME_ASC)
    assert set(_names(found)) == expected
    assert orch.count_flow_runs(flow_runs=query) == len(expected)


def test_a_run_moves_in_the_start_time_order_when_it_starts(
    orch: Orchestrator, clock: VirtualClock, flow_id: uuid.UUID
) -> None:
    """The effective start time is re-indexed on the transition that sets start_time."""
    late = orch.create_flow_run(flow_id, name="late", state=Scheduled(at(10)))
    clock.set(at(50))
    other = orch.create_flow_run(flow_id, name="other", state=Running())
    assert _names(orch.read_flow_runs(sort=FlowRunSort.START_TIME_ASC)) == ["late", "other"]
    clock.set(at(90))
    orch.set_flow_run_state(late.id, Pending())
    orch.set_flow_run_state(late.id, Running())
    assert late.start_time == at(90)
    assert _names(orch.read_flow_runs(sort=FlowRunSort.START_TIME_ASC)) == ["other", "late"]
    window = FlowRunFilter(start_time=FlowRunFilterStartTime(after_=at(60)))
    assert orch.read_flow_runs(flow_runs=window) == [late]
    assert other.effective_start_time == at(50)
    orch.check_invariants()


def test_the_task_run_start_time_filter_reads_start_time_only(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    """Prefect's TaskRunFilterStartTime compares start_time itself: no coalesce."""
    waiting = orch.create_task_run("waiting", state=Scheduled(at(300))).run
    clock.set(at(100))
    started = orch.create_task_run("started", state=Running()).run
    assert (waiting.expected_start_time, waiting.start_time) == (at(300), None)
    after = TaskRunFilter(start_time=TaskRunFilterStartTime(after_=at(0)))
    assert orch.read_task_runs(task_runs=after) == [started]
    before = TaskRunFilter(start_time=TaskRunFilterStartTime(before_=at(400)))
    assert orch.read_task_runs(task_runs=before) == [started]


_PLANS = st.lists(
    st.tuples(
        st.integers(0, 20).map(lambda k: 10 * k),  # created at
        st.sampled_from(["scheduled", "pending", "running", "started-later"]),
        st.integers(0, 20).map(lambda k: 10 * k),  # due / started at
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=_PLANS, data=st.data())
def test_start_time_queries_equal_a_coalescing_scan(
    plans: list[tuple[int, str, int]], data: st.DataObject
) -> None:
    """Random runs on the clock: sorts and filters equal the reference's rule, spelled out."""
    clock = VirtualClock(START)
    orch = Orchestrator(clock, seed=3)
    flow_id = orch.create_flow("f").id
    runs: list[FlowRun] = []
    later: list[tuple[int, FlowRun]] = []
    for n, (created, kind, when) in enumerate(sorted(plans, key=lambda p: p[0])):
        clock.set(at(created))
        state: State = {"scheduled": Scheduled(at(when)), "pending": Pending()}.get(
            kind, Running() if kind == "running" else Scheduled(at(when))
        )
        run = orch.create_flow_run(flow_id, name=f"r{n}", state=state)
        runs.append(run)
        if kind == "started-later":
            later.append((max(created, when), run))
    for when, run in sorted(later, key=lambda item: item[0]):
        clock.set(max(clock.now(), at(when)))
        orch.set_flow_run_state(run.id, Pending())
        orch.set_flow_run_state(run.id, Running())
    orch.check_invariants()

    def key(run: FlowRun) -> datetime | None:
        return run.expected_start_time if run.start_time is None else run.start_time

    order = {run.id: n for n, run in enumerate(runs)}
    descending = data.draw(st.booleans())
    expected_order = sorted(runs, key=lambda r: (key(r), order[r.id]), reverse=descending)
    sort = FlowRunSort.START_TIME_DESC if descending else FlowRunSort.START_TIME_ASC
    assert [r.id for r in orch.read_flow_runs(sort=sort)] == [r.id for r in expected_order]

    times = st.none() | st.integers(0, 20).map(lambda k: at(10 * k))
    after, before = data.draw(times), data.draw(times)
    null = data.draw(st.none() | st.booleans())

    def selected(run: FlowRun) -> bool:
        value = key(run)
        if value is None:
            return False
        if (after is not None and value < after) or (before is not None and value > before):
            return False
        return null is None or (run.start_time is None) is null

    query = FlowRunFilter(
        start_time=FlowRunFilterStartTime(after_=after, before_=before, is_null_=null)
    )
    want = [r.id for r in expected_order if selected(r)]
    assert [r.id for r in orch.read_flow_runs(flow_runs=query, sort=sort)] == want
    assert orch.count_flow_runs(flow_runs=query) == len(want)


# -- Late ------------------------------------------------------------------------------------------


def test_a_late_run_is_not_marked_late_again(
    orch: Orchestrator, clock: VirtualClock, flow_id: uuid.UUID
) -> None:
    """Prefect: Scheduled -> Late is accepted; a second marking leaves the Late state (same id
    and timestamp) in place."""
    run = orch.create_flow_run(flow_id, state=Scheduled(at(60)))
    clock.set(at(120))
    first = orch.set_flow_run_state(run.id, Late(at(60)))
    assert first.status is SetStateStatus.ACCEPT
    late = run.state
    assert late is not None
    assert (late.type, late.name, late.timestamp) == (StateType.SCHEDULED, "Late", at(120))
    clock.set(at(180))
    again = orch.set_flow_run_state(run.id, Late(at(60)))
    assert again.status is SetStateStatus.REJECT
    assert again.state is late
    assert run.state is late
    assert [s.name for s in orch.read_flow_run_states(run.id)] == ["Scheduled", "Late"]
    # A late run still starts.
    orch.set_flow_run_state(run.id, Pending())
    assert orch.set_flow_run_state(run.id, Running()).status is SetStateStatus.ACCEPT
    assert run.start_time == at(180)


def test_a_running_run_is_not_marked_late(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    run = orch.create_flow_run(flow_id, state=Running())
    result = orch.set_flow_run_state(run.id, Late(at(0)))
    assert result.status is SetStateStatus.REJECT
    assert run.state_type is StateType.RUNNING


# -- retries reset the pause bookkeeping -----------------------------------------------------------


def test_a_retried_flow_pauses_again_on_the_same_key(
    orch: Orchestrator, clock: VirtualClock, flow_id: uuid.UUID
) -> None:
    """Prefect's RetryFailedFlows resets ``pause_keys`` and ``resuming`` with the retry."""
    run = orch.create_flow_run(
        flow_id, state=Running(), policy=FlowRunPolicy(retries=1, retry_delay=30)
    )
    assert orch.set_flow_run_state(run.id, Paused(pause_key="approve")).status is (
        SetStateStatus.ACCEPT
    )
    assert orch.set_flow_run_state(run.id, Running()).status is SetStateStatus.ACCEPT
    assert run.empirical_policy.pause_keys == frozenset({"approve"})
    clock.set(at(10))
    retry = orch.set_flow_run_state(run.id, Failed())
    assert retry.status is SetStateStatus.REJECT
    assert retry.state is not None
    assert (retry.state.name, retry.state.details.scheduled_time) == ("AwaitingRetry", at(40))
    policy = run.empirical_policy
    assert (policy.pause_keys, policy.resuming, policy.retry_type) == (
        frozenset(),
        False,
        "in_process",
    )
    clock.set(at(40))
    assert orch.set_flow_run_state(run.id, Running()).status is SetStateStatus.ACCEPT
    assert run.run_count == 2
    again = orch.set_flow_run_state(run.id, Paused(pause_key="approve"))
    assert again.status is SetStateStatus.ACCEPT
    assert run.state_type is StateType.PAUSED
    assert run.empirical_policy.pause_keys == frozenset({"approve"})


def test_a_failure_without_retries_left_keeps_the_pause_keys(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    run = orch.create_flow_run(flow_id, state=Running(), policy=FlowRunPolicy(retries=0))
    orch.set_flow_run_state(run.id, Paused(pause_key="k"))
    orch.set_flow_run_state(run.id, Running())
    assert orch.set_flow_run_state(run.id, Failed()).status is SetStateStatus.ACCEPT
    assert run.empirical_policy.pause_keys == frozenset({"k"})


# -- leaving COMPLETED with a result ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("proposal", "status", "data"),
    [
        (Failed(), SetStateStatus.ACCEPT, None),
        (Cancelled(), SetStateStatus.ACCEPT, None),
        (Completed({"rows": 2}), SetStateStatus.ACCEPT, {"rows": 2}),
        (Completed(7), SetStateStatus.ACCEPT, 7),
        (Completed(), SetStateStatus.REJECT, {"rows": 1}),
        (Running(), SetStateStatus.REJECT, {"rows": 1}),
        (Scheduled(), SetStateStatus.REJECT, {"rows": 1}),
    ],
    ids=[
        "to-failed",
        "to-cancelled",
        "to-completed-new-result",
        "to-completed-scalar",
        "to-completed-no-result",
        "to-running",
        "to-scheduled",
    ],
)
def test_leaving_completed_with_a_result(
    orch: Orchestrator,
    clock: VirtualClock,
    flow_id: uuid.UUID,
    proposal: State,
    status: SetStateStatus,
    data: object,
) -> None:
    """Prefect: only a rerun (a non-final proposal) leaves a completed run with a persisted
    result refused; other final states are accepted, and a completion without data does
    not replace the result."""
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    run = orch.create_flow_run_from_deployment(deployment.id, state=Running())
    clock.set(at(30))
    assert orch.set_flow_run_state(run.id, Completed({"rows": 1})).status is (SetStateStatus.ACCEPT)
    clock.set(at(60))
    result = orch.set_flow_run_state(run.id, proposal)
    assert result.status is status
    assert run.state is not None
    assert run.state.data == data
    if status is SetStateStatus.ACCEPT:
        assert (run.state.type, run.state.timestamp) == (proposal.type, at(60))
        assert run.end_time == at(30)  # final -> final leaves the end time
    else:
        assert (run.state.type, run.state.timestamp) == (StateType.COMPLETED, at(30))
    orch.check_invariants()

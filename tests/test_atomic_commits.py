"""Commits, creations, updates and deletes are all or nothing.

A fault is injected at every step of a change in turn (before and after each call to
the bookkeeping, the store's reindexing and history, every index insertion, removal
and move, and the work-pool filing): each faulted call must leave the orchestrator
exactly as it was (every run, its history, what every query answers, slots, cache and
queues) with ``check_invariants()`` holding, and the call then succeeds once the fault
is gone. A transition whose commit fails is ABORT ("Error validating state: ..."); a
creation, update or delete raises the error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import orchestrator._engine._commits as engine_module
import orchestrator._store._table as table_module
from orchestrator import (
    AwaitingRetry,
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    FlowRun,
    FlowRunPolicy,
    InvalidArgument,
    OrchestrationResult,
    Orchestrator,
    Paused,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateDetails,
    StateType,
    TaskRun,
    TaskRunPolicy,
    TransitionContext,
    VirtualClock,
    policies,
    rule,
)
from orchestrator._core._indexes import SetIndex, SortedIndex
from orchestrator._pools._work_pools import WorkPoolTable
from orchestrator._store._store import Store
from orchestrator.filters import (
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterStartTime,
    FlowRunFilterState,
    FlowRunSort,
    TaskRunFilter,
    TaskRunFilterEndTime,
    TaskRunFilterExpectedStartTime,
    TaskRunFilterStartTime,
    TaskRunFilterState,
    TaskRunSort,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
LATER = START + timedelta(days=3650)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


class InjectedFault(Exception):
    """The failure a test injects into one step of a change."""


class Faults:
    """Wraps the steps of a change; when armed with ``n``, the n-th step point raises.

    Every wrapped call has two points, just before and just after the real call, so a
    fault lands both before a step changed anything and after it changed everything.
    A fault fires once; the rollback that follows runs unhindered. The store's own
    insertion and removal are wrapped through their index operations only: a fault
    "after" the outermost call of a change would be a fault after it had finished.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.countdown = 0
        self.fired: str | None = None
        targets: list[tuple[Any, str]] = [
            (engine_module, "apply_bookkeeping"),
            (Store, "reindex_task_run"),
            (Store, "reindex_flow_run"),
            (Store, "append_task_run_state"),
            (Store, "append_flow_run_state"),
            (table_module, "_move"),
            (SortedIndex, "add"),
            (SortedIndex, "remove"),
            (SortedIndex, "move"),
            (SetIndex, "add"),
            (SetIndex, "remove"),
            (SetIndex, "move"),
            (WorkPoolTable, "file"),
        ]
        for owner, name in targets:
            monkeypatch.setattr(owner, name, self._wrap(getattr(owner, name), name))

    def _wrap(self, real: Callable[..., Any], name: str) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            self._tick(f"before {name}")
            result = real(*args, **kwargs)
            self._tick(f"after {name}")
            return result

        return step

    def _tick(self, point: str) -> None:
        if self.countdown > 0:
            self.countdown -= 1
            if self.countdown == 0:
                self.fired = point
                raise InjectedFault(point)

    def arm(self, n: int) -> None:
        self.countdown, self.fired = n, None

    def disarm(self) -> str | None:
        fired, self.countdown, self.fired = self.fired, 0, None
        return fired


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    return Faults(monkeypatch)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock=clock, seed=3)


# -- what must not change -------------------------------------------------------------------------


def _ids(runs: list[TaskRun] | list[FlowRun]) -> list[Any]:
    return [run.id for run in runs]


def _run_row(run: TaskRun | FlowRun, history: list[Any]) -> tuple[Any, ...]:
    return (
        run.name,
        run.state,
        run.run_count,
        run.total_run_time,
        run.start_time,
        run.end_time,
        run.expected_start_time,
        run.next_scheduled_start_time,
        run.updated,
        run.empirical_policy,
        run.tags,
        dict(run.labels),
        getattr(run, "flow_run_run_count", None),
        tuple(state.id for state in history),
    )


def task_view(orch: Orchestrator) -> dict[str, Any]:
    """Every task run, its history, and what every task-run index answers."""
    runs = orch.read_task_runs()
    names = {run.state_name for run in runs if run.state_name} | {"Pending", "Running"}
    view: dict[str, Any] = {
        "runs": {run.id: _run_row(run, orch.read_task_run_states(run.id)) for run in runs},
        "sorts": {sort: _ids(orch.read_task_runs(sort=sort)) for sort in TaskRunSort},
        "types": {
            t: _ids(orch.read_task_runs(task_runs=TaskRunFilter(state=[t]))) for t in StateType
        },
        "names": {
            name: _ids(
                orch.read_task_runs(task_runs=TaskRunFilter(state=TaskRunFilterState(name=[name])))
            )
            for name in sorted(names)
        },
    }
    time_filters: tuple[tuple[str, Any], ...] = (
        ("start_time", TaskRunFilterStartTime),
        ("end_time", TaskRunFilterEndTime),
        ("expected_start_time", TaskRunFilterExpectedStartTime),
    )
    for field, time_filter in time_filters:
        for bounds in ({"after_": EPOCH}, {"before_": at(700)}):  # an index walk each
            found = orch.read_task_runs(task_runs=TaskRunFilter(**{field: time_filter(**bounds)}))
            view[f"{field} {bounds}"] = _ids(found)
    return view


def flow_view(orch: Orchestrator) -> dict[str, Any]:
    """Every flow run, its history, what every flow-run index and work pool answers."""
    runs = orch.read_flow_runs()
    names = {run.state_name for run in runs if run.state_name}
    view: dict[str, Any] = {
        "runs": {run.id: _run_row(run, orch.read_flow_run_states(run.id)) for run in runs},
        "sorts": {sort: _ids(orch.read_flow_runs(sort=sort)) for sort in FlowRunSort},
        "types": {
            t: _ids(orch.read_flow_runs(flow_runs=FlowRunFilter(state=[t]))) for t in StateType
        },
        "names": {
            name: _ids(
                orch.read_flow_runs(flow_runs=FlowRunFilter(state=FlowRunFilterState(name=[name])))
            )
            for name in sorted(names)
        },
        "due": {
            pool.name: _ids(orch.get_scheduled_flow_runs(pool.name, scheduled_before=LATER))
            for pool in orch.read_work_pools()
        },
    }
    time_filters: tuple[tuple[str, Any], ...] = (
        ("start_time", FlowRunFilterStartTime),
        ("end_time", FlowRunFilterEndTime),
        ("expected_start_time", FlowRunFilterExpectedStartTime),
        ("next_scheduled_start_time", FlowRunFilterNextScheduledStartTime),
    )
    for field, time_filter in time_filters:
        for bounds in ({"after_": EPOCH}, {"before_": at(700)}):  # an index walk each
            found = orch.read_flow_runs(flow_runs=FlowRunFilter(**{field: time_filter(**bounds)}))
            view[f"{field} {bounds}"] = _ids(found)
    return view


def whole_view(orch: Orchestrator) -> dict[str, Any]:
    """Everything a refused change must leave as it was (decisions aside)."""
    stats = orch.statistics()
    return {
        "tasks": task_view(orch),
        "flows": flow_view(orch),
        "limits": [
            (limit.tag, limit.concurrency_limit, limit.active_slots)
            for limit in orch.read_concurrency_limits()
        ],
        "queues": orch.task_queues.statistics(),
        "counts": (stats.task_runs, stats.flow_runs, stats.task_runs_by_state),
        "cache": stats.cache_entries,
    }


def each_fault(
    orch: Orchestrator, faults: Faults, change: Callable[[], object]
) -> Iterator[tuple[str, object]]:
    """Run ``change`` with a fault at its 1st, 2nd, ... step point until none fires.

    Yields ``(where the fault fired, what the change returned or raised)`` after
    checking that the faulted change left everything as it was; returns once the
    change ran through with no fault left to fire.
    """
    n = 1
    while True:
        before = whole_view(orch)
        faults.arm(n)
        outcome: object
        try:
            outcome = change()
        except InjectedFault as error:
            outcome = error
        fired = faults.disarm()
        if fired is None:
            assert not isinstance(outcome, InjectedFault)
            return
        assert whole_view(orch) == before, f"fault {fired} changed the orchestrator"
        orch.check_invariants()
        yield fired, outcome
        n += 1


def assert_aborted(outcomes: list[tuple[str, object]], minimum: int) -> None:
    """Every faulted transition was ABORT, naming the injected fault."""
    assert len(outcomes) >= minimum
    for point, outcome in outcomes:
        assert isinstance(outcome, OrchestrationResult), point
        assert outcome.status is SetStateStatus.ABORT, point
        reason = outcome.details.reason
        assert reason == f"Error validating state: InjectedFault({point!r})"


def assert_raised(outcomes: list[tuple[str, object]], minimum: int) -> None:
    """Every faulted creation, update or delete raised the injected fault."""
    assert len(outcomes) >= minimum
    for point, outcome in outcomes:
        assert isinstance(outcome, InjectedFault), point
        assert str(outcome) == point


def populate(orch: Orchestrator) -> None:
    """Runs in several states, so every index holds neighbours of the run under test."""
    for offset in (600, 1200):
        orch.create_task_run("other", state=Scheduled(at(offset)), tags=["db"])
    running = orch.create_task_run("other", state=Running()).run
    done = orch.create_task_run("other", state=Running()).run
    orch.set_task_run_state(done.id, Completed(1))
    assert running.state_type is StateType.RUNNING


# -- task-run transitions -------------------------------------------------------------------------


def test_a_claim_is_all_or_nothing(orch: Orchestrator, faults: Faults) -> None:
    populate(orch)
    run = orch.create_task_run("t", state=Scheduled(at(900))).run
    outcomes = list(each_fault(orch, faults, lambda: orch.set_task_run_state(run.id, Pending())))
    assert_aborted(outcomes, minimum=10)
    assert {"before reindex_task_run", "after append_task_run_state", "after move"} <= {
        point for point, _ in outcomes
    }
    assert (run.state_name, run.next_scheduled_start_time) == ("Pending", None)
    assert [s.name for s in orch.read_task_run_states(run.id)] == ["Scheduled", "Pending"]
    orch.check_invariants()


def test_a_failed_start_gives_back_the_slot_it_took(orch: Orchestrator, faults: Faults) -> None:
    orch.create_concurrency_limit("db", 1)
    populate(orch)
    run = orch.create_task_run("t", tags=["db"]).run
    outcomes = list(each_fault(orch, faults, lambda: orch.set_task_run_state(run.id, Running())))
    assert_aborted(outcomes, minimum=6)
    assert orch.read_concurrency_limit("db").active_slots == {run.id}
    assert (run.state_name, run.run_count, run.start_time) == ("Running", 1, START)


def test_a_failed_completion_caches_nothing(
    orch: Orchestrator, clock: VirtualClock, faults: Faults
) -> None:
    populate(orch)
    run = orch.create_task_run("t", state=Running()).run
    clock.advance(30)
    details = StateDetails(cache_key="key", cache_expiration=at(3600))
    outcomes = list(
        each_fault(
            orch, faults, lambda: orch.set_task_run_state(run.id, Completed(7, details=details))
        )
    )
    assert_aborted(outcomes, minimum=10)
    assert orch.statistics().cache_entries == 1
    assert (run.state_name, run.end_time, run.total_run_time) == ("Completed", at(30), 30.0)


def test_a_failed_rerun_keeps_the_run_count(orch: Orchestrator, faults: Faults) -> None:
    populate(orch)
    run = orch.create_task_run("t", state=Running()).run
    orch.set_task_run_state(run.id, Completed())  # no result: the run may run again
    assert run.run_count == 1
    outcomes = list(each_fault(orch, faults, lambda: orch.set_task_run_state(run.id, Running())))
    assert_aborted(outcomes, minimum=10)
    assert (run.state_name, run.run_count, run.end_time) == ("Running", 1, None)


def test_a_failed_retry_leaves_the_failure_unrecorded(orch: Orchestrator, faults: Faults) -> None:
    populate(orch)
    policy = TaskRunPolicy(retries=1, retry_delay=60)
    run = orch.create_task_run("t", state=Running(), policy=policy).run
    outcomes = list(
        each_fault(orch, faults, lambda: orch.set_task_run_state(run.id, Failed(message="x")))
    )
    assert_aborted(outcomes, minimum=10)
    assert (run.state_name, run.next_scheduled_start_time) == ("AwaitingRetry", at(60))


def test_a_failed_background_schedule_queues_nothing(orch: Orchestrator, faults: Faults) -> None:
    populate(orch)
    run = orch.create_task_run("bg").run
    proposal = Scheduled(at(300), deferred=True)
    outcomes = list(each_fault(orch, faults, lambda: orch.set_task_run_state(run.id, proposal)))
    assert_aborted(outcomes, minimum=10)
    assert orch.task_queues.statistics().queued == 1
    assert run.next_scheduled_start_time == at(300)


def test_a_failed_reschedule_keeps_the_old_time(orch: Orchestrator, faults: Faults) -> None:
    populate(orch)
    run = orch.create_task_run("t", state=Scheduled(at(900))).run
    change = lambda: orch.set_task_run_state(run.id, Scheduled(at(100)), force=True)  # noqa: E731
    assert_aborted(list(each_fault(orch, faults, change)), minimum=8)
    assert (run.next_scheduled_start_time, run.expected_start_time) == (at(100), at(900))


# -- flow-run transitions -----------------------------------------------------------------------


def make_pool_run(orch: Orchestrator) -> FlowRun:
    flow = orch.create_flow("f")
    pool = orch.create_work_pool("pool")
    for offset in (60, 120):
        orch.create_flow_run(flow.id, state=Scheduled(at(offset)), work_pool_name=pool.name)
    return orch.create_flow_run(
        flow.id,
        state=Scheduled(at(90)),
        work_pool_name=pool.name,
        policy=FlowRunPolicy(retries=1, retry_delay=30),
    )


def test_flow_runs_move_between_work_queue_indexes_all_or_nothing(
    orch: Orchestrator, clock: VirtualClock, faults: Faults
) -> None:
    run = make_pool_run(orch)
    clock.advance(90)  # due: a flow run may not start before its scheduled time
    for proposal, name in ((Pending(), "Pending"), (Running(), "Running")):
        change = lambda p=proposal: orch.set_flow_run_state(run.id, p)  # noqa: E731
        outcomes = list(each_fault(orch, faults, change))
        assert_aborted(outcomes, minimum=8)
        assert run.state_name == name
    assert "after file" in {point for point, _ in outcomes}


def test_a_failed_flow_retry_keeps_the_policy(orch: Orchestrator, faults: Faults) -> None:
    run = make_pool_run(orch)
    orch.set_flow_run_state(run.id, Running(), force=True)
    change = lambda: orch.set_flow_run_state(run.id, Failed())  # noqa: E731
    assert_aborted(list(each_fault(orch, faults, change)), minimum=10)
    assert (run.state_name, run.empirical_policy.retry_type) == ("AwaitingRetry", "in_process")


def test_a_failed_resume_leaves_the_run_paused(orch: Orchestrator, faults: Faults) -> None:
    run = make_pool_run(orch)
    orch.set_flow_run_state(run.id, Running(), force=True)
    orch.set_flow_run_state(run.id, Paused(pause_timeout=at(3600)))
    assert not run.empirical_policy.resuming
    change = lambda: orch.set_flow_run_state(run.id, Running())  # noqa: E731
    assert_aborted(list(each_fault(orch, faults, change)), minimum=8)
    assert (run.state_name, run.run_count, run.empirical_policy.resuming) == ("Running", 1, False)


# -- creations, updates and deletes -------------------------------------------------------------


def test_a_failed_task_run_creation_creates_nothing(orch: Orchestrator, faults: Faults) -> None:
    populate(orch)
    decisions = orch.statistics().decisions
    change = lambda: orch.create_task_run("t", state=Scheduled(at(500)), tags=["db"])  # noqa: E731
    outcomes = list(each_fault(orch, faults, change))
    assert_raised(outcomes, minimum=20)
    assert orch.statistics().decisions == decisions + 1
    (created,) = orch.read_task_runs(task_runs=TaskRunFilter(task_key=["t"]))
    assert created.next_scheduled_start_time == at(500)


def test_a_failed_flow_run_creation_creates_nothing(orch: Orchestrator, faults: Faults) -> None:
    run = make_pool_run(orch)
    change = lambda: orch.create_flow_run(  # noqa: E731
        run.flow_id, state=Scheduled(at(45)), work_pool_name="pool"
    )
    assert_raised(list(each_fault(orch, faults, change)), minimum=20)
    due = orch.get_scheduled_flow_runs("pool", scheduled_before=LATER)
    assert [r.next_scheduled_start_time for r in due] == [at(45), at(60), at(90), at(120)]


def test_failed_updates_change_nothing(orch: Orchestrator, faults: Faults) -> None:
    populate(orch)
    task_run = orch.create_task_run("t").run
    flow_run = make_pool_run(orch)
    rename = lambda: orch.update_task_run(task_run.id, name="zzz")  # noqa: E731
    assert_raised(list(each_fault(orch, faults, rename)), minimum=4)
    assert orch.read_task_runs(sort=TaskRunSort.NAME_DESC)[0] is task_run
    relabel = lambda: orch.update_flow_run(flow_run.id, name="zzz", labels={"a": "b"})  # noqa: E731
    assert_raised(list(each_fault(orch, faults, relabel)), minimum=4)
    assert orch.read_flow_runs(sort=FlowRunSort.NAME_DESC)[0] is flow_run
    # The flow's id label is automatic (issue 10).
    assert flow_run.labels == {"orchestrator.flow.id": str(flow_run.flow_id), "a": "b"}


def test_a_failed_task_run_delete_deletes_nothing(orch: Orchestrator, faults: Faults) -> None:
    orch.create_concurrency_limit("db", 2)
    populate(orch)
    run = orch.create_task_run("t", tags=["db"]).run
    orch.set_task_run_state(run.id, Running())
    change = lambda: orch.delete_task_run(run.id)  # noqa: E731
    assert_raised(list(each_fault(orch, faults, change)), minimum=10)
    assert orch.count_task_runs(task_runs=TaskRunFilter(task_key=["t"])) == 0
    assert orch.read_concurrency_limit("db").active_slots == frozenset()
    orch.check_invariants()


def test_a_failed_flow_run_delete_can_be_finished(
    orch: Orchestrator, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each run's removal is all or nothing; a flow run's task runs go one by one first,
    # so a fault may leave some of them deleted, the rest and the flow run whole.
    run = make_pool_run(orch)
    orch.set_flow_run_state(run.id, Running(), force=True)
    for key in ("a", "b", "c"):
        orch.create_task_run(key, flow_run_id=run.id, state=Running())
    n = 1
    while True:
        faults.arm(n)
        try:
            orch.delete_flow_run(run.id)
        except InjectedFault:
            faults.disarm()
            orch.check_invariants()
            assert orch.read_flow_run(run.id) is run
            assert len(orch.read_flow_run_states(run.id)) == 2
            n += 1
            continue
        assert faults.disarm() is None
        break
    assert n > 10
    assert (orch.statistics().task_runs, orch.statistics().flow_runs) == (0, 2)
    orch.check_invariants()


# -- what a rule may break ----------------------------------------------------------------------


def scheduling_into(value: Any) -> Any:
    @rule(to_states=[StateType.SCHEDULED])
    def set_scheduled_time(ctx: TransitionContext) -> None:
        ctx.update_details(scheduled_time=value)

    return set_scheduled_time


@pytest.mark.parametrize("bad_time", ["later", datetime(2026, 1, 2)])
def test_a_rule_that_breaks_the_proposal_aborts_it_and_changes_nothing(bad_time: Any) -> None:
    # The case, now reachable only through a rule (the public calls refuse the
    # proposal itself): a scheduled time the index cannot order, with another
    # scheduled run present. The commit is undone; the run can still be deleted.
    breaking = policies.core_task_policy() + scheduling_into(bad_time)
    orch = Orchestrator(clock=VirtualClock(START), seed=3, task_policy=breaking)
    other = orch.create_task_run("t", state=Scheduled(at(60))).run
    run = orch.create_task_run("t").run
    before = whole_view(orch)
    result = orch.set_task_run_state(run.id, Scheduled(at(120)))
    assert result.status is SetStateStatus.ABORT
    reason = result.details.reason
    assert isinstance(reason, str)
    assert reason.startswith("Error validating state: TypeError(")
    assert result.state is run.state
    assert whole_view(orch) == before
    orch.check_invariants()
    orch.delete_task_run(run.id)
    orch.delete_task_run(other.id)
    orch.check_invariants()
    assert orch.statistics().task_runs == 0


def test_a_proposal_refused_up_front_never_reaches_the_rules(orch: Orchestrator) -> None:
    seen: list[object] = []

    @rule()
    def spy(ctx: TransitionContext) -> None:
        seen.append(ctx.proposed)

    spying = Orchestrator(
        clock=VirtualClock(START), seed=1, task_policy=policies.core_task_policy() + spy
    )
    run = spying.create_task_run("t").run
    with pytest.raises(InvalidArgument, match="scheduled_time"):
        spying.set_task_run_state(run.id, Scheduled(scheduled_time="later"))  # type: ignore[arg-type]
    assert seen == []
    assert spying.read_decisions(run.id)[-1].proposed_type is StateType.PENDING


# -- any transition, any fault -------------------------------------------------------------------

PROPOSALS: list[Callable[[], State]] = [
    lambda: Scheduled(at(120)),
    lambda: Scheduled(at(60), deferred=True),
    lambda: AwaitingRetry(at(30)),
    Pending,
    Running,
    lambda: Completed(5, details=StateDetails(cache_key="key", cache_expiration=at(600))),
    Completed,
    lambda: Failed(message="boom"),
    Crashed,
    Cancelling,
    Cancelled,
    lambda: Paused(pause_timeout=at(900)),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flow=st.booleans(),
    path=st.lists(st.tuples(st.sampled_from(PROPOSALS), st.booleans()), max_size=5),
    last=st.sampled_from(PROPOSALS),
    force=st.booleans(),
    fault=st.integers(min_value=1, max_value=24),
)
def test_any_transition_with_a_fault_anywhere_changes_nothing(
    flow: bool,
    path: list[tuple[Callable[[], State], bool]],
    last: Callable[[], State],
    force: bool,
    fault: int,
) -> None:
    clock = VirtualClock(START)
    orch = Orchestrator(clock=clock, seed=5)
    orch.create_concurrency_limit("db", 1)
    populate(orch)
    pool_run = make_pool_run(orch)
    run: TaskRun | FlowRun = pool_run
    if not flow:
        policy = TaskRunPolicy(retries=1, retry_delay=10)
        run = orch.create_task_run("t", tags=["db"], policy=policy).run

    def propose(state: State, forced: bool) -> OrchestrationResult:
        if isinstance(run, FlowRun):
            return orch.set_flow_run_state(run.id, state, force=forced)
        return orch.set_task_run_state(run.id, state, force=forced)

    for make, forced in path:
        propose(make(), forced)
        clock.advance(15)
    with pytest.MonkeyPatch.context() as patch:
        faults = Faults(patch)
        before = whole_view(orch)
        faults.arm(fault)
        result = propose(last(), force)
        fired = faults.disarm()
    event("faulted" if fired is not None else f"ran through: {result.status.name}")
    if fired is not None:
        assert result.status is SetStateStatus.ABORT
        assert result.state is run.state
        assert whole_view(orch) == before
    orch.check_invariants()

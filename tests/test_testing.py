"""orchestrator.testing: assertions, factories, the teardown guard and check_rule.

These tests use the plugin's own ``orchestrator`` and ``orchestrator_clock`` fixtures (a
fresh Orchestrator with seed 0 on a VirtualClock starting 2026-01-01 UTC).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import anyio
import pytest

from orchestrator import (
    AwaitingRetry,
    Completed,
    Failed,
    FlowRun,
    InvalidArgument,
    ObjectNotFound,
    Orchestrator,
    Pending,
    Rule,
    Running,
    Scheduled,
    SetStateStatus,
    StateType,
    TaskRun,
    TransitionContext,
    VirtualClock,
    WorkerError,
    rule,
)
from orchestrator._display import runs_table
from orchestrator._engine._futures import TaskRunFuture
from orchestrator.policies import (
    RetryFailedTasks,
    background_task_policy,
    core_flow_policy,
    core_task_policy,
    minimal_flow_policy,
    minimal_task_policy,
)
from orchestrator.testing import (
    UNFINISHED_TYPES,
    RunRef,
    assert_all_finished,
    assert_decided,
    assert_state_times,
    assert_states,
    check_rule,
    find_decisions,
    make_flow_run,
    make_task_run,
    state_times,
    unfinished_runs,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def fail_and_retry(orchestrator: Orchestrator, clock: VirtualClock, run: TaskRun) -> None:
    """Fail the run 30 s into its attempt, then start the retry when it is due."""
    clock.advance(30)
    orchestrator.set_task_run_state(run.id, Failed(message="boom"))
    clock.advance(600)
    orchestrator.set_task_run_state(run.id, Running())


# -- assert_states and state_times ----------------------------------------------------------


def test_assert_states_accepts_names_and_types_and_returns_the_states(
    orchestrator: Orchestrator,
) -> None:
    run = make_task_run(orchestrator, "COMPLETED")
    states = assert_states(orchestrator, run, ["Pending", StateType.RUNNING, "Completed"])
    assert [s.name for s in states] == ["Pending", "Running", "Completed"]


def test_assert_states_finds_the_run_by_id_string_record_or_future(
    orchestrator: Orchestrator,
) -> None:
    run = make_task_run(orchestrator, "PENDING")
    refs: list[RunRef] = [run, run.id, str(run.id), TaskRunFuture(orchestrator, run.id)]
    for ref in refs:
        assert_states(orchestrator, ref, ["Pending"])


def test_a_type_matches_every_name_of_that_type_but_a_name_only_itself(
    orchestrator: Orchestrator,
) -> None:
    run = make_task_run(orchestrator, AwaitingRetry(), walk=False)
    assert_states(orchestrator, run, [StateType.SCHEDULED])
    assert_states(orchestrator, run, ["AwaitingRetry"])
    with pytest.raises(AssertionError, match="expected Scheduled, got AwaitingRetry"):
        assert_states(orchestrator, run, ["Scheduled"])


def test_assert_states_failure_shows_both_lists_the_history_and_the_decisions(
    orchestrator: Orchestrator, orchestrator_clock: VirtualClock
) -> None:
    run = make_task_run(orchestrator, "RUNNING", name="load", retries=1, retry_delay=600)
    orchestrator_clock.advance(30)
    orchestrator.set_task_run_state(run.id, Failed(message="boom"))
    with pytest.raises(AssertionError) as caught:
        assert_states(orchestrator, run, ["Pending", "Running", "Failed"])
    message = str(caught.value)
    assert message.startswith(
        f"task run 'load' ({run.id}) went through other states than expected\n"
        "  expected: Pending, Running, Failed\n"
        "  actual:   Pending, Running, AwaitingRetry\n"
        "  first difference at #2: expected Failed, got AwaitingRetry (SCHEDULED)\n"
        "\n"
        "State history (oldest first)\n"
    )
    assert "2  2026-01-01 00:00:30Z  +30 s   AwaitingRetry  SCHEDULED  boom" in message
    assert "REJECT           AwaitingRetry (SCHEDULED)  RetryFailedTasks  Retrying" in message


def test_assert_states_says_when_the_history_is_shorter_or_longer(
    orchestrator: Orchestrator,
) -> None:
    run = make_task_run(orchestrator, "RUNNING")
    with pytest.raises(AssertionError, match="the run has 2 states; expected 3"):
        assert_states(orchestrator, run, ["Pending", "Running", "Completed"])
    with pytest.raises(AssertionError, match="the run has 2 states; expected only 1"):
        assert_states(orchestrator, run, ["Pending"])


def test_assert_states_works_for_flow_runs(orchestrator: Orchestrator) -> None:
    flow_run = make_flow_run(orchestrator, "COMPLETED")
    assert_states(orchestrator, flow_run.id, ["Pending", "Running", "Completed"])
    with pytest.raises(AssertionError, match=r"^flow run 'flow-run-"):
        assert_states(orchestrator, flow_run, ["Pending"])


def test_assert_states_refuses_bad_arguments_and_unknown_runs(orchestrator: Orchestrator) -> None:
    run = make_task_run(orchestrator)
    with pytest.raises(InvalidArgument, match=r"not the string 'Pending'; write \['Pending'\]"):
        assert_states(orchestrator, run, "Pending")
    with pytest.raises(InvalidArgument, match="its StateType, got 3"):
        assert_states(orchestrator, run, [3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument, match="expected a run"):
        assert_states(orchestrator, "not-an-id", ["Pending"])
    with pytest.raises(InvalidArgument, match="expected a run"):
        assert_states(orchestrator, 42, ["Pending"])  # type: ignore[arg-type]
    missing = uuid.UUID(int=7)
    with pytest.raises(ObjectNotFound, match="neither a task run nor a flow run"):
        assert_states(orchestrator, missing, ["Pending"])


def test_state_times_lists_names_and_exact_virtual_times(
    orchestrator: Orchestrator, orchestrator_clock: VirtualClock
) -> None:
    run = make_task_run(orchestrator, "RUNNING", retries=1, retry_delay=600)
    fail_and_retry(orchestrator, orchestrator_clock, run)
    assert state_times(orchestrator, run) == [
        ("Pending", START),
        ("Running", START),
        ("AwaitingRetry", START + timedelta(seconds=30)),
        ("Retrying", START + timedelta(seconds=630)),
    ]


# -- assert_state_times ------------------------------------------------------------------------


def test_five_retries_ten_minutes_apart_happen_at_exactly_the_expected_times(
    orchestrator: Orchestrator, orchestrator_clock: VirtualClock
) -> None:
    # Given a run with 5 retries 10 minutes apart that fails 30 s into each attempt
    run = make_task_run(orchestrator, "RUNNING", retries=5, retry_delay=600)
    for _ in range(5):
        fail_and_retry(orchestrator, orchestrator_clock, run)
    orchestrator_clock.advance(30)
    orchestrator.set_task_run_state(run.id, Completed(42))
    # Expect every state at its exact virtual time
    expected: list[tuple[str | StateType, datetime | float]] = [("Pending", 0), ("Running", 0)]
    for attempt in range(5):
        expected += [("AwaitingRetry", attempt * 630 + 30), ("Retrying", (attempt + 1) * 630)]
    expected.append(("Completed", START + timedelta(seconds=5 * 630 + 30)))
    assert_state_times(orchestrator, run, expected)
    assert orchestrator.read_task_run(run.id).run_count == 6


def test_assert_state_times_failure_marks_each_differing_line(
    orchestrator: Orchestrator, orchestrator_clock: VirtualClock
) -> None:
    run = make_task_run(orchestrator, "RUNNING", retries=1, retry_delay=600, name="load")
    fail_and_retry(orchestrator, orchestrator_clock, run)
    with pytest.raises(AssertionError) as caught:
        assert_state_times(
            orchestrator,
            run,
            [("Pending", START), ("Running", 1), (StateType.SCHEDULED, 30), ("Retrying", 630)],
        )
    lines = str(caught.value).splitlines()
    assert lines[0] == f"task run 'load' ({run.id}): states or times differ"
    assert lines[1] == (
        "  #0: expected Pending at 2026-01-01 00:00:00Z          "
        "got Pending at 2026-01-01 00:00:00Z (+0 s)"
    )
    assert lines[2].endswith("got Running at 2026-01-01 00:00:00Z (+0 s)   <-- differs")
    assert lines[3].endswith("(+30 s)")
    assert lines[4].endswith("(+630 s)")
    assert "State history (oldest first)" in lines


def test_assert_state_times_fails_on_a_missing_or_an_extra_state(
    orchestrator: Orchestrator,
) -> None:
    run = make_task_run(orchestrator, "RUNNING")
    with pytest.raises(AssertionError, match=r"#2: expected Completed at \+0 s\s+got -"):
        assert_state_times(orchestrator, run, [("Pending", 0), ("Running", 0), ("Completed", 0)])
    with pytest.raises(AssertionError, match=r"#1: expected -\s+got Running"):
        assert_state_times(orchestrator, run, [("Pending", 0)])


def test_assert_state_times_refuses_malformed_entries(orchestrator: Orchestrator) -> None:
    run = make_task_run(orchestrator)
    bad: list[Any] = [
        (("Pending",), r"a \(state, time\) pair, got \('Pending',\)"),
        ("Pending", r"a \(state, time\) pair, got 'Pending'"),
        (("Pending", datetime(2026, 1, 1)), "has no timezone"),
        (("Pending", True), "seconds after the first state"),
        (("Pending", "0"), "seconds after the first state"),
    ]
    for entry, message in bad:
        with pytest.raises(InvalidArgument, match=message):
            assert_state_times(orchestrator, run, [entry])


# -- find_decisions and assert_decided -----------------------------------------------------------


def test_find_decisions_filters_on_every_criterion(
    orchestrator: Orchestrator, orchestrator_clock: VirtualClock
) -> None:
    run = make_task_run(orchestrator, "RUNNING", retries=1, retry_delay=600)
    fail_and_retry(orchestrator, orchestrator_clock, run)
    assert len(find_decisions(orchestrator, run)) == 4
    rejected = find_decisions(orchestrator, run, status="reject")
    assert [d.rule for d in rejected] == ["RetryFailedTasks"]
    for criteria in (
        {"status": SetStateStatus.REJECT},
        {"rule": "RetryFailedTasks"},
        {"rule": RetryFailedTasks},
        {"rule": RetryFailedTasks()},
        {"proposed": "Failed"},
        {"proposed": StateType.FAILED},
        {"state": "AwaitingRetry"},
        {"reason": "Retry"},
    ):
        assert find_decisions(orchestrator, run, **criteria) == rejected, criteria
    assert find_decisions(orchestrator, run, status="WAIT") == []
    assert find_decisions(orchestrator, run, reason="nothing like it") == []
    accepted_running = find_decisions(orchestrator, run, status="ACCEPT", state=StateType.RUNNING)
    assert [d.state_name for d in accepted_running] == ["Running", "Retrying"]


def test_assert_decided_returns_the_latest_match(
    orchestrator: Orchestrator, orchestrator_clock: VirtualClock
) -> None:
    run = make_task_run(orchestrator, "RUNNING", retries=2, retry_delay=600)
    fail_and_retry(orchestrator, orchestrator_clock, run)
    fail_and_retry(orchestrator, orchestrator_clock, run)
    decision = assert_decided(orchestrator, run, status="REJECT", rule=RetryFailedTasks)
    assert decision.timestamp == START + timedelta(seconds=660)
    assert decision.reason == "Retrying"


def test_assert_decided_failure_lists_the_criteria_and_the_log(
    orchestrator: Orchestrator,
) -> None:
    run = make_task_run(orchestrator, "RUNNING", name="load")
    with pytest.raises(AssertionError) as caught:
        assert_decided(orchestrator, run, status="WAIT", rule=RetryFailedTasks, reason="slot")
    message = str(caught.value)
    assert message.startswith(
        f"no decision on task run 'load' ({run.id}) matches "
        "status='WAIT', rule='RetryFailedTasks', reason='slot'\n\nState history"
    )
    assert "Decision log\n" in message


def test_assertions_say_when_the_decision_log_is_off() -> None:
    orchestrator = Orchestrator(VirtualClock(), seed=0, keep_decisions=False)
    run = make_task_run(orchestrator, "RUNNING")
    with pytest.raises(AssertionError, match=r"Decision log: empty \(was the orchestrator built"):
        assert_decided(orchestrator, run, status="ACCEPT")


def test_decision_criteria_of_the_wrong_kind_are_refused(orchestrator: Orchestrator) -> None:
    run = make_task_run(orchestrator)
    with pytest.raises(InvalidArgument, match="one of 'ACCEPT', 'REJECT', 'WAIT', 'ABORT'"):
        find_decisions(orchestrator, run, status="maybe")
    with pytest.raises(InvalidArgument, match="a Rule class, got 3"):
        find_decisions(orchestrator, run, rule=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="its StateType"):
        assert_decided(orchestrator, run, proposed=1.5)  # type: ignore[arg-type]


# -- factories -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "path"),
    [
        (None, ["Pending"]),
        ("scheduled", ["Scheduled"]),
        (StateType.PENDING, ["Pending"]),
        ("RUNNING", ["Pending", "Running"]),
        ("Completed", ["Pending", "Running", "Completed"]),
        (StateType.FAILED, ["Pending", "Running", "Failed"]),
        (StateType.CRASHED, ["Pending", "Running", "Crashed"]),
        (StateType.CANCELLING, ["Pending", "Running", "Cancelling"]),
        (StateType.CANCELLED, ["Pending", "Running", "Cancelled"]),
        (StateType.PAUSED, ["Pending", "Running", "Paused"]),
        (AwaitingRetry(), ["AwaitingRetry"]),
    ],
    ids=str,
)
def test_make_task_run_walks_the_usual_path(
    orchestrator: Orchestrator, state: Any, path: list[str]
) -> None:
    run = make_task_run(orchestrator, state)
    assert_states(orchestrator, run, path)
    assert run.run_count == (1 if "Running" in path else 0)
    assert all(d.forced for d in orchestrator.read_decisions(run.id))


def test_make_task_run_without_walking_and_with_fields(orchestrator: Orchestrator) -> None:
    parent = make_flow_run(orchestrator, "RUNNING")
    run = make_task_run(
        orchestrator,
        Completed(42),
        walk=False,
        task_key="etl.load",
        flow_run=parent,
        name="load",
        tags=["db"],
        retries=3,
        retry_delay=[1, 2],
        retry_jitter_factor=0.5,
        cache_key="k",
        labels={"team": "data"},
    )
    assert_states(orchestrator, run, ["Completed"])
    assert run.state is not None
    assert run.state.data == 42
    assert (run.task_key, run.flow_run_id, run.name, run.tags) == (
        "etl.load",
        parent.id,
        "load",
        frozenset({"db"}),
    )
    assert run.empirical_policy.retries == 3
    assert run.empirical_policy.retry_delay == (1.0, 2.0)
    assert run.empirical_policy.retry_jitter_factor == 0.5
    assert run.cache_key == "k"
    assert run.labels["team"] == "data"
    child = make_task_run(orchestrator, flow_run=parent.id)
    assert child.flow_run_id == parent.id


def test_make_task_run_refuses_bad_states_and_creates_nothing(orchestrator: Orchestrator) -> None:
    with pytest.raises(InvalidArgument, match="'AwaitingRetry' is not a state type"):
        make_task_run(orchestrator, "AwaitingRetry")
    with pytest.raises(InvalidArgument, match="got 3"):
        make_task_run(orchestrator, 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="retries"):
        make_task_run(orchestrator, retries=-1)
    assert orchestrator.count_task_runs() == 0


def test_make_flow_run_creates_its_flow_once(orchestrator: Orchestrator) -> None:
    first = make_flow_run(orchestrator, "RUNNING", parameters={"x": 1}, tags=["nightly"])
    second = make_flow_run(orchestrator, Scheduled(START + MINUTE), walk=False, retries=2)
    assert first.flow_id == second.flow_id
    assert orchestrator.read_flow(first.flow_id).name == "my-flow"
    assert_states(orchestrator, first, ["Pending", "Running"])
    assert_states(orchestrator, second, ["Scheduled"])
    assert first.parameters == {"x": 1}
    assert first.tags == frozenset({"nightly"})
    assert second.empirical_policy.retries == 2
    assert second.next_scheduled_start_time == START + MINUTE


# -- the teardown guard ------------------------------------------------------------------------


def test_unfinished_runs_are_the_scheduled_pending_running_and_cancelling_ones(
    orchestrator: Orchestrator,
) -> None:
    assert (
        frozenset({StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})
        == UNFINISHED_TYPES
    )
    unfinished = [
        make_task_run(orchestrator, state)
        for state in ("SCHEDULED", "PENDING", "RUNNING", "CANCELLING")
    ]
    for state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED", "PAUSED"):
        make_task_run(orchestrator, state)
    flow_run = make_flow_run(orchestrator, "RUNNING")
    make_flow_run(orchestrator, "COMPLETED")
    found = unfinished_runs(orchestrator)
    assert {r.id for r in found[:4]} == {r.id for r in unfinished}
    assert found[4] is flow_run
    assert len(found) == 5


def test_assert_all_finished_names_each_run_and_its_last_decision(
    orchestrator: Orchestrator, orchestrator_clock: VirtualClock
) -> None:
    assert_all_finished(orchestrator)
    run = make_task_run(orchestrator, "RUNNING", name="load", retries=1, retry_delay=600)
    orchestrator_clock.advance(30)
    orchestrator.set_task_run_state(run.id, Failed())
    with pytest.raises(AssertionError) as caught:
        assert_all_finished(orchestrator)
    assert str(caught.value).splitlines()[:3] == [
        "1 run was left unfinished (the clock reads 2026-01-01 00:00:30Z):",
        f"- task run 'load' ({run.id}) is AwaitingRetry since 2026-01-01 00:00:30Z, "
        "due 2026-01-01 00:10:30Z",
        "    last decision: 2026-01-01T00:00:30+00:00 RUNNING -> Failed: REJECT "
        "(run is AwaitingRetry) by RetryFailedTasks: Retrying",
    ]
    make_flow_run(orchestrator, "PENDING")
    with pytest.raises(AssertionError, match=r"^2 runs were left unfinished"):
        assert_all_finished(orchestrator)


def test_assert_all_finished_names_the_workers_still_serving(orchestrator: Orchestrator) -> None:
    class FakeWorker:
        def __repr__(self) -> str:
            return "<FakeWorker serving k>"

    worker = FakeWorker()
    orchestrator.activity.add_worker(worker)
    with pytest.raises(AssertionError) as caught:
        assert_all_finished(orchestrator)
    assert str(caught.value).splitlines()[:2] == [
        "1 worker is still serving:",
        "- <FakeWorker serving k>",
    ]
    make_task_run(orchestrator, "RUNNING", name="r")
    orchestrator.activity.add_worker(FakeWorker())
    with pytest.raises(AssertionError) as caught:
        assert_all_finished(orchestrator)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("1 run was left unfinished")
    assert lines[3:6] == [
        "2 workers are still serving:",
        "- <FakeWorker serving k>",
        "- <FakeWorker serving k>",
    ]
    orchestrator.activity.remove_worker(worker)


def test_the_guard_works_without_a_decision_log() -> None:
    orchestrator = Orchestrator(VirtualClock(), seed=0, keep_decisions=False)
    run = make_task_run(orchestrator, "PENDING", name="p")
    with pytest.raises(AssertionError) as caught:
        assert_all_finished(orchestrator)
    assert str(caught.value).splitlines()[1] == (
        f"- task run 'p' ({run.id}) is Pending since 2026-01-01 00:00:00Z"
    )


# -- check_rule -------------------------------------------------------------------------------

_TASK_POLICIES = [core_task_policy(), background_task_policy(), minimal_task_policy()]
_FLOW_POLICIES = [core_flow_policy(), minimal_flow_policy()]


def _flow_run() -> FlowRun:
    return FlowRun(
        id=uuid.UUID(int=1), name="f", flow_id=uuid.UUID(int=2), created=START, updated=START
    )


@pytest.mark.parametrize("item", [r for p in _TASK_POLICIES for r in p], ids=lambda r: r.name)
def test_every_built_in_task_rule_keeps_the_contract(item: Rule) -> None:
    assert check_rule(item)


@pytest.mark.parametrize("item", [r for p in _FLOW_POLICIES for r in p], ids=lambda r: r.name)
def test_every_built_in_flow_rule_keeps_the_contract(item: Rule) -> None:
    assert check_rule(item, make_run=_flow_run)


def test_check_rule_returns_the_status_of_each_declared_transition() -> None:
    outcomes = check_rule(RetryFailedTasks())
    assert outcomes == {(StateType.RUNNING, StateType.FAILED): SetStateStatus.REJECT}

    @rule(from_states=[StateType.PENDING], to_states=[StateType.RUNNING, None])
    def no_running(ctx: TransitionContext) -> None:
        if ctx.proposed is not None:
            ctx.abort("not today")

    assert check_rule(no_running, now=START + MINUTE, seed=3) == {
        (StateType.PENDING, StateType.RUNNING): SetStateStatus.ABORT,
        (StateType.PENDING, None): SetStateStatus.ACCEPT,
    }


def test_check_rule_reports_a_rule_that_raises() -> None:
    @rule(from_states=[StateType.RUNNING], to_states=[StateType.COMPLETED])
    def broken(ctx: TransitionContext) -> None:
        raise KeyError("oops")

    with pytest.raises(AssertionError) as caught:
        check_rule(broken)
    assert str(caught.value) == (
        "rule 'broken' breaks the rule contract:\n"
        "- RUNNING -> COMPLETED: before raised KeyError('oops')"
    )


class _MutatesAfter(Rule):
    from_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.PENDING})
    to_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.RUNNING})

    def after(self, ctx: TransitionContext) -> None:
        ctx.abort("too late")


class _BadCleanup(Rule):
    from_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.PENDING})
    to_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.RUNNING})

    def cleanup(self, ctx: TransitionContext) -> None:
        raise RuntimeError("cannot undo")


def test_check_rule_reports_a_mutator_used_after_commit_and_a_failing_cleanup() -> None:
    with pytest.raises(AssertionError, match=r"after raised .*mutators refuse to work later"):
        check_rule(_MutatesAfter())
    with pytest.raises(
        AssertionError, match=r"PENDING -> RUNNING: cleanup \(or after\) raised RuntimeError"
    ):
        check_rule(_BadCleanup())


class _Counting(Rule):
    """Rejects every second proposal: state kept on the rule."""

    from_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.RUNNING})
    to_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.COMPLETED})

    def __init__(self) -> None:
        self.calls = 0

    def before(self, ctx: TransitionContext) -> None:
        self.calls += 1
        if self.calls % 2 == 0:
            ctx.reject(None, "every other time")


def test_check_rule_reports_state_kept_on_the_rule() -> None:
    with pytest.raises(AssertionError) as caught:
        check_rule(_Counting())
    assert str(caught.value) == (
        "rule '_Counting' breaks the rule contract:\n"
        "- RUNNING -> COMPLETED: the same proposal got ACCEPT, leaving Completed the first "
        "time and REJECT, leaving Running the second; keep per-transition data in "
        "ctx.parameters, not on the rule\n"
        "- it kept state between transitions (keep per-transition data in ctx.parameters): "
        "calls: 0 -> 3"
    )


def test_check_rule_sees_state_kept_in_a_closure_or_a_default() -> None:
    seen: list[object] = []

    @rule(to_states=[StateType.RUNNING])
    def remembers(ctx: TransitionContext) -> None:
        seen.append(ctx.initial_type)

    with pytest.raises(AssertionError, match=r"_function.<closure 0>: \[\] -> \["):
        check_rule(remembers)

    @rule(to_states=[StateType.RUNNING])
    def with_default(ctx: TransitionContext, memo: list[object] = []) -> None:  # noqa: B006
        memo.append(1)

    with pytest.raises(AssertionError, match=r"_function.<defaults>: \(\[\],\) -> \(\[1,"):
        check_rule(with_default)


def test_check_rule_reports_a_negative_wait_and_a_rule_for_no_transition() -> None:
    @rule(from_states=[StateType.SCHEDULED], to_states=[StateType.PENDING])
    def waits_backwards(ctx: TransitionContext) -> None:
        ctx.wait(-5, "back in time")

    # ctx.wait itself refuses the delay now (issue 9); check_rule reports the refusal.
    with pytest.raises(
        AssertionError,
        match=r"before raised ArgumentValueError\('delay_seconds must be a number of seconds >= 0",
    ):
        check_rule(waits_backwards)

    @rule(from_states=[], to_states=[StateType.PENDING])
    def never(ctx: TransitionContext) -> None:
        raise AssertionError("never called")

    with pytest.raises(AssertionError, match="it applies to no transition"):
        check_rule(never)


class _SlotsAndOddValues(Rule):
    """A rule with a string ``__slots__`` and attributes that resist copying and comparing."""

    __slots__ = "memo"
    from_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.PENDING})
    to_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.RUNNING})

    def __init__(self, memo: object) -> None:
        self.memo = memo


class _Incomparable:
    def __eq__(self, other: object) -> bool:
        raise TypeError("no comparing")

    __hash__ = None  # type: ignore[assignment]


def test_check_rule_reads_slots_and_tolerates_odd_attribute_values() -> None:
    assert check_rule(_SlotsAndOddValues(threading.Lock()))  # cannot be deep-copied
    assert check_rule(_SlotsAndOddValues(_Incomparable()))  # cannot be compared
    assert check_rule(_SlotsAndOddValues.__new__(_SlotsAndOddValues))  # an unset slot

    class Remembering(_SlotsAndOddValues):
        __slots__ = ()

        def before(self, ctx: TransitionContext) -> None:
            assert isinstance(self.memo, list)
            self.memo.append(ctx.status)

    with pytest.raises(AssertionError, match=r"memo: \[\] -> \[SetStateStatus.ACCEPT"):
        check_rule(Remembering([]))


def test_check_rule_skips_empty_closure_cells_and_serves_limits() -> None:
    def make() -> Rule:
        later: int  # declared, never assigned: the closure cell stays empty

        @rule(from_states=[StateType.PENDING], to_states=[StateType.RUNNING])
        def reads(ctx: TransitionContext) -> None:
            if ctx.services.read_concurrency_limit("check-rule") is not None:
                ctx.abort(str(later))  # noqa: F821 - the empty cell is the point

        return reads

    assert check_rule(make()) == {(StateType.PENDING, StateType.RUNNING): SetStateStatus.ACCEPT}


class _RaisesTheSecondTime(Rule):
    from_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.PENDING})
    to_states: ClassVar[frozenset[StateType | None]] = frozenset({StateType.RUNNING})

    def __init__(self) -> None:
        self.seen = False

    def before(self, ctx: TransitionContext) -> None:
        if self.seen:
            raise RuntimeError("second time")
        self.seen = True


def test_check_rule_reports_a_rule_that_raises_only_the_second_time() -> None:
    with pytest.raises(AssertionError) as caught:
        check_rule(_RaisesTheSecondTime())
    assert str(caught.value).splitlines()[1:] == [
        "- PENDING -> RUNNING: before raised RuntimeError('second time')",
        "- it kept state between transitions (keep per-transition data in ctx.parameters): "
        "seen: False -> True",
    ]


class _Nameless(Rule):
    @property
    def name(self) -> str:
        return ""


def test_check_rule_wants_a_rule_with_a_name() -> None:
    with pytest.raises(AssertionError, match="its name is ''"):
        check_rule(_Nameless())
    with pytest.raises(TypeError, match="decorate functions with @rule"):
        check_rule(lambda ctx: None)  # type: ignore[arg-type]


def test_check_rule_uses_the_given_run_and_services() -> None:
    made: list[TaskRun] = []

    def make_run() -> TaskRun:
        run = TaskRun(
            id=uuid.UUID(int=len(made) + 1),
            name="mine",
            task_key="k",
            dynamic_key="0",
            created=START,
            updated=START,
        )
        made.append(run)
        return run

    @rule(from_states=[StateType.RUNNING], to_states=[StateType.COMPLETED])
    def needs_the_key(ctx: TransitionContext) -> None:
        if ctx.task_run.task_key != "k":
            ctx.abort("wrong run")

    assert check_rule(needs_the_key, make_run=make_run) == {
        (StateType.RUNNING, StateType.COMPLETED): SetStateStatus.ACCEPT
    }
    # alone, again, and followed by a changing rule; for a bare and an enriched proposal
    assert len(made) == 6


# -- a running event loop (Jupyter) ----------------------------------------------------------


async def test_inside_a_running_event_loop_everything_has_an_await_form(
    orchestrator: Orchestrator,
) -> None:
    # Given a run and its future, inside the test's event loop (as in a notebook cell)
    run = make_task_run(orchestrator, "RUNNING")
    future: TaskRunFuture[int] = TaskRunFuture(orchestrator, run.id)
    # The blocking form refuses, pointing at the await form
    with pytest.raises(WorkerError, match=r"use `await future.wait_async\(\)`"):
        future.result()
    # Displaying and asserting are plain calls that never wait
    assert "Running" in runs_table([run])._repr_html_()
    results: list[int] = []
    async with anyio.create_task_group() as group:

        async def wait_for_it() -> None:
            results.append(await future.aresult())

        group.start_soon(wait_for_it)
        await anyio.wait_all_tasks_blocked()  # the waiter is parked on the future
        assert results == []
        orchestrator.set_task_run_state(run.id, Completed(7))
    assert results == [7]
    assert future.result() == 7
    assert_states(orchestrator, run, ["Pending", "Running", "Completed"])


def test_pending_constructor_is_accepted_as_a_factory_state(orchestrator: Orchestrator) -> None:
    run = make_task_run(orchestrator, Pending(name="Submitting"))
    assert_states(orchestrator, run, ["Submitting"])


def test_the_testing_namespace_exports_exactly_its_public_names() -> None:
    import inspect

    import orchestrator.testing as testing

    public = {
        name
        for name, value in vars(testing).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(testing.__all__) == public
    assert isinstance(testing.__all__, tuple)
    assert list(testing.__all__) == sorted(testing.__all__)
    for name in testing.__all__:
        value = getattr(testing, name)
        if inspect.isfunction(value):
            assert value.__module__ == "orchestrator.testing", name
            assert inspect.getdoc(value), name

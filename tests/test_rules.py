"""The rule machinery: entering, fizzling, invalidating, committing and unwinding rules.

Recording rules log every hook they run, so each test asserts the exact sequence of
hooks a policy ran, and what the transition committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs
import pytest

from orchestrator import (
    Completed,
    Failed,
    Pending,
    Policy,
    Rule,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateType,
    TransitionContext,
    VirtualClock,
    rule,
)
from orchestrator._core._outcomes import (
    AbortDetails,
    AcceptDetails,
    OrchestrationResult,
    RejectDetails,
    WaitDetails,
    new_result,
)
from orchestrator._core._states import ALL_STATE_TYPES
from orchestrator._rules._context import run_transition
from tests.helpers import (
    ABORT,
    ACCEPT,
    REJECT,
    WAIT,
    StubServices,
    make_context,
    make_flow_run,
    make_task_run,
    run_rules,
)

Action = Callable[[TransitionContext], None]
Log = list[tuple[str, str]]


class Recorder(Rule):
    """Logs ``(label, hook)`` for every hook it runs; ``action`` runs in ``before``."""

    def __init__(
        self,
        log: Log,
        label: str,
        *,
        from_states: Iterable[StateType | None] = ALL_STATE_TYPES,
        to_states: Iterable[StateType | None] = ALL_STATE_TYPES,
        action: Action | None = None,
    ) -> None:
        self.log = log
        self.label = label
        self.froms = frozenset(from_states)
        self.tos = frozenset(to_states)
        self.action = action

    @property
    def name(self) -> str:
        return self.label

    def applies_to(self, from_type: StateType | None, to_type: StateType | None) -> bool:
        return self.universal or (from_type in self.froms and to_type in self.tos)

    def before(self, ctx: TransitionContext) -> None:
        self.log.append((self.label, "before"))
        if self.action is not None:
            self.action(ctx)

    def after(self, ctx: TransitionContext) -> None:
        self.log.append((self.label, "after"))

    def cleanup(self, ctx: TransitionContext) -> None:
        self.log.append((self.label, "cleanup"))


class UniversalRecorder(Recorder):
    universal = True


def pending_to_running(clock: VirtualClock, services: StubServices) -> TransitionContext:
    return make_context(make_task_run(), Pending(), Running(), clock=clock, services=services)


def reject_into(target: State | None) -> Action:
    return lambda ctx: ctx.reject(target, "rejected")


def fail(ctx: TransitionContext) -> None:
    raise ValueError("rule failed")


# -- results --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "details",
    [AcceptDetails(), RejectDetails("why"), WaitDetails(2.5, "why", ("tag:a",)), AbortDetails("x")],
    ids=lambda d: d.type,
)
def test_details_round_trip_through_their_type_discriminator(details: object) -> None:
    kinds = {
        attrs.fields(cls).type.default: cls
        for cls in (AcceptDetails, RejectDetails, WaitDetails, AbortDetails)
    }
    record = attrs.asdict(details, recurse=False)  # type: ignore[arg-type]
    rebuilt = kinds[record.pop("type")](**record)
    assert rebuilt == details
    result = OrchestrationResult(state=None, status=SetStateStatus.ACCEPT, details=rebuilt)
    assert result.details is rebuilt


def test_the_engine_builds_results_equal_to_the_constructor() -> None:
    details = RejectDetails("why")
    built = new_result(None, SetStateStatus.REJECT, details)
    assert type(built) is OrchestrationResult
    assert built == OrchestrationResult(state=None, status=SetStateStatus.REJECT, details=details)
    assert hash(built) == hash(OrchestrationResult(None, SetStateStatus.REJECT, details))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.status = SetStateStatus.ACCEPT  # type: ignore[misc]


# -- valid, invalid and fizzled rules ---------------------------------------------------------


def test_valid_rules_run_before_then_after_in_reverse_order(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    ctx = run_rules([Recorder(log, "a"), Recorder(log, "b")], pending_to_running(clock, services))
    assert log == [("a", "before"), ("b", "before"), ("b", "after"), ("a", "after")]
    assert ctx.status is ACCEPT
    assert ctx.details == AcceptDetails()
    assert ctx.validated is ctx.run.state


def test_rules_for_other_transitions_are_never_entered(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    rules = [
        Recorder(log, "wrong-from", from_states=[StateType.SCHEDULED]),
        Recorder(log, "wrong-to", to_states=[StateType.COMPLETED]),
        Recorder(log, "right", from_states=[StateType.PENDING], to_states=[StateType.RUNNING]),
    ]
    run_rules(rules, pending_to_running(clock, services))
    assert log == [("right", "before"), ("right", "after")]


def test_policies_compile_only_the_relevant_rules_in_order() -> None:
    log: Log = []
    first = Recorder(log, "first", to_states=[StateType.RUNNING])
    other = Recorder(log, "other", to_states=[StateType.FAILED])
    last = Recorder(log, "last", from_states=[StateType.PENDING])
    universal = UniversalRecorder(log, "universal", to_states=[])
    policy = Policy(first, other, universal, last, name="Mine")
    compiled = policy.compile(StateType.PENDING, StateType.RUNNING)
    assert compiled == (first, universal, last)
    assert policy.compile(StateType.PENDING, StateType.RUNNING) is compiled
    assert policy.compile(None, StateType.FAILED) == (other, universal)
    assert repr(policy) == "Mine(first, other, universal, last)"
    assert len(policy) == 4
    assert list(policy) == [first, other, universal, last]


def test_policies_compose() -> None:
    log: Log = []
    a, b, c = Recorder(log, "a"), Recorder(log, "b"), UniversalRecorder(log, "c")
    combined = Policy(a, name="P") + Policy(b) + c
    assert combined.rules == (a, b, c)
    assert combined.name == "P"
    assert combined.without(UniversalRecorder).rules == (a, b)
    assert combined.replacing(UniversalRecorder, a).rules == (a, b, a)
    with pytest.raises(TypeError, match="a policy holds Rule instances"):
        Policy(print)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(reject_into(Completed()), id="reject-into-a-state"),
        pytest.param(reject_into(None), id="null-reject"),
        pytest.param(lambda ctx: ctx.wait(1.0), id="wait"),
        pytest.param(lambda ctx: ctx.abort("stop"), id="abort"),
    ],
)
def test_a_mutation_fizzles_earlier_rules_invalidates_later_ones_but_not_itself(
    mutation: Action, clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    rules = [
        Recorder(log, "early"),
        Recorder(log, "mutator", action=mutation),
        Recorder(log, "late"),
    ]
    run_rules(rules, pending_to_running(clock, services))
    assert log == [
        ("early", "before"),
        ("mutator", "before"),
        ("mutator", "after"),
        ("early", "cleanup"),
    ]


def test_renames_and_detail_updates_fizzle_nothing(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []

    def enrich(ctx: TransitionContext) -> None:
        ctx.rename("Renamed")
        ctx.update_details(cache_key="k")

    rules = [Recorder(log, "early"), Recorder(log, "enrich", action=enrich), Recorder(log, "late")]
    ctx = run_rules(rules, pending_to_running(clock, services))
    assert [hook for _, hook in log] == ["before"] * 3 + ["after"] * 3
    assert ctx.status is ACCEPT
    assert ctx.run.state is not None
    assert (ctx.run.state_name, ctx.run.state.details.cache_key) == ("Renamed", "k")


def test_nested_stacks_leave_no_net_side_effects_after_a_mutation(
    clock: VirtualClock, services: StubServices
) -> None:
    counters = {"side effects": 0}

    class Counting(Rule):
        def before(self, ctx: TransitionContext) -> None:
            counters["side effects"] += 1

        def after(self, ctx: TransitionContext) -> None:
            counters["side effects"] += 100  # must not happen

        def cleanup(self, ctx: TransitionContext) -> None:
            counters["side effects"] -= 1

    log: Log = []
    rules = [
        Counting(),
        Counting(),
        Recorder(log, "mutator", action=reject_into(Failed())),
        Counting(),
        Recorder(log, "late"),
    ]
    ctx = run_rules(rules, pending_to_running(clock, services))
    assert counters == {"side effects": 0}
    assert log == [("mutator", "before"), ("mutator", "after")]
    assert ctx.status is REJECT
    assert ctx.run.state_type is StateType.FAILED


def test_the_last_mutation_decides(clock: VirtualClock, services: StubServices) -> None:
    def twice(ctx: TransitionContext) -> None:
        ctx.wait(5.0, "first")
        ctx.abort("second")

    ctx = run_rules([Recorder([], "twice", action=twice)], pending_to_running(clock, services))
    assert (ctx.status, ctx.details, ctx.decided_by) == (ABORT, AbortDetails("second"), "twice")


def test_decider_is_the_rule_that_last_changed_the_outcome(
    clock: VirtualClock, services: StubServices
) -> None:
    untouched = run_rules([Recorder([], "quiet")], pending_to_running(clock, services))
    assert untouched.decider is None
    waiting = Recorder([], "waiting", action=lambda ctx: ctx.wait(1.0))
    ctx = run_rules([Recorder([], "quiet"), waiting], pending_to_running(clock, services))
    assert ctx.decider is waiting
    broken = pending_to_running(clock, services)
    with pytest.raises(ValueError, match="rule failed"):
        run_rules([Recorder([], "broken", action=fail)], broken)
    assert broken.decider == "broken"  # a rule that raised is kept by name


def test_hook_overrides_name_the_hooks_a_class_defines() -> None:
    class BeforeOnly(Rule):
        def before(self, ctx: TransitionContext) -> None:
            pass

    class CleanupOnly(Rule):
        def cleanup(self, ctx: TransitionContext) -> None:
            pass

    @rule()
    def function_rule(ctx: TransitionContext) -> None:
        pass

    assert Rule.hook_overrides == (False, False, False)
    assert BeforeOnly.hook_overrides == (True, False, False)
    assert CleanupOnly.hook_overrides == (False, False, True)
    assert Recorder.hook_overrides == (True, True, True)
    assert function_rule.hook_overrides == (True, False, False)


def test_parameters_pass_between_rules(clock: VirtualClock, services: StubServices) -> None:
    seen: list[object] = []

    def send(ctx: TransitionContext) -> None:
        ctx.parameters["note"] = "from the first rule"

    def receive(ctx: TransitionContext) -> None:
        seen.append(ctx.parameters["note"])

    rules = [Recorder([], "send", action=send), Recorder([], "receive", action=receive)]
    run_rules(rules, pending_to_running(clock, services))
    assert seen == ["from the first rule"]


# -- errors -------------------------------------------------------------------------------------


def test_a_raising_before_hook_aborts_fizzles_every_entered_rule_and_is_reraised(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    rules = [
        Recorder(log, "early"),
        Recorder(log, "broken", action=fail),
        Recorder(log, "late"),
        UniversalRecorder(log, "universal"),
    ]
    ctx = pending_to_running(clock, services)
    initial = ctx.initial
    with pytest.raises(ValueError, match="rule failed"):
        run_rules(rules, ctx)
    assert log == [
        ("early", "before"),
        ("broken", "before"),
        ("universal", "before"),
        ("broken", "cleanup"),
        ("early", "cleanup"),
    ]
    assert ctx.proposed is None
    assert ctx.status is ABORT
    assert ctx.details == AbortDetails(
        "Aborting orchestration due to error in broken: ValueError('rule failed')"
    )
    assert (ctx.error_rule, ctx.decided_by) == ("broken", "broken")
    assert isinstance(ctx.error, ValueError)
    assert ctx.validated is initial
    assert ctx.run.state is initial


def test_errors_in_after_hooks_do_not_stop_the_unwinding(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []

    class BrokenAfter(Recorder):
        def after(self, ctx: TransitionContext) -> None:
            super().after(ctx)
            raise RuntimeError(f"{self.label} failed")

    rules = [BrokenAfter(log, "outer"), BrokenAfter(log, "inner")]
    ctx = pending_to_running(clock, services)
    with pytest.raises(RuntimeError, match="inner failed"):
        run_rules(rules, ctx)
    assert log[-2:] == [("inner", "after"), ("outer", "after")]
    assert ctx.run.state_type is StateType.RUNNING  # the commit stands


def test_universal_rules_run_on_every_transition_even_nullified_ones(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    rules = [Recorder(log, "abort", action=lambda ctx: ctx.abort()), UniversalRecorder(log, "u")]
    ctx = run_rules(rules, pending_to_running(clock, services))
    assert ctx.proposed is None
    assert log == [("abort", "before"), ("u", "before"), ("u", "after"), ("abort", "after")]


def test_universal_after_hooks_skip_when_a_rule_raised(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    rules = [UniversalRecorder(log, "u"), Recorder(log, "broken", action=fail)]
    with pytest.raises(ValueError, match="rule failed"):
        run_rules(rules, pending_to_running(clock, services))
    assert log == [("u", "before"), ("broken", "before"), ("broken", "cleanup")]


# -- the context ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutator",
    [
        pytest.param(lambda ctx: ctx.reject(Completed()), id="reject"),
        pytest.param(lambda ctx: ctx.wait(1.0), id="wait"),
        pytest.param(lambda ctx: ctx.abort(), id="abort"),
        pytest.param(lambda ctx: ctx.rename("late"), id="rename"),
        pytest.param(lambda ctx: ctx.update_details(cache_key="late"), id="update-details"),
    ],
)
def test_mutators_refuse_to_work_after_commit(
    mutator: Action, clock: VirtualClock, services: StubServices
) -> None:
    class MutatesLate(Rule):
        def after(self, ctx: TransitionContext) -> None:
            mutator(ctx)

    ctx = pending_to_running(clock, services)
    with pytest.raises(RuntimeError, match="the outcome is already committed"):
        run_rules([MutatesLate()], ctx)
    assert ctx.status is ACCEPT
    assert ctx.run.state_name == "Running"


@pytest.mark.parametrize(
    ("mutator", "status", "details"),
    [
        pytest.param(
            lambda ctx: ctx.wait(2.5, "later"), WAIT, WaitDetails(2.5, "later"), id="wait"
        ),
        pytest.param(lambda ctx: ctx.abort("no"), ABORT, AbortDetails("no"), id="abort"),
        pytest.param(
            lambda ctx: ctx.reject(None, "stay"), REJECT, RejectDetails("stay"), id="null-reject"
        ),
    ],
)
def test_nullified_transitions_commit_nothing_and_return_the_current_state(
    mutator: Action,
    status: SetStateStatus,
    details: object,
    clock: VirtualClock,
    services: StubServices,
) -> None:
    ctx = pending_to_running(clock, services)
    initial = ctx.initial
    run_rules([Recorder([], "mutator", action=mutator)], ctx)
    assert (ctx.status, ctx.details, ctx.proposed) == (status, details, None)
    assert ctx.validated is initial
    assert ctx.run.state is initial
    assert ctx.run.run_count == 0


def test_committing_writes_the_state_onto_the_run(
    clock: VirtualClock, services: StubServices
) -> None:
    ctx = pending_to_running(clock, services)
    run_rules([], ctx)
    committed = ctx.validated
    assert committed is not None
    assert committed is ctx.run.state
    assert committed.timestamp == clock.now()
    assert committed.id is not None
    assert committed.details.task_run_id == ctx.run.id
    assert ctx.run.run_count == 1


def test_an_error_while_committing_aborts(clock: VirtualClock, services: StubServices) -> None:
    def broken_commit(ctx: TransitionContext) -> State:
        raise OSError("disk full")

    log: Log = []
    ctx = pending_to_running(clock, services)
    initial = ctx.initial
    run_transition((Recorder(log, "r"), UniversalRecorder(log, "u")), ctx, broken_commit)
    assert (ctx.status, ctx.proposed) == (ABORT, None)
    assert ctx.details == AbortDetails("Error validating state: OSError('disk full')")
    assert isinstance(ctx.commit_error, OSError)
    assert ctx.validated is initial
    assert log == [("r", "before"), ("u", "before"), ("u", "after"), ("r", "cleanup")]


def test_a_null_rejection_is_impossible_for_a_run_with_no_state(
    clock: VirtualClock, services: StubServices
) -> None:
    ctx = make_context(make_task_run(), None, Scheduled(), clock=clock, services=services)
    with pytest.raises(RuntimeError, match="cannot reject to no state"):
        run_rules([Recorder([], "null", action=reject_into(None))], ctx)
    assert ctx.status is ABORT
    assert ctx.run.state is None


def test_the_context_reads_the_runs_flow_run(clock: VirtualClock, services: StubServices) -> None:
    flow_run = services.add_flow_run(make_flow_run())
    task_ctx = make_context(
        make_task_run(flow_run=flow_run), None, Running(), clock=clock, services=services
    )
    assert task_ctx.flow_run is flow_run
    assert (
        make_context(make_task_run(), None, Running(), clock=clock, services=services).flow_run
        is None
    )
    flow_ctx = make_context(flow_run, None, Running(), clock=clock, services=services)
    assert flow_ctx.flow_run is flow_run
    with pytest.raises(TypeError, match="this transition is for a flow run"):
        _ = flow_ctx.task_run
    assert repr(task_ctx) == "<TransitionContext None -> StateType.RUNNING ACCEPT>"


def test_function_rules_from_the_decorator(clock: VirtualClock, services: StubServices) -> None:
    @rule(from_states=[StateType.PENDING], to_states=[StateType.RUNNING])
    def slow_down(ctx: TransitionContext) -> None:
        ctx.wait(3.0, "slow")

    assert repr(slow_down) == "slow_down()"
    assert slow_down.applies_to(StateType.PENDING, StateType.RUNNING)
    assert not slow_down.applies_to(StateType.SCHEDULED, StateType.RUNNING)
    ctx = run_rules([slow_down], pending_to_running(clock, services))
    assert (ctx.details, ctx.decided_by) == (WaitDetails(3.0, "slow"), "slow_down")


def test_statuses_read_as_their_names() -> None:
    assert [repr(status) for status in SetStateStatus] == [
        "SetStateStatus.ACCEPT",
        "SetStateStatus.REJECT",
        "SetStateStatus.WAIT",
        "SetStateStatus.ABORT",
    ]


def test_enriching_a_nullified_proposal_does_nothing(
    clock: VirtualClock, services: StubServices
) -> None:
    def abort_then_enrich(ctx: TransitionContext) -> None:
        ctx.abort("stop")
        ctx.rename("ignored")
        ctx.update_details(cache_key="ignored")

    ctx = run_rules(
        [Recorder([], "r", action=abort_then_enrich)], pending_to_running(clock, services)
    )
    assert (ctx.status, ctx.proposed) == (ABORT, None)
    assert ctx.run.state_name == "Pending"


def test_a_raising_universal_rule_aborts_and_is_reraised(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    rules = [Recorder(log, "r"), UniversalRecorder(log, "broken", action=fail)]
    ctx = pending_to_running(clock, services)
    with pytest.raises(ValueError, match="rule failed"):
        run_rules(rules, ctx)
    assert ctx.details == AbortDetails(
        "Aborting orchestration due to error in broken: ValueError('rule failed')"
    )
    assert log == [("r", "before"), ("broken", "before"), ("r", "cleanup")]
    assert ctx.run.state_name == "Pending"

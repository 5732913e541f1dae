"""Tag concurrency through the rules, with a real SlotTable behind them (8.1 concurrency)."""

from __future__ import annotations

import copy
import pickle
from datetime import timedelta

import pytest

from orchestrator import (
    Completed,
    Pending,
    Rule,
    Running,
    Scheduled,
    StateType,
    TaskRun,
    TransitionContext,
    VirtualClock,
    rule,
)
from orchestrator._core._errors import InvalidArgument
from orchestrator._core._outcomes import AbortDetails, SlotWait, WaitDetails
from orchestrator.policies import (
    ReleaseTaskConcurrencySlots,
    SecureTaskConcurrencySlots,
    WaitForScheduledTime,
)
from tests.helpers import (
    ABORT,
    ACCEPT,
    REJECT,
    TERMINAL,
    WAIT,
    StubServices,
    aborting,
    force_state,
    make_task_run,
    rejecting_into,
    state_of,
    transition,
    type_id,
)

# -- tag concurrency ------------------------------------------------------------------------------

SLOT_RULES = (SecureTaskConcurrencySlots(), ReleaseTaskConcurrencySlots())


def slots(services: StubServices, tag: str) -> int:
    return services.active_slots(tag)


class TestTaskConcurrencyLimits:
    def start(
        self,
        run: TaskRun,
        clock: VirtualClock,
        services: StubServices,
        rules: tuple[Rule, ...] = SLOT_RULES,
    ) -> TransitionContext:
        """PENDING (forced) then propose RUNNING through ``rules``."""
        force_state(run, Pending(), clock)
        return transition(rules, run, Running(), clock=clock, services=services)

    def test_basic_concurrency_limiting(self, clock: VirtualClock, services: StubServices) -> None:
        services.slots.upsert("some tag", 1, now=clock.now())
        first, second = make_task_run(tags=["some tag"]), make_task_run(tags=["some tag"])
        assert self.start(first, clock, services).status is ACCEPT
        assert slots(services, "some tag") == 1
        waiting = self.start(second, clock, services)
        assert waiting.status is WAIT
        assert waiting.details == WaitDetails(
            10.0, "Concurrency limit reached for tags: some tag", ("tag:some tag",)
        )
        assert second.state_type is StateType.PENDING
        assert slots(services, "some tag") == 1
        done = transition(SLOT_RULES, first, Completed(), clock=clock, services=services)
        assert done.status is ACCEPT
        assert slots(services, "some tag") == 0
        again = transition(SLOT_RULES, second, Running(), clock=clock, services=services)
        assert again.status is ACCEPT
        assert slots(services, "some tag") == 1

    def test_cancelling_keeps_the_slot_until_cancelled(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        first, second = make_task_run(tags=["a"]), make_task_run(tags=["a"])
        self.start(first, clock, services)
        assert self.start(second, clock, services).status is WAIT
        cancelling = state_of(StateType.CANCELLING)
        assert (
            transition(SLOT_RULES, first, cancelling, clock=clock, services=services).status
            is ACCEPT
        )
        assert slots(services, "a") == 1
        cancelled = state_of(StateType.CANCELLED)
        assert (
            transition(SLOT_RULES, first, cancelled, clock=clock, services=services).status
            is ACCEPT
        )
        assert slots(services, "a") == 0
        assert (
            transition(SLOT_RULES, second, Running(), clock=clock, services=services).status
            is ACCEPT
        )
        assert slots(services, "a") == 1

    def test_a_zero_limit_aborts_and_holds_nothing(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("free", 5, now=clock.now())
        services.slots.upsert("zero", 0, now=clock.now())
        run = make_task_run(tags=["free", "zero"])
        ctx = self.start(run, clock, services)
        assert ctx.status is ABORT
        assert ctx.details == AbortDetails(
            'The concurrency limit on tag "zero" is 0 and will deadlock if the task tries '
            "to run again."
        )
        assert (slots(services, "free"), slots(services, "zero")) == (0, 0)
        services.slots.check_invariants()

    def test_a_full_tag_keeps_every_slot_free(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 5, now=clock.now())
        services.slots.upsert("b", 1, now=clock.now())
        services.slots.upsert("c", 1, now=clock.now())
        self.start(make_task_run(tags=["b", "c"]), clock, services)
        ctx = self.start(make_task_run(tags=["a", "b", "c"]), clock, services)
        assert ctx.status is WAIT
        assert ctx.details == WaitDetails(
            10.0, "Concurrency limit reached for tags: b, c", ("tag:b", "tag:c")
        )
        assert slots(services, "a") == 0

    def test_the_wait_names_each_full_tag_as_a_slot_wait(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("b", 1, now=clock.now())
        services.slots.upsert("c d", 1, now=clock.now())
        self.start(make_task_run(tags=["b", "c d"]), clock, services)
        ctx = self.start(make_task_run(tags=["b", "c d"]), clock, services)
        assert isinstance(ctx.details, WaitDetails)
        targets = ctx.details.wait_for
        assert all(type(target) is SlotWait for target in targets)
        assert [target.tag for target in targets if isinstance(target, SlotWait)] == ["b", "c d"]

    @pytest.mark.parametrize(
        "target_type",
        [t for t in StateType if t not in (StateType.RUNNING, StateType.CANCELLING)],
        ids=type_id,
    )
    def test_slots_taken_are_returned_when_a_later_rule_changes_the_transition(
        self, target_type: StateType, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        run = make_task_run(tags=["a"])
        ctx = self.start(run, clock, services, (*SLOT_RULES, rejecting_into(state_of(target_type))))
        assert ctx.status is REJECT
        assert run.state_type is target_type
        assert slots(services, "a") == 0

    def test_slots_taken_are_returned_when_the_run_must_wait_for_its_time(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        run = make_task_run(tags=["a"])
        force_state(run, Scheduled(clock.now() + timedelta(seconds=30)), clock)
        rules = (
            SecureTaskConcurrencySlots(),
            WaitForScheduledTime(),
            ReleaseTaskConcurrencySlots(),
        )
        ctx = transition(rules, run, Running(), clock=clock, services=services)
        assert ctx.status is WAIT
        assert ctx.details == WaitDetails(30.0, "Scheduled time is in the future")
        assert slots(services, "a") == 0

    def test_slots_taken_are_returned_when_a_later_rule_raises(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        @rule(to_states=[StateType.RUNNING])
        def broken(ctx: TransitionContext) -> None:
            raise RuntimeError("broken")

        services.slots.upsert("a", 1, now=clock.now())
        run = make_task_run(tags=["a"])
        with pytest.raises(RuntimeError, match="broken"):
            self.start(run, clock, services, (*SLOT_RULES, broken))
        assert run.state_type is StateType.PENDING
        assert slots(services, "a") == 0

    def test_one_run_never_takes_two_slots_on_a_tag(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 10, now=clock.now())
        run = make_task_run(tags=["a"])
        assert self.start(run, clock, services).status is ACCEPT
        assert self.start(run, clock, services).status is ACCEPT
        assert slots(services, "a") == 1
        only_secure = (SecureTaskConcurrencySlots(),)
        ctx = transition(only_secure, run, Running(), clock=clock, services=services)
        assert ctx.status is ACCEPT
        assert slots(services, "a") == 1

    def test_a_run_holding_the_last_slot_is_not_blocked_by_itself(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        run = make_task_run(tags=["a"])
        self.start(run, clock, services)
        ctx = transition(SLOT_RULES, run, Running(), clock=clock, services=services)
        assert ctx.status is ACCEPT
        assert slots(services, "a") == 1

    def test_a_holder_re_entering_running_keeps_its_slot_when_a_later_rule_waits(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        run = make_task_run(tags=["a"])
        self.start(run, clock, services)

        @rule(to_states=[StateType.RUNNING])
        def wait_a_bit(ctx: TransitionContext) -> None:
            ctx.wait(1.0)

        ctx = transition((*SLOT_RULES, wait_a_bit), run, Running(), clock=clock, services=services)
        assert ctx.status is WAIT
        assert slots(services, "a") == 1  # this transition took nothing, so gave nothing back

    def test_waiting_runs_are_served_first_come_first_served(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        holder, early, late = (make_task_run(tags=["a"]) for _ in range(3))
        self.start(holder, clock, services)
        assert self.start(early, clock, services).status is WAIT
        assert self.start(late, clock, services).status is WAIT
        transition(SLOT_RULES, holder, Completed(), clock=clock, services=services)
        assert (
            transition(SLOT_RULES, late, Running(), clock=clock, services=services).status is WAIT
        )
        assert (
            transition(SLOT_RULES, early, Running(), clock=clock, services=services).status
            is ACCEPT
        )
        transition(SLOT_RULES, early, Completed(), clock=clock, services=services)
        assert (
            transition(SLOT_RULES, late, Running(), clock=clock, services=services).status is ACCEPT
        )

    def test_new_limits_do_not_count_runs_already_running(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("primary", 2, now=clock.now())
        first = make_task_run(tags=["primary", "secondary"])
        second = make_task_run(tags=["primary", "secondary"])
        assert self.start(first, clock, services).status is ACCEPT
        assert (slots(services, "primary"), slots(services, "secondary")) == (1, 0)
        services.slots.upsert("secondary", 1, now=clock.now())
        assert self.start(second, clock, services).status is ACCEPT
        assert (slots(services, "primary"), slots(services, "secondary")) == (2, 1)
        transition(SLOT_RULES, first, Completed(), clock=clock, services=services)
        assert (slots(services, "primary"), slots(services, "secondary")) == (1, 1)
        transition(SLOT_RULES, second, Completed(), clock=clock, services=services)
        assert (slots(services, "primary"), slots(services, "secondary")) == (0, 0)

    def test_a_deleted_limit_no_longer_holds_runs_up(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("big", 2, now=clock.now())
        services.slots.upsert("small", 1, now=clock.now())
        first, second, third = (make_task_run(tags=["big", "small"]) for _ in range(3))
        assert self.start(first, clock, services).status is ACCEPT
        assert slots(services, "small") == 1
        assert self.start(second, clock, services).status is WAIT
        services.slots.delete("small")
        assert self.start(third, clock, services).status is ACCEPT
        assert slots(services, "big") == 2
        assert (
            transition(SLOT_RULES, second, Running(), clock=clock, services=services).status is WAIT
        )
        transition(SLOT_RULES, first, Completed(), clock=clock, services=services)
        assert slots(services, "big") == 1

    def test_raising_a_limit_admits_more_runs(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        assert self.start(make_task_run(tags=["a"]), clock, services).status is ACCEPT
        services.slots.upsert("a", 2, now=clock.now())
        assert self.start(make_task_run(tags=["a"]), clock, services).status is ACCEPT
        assert slots(services, "a") == 2

    def test_lowering_a_limit_refuses_new_runs(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 2, now=clock.now())
        assert self.start(make_task_run(tags=["a"]), clock, services).status is ACCEPT
        services.slots.upsert("a", 1, now=clock.now())
        assert self.start(make_task_run(tags=["a"]), clock, services).status is WAIT
        assert slots(services, "a") == 1

    def test_lowering_a_limit_leaves_running_runs_alone(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 2, now=clock.now())
        run = make_task_run(tags=["a"])
        assert self.start(run, clock, services).status is ACCEPT
        services.slots.upsert("a", 0, now=clock.now())
        assert slots(services, "a") == 1
        ctx = transition(SLOT_RULES, run, Completed(), clock=clock, services=services)
        assert ctx.status is ACCEPT
        assert slots(services, "a") == 0

    @pytest.mark.parametrize(
        "target_type",
        [StateType.SCHEDULED, *TERMINAL, StateType.PAUSED],
        ids=type_id,
    )
    @pytest.mark.parametrize(
        "mutating_first", [False, True], ids=["release-first", "mutator-first"]
    )
    def test_leaving_running_returns_the_slot_even_when_another_rule_decides(
        self,
        target_type: StateType,
        mutating_first: bool,
        clock: VirtualClock,
        services: StubServices,
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        run = make_task_run(tags=["a"])
        self.start(run, clock, services)
        assert slots(services, "a") == 1
        mutator = rejecting_into(state_of(target_type))
        secure, release = SLOT_RULES
        rules = (mutator, secure, release) if mutating_first else (release, secure, mutator)
        ctx = transition(rules, run, Pending(), clock=clock, services=services)
        assert ctx.status is REJECT
        assert run.state_type is target_type
        assert slots(services, "a") == 0

    @pytest.mark.parametrize("abort_first", [False, True], ids=["release-first", "abort-first"])
    def test_a_nullified_transition_keeps_the_slot(
        self, abort_first: bool, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 1, now=clock.now())
        run = make_task_run(tags=["a"])
        self.start(run, clock, services)
        secure, release = SLOT_RULES
        rules = (aborting(), secure, release) if abort_first else (release, secure, aborting())
        ctx = transition(rules, run, Pending(), clock=clock, services=services)
        assert ctx.status is ABORT
        assert run.state_type is StateType.RUNNING
        assert slots(services, "a") == 1

    def test_untagged_runs_and_unlimited_tags_need_no_slot(
        self, clock: VirtualClock, services: StubServices
    ) -> None:
        services.slots.upsert("a", 0, now=clock.now())
        assert self.start(make_task_run(), clock, services).status is ACCEPT
        assert self.start(make_task_run(tags=["b"]), clock, services).status is ACCEPT

    @pytest.mark.parametrize("seconds", [0, -1, True, "10"])
    def test_wait_seconds_must_be_positive(self, seconds: float) -> None:
        with pytest.raises(InvalidArgument, match="wait_seconds must be a number of seconds > 0"):
            SecureTaskConcurrencySlots(wait_seconds=seconds)


# -- the wait target ------------------------------------------------------------------------------


class TestSlotWait:
    def test_its_text_is_the_tag_behind_a_prefix(self) -> None:
        target = SlotWait("a b")
        assert target == "tag:a b"
        assert hash(target) == hash("tag:a b")
        assert target.tag == "a b"
        assert type(target.tag) is str

    def test_copies_and_pickles_keep_the_tag(self) -> None:
        target = SlotWait("db")
        copies = [copy.copy(target), copy.deepcopy(target)]
        copies += [pickle.loads(pickle.dumps(target, protocol)) for protocol in range(6)]
        for again in copies:
            assert type(again) is SlotWait
            assert (again, again.tag) == ("tag:db", "db")

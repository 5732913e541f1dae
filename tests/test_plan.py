"""Transition plans: the layout of a policy's rules for one (from, to) pair, and how the
context runs it (the common unchanged case, and the fallback once a rule changes it)."""

from __future__ import annotations

import random
import uuid
from typing import ClassVar

import attrs

from orchestrator import (
    Pending,
    Policy,
    Rule,
    Running,
    Scheduled,
    State,
    StateDetails,
    StateType,
    TransitionContext,
    VirtualClock,
)
from orchestrator._core._outcomes import ACCEPTED
from orchestrator._rules._context import run_transition
from orchestrator._rules._plan import TransitionPlan
from orchestrator._rules._rule import StateTypes
from tests.helpers import ACCEPT, REJECT, StubServices, commit, make_context, make_task_run

Log = list[str]


class BeforeOnly(Rule):
    def __init__(self, log: Log, label: str, target: State | None = None) -> None:
        self.log, self.label, self.target = log, label, target

    @property
    def name(self) -> str:
        return self.label

    def before(self, ctx: TransitionContext) -> None:
        self.log.append(f"{self.label}.before")
        if self.target is not None:
            ctx.reject(self.target, "changed")


class ExitOnly(Rule):
    def __init__(self, log: Log, label: str) -> None:
        self.log, self.label = log, label

    @property
    def name(self) -> str:
        return self.label

    def after(self, ctx: TransitionContext) -> None:
        self.log.append(f"{self.label}.after")

    def cleanup(self, ctx: TransitionContext) -> None:
        self.log.append(f"{self.label}.cleanup")


class ScheduledOnlyAfter(Rule):
    universal: ClassVar[bool] = True
    after_states: ClassVar[StateTypes] = frozenset({StateType.SCHEDULED})

    def __init__(self, log: Log) -> None:
        self.log = log

    def after(self, ctx: TransitionContext) -> None:
        self.log.append("scheduled-only.after")


def pending_to_running(clock: VirtualClock, services: StubServices) -> TransitionContext:
    return make_context(make_task_run(), Pending(), Running(), clock=clock, services=services)


def test_a_plan_lists_only_the_hooks_that_exist() -> None:
    log: Log = []
    first, second = BeforeOnly(log, "first"), ExitOnly(log, "second")
    universal, plain = ScheduledOnlyAfter(log), Rule()
    plan = Policy(first, second, universal, plain).plan(StateType.PENDING, StateType.RUNNING)
    assert plan.rules == (first, second, universal, plain)
    assert [(position, rule) for position, rule, _ in plan.befores] == [(0, first)]
    assert plan.exits == (
        None,
        (second, StateType.RUNNING, True, True),
        (universal, None, True, False),
        None,
    )
    assert plan.entered == (plan.exits[1], plan.exits[2])
    # The universal rule's after acts on SCHEDULED only: a plan to RUNNING leaves it out.
    assert plan.afters == (second.after,)
    assert Policy(universal).plan(StateType.PENDING, StateType.SCHEDULED).afters == (
        universal.after,
    )
    assert Policy(first).plan(None, None).afters == ()
    assert repr(plan) == "<TransitionPlan to RUNNING: first, second, ScheduledOnlyAfter, Rule>"


def test_policies_cache_their_plans() -> None:
    policy = Policy(Rule())
    plan = policy.plan(StateType.PENDING, StateType.RUNNING)
    assert policy.plan(StateType.PENDING, StateType.RUNNING) is plan
    assert plan.rules is policy.compile(StateType.PENDING, StateType.RUNNING)


def test_an_after_hook_left_out_of_the_plan_still_runs_once_the_transition_changes(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    unchanged = pending_to_running(clock, services)
    run_transition((ScheduledOnlyAfter(log),), unchanged, commit)
    assert log == []
    changed = pending_to_running(clock, services)
    rules = (BeforeOnly(log, "reject", Scheduled()), ScheduledOnlyAfter(log))
    run_transition(rules, changed, commit)
    assert changed.status is REJECT
    assert log == ["reject.before", "scheduled-only.after"]


def test_rules_ahead_of_a_change_fizzle_even_without_a_before_hook(
    clock: VirtualClock, services: StubServices
) -> None:
    log: Log = []
    ctx = pending_to_running(clock, services)
    rules = (
        ExitOnly(log, "ahead"),
        BeforeOnly(log, "reject", Scheduled()),
        ExitOnly(log, "behind"),  # invalid: the transition changed before it entered
    )
    run_transition(TransitionPlan(rules, StateType.RUNNING), ctx, commit)
    assert log == ["reject.before", "ahead.cleanup"]
    assert ctx.validated is not None
    assert ctx.validated.type is StateType.SCHEDULED


def test_rename_and_update_details_keep_every_other_field_of_the_proposal(
    clock: VirtualClock, services: StubServices
) -> None:
    # Every field of State is listed here: a new field must be carried by _with too.
    fields = {field.name for field in attrs.fields(State)}
    assert fields == {"type", "name", "timestamp", "message", "data", "details", "id"}
    proposal = State(
        type=StateType.RUNNING,
        name="Running",
        timestamp=clock.now(),
        message="m",
        data=[1],
        details=StateDetails(cache_key="k"),
        id=uuid.UUID(int=7),
    )
    ctx = make_context(make_task_run(), Pending(), proposal, clock=clock, services=services)
    ctx.rename("Again")
    ctx.update_details(cache_key="other", deferred=True)
    assert ctx.proposed == attrs.evolve(
        proposal, name="Again", details=StateDetails(cache_key="other", deferred=True)
    )


def test_the_engine_constructor_builds_the_same_context(
    clock: VirtualClock, services: StubServices
) -> None:
    run, initial, proposal = make_task_run(), Pending(), Running()
    rng = random.Random(3)
    keywords = TransitionContext(
        run=run, initial=initial, proposed=proposal, now=clock.now(), services=services, rng=rng
    )
    positional = TransitionContext.begin(run, initial, proposal, clock.now(), services, rng, False)
    for ctx in (keywords, positional):
        assert (ctx.run, ctx.initial, ctx.proposed, ctx.now) == (
            run,
            initial,
            proposal,
            clock.now(),
        )
        assert (ctx.services, ctx.random, ctx.parameters, ctx.force) == (services, rng, {}, False)
        assert (ctx.validated, ctx.status, ctx.details, ctx.decider) == (
            None,
            ACCEPT,
            ACCEPTED,
            None,
        )
        assert (ctx.error, ctx.error_rule, ctx.commit_error) == (None, None, None)
    assert positional.parameters is not keywords.parameters

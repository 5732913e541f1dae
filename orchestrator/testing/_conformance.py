"""Conformance checks for rules you write: :func:`check_rule`.

A rule is a small contract (see :class:`~orchestrator.Rule`): it declares the
transitions it takes part in, its hooks do not raise on them, it changes the outcome
only from ``before`` (the mutators refuse to work later), and it keeps no state between
transitions, so the same proposal in the same situation always gets the same answer.
:func:`check_rule` proposes every transition the rule declares, three times each (alone,
again from scratch, and followed by a rule that changes the transition so that the
rule's ``cleanup`` runs), without an orchestrator, and reports every breach at once.
"""

from __future__ import annotations

import copy
import math
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from .._core._clock import DEFAULT_VIRTUAL_START, as_utc
from .._core._errors import ArgumentTypeError
from .._core._models import ConcurrencyLimit, FlowRun, TaskRun, TaskRunPolicy
from .._core._outcomes import SetStateStatus, SlotOutcome, WaitDetails
from .._core._states import State, StateDetails, StateType
from .._rules._bookkeeping import apply_bookkeeping, details_for_run
from .._rules._context import RuleServices, TransitionContext, run_transition
from .._rules._policy_tables import CacheTable, SlotTable
from .._rules._rule import Policy, Rule, rule

__all__ = ["check_rule"]

Transition = tuple[StateType | None, StateType | None]

#: Every state type and None, in a stable order.
_ORDER: Final[tuple[StateType | None, ...]] = (None, *StateType)
_MUTATOR_ERROR: Final = "mutators work only in a before hook"
#: The id of the default run's parent flow run (and of its flow).
_PARENT_ID: Final = uuid.UUID(int=0xF10)
#: How the second proposal of each transition differs from a bare ``State(type=to)``.
_ENRICHED: Final = " (proposal with a result, a cache key, deferred)"


class _Services:
    """Rule services over fresh, real policy tables and one RUNNING parent flow run."""

    def __init__(self, now: datetime) -> None:
        self.cache = CacheTable()
        self.slots = SlotTable()
        self.parent = FlowRun(
            id=_PARENT_ID, name="check-rule-flow-run", flow_id=_PARENT_ID, created=now, updated=now
        )
        _stamp(self.parent, None, State(type=StateType.RUNNING), now - timedelta(minutes=1))

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRun | None:
        return self.parent if flow_run_id == _PARENT_ID else None

    def lookup_cache(self, key: str, now: datetime) -> State | None:
        return self.cache.lookup(key, now)

    def insert_cache(self, key: str, expiration: datetime | None, state: State) -> None:
        self.cache.insert(key, expiration, state)

    def acquire_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> SlotOutcome:
        return self.slots.acquire(run_id, tags)

    def release_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> None:
        self.slots.release(run_id, tags)

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit | None:
        return self.slots.get(tag)

    def enqueue(self, run: TaskRun, *, retry: bool) -> None:
        pass

    def acquire_deployment_slot(self, run_id: uuid.UUID, deployment_id: uuid.UUID) -> SlotOutcome:
        return self.slots.acquire(run_id, (str(deployment_id),))

    def release_deployment_slot(self, run_id: uuid.UUID, deployment_id: uuid.UUID) -> None:
        self.slots.release(run_id, (str(deployment_id),))


def _default_run(now: datetime) -> TaskRun:
    return TaskRun(
        id=uuid.UUID(int=0xC4EC),
        name="check-rule-run",
        task_key="check-rule",
        dynamic_key="0",
        flow_run_id=_PARENT_ID,
        empirical_policy=TaskRunPolicy(retries=1, retry_delay=10.0),
        tags=frozenset({"check-rule"}),
        created=now,
        updated=now,
    )


def _proposals(to: StateType | None, now: datetime) -> tuple[tuple[State | None, str], ...]:
    """The proposals tried for a transition to ``to``, each with how to describe it."""
    if to is None:
        return ((None, ""),)
    details = StateDetails(
        cache_key="check-rule", cache_expiration=now + timedelta(hours=1), deferred=True
    )
    enriched = State(type=to, data="check-rule result", details=details)
    return ((State(type=to), ""), (enriched, _ENRICHED))


def _commit(ctx: TransitionContext) -> State:
    proposed = ctx.proposed
    assert proposed is not None  # run_transition commits only a remaining proposal
    return _stamp(ctx.run, ctx.initial, proposed, ctx.now)


def _stamp(run: TaskRun | FlowRun, initial: State | None, proposed: State, when: datetime) -> State:
    details = details_for_run(run, proposed.details)
    if proposed.type is StateType.SCHEDULED and details.scheduled_time is None:
        details = details.replace(scheduled_time=when)
    state = State(
        type=proposed.type,
        name=proposed.name,
        timestamp=when,
        message=proposed.message,
        data=proposed.data,
        details=details,
        id=uuid.uuid5(run.id, f"{when.isoformat()} {proposed.type.value}"),
    )
    apply_bookkeeping(run, initial, state)
    return state


@rule()
def _change_the_transition(ctx: TransitionContext) -> None:
    # Entered after the rule under test: changing the transition makes it fizzle.
    if ctx.initial is None:
        ctx.abort("check_rule: a later rule aborts")
    else:
        ctx.reject(None, "check_rule: a later rule keeps the current state")


def _snapshot(item: Rule) -> dict[str, object]:
    """Copies of the rule's attributes, and of the closures and defaults of its functions."""
    values: dict[str, object] = dict(getattr(item, "__dict__", {}))
    for klass in type(item).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in values and hasattr(item, name):
                values[name] = getattr(item, name)
    for name, value in list(values.items()):
        closure = getattr(value, "__closure__", None)
        if closure:
            for index, cell in enumerate(closure):
                try:
                    values[f"{name}.<closure {index}>"] = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
        defaults = getattr(value, "__defaults__", None)
        if defaults:
            values[f"{name}.<defaults>"] = defaults
    copied: dict[str, object] = {}
    for name, value in values.items():
        try:
            copied[name] = copy.deepcopy(value)
        except Exception:
            copied[name] = repr(value)
    return copied


def _changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    changed = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        try:
            same = bool(old == new)
        except Exception:
            same = True  # values that cannot be compared are not checked
        if not same:
            changed.append(f"{name}: {old!r} -> {new!r}")
    return changed


def _label(transition: Transition) -> str:
    frm, to = transition
    return f"{'None' if frm is None else frm.name} -> {'None' if to is None else to.name}"


def check_rule(
    item: Rule,
    *,
    make_run: Callable[[], TaskRun | FlowRun] | None = None,
    services: Callable[[], RuleServices] | None = None,
    now: datetime | None = None,
    seed: int = 0,
) -> dict[Transition, SetStateStatus]:
    """Check that ``item`` keeps the rule contract on every transition it declares.

    For each ``(from, to)`` pair of state types (None included) the rule applies to, a
    fresh run is given a committed ``from`` state five seconds before ``now``, and two
    proposals are made through the rule alone: a bare ``State(type=to)``, then one with
    result data, a cache key and the deferred flag (so cache, queue and flow-run code
    paths run too). The checks, for each proposal:

    - the rule has a name and applies to at least one transition;
    - no hook raises (a mutator called from ``after`` or ``cleanup`` raises, and is
      reported as such);
    - ``cleanup`` does not raise when a later rule changes the transition;
    - the same proposal, made again from scratch with the same random seed, gets the
      same status and the same resulting state (no state kept between transitions);
    - the rule's attributes (and its functions' closures and defaults) are unchanged
      after all the transitions (values that cannot be copied are compared by their
      repr, values that cannot be compared are not checked);
    - a WAIT asks for a finite delay of 0 seconds or more.

    Args:
        item: the rule to check.
        make_run: returns a fresh run with no state for each trial; by default a task
            run with ``retries=1``, ``retry_delay=10``, the tag ``"check-rule"`` and a
            parent flow run that is RUNNING.
        services: returns fresh rule services for each trial; by default empty, real
            cache and slot tables, and the default run's parent flow run.
        now: the time of the proposals; the virtual clock's default start when None.
        seed: the seed of ``ctx.random`` in every trial.

    Returns:
        The status of each transition's bare proposal when the rule decides it alone, for
        further assertions, e.g. ``check_rule(r)[(StateType.RUNNING, StateType.FAILED)]``.

    Raises:
        AssertionError: the rule breaks the contract; the message lists every breach.
        TypeError: ``item`` is not a Rule.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    if not isinstance(item, Rule):
        raise ArgumentTypeError(
            f"check_rule checks a Rule, got {item!r}; decorate functions with @rule"
        )
    when = DEFAULT_VIRTUAL_START if now is None else as_utc(now, "now")
    new_run = (lambda: _default_run(when)) if make_run is None else make_run
    new_services: Callable[[], RuleServices] = (
        (lambda: _Services(when)) if services is None else services
    )
    problems: list[str] = []
    name = item.name
    if not isinstance(name, str) or not name:
        problems.append(f"its name is {name!r}; a rule needs a non-empty name for the decision log")
    alone, fizzling = Policy(item), Policy(item, _change_the_transition)
    initial_attributes = _snapshot(item)
    outcomes: dict[Transition, SetStateStatus] = {}

    def trial(
        policy: Policy, transition: Transition, proposal: State | None, variant: str
    ) -> TransitionContext | None:
        frm, to = transition
        run = new_run()
        initial = None
        if frm is not None:
            initial = _stamp(run, None, State(type=frm), when - timedelta(seconds=5))
        ctx = TransitionContext(
            run=run,
            initial=initial,
            proposed=proposal,
            now=when,
            services=new_services(),
            rng=random.Random(seed),
        )
        try:
            run_transition(policy.compile(frm, to), ctx, _commit)
        except Exception as error:
            if ctx.error is not None and ctx.error_rule == name:
                hook = "before"
            elif policy is fizzling:
                hook = "cleanup (or after)"
            else:
                hook = "after"
            hint = ""
            if isinstance(error, RuntimeError) and _MUTATOR_ERROR in str(error):
                hint = "; change the outcome only in before, mutators refuse to work later"
            problem = f"{_label(transition)}{variant}: {hook} raised {error!r}{hint}"
            if problem not in problems:
                problems.append(problem)
            return None
        return ctx

    def outcome(ctx: TransitionContext) -> str:
        state = ctx.validated
        return f"{ctx.status.name}, leaving {'no state' if state is None else state.name}"

    declared = [(frm, to) for frm in _ORDER for to in _ORDER if alone.compile(frm, to)]
    if not declared:
        problems.append("it applies to no transition: check its from_states and to_states")
    for transition in declared:
        for proposal, variant in _proposals(transition[1], when):
            reported = len(problems)
            first = trial(alone, transition, proposal, variant)
            if first is None:
                break  # one report per transition is enough
            if not variant:
                outcomes[transition] = first.status
            where = _label(transition) + variant
            details = first.details
            if isinstance(details, WaitDetails) and not (
                math.isfinite(details.delay_seconds) and details.delay_seconds >= 0
            ):
                problems.append(
                    f"{where}: WAIT with delay_seconds={details.delay_seconds!r}; "
                    "a delay is finite seconds >= 0"
                )
            second = trial(alone, transition, proposal, variant)
            if second is not None and outcome(second) != outcome(first):
                problems.append(
                    f"{where}: the same proposal got {outcome(first)} the first time and "
                    f"{outcome(second)} the second; keep per-transition data in "
                    "ctx.parameters, not on the rule"
                )
            trial(fizzling, transition, proposal, variant)
            if len(problems) > reported:
                break
    changed = _changed(initial_attributes, _snapshot(item))
    if changed:
        problems.append(
            "it kept state between transitions (keep per-transition data in ctx.parameters): "
            + "; ".join(changed)
        )
    if problems:
        raise AssertionError(
            f"rule {name!r} breaks the rule contract:\n" + "\n".join(f"- {p}" for p in problems)
        )
    return outcomes

"""Shared test helpers: runs, committed states, transition contexts and rule services.

Rules are tested without an orchestrator: :class:`StubServices` gives them real policy
tables, :func:`make_context` builds a context whose run already holds an initial state
committed some seconds ago on a :class:`~orchestrator.VirtualClock`, and
:func:`commit` does what the engine does when it commits a proposal.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from orchestrator import (
    FlowRun,
    Policy,
    Rule,
    State,
    StateType,
    TaskRun,
    TaskRunPolicy,
    TransitionContext,
    VirtualClock,
    rule,
)
from orchestrator._core._models import ConcurrencyLimit
from orchestrator._core._outcomes import SetStateStatus, SlotOutcome
from orchestrator._core._states import TERMINAL_TYPES
from orchestrator._rules._bookkeeping import apply_bookkeeping, details_for_run
from orchestrator._rules._context import run_transition
from orchestrator._rules._policy_tables import CacheTable, SlotTable

__all__ = [
    "ABORT",
    "ACCEPT",
    "FLOW_ID",
    "NON_TERMINAL",
    "REJECT",
    "TERMINAL",
    "WAIT",
    "aborting",
    "StubServices",
    "commit",
    "commit_state",
    "force_state",
    "make_context",
    "make_flow_run",
    "make_task_run",
    "propose",
    "rejecting_into",
    "run_rules",
    "state_of",
    "transition",
    "type_id",
]

#: The flow every test flow run belongs to.
FLOW_ID = uuid.UUID(int=0xF10)

ACCEPT: Final = SetStateStatus.ACCEPT
REJECT: Final = SetStateStatus.REJECT
WAIT: Final = SetStateStatus.WAIT
ABORT: Final = SetStateStatus.ABORT
#: The terminal state types, in a stable order for parametrisation.
TERMINAL: Final = sorted(TERMINAL_TYPES, key=lambda t: t.value)
#: The other five.
NON_TERMINAL: Final = [t for t in StateType if t not in TERMINAL_TYPES]


def type_id(value: object) -> str:
    """A readable pytest id for a state type (or None, or anything with a name)."""
    return "None" if value is None else str(getattr(value, "name", value))


def state_of(state_type: StateType, **fields: Any) -> State:
    """A proposal of ``state_type`` with its default name."""
    return State(type=state_type, **fields)


def rejecting_into(target: State) -> Rule:
    """A rule for every transition that rejects into ``target`` ("test rule")."""

    @rule()
    def reject_into(ctx: TransitionContext) -> None:
        ctx.reject(target, "test rule")

    return reject_into


def aborting() -> Rule:
    """A rule for every transition that aborts it ("test rule")."""

    @rule()
    def abort_it(ctx: TransitionContext) -> None:
        ctx.abort("test rule")

    return abort_it


class StubServices:
    """:class:`~orchestrator._rules._context.RuleServices` over real tables, for rule tests.

    Attributes:
        cache: the cache table rules read and write.
        slots: the tag concurrency table.
        flow_runs: flow runs by id (add them with :meth:`add_flow_run`).
        enqueued: ``(run, retry)`` for every :meth:`enqueue` call, in order.
    """

    def __init__(self, *, cache: CacheTable | None = None, slots: SlotTable | None = None) -> None:
        self.cache = CacheTable() if cache is None else cache
        self.slots = SlotTable() if slots is None else slots
        self.flow_runs: dict[uuid.UUID, FlowRun] = {}
        self.enqueued: list[tuple[TaskRun, bool]] = []

    def add_flow_run(self, flow_run: FlowRun) -> FlowRun:
        """Make ``flow_run`` readable by rules and return it."""
        self.flow_runs[flow_run.id] = flow_run
        return flow_run

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRun | None:
        """Return the flow run, or None."""
        return self.flow_runs.get(flow_run_id)

    def lookup_cache(self, key: str, now: datetime) -> State | None:
        """Look ``key`` up in the cache table."""
        return self.cache.lookup(key, now)

    def insert_cache(self, key: str, expiration: datetime | None, state: State) -> None:
        """Insert into the cache table."""
        self.cache.insert(key, expiration, state)

    def acquire_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> SlotOutcome:
        """Acquire from the slot table."""
        return self.slots.acquire(run_id, tags)

    def release_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> None:
        """Release to the slot table."""
        self.slots.release(run_id, tags)

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit | None:
        """Read a limit from the slot table."""
        return self.slots.get(tag)

    def enqueue(self, run: TaskRun, *, retry: bool) -> None:
        """Record the call."""
        self.enqueued.append((run, retry))

    def acquire_deployment_slot(self, run_id: uuid.UUID, deployment_id: uuid.UUID) -> SlotOutcome:
        """Acquire the deployment's slot from the slot table (keyed by the id's text)."""
        return self.slots.acquire(run_id, (str(deployment_id),))

    def release_deployment_slot(self, run_id: uuid.UUID, deployment_id: uuid.UUID) -> None:
        """Release the deployment's slot to the slot table."""
        self.slots.release(run_id, (str(deployment_id),))

    def active_slots(self, tag: str) -> int:
        """Return how many slots are held on ``tag`` (0 when it has no limit)."""
        limit = self.slots.get(tag)
        return 0 if limit is None else len(limit.active_slots)


def make_flow_run(
    *,
    state: State | None = None,
    run_count: int = 0,
    created: datetime | None = None,
    **fields: Any,
) -> FlowRun:
    """Return a flow run of :data:`FLOW_ID`; ``state`` is taken as is (stamp it yourself)."""
    when = VirtualClock().now() if created is None else created
    return FlowRun(
        id=fields.pop("id", uuid.uuid4()),
        name=fields.pop("name", "my-flow-run"),
        flow_id=FLOW_ID,
        state=state,
        run_count=run_count,
        created=when,
        updated=when,
        **fields,
    )


def make_task_run(
    *,
    flow_run: FlowRun | None = None,
    tags: Iterable[str] = (),
    retries: int | None = None,
    retry_delay: float | Sequence[float] | None = None,
    retry_jitter_factor: float | None = None,
    run_count: int = 0,
    flow_run_run_count: int = 0,
    created: datetime | None = None,
    **fields: Any,
) -> TaskRun:
    """Return a task run with ``task_key="my-key"`` and ``dynamic_key="0"`` and no state."""
    when = VirtualClock().now() if created is None else created
    return TaskRun(
        id=fields.pop("id", uuid.uuid4()),
        name=fields.pop("name", "my-task-run"),
        task_key=fields.pop("task_key", "my-key"),
        dynamic_key=fields.pop("dynamic_key", "0"),
        flow_run_id=None if flow_run is None else flow_run.id,
        tags=frozenset(tags),
        empirical_policy=TaskRunPolicy(
            retries=retries, retry_delay=retry_delay, retry_jitter_factor=retry_jitter_factor
        ),
        run_count=run_count,
        flow_run_run_count=flow_run_run_count,
        created=when,
        updated=when,
        **fields,
    )


def commit_state(
    run: TaskRun | FlowRun, initial: State | None, proposed: State, now: datetime
) -> State:
    """Commit ``proposed`` on ``run`` at ``now`` as the engine does, and return it.

    Stamps a new id and the timestamp ``now``, gives a SCHEDULED state without a
    scheduled time ``now`` as its time, fills in the run's ids, then applies the global
    bookkeeping, which makes the state the run's current one.
    """
    details = details_for_run(run, proposed.details)
    if proposed.type is StateType.SCHEDULED and details.scheduled_time is None:
        details = details.replace(scheduled_time=now)
    state = attrs.evolve(proposed, id=uuid.uuid4(), timestamp=now, details=details)
    apply_bookkeeping(run, initial, state)
    return state


def commit(ctx: TransitionContext) -> State:
    """The commit function :func:`run_transition` takes: commit the proposal at ``ctx.now``."""
    proposed = ctx.proposed
    assert proposed is not None, "run_transition commits only a remaining proposal"
    return commit_state(ctx.run, ctx.initial, proposed, ctx.now)


def make_context(
    run: TaskRun | FlowRun,
    initial: State | None,
    proposed: State | None,
    *,
    clock: VirtualClock,
    services: StubServices,
    seconds_ago: float = 5.0,
    rng: random.Random | None = None,
) -> TransitionContext:
    """Commit ``initial`` on ``run`` ``seconds_ago`` before ``clock.now()``; return a context.

    With ``initial=None`` the run keeps whatever state it has (none, for a new run). The
    context proposes ``proposed`` at ``clock.now()``.
    """
    now = clock.now()
    if initial is not None:
        initial = commit_state(run, run.state, initial, now - timedelta(seconds=seconds_ago))
    return TransitionContext(
        run=run,
        initial=run.state if initial is None else initial,
        proposed=proposed,
        now=now,
        services=services,
        rng=random.Random(0) if rng is None else rng,
    )


def run_rules(rules: Policy | Sequence[Rule], ctx: TransitionContext) -> TransitionContext:
    """Run ``rules`` on ``ctx`` and commit with :func:`commit`; return ``ctx``.

    ``rules`` is compiled for the context's transition as a policy would be: a rule
    takes part when its FROM and TO sets match. Errors raised by rules propagate, as
    from the engine.
    """
    policy = rules if isinstance(rules, Policy) else Policy(*rules)
    run_transition(policy.compile(ctx.initial_type, ctx.proposed_type), ctx, commit)
    return ctx


def transition(
    rules: Policy | Sequence[Rule],
    run: TaskRun | FlowRun,
    proposed: State | None,
    *,
    clock: VirtualClock,
    services: StubServices,
    rng: random.Random | None = None,
) -> TransitionContext:
    """Propose ``proposed`` for ``run`` from its current state through ``rules``."""
    ctx = make_context(run, None, proposed, clock=clock, services=services, rng=rng)
    return run_rules(rules, ctx)


def propose(
    rules: Policy | Sequence[Rule],
    run: TaskRun | FlowRun,
    initial: State | None,
    proposed: State | None,
    *,
    clock: VirtualClock,
    services: StubServices,
    seconds_ago: float = 5.0,
    rng: random.Random | None = None,
) -> TransitionContext:
    """:func:`make_context` then :func:`run_rules`: the shape of most rule tests."""
    ctx = make_context(
        run, initial, proposed, clock=clock, services=services, seconds_ago=seconds_ago, rng=rng
    )
    return run_rules(rules, ctx)


def force_state(run: TaskRun | FlowRun, state: State, clock: VirtualClock) -> State:
    """Commit ``state`` on ``run`` at ``clock.now()`` with no rule at all (bookkeeping only)."""
    return commit_state(run, run.state, state, clock.now())

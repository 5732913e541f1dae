"""The engine's core: one lock, one writer, and the commit path of every transition.

:class:`EngineBase` holds what every part of the :class:`~orchestrator.Orchestrator`
shares (store, policy tables, queues, clock, random sources, observers, decision log)
and the single code path that turns a proposal into an outcome: pick the policy, run
its rules with :func:`~orchestrator._rules._context.run_transition`, commit through
:meth:`EngineBase._commit`, record the decision, notify observers.

Everything here is synchronous and runs under ``self._lock`` (a re-entrant lock, so an
observer or a rule's service may call back into the engine). No awaits, no I/O: a
transition is a plain function call, safe from any thread.
"""

from __future__ import annotations

import random as _random
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._core._clock import Clock
from .._core._errors import InvalidArgument, ObjectNotFound
from .._core._events import Decision, DecisionEntry, Observer, make_decision, notify
from .._core._models import ConcurrencyLimit, FlowRun, TaskRun
from .._core._outcomes import OrchestrationResult, SetStateStatus, SlotOutcome
from .._core._states import State, StateType
from .._rules._bookkeeping import apply_bookkeeping, details_for_run
from .._rules._context import RuleServices, TransitionContext, run_transition
from .._rules._rule import Policy

if TYPE_CHECKING:
    from datetime import datetime

    from .._queues._registry import TaskQueues
    from .._rules._policy_tables import CacheTable, SlotTable
    from .._store._store import Store
    from ._leases import PendingLeases
    from ._task_overrides import TaskOverrides

__all__ = ["EngineBase"]

_SCHEDULED: Final = StateType.SCHEDULED
# Version 4 and the RFC 4122 variant, as uuid.UUID(version=4) sets them.
_UUID_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET: Final = (4 << 76) | (0x8000 << 48)
_new_object = object.__new__
_set_attribute = object.__setattr__
_PENDING: Final = StateType.PENDING


class _Services(RuleServices):
    """The orchestrator's policy tables, as rules see them."""

    __slots__ = ("_engine",)

    def __init__(self, engine: EngineBase) -> None:
        self._engine = engine

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRun | None:
        return self._engine._store.get_flow_run(flow_run_id)

    def lookup_cache(self, key: str, now: datetime) -> State | None:
        return self._engine._cache.lookup(key, now)

    def insert_cache(self, key: str, expiration: datetime | None, state: State) -> None:
        self._engine._cache.insert(key, expiration, state)

    def acquire_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> SlotOutcome:
        return self._engine._slots.acquire(run_id, tags)

    def release_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> None:
        self._engine._slots.release(run_id, tags)

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit | None:
        return self._engine._slots.get(tag)

    def enqueue(self, run: TaskRun, *, retry: bool) -> None:
        self._engine._queues.put(run, retry=retry)


class EngineBase:
    """Shared state and the transition path of an orchestrator (see the module docstring)."""

    clock: Clock
    random: _random.Random
    _lock: threading.RLock
    _id_random: _random.Random
    _store: Store
    _cache: CacheTable
    _slots: SlotTable
    _queues: TaskQueues
    _observers: tuple[Observer, ...]
    _decision_observers: tuple[Observer, ...]
    _decisions: dict[uuid.UUID, list[DecisionEntry | State]]
    _services: RuleServices
    _task_policy: Policy
    _background_task_policy: Policy
    _minimal_task_policy: Policy
    _flow_policy: Policy
    _minimal_flow_policy: Policy
    _keep_decisions: bool
    # Tables that other modules attach on first use (None, or empty, until then).
    _task_overrides: TaskOverrides | None
    _pending_leases: PendingLeases | None
    _slot_turns: dict[str, Any]

    # -- ids and observers ---------------------------------------------------------------
    def _new_id(self) -> uuid.UUID:
        # A version-4 UUID from the seeded source, built without UUID.__init__'s argument
        # parsing: this runs on every commit.
        value = (self._id_random.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        new = _new_object(uuid.UUID)
        _set_attribute(new, "int", value)
        _set_attribute(new, "is_safe", uuid.SafeUUID.unknown)
        return new

    def subscribe(self, observer: Observer) -> None:
        """Report every committed change to ``observer`` from now on.

        Raises:
            TypeError: ``observer`` is not an :class:`~orchestrator.Observer`.
        """
        if not isinstance(observer, Observer):
            raise TypeError(f"observers subclass orchestrator.Observer, got {observer!r}")
        with self._lock:
            self._observers = (*self._observers, observer)
            self._refresh_decision_observers()

    def unsubscribe(self, observer: Observer) -> None:
        """Stop reporting to ``observer`` (no error if it was not subscribed)."""
        with self._lock:
            self._observers = tuple(o for o in self._observers if o is not observer)
            self._refresh_decision_observers()

    def _refresh_decision_observers(self) -> None:
        # Only observers that override decision_recorded make the engine build a
        # Decision per proposal (futures, for one, only watch commits).
        self._decision_observers = tuple(
            o
            for o in self._observers
            if type(o).decision_recorded is not Observer.decision_recorded
        )

    def _notify(self, call: Callable[[Observer], None]) -> None:
        if self._observers:
            notify(self._observers, call)

    # -- reading ---------------------------------------------------------------------------
    def _task_run(self, task_run_id: uuid.UUID) -> TaskRun:
        run = self._store.get_task_run(task_run_id)
        if run is None:
            raise ObjectNotFound("task run", task_run_id, "check the id, or whether it was deleted")
        return run

    def _flow_run(self, flow_run_id: uuid.UUID) -> FlowRun:
        run = self._store.get_flow_run(flow_run_id)
        if run is None:
            raise ObjectNotFound("flow run", flow_run_id, "check the id, or whether it was deleted")
        return run

    def _remove_task_run(self, run: TaskRun) -> None:
        self._store.remove_task_run(run.id)
        self._slots.release(run.id, run.tags)
        self._slots.forget_waiter(run.id)
        self._decisions.pop(run.id, None)
        self._notify(lambda o: o.task_run_deleted(run))

    # -- the transition path -------------------------------------------------------------
    def _choose_task_policy(self, proposed: State, force: bool) -> Policy:
        # A deferred claim or (re)schedule goes through the background policy even when
        # forced, as in the reference; executing a background run (RUNNING and after) goes
        # through the core policy, so tag limits and parent-flow checks apply to it too.
        if proposed.details.deferred and proposed.type in (_SCHEDULED, _PENDING):
            return self._background_task_policy
        return self._minimal_task_policy if force else self._task_policy

    def _propose(
        self, run: TaskRun | FlowRun, proposed: State, *, force: bool, policy: Policy
    ) -> OrchestrationResult:
        """Run ``policy`` on ``proposed`` for ``run``; the caller holds the lock."""
        initial = run.state
        ctx = TransitionContext(
            run=run,
            initial=initial,
            proposed=proposed,
            now=self.clock.now(),
            services=self._services,
            rng=self.random,
            force=force,
        )
        rules = policy.compile(None if initial is None else initial.type, proposed.type)
        commit = self._commit_task if isinstance(run, TaskRun) else self._commit_flow
        error: Exception | None = None
        try:
            run_transition(rules, ctx, commit)
        except Exception as exc:
            error = exc
        result = OrchestrationResult(ctx.validated, ctx.status, ctx.details)
        self._record(run, ctx, proposed, result, policy)
        if error is not None:
            raise error
        return result

    def _record(
        self,
        run: TaskRun | FlowRun,
        ctx: TransitionContext,
        proposed: State,
        result: OrchestrationResult,
        policy: Policy,
    ) -> None:
        # The log keeps compact entries (a Decision is built when read), since this runs
        # on every proposal: a plain acceptance is just the committed state, whose place
        # in the history says the rest; anything else is a tuple.
        state = result.state
        reason = getattr(result.details, "reason", None)
        entry: DecisionEntry | State
        if (
            ctx.decider is None
            and result.status is SetStateStatus.ACCEPT
            and not ctx.force
            and state is not None
            and state.timestamp is ctx.now
            and state.name == proposed.name
            and reason is None
            and policy is self._default_policy(run, state)
        ):
            entry = state
        else:
            entry = (
                ctx.now,
                ctx.initial_type,
                proposed.type,
                proposed.name,
                result.status,
                state,
                ctx.decider,
                reason,
                ctx.force,
                policy.name,
            )
        if self._keep_decisions:
            log = self._decisions.get(run.id)
            if log is None:
                self._decisions[run.id] = [entry]
            else:
                log.append(entry)
        if self._decision_observers:
            decision = self._decision(run, entry, ctx.initial_type)
            notify(self._decision_observers, lambda o: o.decision_recorded(decision))

    def _default_policy(self, run: TaskRun | FlowRun, state: State) -> Policy:
        if isinstance(run, TaskRun):
            return self._choose_task_policy(state, False)
        return self._flow_policy

    def _decision(
        self, run: TaskRun | FlowRun, entry: DecisionEntry | State, from_type: StateType | None
    ) -> Decision:
        """Build the Decision a log entry stands for (``from_type`` serves plain acceptances)."""
        if not isinstance(entry, State):
            return make_decision(run, entry)
        assert entry.timestamp is not None  # committed states are stamped
        plain: DecisionEntry = (
            entry.timestamp,
            from_type,
            entry.type,
            entry.name,
            SetStateStatus.ACCEPT,
            entry,
            None,
            None,
            False,
            self._default_policy(run, entry).name,
        )
        return make_decision(run, plain)

    def _read_decisions(self, run: TaskRun | FlowRun, history: list[State]) -> list[Decision]:
        previous: dict[int, StateType | None] = {}
        before: StateType | None = None
        for state in history:
            previous[id(state)] = before
            before = state.type
        return [
            self._decision(run, entry, previous.get(id(entry)))
            for entry in self._decisions.get(run.id, ())
        ]

    def _stamp(self, run: TaskRun | FlowRun, ctx: TransitionContext) -> State:
        proposed = ctx.proposed
        assert proposed is not None  # run_transition commits only a remaining proposal
        timestamp = ctx.now if proposed.timestamp is None else proposed.timestamp
        details = details_for_run(
            run, proposed.details, timestamp if proposed.type is _SCHEDULED else None
        )
        initial = ctx.initial
        if (
            initial is not None
            and details is not run._id_details
            and details is not initial.details
            and details == initial.details
        ):
            details = initial.details  # share equal details along the history (memory)
        return State(
            type=proposed.type,
            name=proposed.name,
            timestamp=timestamp,
            message=proposed.message,
            data=proposed.data,
            details=details,
            id=self._new_id(),
        )

    def _commit_task(self, ctx: TransitionContext) -> State:
        run = ctx.run
        assert isinstance(run, TaskRun)
        state = self._stamp(run, ctx)
        store = self._store
        before = store.snapshot_task_run(run)
        apply_bookkeeping(run, ctx.initial, state)
        run.updated = ctx.now
        store.reindex_task_run(run, before)
        store.append_task_run_state(run.id, state)
        self._slots.forget_waiter(run.id)
        self._notify(lambda o: o.task_run_state_committed(run, state))
        return state

    def _commit_flow(self, ctx: TransitionContext) -> State:
        run = ctx.run
        assert isinstance(run, FlowRun)
        state = self._stamp(run, ctx)
        store = self._store
        before = store.snapshot_flow_run(run)
        resuming = run.empirical_policy.resuming
        apply_bookkeeping(run, ctx.initial, state, count_runs=not resuming)
        run.updated = ctx.now
        store.reindex_flow_run(run, before)
        store.append_flow_run_state(run.id, state)
        self._notify(lambda o: o.flow_run_state_committed(run, state))
        self._after_flow_commit(run, state)
        return state

    def _after_flow_commit(self, run: FlowRun, state: State) -> None:
        """Hook for flow-run follow-ups (subflow mirroring); the flow mixin overrides it."""

    # -- argument checks shared by the public methods ---------------------------------------
    @staticmethod
    def _check_state(state: object) -> State:
        if not isinstance(state, State):
            raise InvalidArgument(
                f"expected a State such as Running() or Completed(data), got {state!r}"
            )
        return state

    @staticmethod
    def _check_id(value: object, what: str) -> uuid.UUID:
        if isinstance(value, uuid.UUID):
            return value
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
        raise InvalidArgument(f"{what} must be a UUID (or its string form), got {value!r}")

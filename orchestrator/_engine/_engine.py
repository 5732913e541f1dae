"""The engine: the single writer, owning every table by name, and the commit path.

:class:`Engine` declares and builds all of an orchestrator's state in one place: the
lock, the clock and random sources, the store, the policy tables, the task queues, the
work pools, the decision log, and the parts built on them (slot turns, claim leases,
future waiters, task stand-ins). Parts get narrow handles (a table, the lock, a
``propose_if`` callable), never the engine. The public
:class:`~orchestrator.Orchestrator` is a facade over it.

A proposal goes one way: pick the policy, run its rules with
:func:`~orchestrator._rules._context.run_transition`, commit (``commit_task`` or ``commit_flow``
in ``_commits.py``, which also files a flow run in its work queue and mirrors a subflow's
state onto its parent task run), record the decision, notify observers. Inserting a run
with its first state and removing one with everything filed under it are the functions
of ``_run_lifecycle.py``, which the engine has as its methods.

Everything here is synchronous and runs under ``lock`` (a re-entrant lock, so an
observer or a rule's service may call back into the engine). No awaits, no I/O: a
transition is a plain function call, safe from any thread.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Final, NamedTuple, final

from .._core._abandoned import AbandonedCalls
from .._core._activity import Activity
from .._core._clock import Clock
from .._core._errors import ObjectNotFound
from .._core._events import Observer, notify
from .._core._models import FlowRun, TaskRun
from .._core._outcomes import OrchestrationResult
from .._core._retention import Retention
from .._core._state_record import held_id, state_key
from .._core._states import State, StateType
from .._journal._errors import JournalError
from .._journal._sqlite import SQLiteJournal
from .._journal._writer import JournalWriter, journaled_sources
from .._pools._work_pools import WorkPoolTable
from .._queues._registry import TaskQueues
from .._rules._context import TransitionContext
from .._rules._policy_tables import CacheTable, SlotTable
from .._rules._rule import Policy
from .._store._results import ResultStore
from .._store._store import Store
from . import _run_lifecycle
from ._commits import commit_flow, commit_task
from ._decision_journal import journal_decision
from ._decisions import PLAIN_CREATION, DecisionLog
from ._invariants import check_engine
from ._leases import PendingLeases
from ._retention import RetentionIndex
from ._run_logs import RunLogs
from ._services import EngineServices
from ._table_replay import deployment_slots_changed, table_changed
from ._task_overrides import TaskOverrides
from ._turns import SlotTurns, TagSignals
from ._waiters import FutureWaiters

if TYPE_CHECKING:
    from ._autojump import TimeSkipper

__all__ = ["Engine", "Policies"]

_logger = logging.getLogger("orchestrator")
_SCHEDULED: Final = StateType.SCHEDULED
_PENDING: Final = StateType.PENDING
# Version 4 and the RFC 4122 variant, as uuid.UUID(version=4) sets them.
_UUID_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET: Final = (4 << 76) | (0x8000 << 48)
_new_object = object.__new__
_set_attribute = object.__setattr__
#: Read once: an enum member read through its class is a Python-level call in 3.11.
_SAFE_UNKNOWN: Final = uuid.SafeUUID.unknown


class Policies(NamedTuple):
    """The five policies an engine decides with (a tuple: cheap to build per orchestrator)."""

    task: Policy
    background_task: Policy
    minimal_task: Policy
    flow: Policy
    minimal_flow: Policy


@final
class Engine:
    """The single writer of one orchestrator's runs, states, queues and slots.

    Args:
        clock: where time comes from.
        seed: seeds the ids (``seed``) and the jitter source ``random`` (``seed + 1``).
        policies: the policies proposals go through.
        scheduled_queue_size, retry_queue_size: default bounds of each task key's queues.
        keep_decisions: keep the decision log.
        retention: delete finished runs beyond these limits (None: keep everything).
        run_log_limit, run_log_level: the most lines kept per run, and the least level
            kept (see :class:`~._run_logs.RunLogs`).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        seed: int,
        policies: Policies,
        scheduled_queue_size: int,
        retry_queue_size: int,
        keep_decisions: bool,
        retention: Retention | None = None,
        run_log_limit: int = 1000,
        run_log_level: int = logging.INFO,
        journal: SQLiteJournal | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        #: Where every change is appended (None: not journaled, and no cost at all).
        self.journal: JournalWriter | None = None
        if journal is None:
            self.lock: AbstractContextManager[bool] = threading.RLock()
            self._ids = random.Random(seed)
            #: The jitter source rules draw from.
            self.random = random.Random(seed + 1)
        else:
            self.journal, self.lock, self._ids, self.random = journaled_sources(
                journal, clock, seed, keep_decisions=keep_decisions
            )
        self.policies = policies
        self.store = Store()
        self.work_pools = WorkPoolTable()
        #: Where submitted tasks' parameters (and stored results) live.
        self.results = ResultStore()
        #: What is executing now; workers report to it, time skipping reads it.
        self.activity = Activity()
        self.observers: tuple[Observer, ...] = ()
        self.decisions = DecisionLog(
            keep=keep_decisions, default_policy=self._default_policy, history=self.store.run_history
        )
        #: The lines runs logged, per run (forgotten with the run).
        self.run_logs = RunLogs(
            lock=self.lock, limit=run_log_limit, level=run_log_level, exists=self._run_exists
        )
        self.signals = TagSignals()
        changed = functools.partial(table_changed, self)
        self.cache = CacheTable(on_change=changed)
        self.slots = SlotTable(on_free=self.signals.notify, on_change=changed)
        self.queues = TaskQueues(
            clock,
            lookup=self.store.get_task_run,
            default_scheduled_size=scheduled_queue_size,
            default_retry_size=retry_queue_size,
        )
        #: Deployment concurrency: one limit per limited deployment, keyed by its id's text.
        self.deployment_slots = SlotTable(
            on_change=functools.partial(deployment_slots_changed, self)
        )
        self.services = EngineServices(
            self.store, self.cache, self.slots, self.queues, self.deployment_slots
        )
        self.turns = SlotTurns(self.slots, self.signals, self.lock, clock)
        self.leases = PendingLeases(clock, self.propose_if)
        self.task_overrides = TaskOverrides()
        #: Task calls given up at their timeout that have not returned yet (by run id).
        self.abandoned_calls = AbandonedCalls()
        self.future_waiters = FutureWaiters()
        self._futures_watched = False
        #: The TimeSkipper driving the clock, if one is running.
        self.time_skipper: TimeSkipper | None = None
        #: The commit steps run_transition ends a task-run or flow-run proposal with.
        self._commit_task = functools.partial(commit_task, self)
        self._commit_flow = functools.partial(commit_flow, self)
        #: How many proposals are under way (one proposal can make another, nested).
        self._depth = 0
        #: The line of finished runs retention deletes from (idle without retention).
        self.retention = RetentionIndex(
            Retention() if retention is None else retention,
            store=self.store,
            clock=clock,
            remove_task_run=self.remove_task_run,
            remove_flow_run=self.remove_flow_run,
            waiting=self.future_waiters.is_waited_on,
        )
        if self.retention.active:
            self.subscribe(self.retention)

    # -- ids and observers -----------------------------------------------------------------
    def new_id(self) -> uuid.UUID:
        """A version-4 UUID from the seeded source."""
        # Built without UUID.__init__'s argument parsing: this runs on every commit.
        value = (self._ids.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        new = _new_object(uuid.UUID)
        _set_attribute(new, "int", value)
        _set_attribute(new, "is_safe", _SAFE_UNKNOWN)
        return new

    def new_id_int(self) -> int:
        """The 128-bit int of a version-4 UUID from the seeded source (a state's id).

        Draws what :meth:`new_id` draws; no UUID object is built.
        """
        return (self._ids.getrandbits(128) & _UUID_CLEAR) | _UUID_SET

    def subscribe(self, observer: Observer) -> None:
        """Report every committed change to ``observer`` from now on."""
        with self.lock:
            self.observers = (*self.observers, observer)
            self.decisions.watch(self.observers)

    def unsubscribe(self, observer: Observer) -> None:
        """Stop reporting to ``observer`` (no error if it was not subscribed)."""
        with self.lock:
            self.observers = tuple(o for o in self.observers if o is not observer)
            self.decisions.watch(self.observers)

    def notify(self, call: Callable[[Observer], None]) -> None:
        """Report one change to every observer (the caller holds the lock)."""
        if self.observers:
            notify(self.observers, call)

    def watch_futures(self) -> FutureWaiters:
        """The future waiters, subscribed the first time a future waits."""
        with self.lock:
            if not self._futures_watched:
                self.subscribe(self.future_waiters)
                self._futures_watched = True
        return self.future_waiters

    def drive_clock(self, skipper: TimeSkipper) -> TimeSkipper | None:
        """Let ``skipper`` drive the clock; return the one already driving it, if any.

        Only one skipper drives a clock: when another one does, nothing changes.
        """
        with self.lock:
            current = self.time_skipper
            if current is None:
                self.time_skipper = skipper
            return current

    def release_clock(self, skipper: TimeSkipper) -> None:
        """``skipper`` stops driving the clock (no error if it was not)."""
        with self.lock:
            if self.time_skipper is skipper:
                self.time_skipper = None

    # -- reading -------------------------------------------------------------------------------
    def _run_exists(self, run_id: uuid.UUID) -> bool:
        store = self.store
        return store.get_task_run(run_id) is not None or store.get_flow_run(run_id) is not None

    def task_run(self, task_run_id: uuid.UUID) -> TaskRun:
        """The task run with this id; :class:`ObjectNotFound` when there is none."""
        run = self.store.get_task_run(task_run_id)
        if run is None:
            raise ObjectNotFound("task run", task_run_id, "check the id, or whether it was deleted")
        return run

    def flow_run(self, flow_run_id: uuid.UUID) -> FlowRun:
        """The flow run with this id; :class:`ObjectNotFound` when there is none."""
        run = self.store.get_flow_run(flow_run_id)
        if run is None:
            raise ObjectNotFound("flow run", flow_run_id, "check the id, or whether it was deleted")
        return run

    # -- inserting and removing runs (functions of _run_lifecycle.py, as methods) -------------
    insert_task_run = _run_lifecycle.insert_task_run
    insert_flow_run = _run_lifecycle.insert_flow_run
    remove_task_run = _run_lifecycle.remove_task_run
    remove_flow_run = _run_lifecycle.remove_flow_run

    # -- the transition path -------------------------------------------------------------------
    def choose_task_policy(self, proposed: State, force: bool) -> Policy:
        """The policy a task-run proposal goes through."""
        # A deferred claim or (re)schedule goes through the background policy even when
        # forced, as in the reference; executing a background run (RUNNING and after) goes
        # through the core policy, so tag limits and parent-flow checks apply to it too.
        policies = self.policies
        if proposed.details.deferred and proposed.type in (_SCHEDULED, _PENDING):
            return policies.background_task
        return policies.minimal_task if force else policies.task

    def choose_flow_policy(self, force: bool) -> Policy:
        """The policy a flow-run proposal goes through."""
        return self.policies.minimal_flow if force else self.policies.flow

    def _default_policy(self, run: TaskRun | FlowRun, state: State, force: bool) -> Policy:
        # choose_task_policy and choose_flow_policy spelled out: the decision log asks
        # this on every proposal.
        policies = self.policies
        if isinstance(run, TaskRun):
            if state.details.deferred and state.type in (_SCHEDULED, _PENDING):
                return policies.background_task
            return policies.minimal_task if force else policies.task
        return policies.minimal_flow if force else policies.flow

    def propose(
        self,
        run: TaskRun | FlowRun,
        proposed: State,
        *,
        force: bool,
        policy: Policy,
        raise_commit_error: bool = False,
        now: datetime | None = None,
    ) -> OrchestrationResult:
        """Run ``policy`` on ``proposed`` for ``run``; the caller holds the lock.

        A commit that raises changes nothing and makes the outcome ABORT; with
        ``raise_commit_error`` its exception is raised instead (after the decision is
        recorded), for creations, which have no outcome to return. ``now`` is the
        proposal's time when the caller has just read the clock (a creation's first
        state is committed at the run's creation time); the clock is read otherwise.

        Raises:
            ObjectAlreadyExists: ``proposed`` has the id of a stored state (nothing changes).
        """
        if held_id(proposed) is not None:  # a client's id (the check of None is a no-op)
            self.store.check_state_id(proposed)
        initial = run.state
        ctx = TransitionContext.begin(
            run,
            initial,
            proposed,
            self.clock.now() if now is None else now,
            self.services,
            self.random,
            force,
        )
        plan = policy.plan(None if initial is None else initial.type, proposed.type)
        commit = self._commit_task if isinstance(run, TaskRun) else self._commit_flow
        error: Exception | None = None
        self._depth += 1
        try:
            ctx.run_plan(plan, commit)
        except Exception as exc:
            error = exc
        finally:
            self._depth -= 1
        result = ctx.result()
        kept = self.decisions.record(run, ctx, proposed, result, policy)
        if self.journal is not None:
            if kept.__class__ is tuple:  # a decision kept in full
                journal_decision(self, run, kept)
            else:  # kept as the committed state (most decisions): a mark on the commit
                self.journal.plain_decision(run, kept == PLAIN_CREATION)
        now = ctx.now
        if (now >= self.cache.next_expiry or now >= self.retention.due) and not self._depth:
            self.tidy(now)
        if error is not None:
            raise error
        if raise_commit_error and ctx.commit_error is not None:
            raise ctx.commit_error
        if self.journal is not None and isinstance(ctx.commit_error, JournalError):
            raise ctx.commit_error  # the change was undone: the caller must know
        return result

    def tidy(self, now: datetime) -> None:
        """Prune the cache entries expired at ``now`` and delete what retention lets go.

        Called at the end of a top-level proposal (never from inside a commit) whose time
        has reached the cache's next expiry or retention's due time. A failure here is
        logged, not raised: the proposal it follows was committed.
        """
        try:
            self.cache.prune(now)
            self.retention.enforce(now)
        except Exception:
            _logger.exception("could not prune the cache or apply retention at %s", now)

    def propose_if(
        self, task_run_id: uuid.UUID, state: State, *, current: State, force: bool = False
    ) -> OrchestrationResult | None:
        """Propose ``state`` for a task run only while its current state is ``current``.

        The check and the proposal happen under the lock, so nothing slips in between.
        States are compared by id (a committed state's id never changes). Returns None,
        proposing nothing, when the run is gone or has moved on from ``current``.
        """
        expected = state_key(current)
        with self.lock:
            run = self.store.get_task_run(task_run_id)
            if run is None:
                return None
            now_state = run.state
            if now_state is None:
                return None
            # The ids' keys (ints), without building either UUID.
            if state_key(now_state) != expected:
                return None
            return self.propose(
                run, state, force=force, policy=self.choose_task_policy(state, force)
            )

    # -- checks ----------------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Verify every index and cross-reference; raise AssertionError on the first problem."""
        with self.lock:
            check_engine(self)
            self.run_logs.check_invariants()

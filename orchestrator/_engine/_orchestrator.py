"""The :class:`Orchestrator`: the single writer of runs, states, queues and slots.

An orchestrator owns everything: its store, its policies, its tag concurrency limits
and cache, its task queues, its clock and its observers. Two orchestrators in one
process share nothing. Construction is cheap (no threads, no event loop, no I/O), so a
test can build one per test.

Transitions are synchronous and atomic (one re-entrant lock), callable from any thread
or from async code. The async parts (waiting for a queue, a slot, a scheduled time)
live in the queues, futures and workers built on top.
"""

from __future__ import annotations

import contextvars
import random
import threading
import uuid
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Final, ParamSpec, TypeVar, final

import attrs

from .. import policies as _policies
from .._core._activity import Activity
from .._core._clock import Clock, SystemClock
from .._core._errors import InvalidArgument
from .._core._states import StateType
from .._core._tasks import Task
from .._pools._work_pools import WorkPoolTable
from .._queues._registry import MultiQueue, TaskQueues
from .._rules._policy_tables import CacheTable, SlotTable
from .._rules._rule import Policy
from .._store._results import ResultStore
from .._store._store import Store
from ._autojump import TimeSkipper
from ._deployments import DeploymentsMixin
from ._engine import _Services
from ._futures import FutureWaiters, TaskRunFuture
from ._leases import LeasesMixin
from ._limits import ConcurrencyLimitsMixin
from ._submission import asubmit_task, submit_task
from ._task_runs import TaskRunsMixin
from ._waits import WaitsMixin
from ._work_queues import WorkQueuesMixin

__all__ = ["Orchestrator", "OrchestratorStatistics"]

P = ParamSpec("P")
R = TypeVar("R")

_CURRENT: Final[contextvars.ContextVar[Orchestrator | None]] = contextvars.ContextVar(
    "orchestrator_current", default=None
)


@final
@attrs.frozen(kw_only=True)
class OrchestratorStatistics:
    """Counts describing an orchestrator at one moment."""

    task_runs: int
    flow_runs: int
    task_runs_by_state: dict[StateType | None, int]
    decisions: int
    concurrency_limits: int
    cache_entries: int
    observers: int


@final
class Orchestrator(
    WaitsMixin,
    LeasesMixin,
    TaskRunsMixin,
    DeploymentsMixin,
    WorkQueuesMixin,
    ConcurrencyLimitsMixin,
):
    """An in-process workflow orchestrator: runs, states, policies and queues.

    Args:
        clock: where time comes from; a :class:`SystemClock` by default, a
            :class:`VirtualClock` in tests.
        seed: seeds the ids and the retry jitter, for reproducible runs; random by default.
        task_policy: the policy that decides task-run proposals (the core task policy
            by default).
        background_task_policy: the policy for deferred (background) claims and schedules.
        flow_policy: the policy that decides flow-run proposals.
        slot_wait_seconds: the longest a run waiting for a tag concurrency slot waits
            before proposing again (it is woken as soon as a slot frees).
        max_cache_key_length: longer cache keys are not cached.
        scheduled_queue_size, retry_queue_size: default bounds of each task key's queues.
        keep_decisions: keep the decision log (on by default; off saves memory).
        autojump: on a :class:`VirtualClock`, skip time while ``async with
            orchestrator:`` is open: whenever all work is idle, the clock jumps to the
            next due event (see :class:`orchestrator.testing.TimeSkipper`).

    Use ``with orchestrator:`` (or ``async with``) to make it the current orchestrator
    for ``task.delay(...)``.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        seed: int | None = None,
        task_policy: Policy | None = None,
        background_task_policy: Policy | None = None,
        flow_policy: Policy | None = None,
        slot_wait_seconds: float = 10.0,
        max_cache_key_length: int = 2000,
        scheduled_queue_size: int = 1000,
        retry_queue_size: int = 100,
        keep_decisions: bool = True,
        autojump: bool = False,
    ) -> None:
        if clock is not None and not isinstance(clock, Clock):
            raise InvalidArgument(f"clock must be an orchestrator Clock, got {clock!r}")
        for name, value in (
            ("task_policy", task_policy),
            ("background_task_policy", background_task_policy),
            ("flow_policy", flow_policy),
        ):
            if value is not None and not isinstance(value, Policy):
                raise InvalidArgument(f"{name} must be a Policy, got {value!r}")
        if slot_wait_seconds <= 0:
            raise InvalidArgument(f"slot_wait_seconds must be > 0, got {slot_wait_seconds!r}")
        self.clock = SystemClock() if clock is None else clock
        if seed is None:
            seed = random.SystemRandom().getrandbits(64)
        self.seed = seed
        self._id_random = random.Random(seed)
        self.random = random.Random(seed + 1)
        self._lock = threading.RLock()
        self._store = Store()
        self._work_pools = WorkPoolTable()
        self._observers = ()
        self._decision_observers = ()
        self._decisions = {}
        self._keep_decisions = keep_decisions
        self._cache = CacheTable(on_change=self._cache_changed)
        self._slots = SlotTable(on_free=self._slot_freed, on_change=self._slots_changed)
        self._queues = TaskQueues(
            self.clock,
            lookup=self._store.get_task_run,
            default_scheduled_size=scheduled_queue_size,
            default_retry_size=retry_queue_size,
        )
        self._services = _Services(self)
        self._task_policy = (
            _policies.core_task_policy(
                slot_wait_seconds=slot_wait_seconds, max_cache_key_length=max_cache_key_length
            )
            if task_policy is None
            else task_policy
        )
        self._background_task_policy = (
            _policies.background_task_policy(max_cache_key_length=max_cache_key_length)
            if background_task_policy is None
            else background_task_policy
        )
        self._minimal_task_policy = _policies.minimal_task_policy()
        self._minimal_flow_policy = _policies.minimal_flow_policy()
        self._flow_policy = _policies.core_flow_policy() if flow_policy is None else flow_policy
        self._tag_signals = {}
        #: What is executing now; workers report to it, time skipping reads it.
        self.activity = Activity()
        self._future_waiters: FutureWaiters | None = None
        self._time_skipper: TimeSkipper | None = None
        self._task_overrides = None
        self._pending_leases = None
        self._slot_turns = {}
        if autojump and not self.clock.is_virtual:
            raise InvalidArgument("autojump needs a VirtualClock; the system clock cannot jump")
        self._autojump = autojump
        self._owned_skippers: list[TimeSkipper] = []
        self._tokens: list[contextvars.Token[Orchestrator | None]] = []
        #: Where submitted tasks' parameters (and results, if a task stores them) live.
        self.result_store = ResultStore()

    # -- policies --------------------------------------------------------------------------
    @property
    def task_policy(self) -> Policy:
        """The policy deciding task-run proposals."""
        return self._task_policy

    @property
    def background_task_policy(self) -> Policy:
        """The policy deciding deferred claims and schedules of background runs."""
        return self._background_task_policy

    @property
    def flow_policy(self) -> Policy:
        """The policy deciding flow-run proposals."""
        return self._flow_policy

    # -- ids ---------------------------------------------------------------------------------
    def new_id(self) -> uuid.UUID:
        """Return a fresh id from this orchestrator's seeded source.

        The source is the one the orchestrator draws its run and state ids from, so two
        orchestrators built with the same ``seed`` and used the same way hand out the
        same ids in the same order: ids stay reproducible under a seed.
        """
        return self._new_id()

    # -- current orchestrator ----------------------------------------------------------------
    @staticmethod
    def current() -> Orchestrator:
        """Return the orchestrator of the innermost ``with orchestrator:`` block.

        Raises:
            RuntimeError: no orchestrator is current in this context.
        """
        current = _CURRENT.get()
        if current is None:
            raise RuntimeError(
                "no current orchestrator: use `with orchestrator:` (or `async with`), or call "
                "orchestrator.submit(task, ...) explicitly"
            )
        return current

    def __enter__(self) -> Orchestrator:
        self._tokens.append(_CURRENT.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _CURRENT.reset(self._tokens.pop())

    async def __aenter__(self) -> Orchestrator:
        self.__enter__()
        if self._autojump:
            skipper = TimeSkipper(self)
            try:
                await skipper.__aenter__()
            except BaseException:
                self.__exit__(None, None, None)
                raise
            self._owned_skippers.append(skipper)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._autojump:
                await self._owned_skippers.pop().__aexit__(exc_type, exc, tb)
        finally:
            self.__exit__(exc_type, exc, tb)

    # -- submission ----------------------------------------------------------------------------
    def submit(self, task: Task[P, R], /, *args: P.args, **kwargs: P.kwargs) -> TaskRunFuture[R]:
        """Create a background run of ``task(*args, **kwargs)``, due now; return its future.

        The run waits in its task key's queue for a :class:`TaskWorker` serving the task.

        Raises:
            TypeError: the arguments do not fit the task's signature (nothing is created).
            QueueFull: the task key's queue is full (nothing is created); from async code
                use :meth:`asubmit`, which waits for room.
        """
        return submit_task(self, task, args, kwargs)

    def schedule(
        self, when: datetime, task: Task[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[R]:
        """Like :meth:`submit`, for a run due at ``when`` (an aware datetime)."""
        return submit_task(self, task, args, kwargs, scheduled_time=when)

    async def asubmit(
        self, task: Task[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[R]:
        """Like :meth:`submit`, but wait for room in a full queue instead of raising."""
        return await asubmit_task(self, task, args, kwargs)

    async def aschedule(
        self, when: datetime, task: Task[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[R]:
        """Like :meth:`schedule`, but wait for room in a full queue instead of raising."""
        return await asubmit_task(self, task, args, kwargs, scheduled_time=when)

    # -- queues -------------------------------------------------------------------------------
    @property
    def task_queues(self) -> TaskQueues:
        """This orchestrator's task queues (one per task key)."""
        return self._queues

    def configure_task_key(
        self, task_key: str, *, scheduled_size: int | None = None, retry_size: int | None = None
    ) -> None:
        """Set the bounds of one task key's queues (None keeps the default)."""
        self._queues.configure_task_key(
            task_key, scheduled_size=scheduled_size, retry_size=retry_size
        )

    def multi_queue(self, task_keys: Iterable[str]) -> MultiQueue:
        """Return a :class:`MultiQueue` over these task keys' queues."""
        return MultiQueue(list(task_keys), queues=self._queues)

    # -- policy-table callbacks ----------------------------------------------------------------
    def _slots_changed(self, event: object) -> None:
        self._notify(lambda o: o.policy_table_changed(event))

    def _cache_changed(self, event: object) -> None:
        self._notify(lambda o: o.policy_table_changed(event))

    # -- checks ---------------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Verify every index and cross-reference; raise AssertionError on the first problem.

        Checks the store's secondary indexes against its primary tables, the slot and
        cache tables, the queues, that every run's state is the last of its history, and
        that every slot holder is a task run that is RUNNING or CANCELLING (no leaks).
        """
        with self._lock:
            self._store.check_invariants()
            self._slots.check_invariants()
            self._cache.check_invariants()
            self._queues.check_invariants()
            self._work_pools.check_invariants(self._store.flow_runs.values())
            for run in self._store.task_runs.values():
                states = self._store.task_run_states(run.id)
                assert (states[-1] if states else None) is run.state, (
                    f"task run {run.id}: current state is not the last of its history"
                )
            for limit in self._slots.all():
                for holder in limit.active_slots:
                    holder_run = self._store.get_task_run(holder)
                    assert holder_run is not None, (
                        f"tag {limit.tag!r} holds a slot for deleted run {holder}"
                    )
                    assert holder_run.state_type in (StateType.RUNNING, StateType.CANCELLING), (
                        f"tag {limit.tag!r}: slot held by run {holder} in {holder_run.state_type}"
                    )

    def statistics(self) -> OrchestratorStatistics:
        """Return counts of runs (by state), decisions, limits, cache entries and observers."""
        with self._lock:
            by_state: dict[StateType | None, int] = {}
            for run in self._store.task_runs.values():
                by_state[run.state_type] = by_state.get(run.state_type, 0) + 1
            return OrchestratorStatistics(
                task_runs=len(self._store.task_runs),
                flow_runs=len(self._store.flow_runs),
                task_runs_by_state=by_state,
                decisions=sum(len(d) for d in self._decisions.values()),
                concurrency_limits=len(self._slots.all()),
                cache_entries=self._cache.statistics().entries,
                observers=len(self._observers),
            )

    def __repr__(self) -> str:
        return (
            f"<Orchestrator clock={self.clock!r} task_runs={len(self._store.task_runs)} "
            f"flow_runs={len(self._store.flow_runs)}>"
        )

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
import logging
import random
import uuid
from collections.abc import Iterable
from types import TracebackType
from typing import ParamSpec, TypeVar, final

from .. import policies as _policies
from .._core._abandoned import AbandonedCalls
from .._core._activity import Activity
from .._core._checks import (
    check_bool,
    check_optional_int,
    check_positive_int,
    check_seconds,
    check_text,
    wrong_type,
)
from .._core._checks_objects import check_instance
from .._core._clock import Clock, SystemClock
from .._core._current import CURRENT, Submitter, current
from .._core._errors import ArgumentValueError
from .._core._events import Observer
from .._core._retention import Retention
from .._queues._registry import MultiQueue, TaskQueues
from .._rules._rule import Policy
from .._store._results import ResultStore
from ._autojump import TimeSkipper
from ._claims import Claims
from ._deployments import Deployments
from ._engine import Engine, Policies
from ._flow_run_extras import FlowRunExtras
from ._flow_runs import FlowRuns
from ._inspection import Inspection, OrchestratorStatistics
from ._journaling import (
    close_journal,
    compact_journal,
    configure_task_key,
    open_journal,
    saved_seed,
    start_journal,
)
from ._limits import ConcurrencyLimits
from ._pools import WorkPools
from ._run_log_reads import RunLogReads
from ._run_logs import check_level
from ._submitting import Submissions
from ._task_overrides import TaskOverrides
from ._task_run_reads import TaskRunReads
from ._task_runs import TaskRuns
from ._work_queues import WorkQueues

__all__ = ["Orchestrator", "OrchestratorStatistics"]

P = ParamSpec("P")
R = TypeVar("R")


@final
class Orchestrator(
    TaskRuns,
    TaskRunReads,
    FlowRuns,
    Deployments,
    WorkPools,
    WorkQueues,
    ConcurrencyLimits,
    Claims,
    FlowRunExtras,
    Submissions,
    RunLogReads,
    Inspection,
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
        retention: a :class:`Retention` to delete finished runs, oldest first, so a
            long-running process stays flat; None (the default) keeps every run.
        run_log_limit: the most log lines kept per run (``get_run_logger()``, captured
            prints); once a run has that many, each new line drops its oldest, and
            ``count_dropped_logs`` counts those dropped.
        run_log_level: the least level of the log lines kept (``logging.INFO`` by
            default; a number or a level name). It does not change what goes on to the
            stdlib logger ``orchestrator.runs``: its own level and handlers decide that.
        journal: a journal file: every change is written to it before the call that
            made it returns, and an orchestrator opened on a journal that holds changes
            is restored from it (with the journal's seed). Close it with :meth:`close`
            or ``with Orchestrator(journal=...) as orchestrator:``.

    Retention applies to *top-level* runs (task runs without a flow run, flow runs
    that are not subflows) in the order their terminal states were committed; a run
    forced out of a terminal state leaves that line. After any state proposal, the runs
    beyond the newest ``max_terminal_runs`` and those finished ``max_age`` or longer ago
    (this orchestrator's clock) are deleted oldest first, as ``delete_flow_run`` and
    ``delete_task_run`` do, with their task runs and subflow runs whatever their states.
    A finished run whose future was woken but has not read its state yet is kept until
    it has; a future of a deleted run raises :class:`ObjectNotFound`. See the README.

    Raises:
        InvalidArgument: a bad argument, naming it (a value of the wrong kind, such as
            ``slot_wait_seconds="10"`` or ``keep_decisions="no"``, is also a TypeError;
            one out of range, such as NaN seconds, also a ValueError).

    Use ``with orchestrator:`` (or ``async with``) to make it the current orchestrator
    for ``task.delay(...)``.

    The orchestrator is a facade: its methods come from stateless facets (one module
    each under ``orchestrator/_engine/``) over one :class:`Engine` that owns every table.
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
        retention: Retention | None = None,
        run_log_limit: int = 1000,
        run_log_level: int | str = logging.INFO,
        journal: object = None,
    ) -> None:
        if clock is not None and not isinstance(clock, Clock):  # Clock is abstract
            raise wrong_type("clock", clock, "an orchestrator Clock, such as VirtualClock()")
        for name, value in (
            ("task_policy", task_policy),
            ("background_task_policy", background_task_policy),
            ("flow_policy", flow_policy),
        ):
            if value is not None:
                check_instance(value, Policy, name)
        seed = check_optional_int(seed, "seed")
        slot_wait_seconds = check_seconds(slot_wait_seconds, "slot_wait_seconds", positive=True)
        check_positive_int(max_cache_key_length, "max_cache_key_length")
        check_positive_int(scheduled_queue_size, "scheduled_queue_size")
        check_positive_int(retry_queue_size, "retry_queue_size")
        check_bool(keep_decisions, "keep_decisions")
        check_bool(autojump, "autojump")
        check_positive_int(run_log_limit, "run_log_limit")
        run_log_level = check_level(run_log_level, "run_log_level")
        if retention is not None:
            check_instance(
                retention,
                Retention,
                "retention",
                expected="None or a Retention(max_age=..., max_terminal_runs=...)",
            )
        clock = SystemClock() if clock is None else clock
        if autojump and not clock.is_virtual:
            raise ArgumentValueError(
                f"autojump needs a VirtualClock; {clock!r} cannot jump: pass "
                "Orchestrator(VirtualClock(), autojump=True), or leave autojump False"
            )
        file = None if journal is None else open_journal(journal)
        if file is not None:
            seed = saved_seed(file) or seed
        if seed is None:
            seed = random.SystemRandom().getrandbits(64)
        policies = Policies(
            task=(
                _policies.core_task_policy(
                    slot_wait_seconds=slot_wait_seconds, max_cache_key_length=max_cache_key_length
                )
                if task_policy is None
                else task_policy
            ),
            background_task=(
                _policies.background_task_policy(max_cache_key_length=max_cache_key_length)
                if background_task_policy is None
                else background_task_policy
            ),
            minimal_task=_policies.minimal_task_policy(),
            flow=_policies.core_flow_policy() if flow_policy is None else flow_policy,
            minimal_flow=_policies.minimal_flow_policy(),
        )
        self._engine = Engine(
            clock,
            seed=seed,
            policies=policies,
            scheduled_queue_size=scheduled_queue_size,
            retry_queue_size=retry_queue_size,
            keep_decisions=keep_decisions,
            retention=retention,
            run_log_limit=run_log_limit,
            run_log_level=run_log_level,
            journal=file,
        )
        if file is not None:
            self._finalizer = start_journal(self, self._engine)
        self._autojump = autojump
        self._owned_skippers: list[TimeSkipper] = []
        self._tokens: list[contextvars.Token[Submitter | None]] = []

    # -- what it owns ------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        """Where this orchestrator's time comes from."""
        return self._engine.clock

    @property
    def seed(self) -> int:
        """The seed of its ids and jitter (drawn at random when none was given)."""
        return self._engine.seed

    @property
    def random(self) -> random.Random:
        """The source retry jitter draws from (seeded from ``seed``)."""
        return self._engine.random

    @property
    def activity(self) -> Activity:
        """What is executing now; workers report to it, time skipping reads it."""
        return self._engine.activity

    @property
    def result_store(self) -> ResultStore:
        """Where submitted tasks' parameters (and results, if a task stores them) live."""
        return self._engine.results

    @property
    def task_overrides(self) -> TaskOverrides:
        """Stand-ins for task functions, by task key (what ``testing.stub_task`` installs)."""
        return self._engine.task_overrides

    def new_id(self) -> uuid.UUID:
        """Return a fresh id from this orchestrator's seeded source.

        The source is the one the orchestrator draws its run and state ids from, so two
        orchestrators built with the same ``seed`` and used the same way hand out the
        same ids in the same order: ids stay reproducible under a seed.
        """
        return self._engine.new_id()

    def subscribe(self, observer: Observer) -> None:
        """Report every committed change to ``observer`` from now on.

        Raises:
            ArgumentTypeError: ``observer`` is not an :class:`~orchestrator.Observer` (also
                a TypeError).
        """
        check_instance(observer, Observer, "observer", expected="an orchestrator.Observer")
        self._engine.subscribe(observer)

    def unsubscribe(self, observer: Observer) -> None:
        """Stop reporting to ``observer`` (no error if it was not subscribed)."""
        self._engine.unsubscribe(observer)

    # -- policies --------------------------------------------------------------------------
    @property
    def task_policy(self) -> Policy:
        """The policy deciding task-run proposals."""
        return self._engine.policies.task

    @property
    def background_task_policy(self) -> Policy:
        """The policy deciding deferred claims and schedules of background runs."""
        return self._engine.policies.background_task

    @property
    def flow_policy(self) -> Policy:
        """The policy deciding flow-run proposals."""
        return self._engine.policies.flow

    # -- current orchestrator ----------------------------------------------------------------
    @staticmethod
    def current() -> Orchestrator:
        """Return the orchestrator of the innermost ``with orchestrator:`` block.

        Raises:
            RuntimeError: no orchestrator is current in this context.
        """
        found = current()
        assert isinstance(found, Orchestrator)  # only orchestrators make themselves current
        return found

    def __enter__(self) -> Orchestrator:
        self._tokens.append(CURRENT.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        CURRENT.reset(self._tokens.pop())
        if not self._tokens and self._engine.journal is not None:
            self.close()

    # -- the journal ---------------------------------------------------------------------------
    def close(self) -> None:
        """Flush and close the journal (idempotent; nothing to do without a journal).

        A closed journaled orchestrator takes no more changes (they raise).
        """
        if self._engine.journal is not None:
            close_journal(self._engine)
            self._finalizer.detach()

    def compact_journal(self) -> None:
        """Write the journal's snapshot of everything now and empty its log, atomically.

        A crash part-way leaves the journal as it was. Nothing happens without a journal.
        """
        compact_journal(self._engine)

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

    # -- queues -------------------------------------------------------------------------------
    @property
    def task_queues(self) -> TaskQueues:
        """This orchestrator's task queues (one per task key)."""
        return self._engine.queues

    def configure_task_key(
        self, task_key: str, *, scheduled_size: int | None = None, retry_size: int | None = None
    ) -> None:
        """Set the bounds of one task key's queues (None keeps the default)."""
        check_text(task_key, "task_key")
        configure_task_key(self._engine, task_key, scheduled_size, retry_size)

    def multi_queue(self, task_keys: Iterable[str]) -> MultiQueue:
        """Return a :class:`MultiQueue` over these task keys' queues.

        Raises:
            InvalidArgument: no keys, a repeated or empty key, or a bare string.
        """
        return MultiQueue(task_keys, queues=self._engine.queues)

    @property
    def abandoned_calls(self) -> AbandonedCalls:
        """Task calls given up at their timeout that have not returned yet, by run id.

        A sync task's thread cannot be interrupted: at its timeout the run fails as
        "TimedOut", but its call runs on. No worker starts that run again before the
        call has returned (see :mod:`orchestrator._core._abandoned`).
        """
        return self._engine.abandoned_calls

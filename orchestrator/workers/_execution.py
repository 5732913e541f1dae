"""Executing one background run for a task worker: claim, start, call, finish.

Every step goes through the engine; nothing is decided here that a policy decides:

1. **Claim.** Propose ``Pending(deferred=True)``, but only while the run is still in the
   SCHEDULED state it was queued in (:func:`~orchestrator._engine._leases.set_task_run_state_if`).
   The background policy refuses a run claimed elsewhere; the run is skipped.
2. **Start.** Find the task by key and read the stored parameters; an unknown key or
   unreadable parameters fail the run with a message saying what is wrong (the run is
   kept). Propose Running, carrying ``deferred`` and the parameters id so that a retry
   goes back on the queue, and the cache key so that a cache hit completes the run as
   "Cached" without calling the function. A WAIT (a full tag concurrency limit) waits
   until the run's turn comes (:meth:`~orchestrator.Orchestrator.wait_for_turn`)
   and proposes again, holding a lease on the claim meanwhile; an ABORT leaves the run
   where the policy left it (the decision log says why).
3. **Call** (:mod:`orchestrator.workers._calls`). Async functions are awaited in the
   event loop, sync ones run in a worker thread within the worker's limit; either runs
   inside the run's :class:`~orchestrator.TaskRunContext`, so ``get_run_context()``
   gives the run (its ``run_count`` is the attempt) and ``Orchestrator.current()`` is
   this worker's orchestrator, whatever the caller had entered. A timeout
   fails the run as "TimedOut". A worker given an executor hands every call to it
   instead, after the claim, the slot, the tag limits and the cache lookup above; a
   call whose executing process died (:class:`~orchestrator.executors.ExecutorLost`)
   crashes the run, retried per its policy as when a worker dies.
4. **Finish.** Propose Completed (the result, with its cache key and expiration) or
   Failed (the exception); the core policy turns a failure with retries left into
   AwaitingRetry, which the engine queues for when it is due. A terminal state deletes
   the stored parameters.

A run whose worker goes away is handed back or crashed, never stranded (see
:mod:`orchestrator.workers._claims`). A task's exception never reaches the worker.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, final

import anyio
import anyio.lowlevel

from .._core._outcomes import OrchestrationResult, SetStateStatus, WaitDetails
from .._core._run_context import TaskRunContext
from .._core._states import State, StateType
from .._engine._run_hooks import RunHooks
from .._journal._errors import JournalSerializationError
from ..executors._base import ExecutorLost
from ._abandoning import AbandonedCallRules
from ._calls import CallEnding, Caller, TimedOut, ignore_abandoned
from ._claims import DONE, RUNNING, Claim, ClaimEndings, stoppable_wait, why_stopped
from ._failure_log import log_failed_call
from ._proposals import (
    claim_proposal,
    completed_proposal,
    failed_proposal,
    has_hooks,
    running_proposal,
    timed_out_proposal,
    unjournaled_proposal,
)
from ._run_parameters import NO_PARAMETERS, UnreadableParameters, claimed_parameters
from ._slots import RunSlots

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from .._core._tasks import Task
    from .._engine._orchestrator import Orchestrator
    from ..executors._base import Executor as CallExecutor

__all__ = ["RunExecutor"]


logger: Final = logging.getLogger("orchestrator.workers")

_SCHEDULED: Final = StateType.SCHEDULED
_RUNNING: Final = StateType.RUNNING
_FAILED: Final = StateType.FAILED
_WAIT: Final = SetStateStatus.WAIT
_ACCEPT: Final = SetStateStatus.ACCEPT


@final
class RunExecutor(ClaimEndings, AbandonedCallRules):
    """Claims and executes runs of the given tasks; the engine of a TaskWorker.

    Not to be confused with :class:`orchestrator.executors.Executor`, which is where the
    functions of the runs it executes may be called.

    Args:
        orchestrator: where the runs are.
        tasks: the served tasks by key.
        limit: the most runs held at once (None: no limit).
        lease_seconds: how long a claim waiting for its turn stays leased past the wait.
        executor: where task functions run (None: the event loop and worker threads).
        executors: per task key, where that task's functions run instead.
    """

    __slots__ = (
        "_abandoned_calls",
        "_activity",
        "_caller",
        "_clock",
        "_holding",
        "_lease_seconds",
        "_leases",
        "_orchestrator",
        "_overrides",
        "_results",
        "_tasks",
        "abandoned",
        "claims",
        "finished",
        "slots",
        "stopping",
        "waiting",
    )

    def __init__(
        self,
        orchestrator: Orchestrator,
        tasks: Mapping[str, Task[..., Any]],
        *,
        limit: int | None,
        lease_seconds: float,
        executor: CallExecutor | None = None,
        executors: Mapping[str, CallExecutor] | None = None,
    ) -> None:
        self._orchestrator = orchestrator
        self._clock = orchestrator.clock
        self._results = orchestrator.result_store
        self._leases = orchestrator.pending_leases
        self._lease_seconds = lease_seconds
        self._tasks = tasks
        self._activity = orchestrator.activity
        self._overrides = orchestrator.task_overrides  # the engine's one registry
        self._caller = Caller(self._clock, self._activity, limit, executor, executors)
        self.slots = RunSlots(limit)
        #: The claims held, by their run id's 128-bit int (an int hashes without a Python
        #: call; a UUID's hash is one).
        self.claims: dict[int, Claim] = {}
        self.waiting: set[Claim] = set()  # claims waiting for their turn (stop hands them back)
        #: Runs finished per task key: every served key, then any other key claimed (in
        #: the order first claimed).
        self.finished: dict[str, int] = dict.fromkeys(tasks, 0)
        self.stopping = False
        self._abandoned_calls = orchestrator.abandoned_calls
        #: Calls this worker left running past their timeout, each holding a slot: run id ->
        #: when it was abandoned.
        self.abandoned: dict[uuid.UUID, datetime] = {}
        self._holding: set[anyio.CancelScope] = set()

    def reset(self) -> None:
        """Prepare for serving in the running event loop."""
        self.stopping = False
        self._caller.reset()

    # -- claiming ---------------------------------------------------------------------------
    def claim(self, run: TaskRun) -> Claim | None:
        """Claim ``run`` if it is still SCHEDULED; else None (claimed elsewhere, or moved on).

        A claim of this worker on the same run that was taken over meanwhile (its lease
        ran out) is superseded: its own proposals no longer apply.
        """
        state = run.state
        if state is None or state.type is not _SCHEDULED:
            return None
        run_id = run.id
        abandoned = self._abandoned_calls.get(run_id)
        proposal = claim_proposal(run, state, abandoned)
        result = self._orchestrator.set_task_run_state_if(run_id, proposal, current=state)
        if result is None or result.status is not _ACCEPT:
            return None  # claimed elsewhere, or moved on meanwhile
        committed = result.state
        assert committed is not None  # an accepted proposal commits a state
        claim = Claim(run, committed, committed.timestamp or self._clock.now())
        claim.previous_call = abandoned
        self.claims[run_id.int] = claim
        key = run.task_key
        if key not in self.finished:  # a run of a key this worker does not serve (execute_task_run)
            self.finished[key] = 0
        return claim

    @property
    def in_flight(self) -> dict[str, dict[uuid.UUID, datetime]]:
        """The runs held now, per task key (every key of ``finished``): run id -> when claimed.

        Read from the claims when asked (a status), rather than kept up to date per run.
        """
        in_flight: dict[str, dict[uuid.UUID, datetime]] = {key: {} for key in self.finished}
        for claim in self.claims.values():
            run = claim.run
            in_flight[run.task_key][run.id] = claim.started
        return in_flight

    def release_claim(self, claim: Claim) -> None:
        """Forget a claim once its run is done with, and count it finished.

        The slot it used is not freed here: whoever took the slot gives it back.
        """
        if claim.released:
            return
        claim.released = True
        run = claim.run
        key = run.task_key
        self.finished[key] += 1
        run_id = run.id
        claims = self.claims
        number = run_id.int
        current = claims.pop(number, None)
        if current is not claim:
            if current is not None:  # superseded by a newer claim on the same run: in flight
                claims[number] = current
            return
        if claim.leased:
            claim.leased = False
            self._leases.release(run_id)

    # -- executing --------------------------------------------------------------------------
    async def execute(self, claim: Claim) -> None:
        """Take a claimed run to its end (see the module docstring); never raises an error.

        Cancellation (and any other BaseException) hands the run back or crashes it,
        then propagates.
        """
        try:
            await self._execute(claim)
        except Exception as exc:
            # A bug, or a rule that raised: never let one run take the worker down, and
            # never hand back a run that may break the next worker the same way.
            logger.exception("task run %s: the worker failed to execute it", claim.run.id)
            self._break_off(claim, f"the task worker failed while executing it: {exc!r}")
        except BaseException as exc:
            self._abandon(claim, why_stopped(exc))
            raise
        finally:
            self.release_claim(claim)
        abandoned = claim.abandoned
        if abandoned is not None:
            await self._hold_slot_until_returned(abandoned)

    async def _execute(self, claim: Claim) -> None:
        run = claim.run
        task = self._tasks.get(run.task_key)
        if task is None:
            served = ", ".join(sorted(self._tasks))
            self._fail_unstarted(
                claim,
                f"no task with key {run.task_key!r} is served by this worker (it serves "
                f"{served}); serve the task with that key to run it",
            )
            return
        if task.takes_parameters:
            parameters = self._parameters(claim, task)
            if parameters is None:
                return
        else:  # nothing to read or bind (what _parameters returns for it)
            parameters = NO_PARAMETERS
        if claim.previous_call is not None and not await self._after_abandoned_call(claim):
            return
        context = TaskRunContext(
            orchestrator=self._orchestrator,
            task=task,
            task_run_id=run.id,
            parameters=parameters,
        )
        started = await self._start(claim, task, context)
        if started is None:
            return
        if not has_hooks(task):
            # Nothing to call around the run: the plain path builds no RunHooks.
            if started.type is _RUNNING:
                claim.phase = RUNNING
                self._finish(claim, await self._call(claim, task, context))
            return
        hooks = RunHooks(
            task,
            functools.partial(self._orchestrator.read_task_run, run.id),
            context,
            self._orchestrator.activity,
        )
        if started.type is not _RUNNING:  # a cache hit, or the policy stopped it
            await hooks.finished_async(started)
            return
        claim.phase = RUNNING
        await hooks.started_async()
        proposal = await self._call(claim, task, context)
        proposal = await hooks.final_failure_async(proposal) or proposal
        await hooks.finished_async(self._finish(claim, proposal))

    def _parameters(self, claim: Claim, task: Task[..., Any]) -> Mapping[str, Any] | None:
        try:
            return claimed_parameters(claim, task, self._results)
        except UnreadableParameters as exc:
            self._fail_unstarted(claim, str(exc))
            return None

    async def _start(
        self, claim: Claim, task: Task[..., Any], context: TaskRunContext
    ) -> State | None:
        """Propose Running until the policy lets the run start.

        Returns the Running state committed, or the state the policy left the run in
        instead (Cached on a cache hit); None when this worker no longer holds the run.
        """
        run = claim.run
        proposal = running_proposal(claim, task, context)
        result = self._orchestrator.set_task_run_state_if(run.id, proposal, current=claim.state)
        while result is not None and result.status is _WAIT:
            if not await self._wait_for_turn(claim, result):
                self._hand_back(claim, "the task worker stopped while the run waited for its turn")
                return None
            result = self._propose(claim, proposal, claim.state)
        if claim.leased:
            claim.leased = False
            self._leases.release(run.id)
        if result is None:
            logger.warning("task run %s: its claim was taken over while it waited", run.id)
            claim.phase = DONE
            return None
        state = result.state
        if result.status is _ACCEPT and state is not None and state.type is _RUNNING:
            claim.running = state
            return state
        claim.phase = DONE  # a cache hit, or the policy stopped it: the decision log says why
        self._after_final(claim, state)
        return None if state is None or state.type is _RUNNING else state

    async def _wait_for_turn(self, claim: Claim, result: OrchestrationResult) -> bool:
        """Wait as the WAIT says, leasing the claim meanwhile; False when told to stop."""
        details = result.details
        delay = details.delay_seconds if isinstance(details, WaitDetails) else 0.0
        self._leases.hold(claim.run.id, claim.state, delay + self._lease_seconds)
        claim.leased = True
        with stoppable_wait(claim, self.waiting, self.stopping) as scope:
            await self._orchestrator.wait_for_turn(claim.run.id, result)
        return not scope.cancelled_caught

    # -- calling ----------------------------------------------------------------------------
    async def _call(self, claim: Claim, task: Task[..., Any], context: TaskRunContext) -> State:
        """Call the function; return the proposal that reports how it went.

        The call is marked as the run's execution in this event loop: time skipping holds
        the virtual clock while this task, or a task started from it, awaits anything but
        the orchestrator (see :mod:`orchestrator._core._parking`).
        """
        called = self._overrides.stand_in(task, claim.run)
        caller = self._caller
        # A test's stand-in runs here, where the test sees it, even with an executor.
        here = called is not task
        # Only a sync call with a timeout, or a remote call, can be left running.
        if (not here and caller.executor_for(called) is not None) or not (
            called.is_async or called.timeout_seconds is None
        ):
            on_abandon: Callable[[CallEnding], None] = functools.partial(self._left_running, claim)
        else:
            on_abandon = ignore_abandoned
        try:
            with self._activity.execution():
                value = await caller.call(
                    called, context.parameters, on_abandon, context, here=here
                )
        except TimedOut:
            return timed_out_proposal(claim, task)
        except ExecutorLost as exc:
            return self._crash_proposal(claim, f"the executor lost the call: {exc}")
        except Exception as exc:
            return failed_proposal(claim, exc)
        return completed_proposal(claim, task, value, self._clock)

    # -- finishing ----------------------------------------------------------------------------
    def _finish(self, claim: Claim, proposal: State) -> State | None:
        """Propose how the call went; return the state committed (None: dropped)."""
        running = claim.running
        assert running is not None  # _call runs only after a RUNNING commit
        run = claim.run
        try:
            result = self._orchestrator.set_task_run_state_if(run.id, proposal, current=running)
        except JournalSerializationError as exc:  # the value cannot be kept: the run fails
            proposal = unjournaled_proposal(exc)
            result = self._orchestrator.set_task_run_state_if(run.id, proposal, current=running)
        claim.phase = DONE
        if result is None:
            logger.warning(
                "task run %s moved on while it executed; its outcome (%s) was dropped",
                run.id,
                proposal.name,
            )
            return None
        state = result.state
        if proposal.type is _FAILED:
            log_failed_call(run, proposal, state)
        if claim.details.task_parameters_id is not None:  # else nothing to delete
            self._after_final(claim, state)
        return state

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
   fails the run as "TimedOut".
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
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, final

import anyio
import anyio.lowlevel

from .._core._errors import InvalidArgument, ObjectNotFound
from .._core._outcomes import OrchestrationResult, SetStateStatus, WaitDetails
from .._core._run_context import TaskRunContext
from .._core._states import State, StateDetails, StateType
from .._engine._run_hooks import RunHooks
from .._store._results import read_parameters, should_try_to_read_parameters
from ._abandoning import AbandonedCallRules, waits_for
from ._calls import Caller, TimedOut
from ._claims import DONE, RUNNING, Claim, ClaimEndings, stoppable_wait, why_stopped
from ._failure_log import log_failed_call
from ._slots import RunSlots

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from .._core._tasks import Task
    from .._engine._orchestrator import Orchestrator

__all__ = ["Executor"]


logger: Final = logging.getLogger("orchestrator.workers")

_SCHEDULED: Final = StateType.SCHEDULED
_PENDING: Final = StateType.PENDING
_RUNNING: Final = StateType.RUNNING
_WAIT: Final = SetStateStatus.WAIT
_ACCEPT: Final = SetStateStatus.ACCEPT
_NO_PARAMETERS: Final[Mapping[str, Any]] = {}


def _has_hooks(task: Task[..., Any]) -> bool:
    """Whether running ``task`` calls anything around it: a state hook or a retry condition.

    Read at each run, since hooks may be added to a task after it is served.
    """
    return bool(
        task.on_running_hooks
        or task.on_completion_hooks
        or task.on_failure_hooks
        or task.retry_condition_fn is not None
    )


@final
class Executor(ClaimEndings, AbandonedCallRules):
    """Claims and executes runs of the given tasks; the engine of a TaskWorker.

    Args:
        orchestrator: where the runs are.
        tasks: the served tasks by key.
        limit: the most runs held at once (None: no limit).
        lease_seconds: how long a claim waiting for its turn stays leased past the wait.
    """

    __slots__ = (
        "_abandoned_calls",
        "_caller",
        "_clock",
        "_holding",
        "_lease_seconds",
        "_leases",
        "_orchestrator",
        "_results",
        "_tasks",
        "abandoned",
        "claims",
        "finished",
        "in_flight",
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
    ) -> None:
        self._orchestrator = orchestrator
        self._clock = orchestrator.clock
        self._results = orchestrator.result_store
        self._leases = orchestrator.pending_leases
        self._lease_seconds = lease_seconds
        self._tasks = tasks
        self._caller = Caller(self._clock, orchestrator.activity, limit)
        self.slots = RunSlots(limit)
        self.claims: dict[uuid.UUID, Claim] = {}
        self.waiting: set[Claim] = set()  # claims waiting for their turn (stop hands them back)
        self.in_flight: dict[str, dict[uuid.UUID, datetime]] = {key: {} for key in tasks}
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
        queued = state.details
        abandoned = self._abandoned_calls.get(run.id)
        # Everything the background rules would copy over is given, so they copy nothing.
        proposal = State(
            type=_PENDING,
            name="Pending",
            message=None if abandoned is None else waits_for(abandoned),
            details=StateDetails(
                deferred=True,
                scheduled_time=queued.scheduled_time,
                task_parameters_id=queued.task_parameters_id,
                refresh_cache=queued.refresh_cache,
                flow_run_id=run.flow_run_id,
                task_run_id=run.id,
            ),
        )
        result = self._orchestrator.set_task_run_state_if(run.id, proposal, current=state)
        if result is None or result.status is not _ACCEPT:
            return None  # claimed elsewhere, or moved on meanwhile
        committed = result.state
        assert committed is not None  # an accepted proposal commits a state
        claim = Claim(run, committed, committed.timestamp or self._clock.now())
        self.claims[run.id] = claim
        key = run.task_key
        in_flight = self.in_flight.get(key)
        if in_flight is None:  # a run of a key this worker does not serve (execute_task_run)
            in_flight = self.in_flight[key] = {}
            self.finished.setdefault(key, 0)
        in_flight[run.id] = claim.started
        return claim

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
        if self.claims.get(run.id) is not claim:
            return  # superseded by a newer claim on the same run: that one is in flight
        del self.claims[run.id]
        self.in_flight[key].pop(run.id, None)
        if claim.leased:
            claim.leased = False
            self._leases.release(run.id)

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
        parameters = self._parameters(claim, task)
        if parameters is None:
            return
        if not await self._after_abandoned_call(claim):
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
        if not _has_hooks(task):
            # Nothing to call around the run: the plain path builds no RunHooks.
            if started.type is _RUNNING:
                claim.phase = RUNNING
                self._finish(claim, await self._call_marked(claim, task, context))
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
        proposal = await self._call_marked(claim, task, context)
        proposal = await hooks.final_failure_async(proposal) or proposal
        await hooks.finished_async(self._finish(claim, proposal))

    def _parameters(self, claim: Claim, task: Task[..., Any]) -> Mapping[str, Any] | None:
        run = claim.run
        if not should_try_to_read_parameters(task, run):
            if task.takes_parameters:
                try:
                    task.signature.bind()
                except TypeError as exc:
                    self._fail_unstarted(
                        claim,
                        f"task run {run.id} has no stored parameters (its state carries no "
                        f"task_parameters_id) but {task.name!r} needs some: {exc}",
                    )
                    return None
            return _NO_PARAMETERS
        parameters_id = claim.state.details.task_parameters_id
        assert parameters_id is not None  # should_try_to_read_parameters checked it
        try:
            return read_parameters(self._results, parameters_id)
        except (ObjectNotFound, InvalidArgument) as exc:
            self._fail_unstarted(
                claim, f"the parameters of task run {run.id} cannot be read: {exc}"
            )
            return None

    async def _start(
        self, claim: Claim, task: Task[..., Any], context: TaskRunContext
    ) -> State | None:
        """Propose Running until the policy lets the run start.

        Returns the Running state committed, or the state the policy left the run in
        instead (Cached on a cache hit); None when this worker no longer holds the run.
        """
        run = claim.run
        proposal = self._running_proposal(claim, task, context)
        result = self._propose(claim, proposal, claim.state)
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

    def _running_proposal(
        self, claim: Claim, task: Task[..., Any], context: TaskRunContext
    ) -> State:
        run = claim.run
        cache_key = run.cache_key
        if cache_key is None and task.cache_key_fn is not None:
            cache_key = task.cache_key(context.parameters, context)
        # The run's own flag (set at submission) wins over the served task's.
        refresh = bool(task.refresh_cache or claim.details.refresh_cache)
        if cache_key is None and not refresh:
            return State(type=_RUNNING, name="Running", details=claim.details)
        details = claim.details.replace(
            cache_key=cache_key, refresh_cache=True if refresh else None
        )
        return State(type=_RUNNING, name="Running", details=details)

    # -- calling ----------------------------------------------------------------------------
    async def _call(self, claim: Claim, task: Task[..., Any], context: TaskRunContext) -> State:
        """Call the function; return the proposal that reports how it went."""
        try:
            value = await self._caller.call(
                self._orchestrator.task_overrides.stand_in(task, claim.run),
                context.parameters,
                functools.partial(self._left_running, claim),
                context,
            )
        except TimedOut:
            message = f"Task run exceeded its timeout of {task.timeout_seconds:g} s"
            return State(
                type=StateType.FAILED,
                name="TimedOut",
                message=message,
                data=TimeoutError(message),
                details=claim.details,
            )
        except Exception as exc:
            return State(
                type=StateType.FAILED,
                name="Failed",
                message=f"Task run encountered an exception: {exc!r}",
                data=exc,
                details=claim.details,
            )
        return self._completed(claim, task, value)

    def _completed(self, claim: Claim, task: Task[..., Any], value: Any) -> State:
        run = claim.run
        cache_key = claim.running.details.cache_key if claim.running is not None else None
        if cache_key is None:
            return State(type=StateType.COMPLETED, name="Completed", data=value)
        expiration = run.cache_expiration
        if task.cache_expiration is not None:
            expiration = self._clock.now() + task.cache_expiration
        details = StateDetails(cache_key=cache_key, cache_expiration=expiration)
        return State(type=StateType.COMPLETED, name="Completed", data=value, details=details)

    # -- finishing ----------------------------------------------------------------------------
    def _finish(self, claim: Claim, proposal: State) -> State | None:
        """Propose how the call went; return the state committed (None: dropped)."""
        running = claim.running
        assert running is not None  # _call runs only after a RUNNING commit
        result = self._propose(claim, proposal, running)
        claim.phase = DONE
        if result is None:
            logger.warning(
                "task run %s moved on while it executed; its outcome (%s) was dropped",
                claim.run.id,
                proposal.name,
            )
            return None
        log_failed_call(claim.run, proposal, result.state)
        self._after_final(claim, result.state)
        return result.state

    # -- marking the execution for time skipping ------------------------------------------------
    async def _call_marked(
        self, claim: Claim, task: Task[..., Any], context: TaskRunContext
    ) -> State:
        """:meth:`_call`, marked as the run's execution in this event loop.

        Time skipping holds the virtual clock while this task, or a task started from it,
        awaits anything but the orchestrator (see :mod:`orchestrator._core._parking`).
        """
        with self._orchestrator.activity.execution():
            return await self._call(claim, task, context)

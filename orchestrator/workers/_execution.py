"""Executing one background run for a task worker: claim, start, call, finish, or hand back.

Every step goes through the engine; nothing is decided here that a policy decides:

1. **Claim.** Propose ``Pending(deferred=True)``, but only while the run is still in the
   SCHEDULED state it was queued in (:func:`~orchestrator._engine_leases.set_task_run_state_if`).
   The background policy refuses a run claimed elsewhere; the run is skipped.
2. **Start.** Find the task by key and read the stored parameters; an unknown key or
   unreadable parameters fail the run with a message saying what is wrong (the run is
   kept). Propose Running, carrying ``deferred`` and the parameters id so that a retry
   goes back on the queue, and the cache key so that a cache hit completes the run as
   "Cached" without calling the function. A WAIT (a full tag concurrency limit) waits
   for :meth:`~orchestrator.Orchestrator.wait_for_turn` and proposes again, holding a
   lease on the claim meanwhile; an ABORT leaves the run where the policy left it.
3. **Call** (:mod:`orchestrator.workers._calls`). Async functions are awaited in the
   event loop, sync ones run in a worker thread within the worker's limit. A timeout
   fails the run as "TimedOut".
4. **Finish.** Propose Completed (the result, with its cache key and expiration) or
   Failed (the exception); the core policy turns a failure with retries left into
   AwaitingRetry, which the engine queues for when it is due. A terminal state deletes
   the stored parameters.

**Handing back.** A run whose worker stops before it started (graceful stop while
waiting for a slot, or cancellation) goes back on its retry queue as
``AwaitingRetry``. A run whose worker is cancelled (or dies) while the function runs
has crashed: with retries left it goes straight to ``AwaitingRetry`` after its retry
delay (never through a terminal state, so nobody sees it finished), otherwise it ends
Crashed. A task's exception never reaches the worker.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import anyio
import anyio.lowlevel

from .._engine_leases import pending_leases, set_task_run_state_if
from .._errors import InvalidArgument, ObjectNotFound
from .._results import parameters_key, read_parameters, should_try_to_read_parameters
from .._rules import OrchestrationResult, SetStateStatus, WaitDetails
from .._states import TERMINAL_TYPES, State, StateDetails, StateType
from ..policies import clamped_poisson_delay, retry_delay_seconds
from ._calls import Caller, TimedOut
from ._slots import RunSlots

if TYPE_CHECKING:
    from .._engine import Orchestrator
    from .._models import TaskRun
    from .._tasks import Task

__all__ = ["Claim", "Executor"]

T = TypeVar("T")

logger: Final = logging.getLogger("orchestrator.workers")

_SCHEDULED: Final = StateType.SCHEDULED
_PENDING: Final = StateType.PENDING
_RUNNING: Final = StateType.RUNNING
_WAIT: Final = SetStateStatus.WAIT
_ACCEPT: Final = SetStateStatus.ACCEPT
_DEFERRED: Final = StateDetails(deferred=True)
# Proposals are values, so the common ones are shared (the engine commits new states).
_CLAIM: Final = State(type=_PENDING, name="Pending", details=_DEFERRED)
_RUN: Final = State(type=_RUNNING, name="Running", details=_DEFERRED)
_NO_PARAMETERS: Final[Mapping[str, Any]] = {}

# How far a claim got; decides what happens when the worker goes away.
CLAIMED: Final = 0  # PENDING: handed back if the worker goes away
RUNNING: Final = 1  # RUNNING: crashed if the worker goes away
DONE: Final = 2  # nothing left to do


@final
class Claim:
    """A run this worker claimed, and how far it got."""

    __slots__ = ("details", "phase", "run", "running", "started", "state", "wait_scope")

    def __init__(self, run: TaskRun, state: State, started: datetime) -> None:
        self.run = run
        self.state = state  # the committed claim (PENDING)
        self.started = started
        self.phase = CLAIMED
        self.running: State | None = None  # the committed RUNNING state
        self.wait_scope: anyio.CancelScope | None = None  # set while waiting for a turn
        parameters_id = state.details.task_parameters_id
        self.details = (
            _DEFERRED
            if parameters_id is None
            else StateDetails(deferred=True, task_parameters_id=parameters_id)
        )


@final
class Executor:
    """Claims and executes runs of the given tasks; the engine of a TaskWorker.

    Args:
        orchestrator: where the runs are.
        tasks: the served tasks by key.
        limit: the most runs held at once (None: no limit).
        lease_seconds: how long a claim waiting for its turn stays leased past the wait.
    """

    __slots__ = (
        "_caller",
        "_clock",
        "_lease_seconds",
        "_leases",
        "_orchestrator",
        "_results",
        "_tasks",
        "claims",
        "finished",
        "in_flight",
        "slots",
        "stopping",
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
        self._leases = pending_leases(orchestrator)
        self._lease_seconds = lease_seconds
        self._tasks = tasks
        self._caller = Caller(self._clock, orchestrator.activity, limit)
        self.slots = RunSlots(limit)
        self.claims: dict[uuid.UUID, Claim] = {}
        self.in_flight: dict[str, dict[uuid.UUID, datetime]] = {key: {} for key in tasks}
        self.finished: dict[str, int] = dict.fromkeys(tasks, 0)
        self.stopping = False

    def reset(self) -> None:
        """Prepare for serving in the running event loop."""
        self.stopping = False
        self._caller.reset()

    # -- claiming ---------------------------------------------------------------------------
    def claim(self, run: TaskRun) -> Claim | None:
        """Claim ``run`` if it is still SCHEDULED and not already held here; else None."""
        state = run.state
        if state is None or state.type is not _SCHEDULED or run.id in self.claims:
            return None
        result = set_task_run_state_if(self._orchestrator, run.id, _CLAIM, current=state)
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
        """Forget a claim once its run is done with (counts it finished, frees its slot)."""
        run = claim.run
        if self.claims.pop(run.id, None) is None:
            return
        key = run.task_key
        self.in_flight[key].pop(run.id, None)
        self.finished[key] += 1
        self.slots.release()

    # -- executing --------------------------------------------------------------------------
    async def execute(self, claim: Claim) -> None:
        """Take a claimed run to its end (see the module docstring); never raises an error.

        Cancellation (and any other BaseException) hands the run back or crashes it,
        then propagates.
        """
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
            await self._execute(claim)
        except Exception as exc:
            # A bug, or a rule that raised: never let one run take the worker down, and
            # never hand back a run that may break the next worker the same way.
            logger.exception("task run %s: the worker failed to execute it", claim.run.id)
            self._break_off(claim, f"the task worker failed while executing it: {exc!r}")
        except BaseException as exc:
            self._abandon(claim, _why_stopped(exc))
            raise
        finally:
            self._leases.release(claim.run.id)
            self.release_claim(claim)

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
        if not await self._start(claim, task, parameters):
            return
        claim.phase = RUNNING
        proposal = await self._call(claim, task, parameters)
        self._finish(claim, proposal)

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
        self, claim: Claim, task: Task[..., Any], parameters: Mapping[str, Any]
    ) -> bool:
        """Propose Running until the policy lets the run start; False when it must not run."""
        run = claim.run
        proposal = self._running_proposal(claim, task, parameters)
        result = self._propose(claim, proposal, claim.state)
        while result is not None and result.status is _WAIT:
            if not await self._wait_for_turn(claim, result):
                self._hand_back(claim, "the task worker stopped while the run waited for its turn")
                return False
            result = self._propose(claim, proposal, claim.state)
        self._leases.release(run.id)
        if result is None:
            logger.warning("task run %s: its claim was taken over while it waited", run.id)
            claim.phase = DONE
            return False
        state = result.state
        if result.status is _ACCEPT and state is not None and state.type is _RUNNING:
            claim.running = state
            return True
        claim.phase = DONE  # a cache hit, or the policy stopped it: the decision log says why
        self._after_final(claim, state)
        return False

    async def _wait_for_turn(self, claim: Claim, result: OrchestrationResult) -> bool:
        """Wait as the WAIT says, leasing the claim meanwhile; False when told to stop."""
        details = result.details
        delay = details.delay_seconds if isinstance(details, WaitDetails) else 0.0
        self._leases.hold(claim.run.id, claim.state, delay + self._lease_seconds)
        with anyio.CancelScope() as scope:
            claim.wait_scope = scope
            if self.stopping:
                scope.cancel()
            await self._orchestrator.wait_for_turn(claim.run.id, result)
        claim.wait_scope = None
        return not scope.cancelled_caught

    def _running_proposal(
        self, claim: Claim, task: Task[..., Any], parameters: Mapping[str, Any]
    ) -> State:
        run = claim.run
        cache_key = run.cache_key
        if cache_key is None and task.cache_key_fn is not None:
            cache_key = task.cache_key(parameters)
        if cache_key is None and claim.details is _DEFERRED and not task.refresh_cache:
            return _RUN
        details = claim.details.replace(
            cache_key=cache_key, refresh_cache=True if task.refresh_cache else None
        )
        return State(type=_RUNNING, name="Running", details=details)

    # -- calling ----------------------------------------------------------------------------
    async def _call(
        self, claim: Claim, task: Task[..., Any], parameters: Mapping[str, Any]
    ) -> State:
        """Call the function; return the proposal that reports how it went."""
        try:
            value = await self._caller.call(task, parameters)
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
    def _propose(self, claim: Claim, proposal: State, current: State) -> OrchestrationResult | None:
        return set_task_run_state_if(self._orchestrator, claim.run.id, proposal, current=current)

    def _finish(self, claim: Claim, proposal: State) -> None:
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
            return
        self._after_final(claim, result.state)

    def _after_final(self, claim: Claim, state: State | None) -> None:
        """Delete the stored parameters once the run is in a terminal state."""
        if state is None or state.type not in TERMINAL_TYPES:
            return
        parameters_id = claim.state.details.task_parameters_id
        if parameters_id is not None:
            self._results.delete(parameters_key(parameters_id), missing_ok=True)

    def _fail_unstarted(self, claim: Claim, message: str) -> None:
        """Fail a claimed run that cannot start; it is kept, with ``message``."""
        logger.error("task run %s: %s", claim.run.id, message)
        proposal = State(
            type=StateType.FAILED,
            name="Failed",
            message=message,
            details=claim.details.replace(retriable=False),
        )
        result = self._propose(claim, proposal, claim.state)
        claim.phase = DONE
        if result is not None:
            self._after_final(claim, result.state)

    # -- handing back ---------------------------------------------------------------------------
    def _abandon(self, claim: Claim, why: str) -> None:
        """The worker is going away from ``claim``: hand it back or crash it, as far as it got."""
        phase = claim.phase
        claim.phase = DONE
        try:
            if phase == CLAIMED:
                self._hand_back(claim, why)
            elif phase == RUNNING:
                self._crash(claim, why)
        except Exception:
            logger.exception("task run %s: could not hand the run back", claim.run.id)

    def _break_off(self, claim: Claim, why: str) -> None:
        """End a run the worker failed on: Crashed, forced (the minimal policy cannot refuse)."""
        phase = claim.phase
        claim.phase = DONE
        current = claim.state if phase == CLAIMED else claim.running
        if phase == DONE or current is None:
            return
        proposal = State(type=StateType.CRASHED, name="Crashed", message=f"Crashed: {why}")
        try:
            result = set_task_run_state_if(
                self._orchestrator, claim.run.id, proposal, current=current, force=True
            )
        except Exception:
            logger.exception("task run %s: could not mark it Crashed", claim.run.id)
            return
        if result is not None:
            self._after_final(claim, result.state)

    def _hand_back(self, claim: Claim, why: str) -> None:
        """Put a claimed run that never started back on its retry queue, due now."""
        claim.phase = DONE
        proposal = State(
            type=_SCHEDULED,
            name="AwaitingRetry",
            message=f"handed back before it started: {why}",
            details=claim.details,
        )
        self._propose(claim, proposal, claim.state)

    def _crash(self, claim: Claim, why: str) -> None:
        """A started run lost its worker: retry it after its delay if it may, else Crashed."""
        running = claim.running
        assert running is not None
        run = claim.run
        policy = run.empirical_policy
        retries = policy.retries
        message = f"Crashed: {why}"
        if retries is not None and run.run_count <= retries:
            delay = retry_delay_seconds(policy, run.run_count)
            factor = policy.retry_jitter_factor
            if factor and delay > 0:
                delay = clamped_poisson_delay(self._orchestrator.random, delay, factor)
            due = self._clock.now() + timedelta(seconds=delay)
            # Straight to AwaitingRetry: a run that will run again never looks finished.
            proposal = State(
                type=_SCHEDULED,
                name="AwaitingRetry",
                message=f"{message}; retrying",
                details=claim.details.replace(scheduled_time=due),
            )
        else:
            proposal = State(type=StateType.CRASHED, name="Crashed", message=message)
        result = self._propose(claim, proposal, running)
        if result is not None:
            self._after_final(claim, result.state)


def _why_stopped(exc: BaseException) -> str:
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return "the task worker was cancelled"
    return f"the task worker stopped on {exc!r}"

"""How a task worker's claim on a run ends when the run cannot go on normally.

A :class:`Claim` records a run a worker claimed and how far it got (its *phase*).
:class:`ClaimEndings` holds the ways a claim ends other than a normal finish:

* **fail** a run that cannot start (unknown key, unreadable parameters): FAILED with a
  message saying what is wrong, not retried, the run kept;
* **hand back** a run that never started (the worker stops, or is cancelled, while the
  run is PENDING): ``AwaitingRetry`` on its retry queue, due at once, no attempt spent;
* **crash** a run whose worker is cancelled or dies while its function runs: with
  retries left, straight to ``AwaitingRetry`` after its retry delay (never through a
  terminal state, so nobody sees it finished), otherwise CRASHED;
* **break off** a run the worker itself failed on (a bug, or a rule that raised):
  CRASHED, forced, so that no other worker trips over it in a loop.

Every proposal goes through the engine's public compare-and-propose
(:meth:`~orchestrator.Orchestrator.set_task_run_state_if`): it applies only while the
run is still in the state the worker last saw, so a worker never overrides what
happened to the run meanwhile. A terminal state deletes the run's stored
parameters.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, final

import anyio

from .._core._outcomes import OrchestrationResult
from .._core._states import TERMINAL_TYPES, State, StateType
from .._store._results import parameters_key
from ..policies import clamped_poisson_delay, retry_delay_seconds

if TYPE_CHECKING:
    from .._core._abandoned import AbandonedCall
    from .._core._clock import Clock
    from .._core._models import TaskRun
    from .._engine._orchestrator import Orchestrator
    from .._store._results import ResultStore

__all__ = ["CLAIMED", "DONE", "RUNNING", "Claim", "ClaimEndings", "why_stopped"]

logger: Final = logging.getLogger("orchestrator.workers")

_SCHEDULED: Final = StateType.SCHEDULED

# How far a claim got; decides what happens when the worker goes away.
CLAIMED: Final = 0  # PENDING: handed back if the worker goes away
RUNNING: Final = 1  # RUNNING: crashed if the worker goes away
DONE: Final = 2  # nothing left to do


@final
class Claim:
    """A run this worker claimed, and how far it got."""

    __slots__ = (
        "abandoned",
        "details",
        "leased",
        "phase",
        "previous_call",
        "released",
        "run",
        "running",
        "started",
        "state",
        "wait_scope",
    )

    def __init__(self, run: TaskRun, state: State, started: datetime) -> None:
        self.run = run
        self.state = state  # the committed claim (PENDING)
        self.started = started
        self.phase = CLAIMED
        self.running: State | None = None  # the committed RUNNING state
        self.wait_scope: anyio.CancelScope | None = None  # set while waiting for a turn
        self.leased = False  # whether the claim holds a lease (while waiting for a turn)
        self.released = False  # whether the executor is done with it
        self.abandoned: AbandonedCall | None = None  # its call, left running past its timeout
        # A call of an earlier attempt still running past its timeout when the run was
        # claimed: the run starts once it returns.
        self.previous_call: AbandonedCall | None = None
        # The claim's details (deferred, parameters id, scheduled time, run ids) go on the
        # run's later proposals: a retry keeps its place on the queue and its parameters,
        # and the engine has nothing to fill in.
        self.details = state.details


class ClaimEndings:
    """The ways a claim ends other than a normal finish (see the module docstring)."""

    __slots__ = ()

    _orchestrator: Orchestrator
    _clock: Clock
    _results: ResultStore

    if TYPE_CHECKING:

        def release_claim(self, claim: Claim) -> None:
            """Forget a claim once its run is done with (the executor provides it)."""

    def _propose(self, claim: Claim, proposal: State, current: State) -> OrchestrationResult | None:
        return self._orchestrator.set_task_run_state_if(claim.run.id, proposal, current=current)

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
            result = self._orchestrator.set_task_run_state_if(
                claim.run.id, proposal, current=current, force=True
            )
        except Exception:
            logger.exception("task run %s: could not mark it Crashed", claim.run.id)
            return
        if result is not None:
            self._after_final(claim, result.state)

    def hand_back_unstarted(self, claim: Claim, why: str) -> None:
        """Hand back a claim that never reached :meth:`execute`, and forget it."""
        try:
            self._hand_back(claim, why)
        except Exception:
            logger.exception("task run %s: could not hand the run back", claim.run.id)
        finally:
            self.release_claim(claim)

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
        result = self._propose(claim, self._crash_proposal(claim, why), running)
        if result is not None:
            self._after_final(claim, result.state)

    def _crash_proposal(self, claim: Claim, why: str) -> State:
        """Crashed, or straight to AwaitingRetry after its delay when the run may retry."""
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
        return proposal


@contextlib.contextmanager
def stoppable_wait(
    claim: Claim, waiting: set[Claim], stopping: bool
) -> Iterator[anyio.CancelScope]:
    """Wait in a scope that stopping the worker cancels, the claim listed as waiting.

    Yields the scope; after the block, ``scope.cancelled_caught`` tells whether the wait
    was cut short by a stop (already under way when ``stopping`` is True).
    """
    with anyio.CancelScope() as scope:
        claim.wait_scope = scope
        waiting.add(claim)
        if stopping:
            scope.cancel()
        try:
            yield scope
        finally:
            waiting.discard(claim)
    claim.wait_scope = None


def why_stopped(exc: BaseException) -> str:
    """Say why a worker went away from a run, from what stopped it."""
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return "the task worker was cancelled"
    return f"the task worker stopped on {exc!r}"

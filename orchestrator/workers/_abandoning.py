"""Calls left running: a timed-out or cancelled sync call never overlaps its run's next call.

A thread cannot be interrupted. When a worker stops waiting for a sync call (its
timeout passed, or the worker was cancelled), the call is *left running*: the run's
outcome is decided at once (TimedOut, or Crashed and retried), but the call goes on
until it returns. Until then:

* **the run does not start again**: the call is recorded in the orchestrator's
  :attr:`~orchestrator.Orchestrator.abandoned_calls` by run id, and any worker of this
  orchestrator that claims the run (its retry, or the run handed back) waits PENDING,
  with a message saying why, until the call has returned; stopping that worker hands
  the claim back;
* **the worker's slot stays taken** (listed in ``TaskWorkerStatus.abandoned``, run id ->
  when it was left), so the worker never has more threads than its limit; when the
  worker stops or is cancelled it stops holding the slot (it logs the call it leaves)
  and ends without waiting, but the rule above still holds for the run;
* **the call counts as executing** on the orchestrator's activity, so drains and time
  skipping wait for it.

Tag concurrency slots are given back when the run leaves RUNNING at its timeout, as for
any other outcome: a tag limit counts RUNNING runs, and only a RUNNING or CANCELLING run
may hold one of its slots. A limit that must also cover calls left running needs a
function that honours its own deadline (or an async one, which is cancelled).

The rule sits at the execution seam (the caller reports every call it leaves running
with a :class:`~orchestrator.workers._calls.CallEnding`), so any way of calling a task
that cannot stop a call at once (threads now, remote executors later) keeps it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Final

import anyio

from ._claims import stoppable_wait

if TYPE_CHECKING:
    from .._core._abandoned import AbandonedCall, AbandonedCalls
    from .._core._clock import Clock
    from ._calls import CallEnding
    from ._claims import Claim

__all__ = ["AbandonedCallRules", "waits_for"]

logger: Final = logging.getLogger("orchestrator.workers")


class AbandonedCallRules:
    """What an executor does about calls left running (see the module docstring)."""

    __slots__ = ()

    _abandoned_calls: AbandonedCalls
    _clock: Clock
    _holding: set[anyio.CancelScope]
    abandoned: dict[uuid.UUID, datetime]
    waiting: set[Claim]
    stopping: bool

    if TYPE_CHECKING:

        def _hand_back(self, claim: Claim, why: str) -> None:
            """Put a claimed run back on its retry queue (ClaimEndings provides it)."""

    def _left_running(self, claim: Claim, ending: CallEnding) -> None:
        """Record ``claim``'s call as abandoned until ``ending`` says it returned."""
        run = claim.run
        call = self._abandoned_calls.add(run.id, run.task_key, self._clock.now())
        claim.abandoned = call
        ending.when_returned(call.mark_returned)
        logger.info(
            "task run %s: its call is left running; the run will not start "
            "again before the call returns",
            run.id,
        )

    async def _hold_slot_until_returned(self, call: AbandonedCall) -> None:
        """Keep the caller's slot taken until ``call`` returns, or the worker stops."""
        if call.returned:
            return
        run_id = call.run_id
        with anyio.CancelScope() as scope:
            self.abandoned[run_id] = call.since
            self._holding.add(scope)
            if self.stopping:
                scope.cancel()
            try:
                await call.wait()
            finally:
                self._holding.discard(scope)
                self.abandoned.pop(run_id, None)
        if scope.cancelled_caught:
            logger.warning(
                "task run %s: the task worker stopped while the call it abandoned at %s still "
                "runs; the run will not start again before that call returns",
                run_id,
                call.since.isoformat(),
            )

    def stop_holding(self) -> None:
        """Stop holding slots for abandoned calls (the worker stops; the calls run on)."""
        for scope in list(self._holding):
            scope.cancel()

    async def _after_abandoned_call(self, claim: Claim) -> bool:
        """Wait until the run's abandoned call (if any) returned; False when told to stop.

        The claim waits PENDING, like a claim waiting for its turn: stopping the worker
        hands it back.
        """
        call = claim.previous_call  # looked up when the run was claimed
        if call is None or call.returned:
            return True
        with stoppable_wait(claim, self.waiting, self.stopping) as scope:
            await call.wait()
        if scope.cancelled_caught:
            self._hand_back(claim, "the task worker stopped while the run waited for its call")
            return False
        return True


def waits_for(call: AbandonedCall) -> str:
    """The message of a claim that waits for its run's abandoned call."""
    return (
        f"waits for its previous call, left running since {call.since.isoformat()}, to "
        "return before it starts again"
    )

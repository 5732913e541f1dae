"""The attempts of one run, as a machine that proposes states and asks for what to wait on.

A task run called inline and a flow run called in this process go through the same
moves, decided by the orchestrator's policies: propose Running; on a WAIT wait (for the
run's scheduled time, or for a tag concurrency slot) and propose again; once Running,
call the function and propose the state its outcome gives; when the policy turns a
failure into AwaitingRetry, wait until the retry is due and propose Running again
(named Retrying). A cache hit (the policy answers Running with Cached) ends the run
without a call.

:func:`attempts` is that machine with no waiting of its own: a generator that yields
what it needs (:class:`SleepUntil`, :class:`WaitForTurn`, :data:`CALL`) and is sent
back the result of a call (:class:`Outcome`). The drivers in
:mod:`orchestrator._flows._drivers` do the waiting and the calling, one in a plain
thread and one in an event loop, so the moves are written once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any, Final, final

import attrs

from .._core._outcomes import OrchestrationResult, SetStateStatus, WaitDetails
from .._core._states import State, StateDetails, StateType

__all__ = [
    "CALL",
    "Attempts",
    "Call",
    "Outcome",
    "SleepUntil",
    "Step",
    "WaitForTurn",
    "attempts",
    "completed",
    "crashed",
    "failed",
]


@final
@attrs.frozen
class SleepUntil:
    """Wait on the orchestrator's clock until ``deadline`` (a retry or a scheduled time)."""

    deadline: datetime


@final
@attrs.frozen
class WaitForTurn:
    """Wait for a tag concurrency slot, as the WAIT in ``result`` says."""

    run_id: uuid.UUID
    result: OrchestrationResult


@final
class Call:
    """Call the run's function now and send back its :class:`Outcome`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CALL"


CALL: Final = Call()

Step = SleepUntil | WaitForTurn | Call


@final
@attrs.frozen
class Outcome:
    """How a call went: the state it proposes (Completed, Failed, TimedOut, ...)."""

    proposal: State


#: The machine's type: yields steps, is sent an Outcome after CALL, returns the final state.
Attempts = Generator[Step, Outcome | None, State]

_RUNNING: Final = StateType.RUNNING
_WAIT: Final = SetStateStatus.WAIT


def attempts(
    run_id: uuid.UUID,
    propose: Callable[[State], OrchestrationResult],
    details: StateDetails,
) -> Attempts:
    """Drive one run from its first Running proposal to the state it ends in.

    Args:
        run_id: the run (for slot waits).
        propose: proposes a state for the run through its policy; the result's
            ``state`` is the run's state afterwards, never None.
        details: carried by every Running proposal (the cache key, for example).

    Returns (as the generator's value) the state the run ended in: terminal, or where the
    policy left it when it refused to run it (an ABORT, or a rejection to a non-running
    state), which the caller reports as it is.
    """
    name = "Running"
    while True:
        result = propose(State(type=_RUNNING, name=name, details=details))
        state = result.state
        assert state is not None  # see the ``propose`` argument
        if result.status is _WAIT:
            step = _wait_step(run_id, result)
            if isinstance(step, SleepUntil) and state.name == "AwaitingRetry":
                name = "Retrying"
            yield step
            continue
        if state.type is not _RUNNING:
            if state.type is StateType.SCHEDULED and state.details.scheduled_time is not None:
                # Rejected to a scheduled state (a retry not due yet): wait and go again.
                yield SleepUntil(state.details.scheduled_time)
                name = "Retrying"
                continue
            return state
        outcome = yield CALL
        assert outcome is not None  # the drivers send an Outcome after every CALL
        ended = propose(outcome.proposal).state
        assert ended is not None
        retry_at = ended.details.scheduled_time
        if ended.type is StateType.SCHEDULED and retry_at is not None:
            yield SleepUntil(retry_at)
            name = "Retrying"
            continue
        return ended


def _wait_step(run_id: uuid.UUID, result: OrchestrationResult) -> Step:
    state = result.state
    assert state is not None
    details = result.details
    waits_for_slots = isinstance(details, WaitDetails) and bool(details.wait_for)
    if not waits_for_slots and state.details.scheduled_time is not None:
        return SleepUntil(state.details.scheduled_time)
    return WaitForTurn(run_id, result)


def failed(message: str, exc: BaseException, details: StateDetails, name: str = "Failed") -> State:
    """The Failed proposal for an exception a call raised."""
    return State(type=StateType.FAILED, name=name, message=message, data=exc, details=details)


def crashed(exc: BaseException) -> State:
    """The Crashed proposal for a call torn down from outside (an interrupt, a cancellation)."""
    message = f"Execution was interrupted by {type(exc).__name__}: the run crashed"
    return State(type=StateType.CRASHED, name="Crashed", message=message)


def completed(value: Any, details: StateDetails) -> State:
    """The Completed proposal for a value a call returned."""
    return State(type=StateType.COMPLETED, name="Completed", data=value, details=details)

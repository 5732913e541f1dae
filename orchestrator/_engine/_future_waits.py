"""How a future waits for its run to settle: in a thread, or in async code.

Both waits register a wake-up with the orchestrator's
:class:`~orchestrator._engine._waiters.FutureWaiters` first, then look at the run again:
a commit after the second look wakes the waiter, one before it is seen by the look, and
no lock is held across the two. Nothing polls.

* :func:`wait_settled_async` awaits a :class:`~orchestrator._core._wakeup.Waiter`; its
  timeout counts on the orchestrator's clock (exact under a VirtualClock, and seen by
  time skipping).
* :func:`wait_settled_blocking` blocks the calling thread on a :class:`threading.Event`;
  its timeout counts in real seconds. With a grace period it also runs the hang guard
  of :mod:`orchestrator._engine._unserved`.

"Settled" is :func:`~orchestrator._core._settled.is_settled`: terminal, or NotReady.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from .._core._errors import OrchestratorTimeout
from .._core._settled import is_settled
from .._core._states import State
from .._core._units import parked_blocking
from .._core._wakeup import Waiter
from ._unserved import guard_async, guard_blocking

if TYPE_CHECKING:
    from .._core._errors import TaskRunStalled
    from ._orchestrator import Orchestrator

__all__ = [
    "current_state",
    "timed_out",
    "wait_guarded_async",
    "wait_settled_async",
    "wait_settled_blocking",
]


def current_state(orchestrator: Orchestrator, run_id: uuid.UUID) -> State:
    """The run's current state.

    Raises:
        ObjectNotFound: the run was deleted.
    """
    state = orchestrator.read_task_run(run_id).state
    assert state is not None  # a created run always has a state
    return state


def timed_out(run_id: uuid.UUID, timeout: float | None, state: State) -> OrchestratorTimeout:
    """The error of a wait for ``run_id`` that ran out of time in ``state``."""
    return OrchestratorTimeout(
        f"task run {run_id} did not finish within {timeout} s; it is {state.name}"
    )


async def wait_settled_async(
    orchestrator: Orchestrator,
    run_id: uuid.UUID,
    timeout: float | None,  # noqa: ASYNC109 - clock seconds
) -> State:
    """Wait in this task until the run settles or ``timeout`` (clock seconds) runs out.

    Returns the run's state then (settled, or as it is on timeout).

    Raises:
        ObjectNotFound: the run was deleted (before or while waiting).
    """
    state = current_state(orchestrator, run_id)
    if is_settled(state):
        return state
    registry = orchestrator._engine.watch_futures()
    waker = Waiter.for_current_task()
    registry.add(run_id, waker.wake)
    try:
        state = current_state(orchestrator, run_id)
        if is_settled(state):
            return state
        if timeout is None:
            await waker.wait()
        else:
            await _wait_until(orchestrator, waker, timeout)
        return current_state(orchestrator, run_id)
    finally:
        registry.discard(run_id, waker.wake)


async def _wait_until(orchestrator: Orchestrator, waker: Waiter, seconds: float) -> None:
    clock = orchestrator.clock
    deadline = clock.now() + timedelta(seconds=seconds)
    async with anyio.create_task_group() as group:

        async def expire() -> None:
            await clock.sleep_until(deadline)
            group.cancel_scope.cancel()

        group.start_soon(expire)
        await waker.wait()
        group.cancel_scope.cancel()


async def wait_guarded_async(
    orchestrator: Orchestrator,
    run_id: uuid.UUID,
    timeout: float | None,  # noqa: ASYNC109 - clock seconds
    grace: float,
) -> State:
    """:func:`wait_settled_async`, raced against the hang guard.

    Raises:
        TaskRunStalled: the run stayed unserved for ``grace`` seconds.
        ObjectNotFound: the run was deleted.
    """
    stalls: list[TaskRunStalled] = []
    state: State | None = None
    async with anyio.create_task_group() as group:

        async def guard() -> None:
            stalls.append(await guard_async(orchestrator, run_id, grace))
            group.cancel_scope.cancel()

        group.start_soon(guard)
        state = await wait_settled_async(orchestrator, run_id, timeout)
        group.cancel_scope.cancel()
    if state is None:
        raise stalls[0]
    return state


def wait_settled_blocking(
    orchestrator: Orchestrator, run_id: uuid.UUID, timeout: float | None, grace: float | None
) -> State:
    """Block this thread until the run settles or ``timeout`` (real seconds) runs out.

    Returns the run's state then. The caller decides whether this thread may block.

    Raises:
        TaskRunStalled: with a ``grace``, the run stayed unserved that long.
        ObjectNotFound: the run was deleted.
    """
    registry = orchestrator._engine.watch_futures()
    woken = threading.Event()

    def settled() -> bool:
        return is_settled(current_state(orchestrator, run_id))

    # Parked while it blocks (time skipping may move the clock); the commit that settles
    # the run marks this thread busy again before it wakes it.
    with parked_blocking() as parking:
        wake = parking.waking(woken.set)
        registry.add(run_id, wake)
        try:
            parking.park()
            stall = guard_blocking(orchestrator, run_id, woken, settled, timeout, grace)
            if stall is not None:
                raise stall
            return current_state(orchestrator, run_id)
        finally:
            registry.discard(run_id, wake)

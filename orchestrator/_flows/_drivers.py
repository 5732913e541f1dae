"""Drivers: do what a run's attempts ask for, from plain code or from an event loop.

:func:`~orchestrator._flows._steps.attempts` decides; a driver waits and calls.
:func:`drive_blocking` serves sync functions (a sync flow's body, a sync task called
directly or run by a task runner's thread): it calls the function in the calling
thread and blocks for the waits. :func:`drive_async` serves async functions: it awaits
the function and the waits in the running event loop.

Waits from plain code (:func:`block_on`) run the orchestrator's async wait on an event
loop of their own: in the calling thread when no loop runs there, otherwise (sync code
called from async code) in a helper thread, so the caller's loop is never re-entered.
A sync function with a timeout runs in a helper thread that the driver waits for on
the orchestrator's clock (:func:`call_blocking`); on timeout the thread is left to
finish on its own and its result ignored, as TaskWorkers do.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .._core._wakeup import Signal, current_async_library, wait_for_any
from .._engine._foreign_loop import block_on
from ._steps import Attempts, Call, Outcome, SleepUntil, Step

if TYPE_CHECKING:
    from .._engine._orchestrator import Orchestrator

__all__ = [
    "CallTimedOut",
    "call_async",
    "call_blocking",
    "drive_async",
    "drive_blocking",
]

T = TypeVar("T")


class CallTimedOut(Exception):
    """A call took longer than its timeout (the run ends TimedOut)."""


def drive_blocking(
    orchestrator: Orchestrator, machine: Attempts, call: Callable[[], Outcome]
) -> Any:
    """Run ``machine`` to its end from plain code; return the state it ends in."""
    sent: Outcome | None = None
    try:
        while True:
            step = machine.send(sent)
            sent = None
            if isinstance(step, Call):
                sent = call()
            else:
                _wait_blocking(orchestrator, step)
    except StopIteration as stop:
        return stop.value


def _wait_blocking(orchestrator: Orchestrator, step: Step) -> None:
    if isinstance(step, SleepUntil):
        if current_async_library() is None:
            orchestrator.clock.sleep_until_blocking(step.deadline)  # parked while it sleeps
        else:
            block_on(orchestrator.activity, orchestrator.clock.sleep_until, step.deadline)
    else:
        assert not isinstance(step, Call)
        block_on(orchestrator.activity, orchestrator.wait_for_turn, step.run_id, step.result)


async def drive_async(
    orchestrator: Orchestrator,
    machine: Attempts,
    call: Callable[[], Awaitable[Outcome]],
    after_sleep: Callable[[], Awaitable[None]] | None = None,
) -> Any:
    """Run ``machine`` to its end in the running event loop; return the state it ends in.

    ``after_sleep``, when given, is awaited after each sleep (a retry's wait, or a
    scheduled start), before the machine proposes Running again: a run whose previous
    call is still running remotely stays AwaitingRetry until that call has ended.
    """
    sent: Outcome | None = None
    try:
        while True:
            step = machine.send(sent)
            sent = None
            if isinstance(step, Call):
                sent = await call()
            elif isinstance(step, SleepUntil):
                await orchestrator.clock.sleep_until(step.deadline)
                if after_sleep is not None:
                    await after_sleep()
            else:
                await orchestrator.wait_for_turn(step.run_id, step.result)
    except StopIteration as stop:
        return stop.value


def call_blocking(orchestrator: Orchestrator, fn: Callable[[], T], seconds: float | None) -> T:
    """Call ``fn()`` here, or, with a timeout, in a helper thread waited for on the clock.

    Raises:
        CallTimedOut: ``seconds`` passed on the orchestrator's clock first.
    """
    if seconds is None:
        return fn()
    done = Signal()
    seen = done.generation
    box: list[T] = []
    errors: list[BaseException] = []

    activity = orchestrator.activity

    def in_thread() -> None:
        try:
            # Real work, holding virtual time: the count begun for the thread's start.
            with activity.counted(begun=True):
                box.append(fn())
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)
        finally:
            done.notify()

    # The helper thread runs in a copy of this context (the run's context, the current
    # orchestrator and the caller's own context variables).
    context = contextvars.copy_context()
    helper = threading.Thread(
        target=context.run, args=(in_thread,), name="orchestrator-call", daemon=True
    )
    # Counted from before the thread starts: until it runs, time skipping would see
    # nothing executing and could jump past the call's timeout.
    activity.begin()
    try:
        helper.start()
    except BaseException:
        activity.end()
        raise
    sleep = functools.partial(orchestrator.clock.sleep, seconds)
    block_on(orchestrator.activity, wait_for_any, [(done, seen)], sleep)
    if done.generation == seen:
        raise CallTimedOut
    if errors:
        raise errors[0]
    return box[0]


async def call_async(
    orchestrator: Orchestrator, fn: Callable[[], Awaitable[T]], seconds: float | None
) -> T:
    """Await ``fn()``; with a timeout, cancel it once ``seconds`` pass on the clock.

    With a timeout, ``fn()`` runs in a task of its own and this task waits on the clock:
    the run's execution (which ``fn`` marks) is rooted in that task, so the timer is no
    part of it and time skipping sees the timer as the clock sleep it is.

    Raises:
        CallTimedOut: the timeout passed first (the call was cancelled).
    """
    if seconds is None:
        return await fn()
    box: list[T] = []
    errors: list[Exception] = []

    async def run(scope: anyio.CancelScope) -> None:
        try:
            box.append(await fn())
        except Exception as exc:  # re-raised below, not wrapped in an exception group
            errors.append(exc)
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(run, group.cancel_scope)
        await orchestrator.clock.sleep(seconds)
        group.cancel_scope.cancel()
    if errors:
        raise errors[0]
    if not box:
        raise CallTimedOut
    return box[0]

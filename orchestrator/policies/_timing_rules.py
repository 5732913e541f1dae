"""Task-run rules about time: scheduled times and retries with back-off and jitter."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import timedelta
from typing import ClassVar, final

import attrs

from .._core._errors import InvalidArgument
from .._core._models import TaskRunPolicy
from .._core._states import State, StateType
from .._rules._context import TransitionContext
from .._rules._rule import Rule, StateTypes

__all__ = [
    "CopyScheduledTime",
    "JitterFunction",
    "RetryFailedTasks",
    "WaitForScheduledTime",
    "clamped_poisson_delay",
    "retry_delay_seconds",
]

#: Draws a retry delay: ``(rng, mean_seconds, jitter_factor) -> seconds``.
JitterFunction = Callable[[random.Random, float, float], float]


def clamped_poisson_delay(rng: random.Random, mean: float, factor: float) -> float:
    """Draw a delay spread like the gaps of a Poisson process, never above ``mean * (1 + factor)``.

    The draw is exponential with mean ``mean``, cut at the upper bound (so its own mean
    is somewhat lower), using one ``rng.random()`` call. Many retries scheduled at once
    so spread out instead of waking together.

    Args:
        rng: the random source (an orchestrator's, for reproducible runs).
        mean: the mean of the uncut distribution, in seconds; 0 or less gives 0.
        factor: how far above ``mean`` a delay may go, as a fraction; >= 0.

    Returns:
        Seconds in ``[0, mean * (1 + factor))``.

    Raises:
        InvalidArgument: ``factor`` is negative.

    Example:
        >>> import random
        >>> delay = clamped_poisson_delay(random.Random(7), 10.0, 0.5)
        >>> 0.0 <= delay < 15.0
        True
    """
    if factor < 0:
        raise InvalidArgument(f"a jitter factor must be >= 0, got {factor!r}")
    if mean <= 0:
        return 0.0
    # The exponential CDF at the upper bound: draws above it would exceed the bound.
    reachable = -math.expm1(-(1.0 + factor))
    return -mean * math.log1p(-rng.random() * reachable)


def retry_delay_seconds(policy: TaskRunPolicy, run_count: int) -> float:
    """Return the base delay before the retry after attempt ``run_count``, without jitter.

    A list of delays is indexed by ``run_count - 1`` and its last entry repeats; a run
    count of 0 takes the last entry too. No delay configured (or an empty list) is 0.
    """
    delay = policy.retry_delay
    if delay is None:
        return 0.0
    if isinstance(delay, tuple):
        if not delay:
            return 0.0
        return delay[min(run_count - 1, len(delay) - 1)]
    return delay


def _function_name(function: object) -> str:
    return getattr(function, "__qualname__", repr(function))


@final
@attrs.frozen
class CopyScheduledTime(Rule):
    """SCHEDULED→PENDING: a claim without a scheduled time keeps the one it was scheduled for."""

    from_states: ClassVar[StateTypes] = frozenset({StateType.SCHEDULED})
    to_states: ClassVar[StateTypes] = frozenset({StateType.PENDING})

    def before(self, ctx: TransitionContext) -> None:
        """Copy the initial state's scheduled time onto the proposal if it has none."""
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None or proposed.details.scheduled_time is not None:
            return
        scheduled_time = initial.details.scheduled_time
        if scheduled_time is not None:
            ctx.update_details(scheduled_time=scheduled_time)


@final
@attrs.frozen
class WaitForScheduledTime(Rule):
    """SCHEDULED or PENDING→RUNNING: a run never starts before its scheduled time.

    When the current state's ``scheduled_time`` is ahead of ``ctx.now`` the outcome is
    WAIT for exactly the float seconds left ("Scheduled time is in the future").
    """

    from_states: ClassVar[StateTypes] = frozenset({StateType.SCHEDULED, StateType.PENDING})
    to_states: ClassVar[StateTypes] = frozenset({StateType.RUNNING})

    def before(self, ctx: TransitionContext) -> None:
        """Wait until the scheduled time if it has not come yet."""
        initial = ctx.initial
        if initial is None:
            return
        scheduled_time = initial.details.scheduled_time
        if scheduled_time is None:
            return
        now = ctx.now
        if scheduled_time > now:  # what a positive delay means, without building it
            ctx.wait((scheduled_time - now).total_seconds(), "Scheduled time is in the future")


@final
@attrs.frozen
class RetryFailedTasks(Rule):
    """RUNNING→FAILED: retry a run that has retries left, after its back-off.

    With ``retries`` set and ``run_count <= retries`` (and the proposal not marked
    ``retriable=False``), the FAILED proposal is rejected into SCHEDULED "AwaitingRetry"
    due ``now + delay``, keeping the failure's message, data and details. The delay is
    :func:`retry_delay_seconds`, drawn through ``jitter`` from ``ctx.random`` when the
    run's ``retry_jitter_factor`` is set and the delay is positive. A failure marked
    ``retriable=False`` with retries left (a task's ``retry_condition_fn`` said no) ends
    the run, and the decision says so (an ACCEPT by this rule, with the reason).

    Args:
        jitter: draws the jittered delay; :func:`clamped_poisson_delay` by default.
    """

    from_states: ClassVar[StateTypes] = frozenset({StateType.RUNNING})
    to_states: ClassVar[StateTypes] = frozenset({StateType.FAILED})
    jitter: JitterFunction = attrs.field(default=clamped_poisson_delay, repr=_function_name)

    def before(self, ctx: TransitionContext) -> None:
        """Reject the failure into AwaitingRetry when a retry is left."""
        proposed = ctx.proposed
        if proposed is None:
            return
        run = ctx.task_run
        policy = run.empirical_policy
        retries = policy.retries
        if retries is None or run.run_count > retries:
            return
        if proposed.details.retriable is False:
            left = retries - run.run_count + 1
            ctx.note(
                f"Not retried, {left} of {retries} retries left: the failure was proposed "
                "as final (retriable=False)"
            )
            return
        delay = retry_delay_seconds(policy, run.run_count)
        factor = policy.retry_jitter_factor
        if factor and delay > 0:
            delay = self.jitter(ctx.random, delay, factor)
        details = proposed.details.replace(scheduled_time=ctx.now + timedelta(seconds=delay))
        awaiting_retry = State(
            type=StateType.SCHEDULED,
            name="AwaitingRetry",
            message=proposed.message,
            data=proposed.data,
            details=details,
        )
        ctx.reject(awaiting_retry, "Retrying")

"""Run policies: a task run's retries and cache settings, a flow run's retries and pause.

Frozen values validated on construction, held by every run record
(:mod:`orchestrator._core._models`), with the retry-delay normalisation they share with
the task options.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, final

import attrs

from ._checks import (
    check_bool,
    check_number,
    check_optional_count,
    check_optional_seconds,
    check_seconds,
    wrong_type,
    wrong_value,
)
from ._errors import ArgumentValueError

__all__ = [
    "DEFAULT_FLOW_POLICY",
    "DEFAULT_TASK_POLICY",
    "MAX_RETRY_DELAYS",
    "MAX_RETRY_DELAY_SECONDS",
    "FlowRunPolicy",
    "RetryDelay",
    "TaskRunPolicy",
    "normalise_retry_delays",
]

#: The most retry delays a policy may list.
#: The longest retry delay: later than that, a retry's due time would not be a date.
MAX_RETRY_DELAY_SECONDS: Final = 100 * 365 * 86400.0
MAX_RETRY_DELAYS: Final = 50

RetryDelay = float | tuple[float, ...] | None


def _normalise_delay(value: float | Sequence[float] | None) -> RetryDelay:
    return normalise_retry_delays(value, "retry_delay")


def normalise_retry_delays(value: object, name: str) -> RetryDelay:
    """Return retry delays as a TaskRunPolicy keeps them: None, float seconds, or a tuple.

    ``name`` is the parameter as the caller spelled it (``retry_delay``, or
    ``retry_delay_seconds`` for ``@task``). Every delay is a finite number of seconds
    >= 0: NaN or infinity would only fail at the first retry, when the delay is used.

    Raises:
        InvalidArgument: a delay that is not a finite number >= 0, or more than 50.
    """
    if value is None:
        return None
    if isinstance(value, int | float):
        return _check_delay(
            value, name, expected="a finite number of seconds >= 0, or a list of them"
        )
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise wrong_type(
            name,
            value,
            "seconds or a list of seconds",
            bare_string=isinstance(value, str),
        )
    delays = tuple(value)
    if len(delays) > MAX_RETRY_DELAYS:
        raise ArgumentValueError(
            f"Can not configure more than {MAX_RETRY_DELAYS} retry delays per task "
            f"(got {len(delays)} in {name}); shorten the list, the last delay repeats for "
            "later retries"
        )
    return tuple(
        _check_delay(delay, f"every delay in {name}", expected="a finite number of seconds >= 0")
        for delay in delays
    )


def _check_delay(value: object, name: str, *, expected: str) -> float:
    seconds = check_seconds(value, name, expected=expected)
    if seconds > MAX_RETRY_DELAY_SECONDS:
        raise wrong_value(name, value, f"at most {MAX_RETRY_DELAY_SECONDS:.0f} seconds (100 years)")
    return seconds


@final
@attrs.frozen(kw_only=True)
class TaskRunPolicy:
    """How a task run is retried.

    Args:
        retries: how many times a failed run is retried (None or 0: never).
        retry_delay: seconds before a retry, or a list indexed by attempt (the last
            entry repeats); at most 50 entries.
        retry_jitter_factor: spread of a random delay around ``retry_delay``; the delay
            is drawn with that mean and at most ``delay * (1 + factor)``. Must be >= 0.

    Raises:
        InvalidArgument: a count that is not an integer >= 0, a delay or jitter factor
            that is not a finite number >= 0 (NaN and infinity included), or more than
            50 delays.
    """

    retries: int | None = None
    retry_delay: RetryDelay = attrs.field(default=None, converter=_normalise_delay)
    retry_jitter_factor: float | None = None

    def __attrs_post_init__(self) -> None:
        check_optional_count(self.retries, "retries")
        if self.retry_jitter_factor is not None:
            check_number(
                self.retry_jitter_factor,
                "retry_jitter_factor",
                expected="None or a finite number >= 0",
            )


DEFAULT_TASK_POLICY: Final = TaskRunPolicy()


#: What ``FlowRunPolicy.retry_type`` may hold (as in the reference).
_RETRY_TYPES: Final = (None, "reschedule", "in_process")


@final
@attrs.frozen(kw_only=True)
class FlowRunPolicy:
    """How a flow run is retried, plus the pause bookkeeping the flow rules keep.

    Raises:
        InvalidArgument: ``retries`` is not None or an integer >= 0, ``retry_delay`` not
            None or a finite number of seconds >= 0, ``pause_keys`` not a frozenset of
            strings, ``resuming`` not a bool, or ``retry_type`` not None, "reschedule"
            or "in_process".
    """

    retries: int | None = None
    retry_delay: float | None = None
    pause_keys: frozenset[str] = frozenset()
    resuming: bool = False
    retry_type: str | None = None

    def __attrs_post_init__(self) -> None:
        check_optional_count(self.retries, "retries")
        check_optional_seconds(self.retry_delay, "retry_delay")
        pause_keys = self.pause_keys
        if not isinstance(pause_keys, frozenset):
            raise wrong_type("pause_keys", pause_keys, "a frozenset of strings")
        for key in pause_keys:
            if not isinstance(key, str):
                raise wrong_type("every pause key", key, "a string")
        check_bool(self.resuming, "resuming")
        if self.retry_type not in _RETRY_TYPES:
            retry_type = self.retry_type
            expected = "None, 'reschedule' or 'in_process'"
            if isinstance(retry_type, str):
                raise wrong_value("retry_type", retry_type, expected)
            raise wrong_type("retry_type", retry_type, expected)


DEFAULT_FLOW_POLICY: Final = FlowRunPolicy()

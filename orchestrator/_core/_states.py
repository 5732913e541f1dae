"""States: the State record and the constructors that build proposals.

The record (:class:`State`, :class:`StateType`, :class:`StateDetails`,
:data:`TERMINAL_TYPES`) lives in ``_state_record.py`` and is re-exported here, so every
state name imports from this module.

The constructors (:func:`Scheduled`, :func:`Running`, :func:`AwaitingRetry`, ...) build
proposals with the conventional names. A proposal without a timestamp is stamped with
the orchestrator's clock when it is committed, and a ``Scheduled`` proposal without a
scheduled time is due at that moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs

from ._state_record import (
    ALL_STATE_TYPES,
    EMPTY_DETAILS,
    TERMINAL_TYPES,
    State,
    StateDetails,
    StateType,
    default_state_name,
)

__all__ = [
    "ALL_STATE_TYPES",
    "EMPTY_DETAILS",
    "TERMINAL_TYPES",
    "AwaitingRetry",
    "Cached",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Late",
    "Paused",
    "Pending",
    "Retrying",
    "Running",
    "Scheduled",
    "State",
    "StateDetails",
    "StateType",
    "Suspended",
    "TimedOut",
    "default_state_name",
    "make_state",
]

_DEFAULT_NAMES: Final = {t: default_state_name(t) for t in StateType}


def make_state(
    state_type: StateType,
    name: str | None,
    message: str | None,
    data: Any,
    details: StateDetails | None,
    timestamp: datetime | None,
) -> State:
    """Return an uncommitted ``State`` of ``state_type`` (named by default when ``name``
    is None, with no details when ``details`` is None): what every constructor builds."""
    if details is None:
        details = EMPTY_DETAILS
    elif details.__class__ is not StateDetails:  # State.__init__ refuses it, naming it
        return State(  # type: ignore[unreachable]  # the annotation may lie
            type=state_type,
            name=_DEFAULT_NAMES[state_type] if name is None else name,
            message=message,
            data=data,
            details=details,
            timestamp=timestamp,
        )
    # The slots set directly: the keyword call of State.__init__ costs about twice as
    # much, and its checks (a StateType, a StateDetails) hold here by construction.
    state: State = _new_state(State)
    _set_type(state, state_type)
    _set_name(state, _DEFAULT_NAMES[state_type] if name is None else name)
    _set_timestamp(state, timestamp)
    _set_message(state, message)
    _set_data(state, data)
    _set_details(state, details)
    _set_id(state, None)
    return state


_new_state = object.__new__
_set_type, _set_name, _set_timestamp, _set_message, _set_data, _set_details, _set_id = (
    State.__dict__[field].__set__
    for field in ("type", "name", "timestamp", "message", "data", "details", "id")
)


def Scheduled(  # noqa: N802 - state constructors read as state names
    scheduled_time: datetime | None = None,
    *,
    name: str | None = None,
    message: str | None = None,
    deferred: bool = False,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A SCHEDULED proposal due at ``scheduled_time`` (when committed, if None).

    ``deferred=True`` marks a background run for a task worker (it sets
    ``details.deferred``; ``False`` keeps whatever ``details`` says).
    """
    base = EMPTY_DETAILS if details is None else details
    if scheduled_time is not None or deferred:
        base = base.replace(
            scheduled_time=scheduled_time if scheduled_time is not None else base.scheduled_time,
            deferred=deferred or base.deferred,
        )
    return make_state(StateType.SCHEDULED, name, message, None, base, timestamp)


def AwaitingRetry(  # noqa: N802
    scheduled_time: datetime | None = None,
    *,
    message: str | None = None,
    data: Any = None,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A SCHEDULED proposal named "AwaitingRetry"."""
    state = Scheduled(scheduled_time, name="AwaitingRetry", message=message, details=details)
    return attrs.evolve(state, data=data, timestamp=timestamp)


def Late(  # noqa: N802
    scheduled_time: datetime | None = None,
    *,
    message: str | None = None,
    details: StateDetails | None = None,
) -> State:
    """A SCHEDULED proposal named "Late"."""
    return Scheduled(scheduled_time, name="Late", message=message, details=details)


def Pending(  # noqa: N802
    *,
    name: str | None = None,
    message: str | None = None,
    deferred: bool = False,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A PENDING proposal (a claim): "Pending", or "Submitting" and the like by name.

    ``deferred=True`` makes it a worker's claim of a background run, as
    :meth:`~orchestrator.Orchestrator.claim_task_run` proposes it (it sets
    ``details.deferred``, as :func:`Scheduled` does; ``False`` keeps whatever
    ``details`` says). Like every field, ``deferred`` is checked where the proposal is
    made: ``set_task_run_state`` refuses a non-bool, naming ``state.details.deferred``.
    """
    if deferred:
        details = (EMPTY_DETAILS if details is None else details).replace(deferred=deferred)
    return make_state(StateType.PENDING, name, message, None, details, timestamp)


def Running(  # noqa: N802
    *,
    name: str | None = None,
    message: str | None = None,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A RUNNING proposal."""
    return make_state(StateType.RUNNING, name, message, None, details, timestamp)


def Retrying(  # noqa: N802
    *, message: str | None = None, details: StateDetails | None = None
) -> State:
    """A RUNNING proposal named "Retrying"."""
    return make_state(StateType.RUNNING, "Retrying", message, None, details, None)


def Completed(  # noqa: N802
    data: Any = None,
    *,
    name: str | None = None,
    message: str | None = None,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A COMPLETED proposal carrying the result ``data``."""
    return make_state(StateType.COMPLETED, name, message, data, details, timestamp)


def Cached(  # noqa: N802
    data: Any = None,
    *,
    message: str | None = None,
    details: StateDetails | None = None,
) -> State:
    """A COMPLETED proposal named "Cached"."""
    return make_state(StateType.COMPLETED, "Cached", message, data, details, None)


def Failed(  # noqa: N802
    data: Any = None,
    *,
    name: str | None = None,
    message: str | None = None,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A FAILED proposal; ``data`` is usually the exception that failed the run."""
    return make_state(StateType.FAILED, name, message, data, details, timestamp)


def TimedOut(  # noqa: N802
    data: Any = None, *, message: str | None = None, details: StateDetails | None = None
) -> State:
    """A FAILED proposal named "TimedOut"."""
    return make_state(StateType.FAILED, "TimedOut", message, data, details, None)


def Crashed(  # noqa: N802
    *,
    message: str | None = None,
    data: Any = None,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A CRASHED proposal: the infrastructure or the worker failed, not the user code."""
    return make_state(StateType.CRASHED, None, message, data, details, timestamp)


def Cancelled(  # noqa: N802
    *,
    message: str | None = None,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A CANCELLED proposal."""
    return make_state(StateType.CANCELLED, None, message, None, details, timestamp)


def Cancelling(  # noqa: N802
    *,
    message: str | None = None,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A CANCELLING proposal: cancellation requested, infrastructure being torn down."""
    return make_state(StateType.CANCELLING, None, message, None, details, timestamp)


def Paused(  # noqa: N802
    *,
    name: str | None = None,
    message: str | None = None,
    pause_timeout: datetime | None = None,
    reschedule: bool = False,
    pause_key: str | None = None,
    details: StateDetails | None = None,
    timestamp: datetime | None = None,
) -> State:
    """A PAUSED proposal with its pause details."""
    base = EMPTY_DETAILS if details is None else details
    if pause_timeout is not None or reschedule or pause_key is not None:
        base = base.replace(
            pause_timeout=pause_timeout, pause_reschedule=reschedule, pause_key=pause_key
        )
    return make_state(StateType.PAUSED, name, message, None, base, timestamp)


def Suspended(  # noqa: N802
    *,
    message: str | None = None,
    pause_timeout: datetime | None = None,
    pause_key: str | None = None,
) -> State:
    """A PAUSED proposal named "Suspended" (a pause that reschedules the run)."""
    return Paused(
        name="Suspended",
        message=message,
        pause_timeout=pause_timeout,
        reschedule=True,
        pause_key=pause_key,
    )

"""The check of a proposed state: every field of a State and of its StateDetails.

States are built on every commit, so constructing one checks only what would otherwise
fail obscurely at once (its ``type`` and ``details``). The public calls that take a
state from a caller (``set_task_run_state``, ``set_flow_run_state``,
``set_task_run_state_if`` and the ``state=`` of the ``create_*`` calls) run
:func:`check_state` before any rule sees the proposal, so a malformed field is refused
up front instead of breaking an index half-way through a commit::

    check_state(Scheduled(scheduled_time="later"))
    # InvalidArgument: state.details.scheduled_time must be an aware datetime, got 'later'

Strings are never read as datetimes, and a naive datetime is refused: pass
``datetime(..., tzinfo=UTC)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from ._checks import wrong_type, wrong_value
from ._states import EMPTY_DETAILS, State, StateDetails, StateType

__all__ = ["CHECKED_DETAIL_FIELDS", "check_state"]

_NONE: Final = type(None)
_ID_TYPES: Final = frozenset({_NONE, uuid.UUID})
_TEXT_TYPES: Final = frozenset({_NONE, str})
_OPTIONAL_FLAG_TYPES: Final = frozenset({_NONE, bool})
_AWARE: Final = "an aware datetime, such as datetime(2026, 1, 1, tzinfo=UTC)"
_NAIVE: Final = "(it has no timezone; pass one with a tzinfo)"

# The fields of StateDetails by kind (a test checks that every field is listed once).
_ID_FIELDS: Final = (
    "flow_run_id",
    "task_run_id",
    "child_flow_run_id",
    "transition_id",
    "task_parameters_id",
    "deployment_concurrency_lease_id",
)
_TIME_FIELDS: Final = ("scheduled_time", "cache_expiration", "pause_timeout")
_TEXT_FIELDS: Final = ("cache_key", "pause_key", "traceparent")
_FLAG_FIELDS: Final = ("deferred", "untrackable_result", "pause_reschedule")
_OPTIONAL_FLAG_FIELDS: Final = ("refresh_cache", "retriable")
_MAPPING_FIELDS: Final = ("run_input_keyset",)
#: Every field :func:`check_state` checks in a StateDetails.
CHECKED_DETAIL_FIELDS: Final = (
    *_ID_FIELDS,
    *_TIME_FIELDS,
    *_TEXT_FIELDS,
    *_FLAG_FIELDS,
    *_OPTIONAL_FLAG_FIELDS,
    *_MAPPING_FIELDS,
)


def check_state(value: object, name: str = "state") -> State:
    """Return ``value`` if it is a well-formed :class:`State`; refuse it otherwise.

    Checks every field: ``type`` a StateType, ``name`` a non-empty string, ``timestamp``
    None or an aware datetime, ``message`` None or a string, ``id`` None or a UUID, and
    each field of ``details`` (ids are UUIDs, times aware datetimes, keys strings, flags
    booleans, ``run_input_keyset`` a mapping of strings). ``data`` may be anything.

    Raises:
        InvalidArgument: naming the field as ``<name>.<field>`` (``state.details.cache_key``),
            what it got and what to pass.
    """
    # Each check first asks whether the type is exactly the expected one, which costs a
    # fraction of an isinstance call; a subclass still passes through isinstance.
    if type(value) is not State and not isinstance(value, State):
        raise wrong_type(name, value, "a State such as Running() or Completed(data)")
    if type(value.type) is not StateType:  # an enum with members has no subclass
        raise wrong_type(f"{name}.type", value.type, "a StateType such as StateType.RUNNING")
    state_name = value.name
    if (type(state_name) is not str and not isinstance(state_name, str)) or not state_name:
        refuse = wrong_value if isinstance(state_name, str) else wrong_type
        raise refuse(f"{name}.name", state_name, "a non-empty string")
    if value.timestamp is not None:
        _check_time(value.timestamp, f"{name}.timestamp")
    if value.message is not None and not isinstance(value.message, str):
        raise wrong_type(f"{name}.message", value.message, "None or a string")
    state_id = value.id  # read once
    if state_id is not None and not isinstance(state_id, uuid.UUID):
        raise wrong_type(f"{name}.id", state_id, "None or a UUID")
    details = value.details
    # The common cases without a call: the shared empty details, or details of exactly
    # StateDetails that pass the fast check (the field-by-field check, and the field's
    # name for its message, only for the rest).
    if details is not EMPTY_DETAILS and (
        type(details) is not StateDetails or not _plainly_valid(details)
    ):
        _check_details(details, f"{name}.details")
    return value


def _check_details(details: object, name: str) -> None:
    if not isinstance(details, StateDetails):
        raise wrong_type(name, details, "a StateDetails")
    if _plainly_valid(details):
        return
    # Something is off, or of a subclass: field by field, naming the first bad one.
    for field in _FLAG_FIELDS:
        value = getattr(details, field)
        if value is not True and value is not False:
            raise wrong_type(f"{name}.{field}", value, "True or False")
    for field in _OPTIONAL_FLAG_FIELDS:
        value = getattr(details, field)
        if value is not None and value is not True and value is not False:
            raise wrong_type(f"{name}.{field}", value, "None, True or False")
    for field in _ID_FIELDS:
        value = getattr(details, field)
        if value is not None and not isinstance(value, uuid.UUID):
            raise wrong_type(f"{name}.{field}", value, "None or a UUID")
    for field in _TIME_FIELDS:
        value = getattr(details, field)
        if value is not None:
            _check_time(value, f"{name}.{field}")
    for field in _TEXT_FIELDS:
        value = getattr(details, field)
        if value is not None and not isinstance(value, str):
            raise wrong_type(f"{name}.{field}", value, "None or a string")
    keyset = details.run_input_keyset
    if keyset is not None:
        _check_keyset(keyset, f"{name}.run_input_keyset")


def _check_time(value: object, name: str) -> None:
    if not isinstance(value, datetime):
        raise wrong_type(name, value, _AWARE)
    if value.utcoffset() is None:
        raise wrong_value(name, value, _AWARE, context=_NAIVE)


def _check_keyset(value: object, name: str) -> None:
    if not isinstance(value, Mapping):
        raise wrong_type(name, value, "None or a mapping of strings to strings")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise wrong_type(
                name, value, "None or a mapping of strings to strings", context=f"at {key!r}"
            )


def _plainly_valid(d: StateDetails) -> bool:
    """The fast path of the details check: every field of exactly an accepted type.

    Straight-line attribute reads (a loop over field names costs twice as much): this
    runs for every proposal with details. False sends the details to the field-by-field
    check, which names a bad field or accepts subclasses (of str, UUID, datetime).
    """
    if (
        d.deferred.__class__ is not bool
        or d.untrackable_result.__class__ is not bool
        or d.pause_reschedule.__class__ is not bool
        or d.refresh_cache.__class__ not in _OPTIONAL_FLAG_TYPES
        or d.retriable.__class__ not in _OPTIONAL_FLAG_TYPES
    ):
        return False
    ids = _ID_TYPES
    if (
        d.flow_run_id.__class__ not in ids
        or d.task_run_id.__class__ not in ids
        or d.child_flow_run_id.__class__ not in ids
        or d.transition_id.__class__ not in ids
        or d.task_parameters_id.__class__ not in ids
        or d.deployment_concurrency_lease_id.__class__ not in ids
    ):
        return False
    texts = _TEXT_TYPES
    if (
        d.cache_key.__class__ not in texts
        or d.pause_key.__class__ not in texts
        or d.traceparent.__class__ not in texts
        or d.run_input_keyset is not None
    ):
        return False
    for when in (d.scheduled_time, d.cache_expiration, d.pause_timeout):
        if when is not None and (when.__class__ is not datetime or when.utcoffset() is None):
            return False
    return True

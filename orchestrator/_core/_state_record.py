"""The State record: what a run is doing, as an immutable value.

A :class:`State` has a :class:`StateType` (one of nine), a display name, a timestamp, an
optional message and result ``data``, and :class:`StateDetails`. Four types are
terminal (:data:`TERMINAL_TYPES`). States are frozen ``attrs`` values: the engine stamps
a proposal with an id and a timestamp when it commits it, and a committed state never
changes. The constructors (``Scheduled()``, ``Running()``, ...) are in ``_states.py``,
which also re-exports everything here.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from operator import attrgetter
from typing import Any, Final, final

import attrs

from ._checks import wrong_type
from ._errors import TaskRunFailed, UnfinishedRun
from ._held_ids import StateIdSlot, state_id_key

__all__ = [
    "ALL_STATE_TYPES",
    "EMPTY_DETAILS",
    "TERMINAL_TYPES",
    "State",
    "StateDetails",
    "StateType",
    "default_state_name",
    "held_id",
    "stamped_state",
    "state_key",
]


@final
class StateType(enum.Enum):
    """The nine kinds of state a run can be in; values are the upper-case names."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"

    # Members are singletons compared by identity; hashing them by identity (in C)
    # instead of by name keeps every dict keyed by state type off the profile.
    __hash__ = object.__hash__

    @property
    def is_terminal(self) -> bool:
        """True for COMPLETED, FAILED, CANCELLED and CRASHED."""
        return self in TERMINAL_TYPES

    def __repr__(self) -> str:
        return f"StateType.{self.name}"


#: The terminal (final) state types.
TERMINAL_TYPES: Final = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)
#: Every state type plus ``None`` ("no state yet" as an initial state, "write nothing"
#: as a proposal), the universe rules declare their FROM/TO sets over.
ALL_STATE_TYPES: Final[frozenset[StateType | None]] = frozenset([*StateType, None])


def default_state_name(state_type: StateType) -> str:
    """Return the default display name of a state type: ``CANCELLING`` -> ``"Cancelling"``."""
    return " ".join(part.capitalize() for part in state_type.value.split("_"))


_DEFAULT_NAMES: Final = {t: default_state_name(t) for t in StateType}


@final
@attrs.frozen(kw_only=True, weakref_slot=False)  # no weak references: 176 bytes, not 192
class StateDetails:
    """Details attached to a state; every field defaults to "not set".

    ``flow_run_id`` and ``task_run_id`` are overwritten by the engine on every committed
    state. ``scheduled_time`` is when a SCHEDULED run is due; ``cache_key`` and
    ``cache_expiration`` drive caching (``refresh_cache`` skips the lookup);
    ``deferred`` marks a background run, which the background policy enqueues;
    ``retriable=False`` stops retries; ``task_parameters_id`` names stored parameters.
    The pause fields describe a paused flow; the rest are carried for completeness.
    """

    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    child_flow_run_id: uuid.UUID | None = None
    scheduled_time: datetime | None = None
    cache_key: str | None = None
    cache_expiration: datetime | None = None
    refresh_cache: bool | None = None
    deferred: bool = False
    untrackable_result: bool = False
    pause_timeout: datetime | None = None
    pause_reschedule: bool = False
    pause_key: str | None = None
    run_input_keyset: dict[str, str] | None = None
    retriable: bool | None = None
    transition_id: uuid.UUID | None = None
    task_parameters_id: uuid.UUID | None = None
    traceparent: str | None = None
    deployment_concurrency_lease_id: uuid.UUID | None = None

    def replace(self, **changes: Any) -> StateDetails:
        """Return a copy with ``changes`` applied (``attrs.evolve``, at about half the cost).

        Raises:
            TypeError: a name in ``changes`` is not a field.
        """
        if not _DETAIL_NAMES.issuperset(changes):
            return attrs.evolve(self, **changes)  # raises evolve's own TypeError
        # The fields have no converters or validators: copy the slots, then set changes.
        copy: StateDetails = _new_object(StateDetails)
        for setter, value in zip(_DETAIL_SETTERS, _detail_values(self), strict=True):
            setter(copy, value)
        for name, value in changes.items():
            _DETAIL_SETTER[name](copy, value)
        return copy


_new_object = object.__new__
_DETAIL_FIELDS: Final = tuple(field.name for field in attrs.fields(StateDetails))
_DETAIL_NAMES: Final = frozenset(_DETAIL_FIELDS)
_DETAIL_SETTERS: Final = tuple(StateDetails.__dict__[name].__set__ for name in _DETAIL_FIELDS)
_DETAIL_SETTER: Final = dict(zip(_DETAIL_FIELDS, _DETAIL_SETTERS, strict=True))
_detail_values: Final = attrgetter(*_DETAIL_FIELDS)

#: The details of a state that sets nothing; shared because details are immutable.
EMPTY_DETAILS: Final = StateDetails()


@final
@attrs.frozen(kw_only=True, weakref_slot=False)  # no weak references: 88 bytes, not 96
class State:
    """A state of a run: a type, a name, a time, and what it carries.

    Build proposals with the constructors (:func:`Running`, :func:`Completed`, ...).
    ``id`` and ``timestamp`` are None on a proposal that was never committed; the
    engine sets both. ``data`` holds the result of a completed run or the exception of
    a failed one.
    """

    type: StateType
    name: str = attrs.field()
    timestamp: datetime | None = None
    message: str | None = None
    data: Any = None
    details: StateDetails = EMPTY_DETAILS
    id: uuid.UUID | None = None

    @name.default
    def _name_default(self) -> str:
        if self.type.__class__ is not StateType:
            raise _wrong_state_type(self.type)
        return _DEFAULT_NAMES[self.type]

    # -- predicates -------------------------------------------------------------------
    def is_scheduled(self) -> bool:
        """True for SCHEDULED states (including AwaitingRetry and Late)."""
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        """True for PENDING states."""
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        """True for RUNNING states (including Retrying and Rerunning)."""
        return self.type is StateType.RUNNING

    def is_completed(self) -> bool:
        """True for COMPLETED states (including Cached)."""
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        """True for FAILED states (including TimedOut)."""
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        """True for CRASHED states."""
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        """True for CANCELLED states."""
        return self.type is StateType.CANCELLED

    def is_cancelling(self) -> bool:
        """True for CANCELLING states."""
        return self.type is StateType.CANCELLING

    def is_paused(self) -> bool:
        """True for PAUSED states."""
        return self.type is StateType.PAUSED

    def is_final(self) -> bool:
        """True for terminal states: COMPLETED, FAILED, CANCELLED, CRASHED."""
        return self.type in TERMINAL_TYPES

    @property
    def has_result(self) -> bool:
        """True when the state carries result data (anything but None).

        A COMPLETED state with a result is protected: the core policy refuses to move
        the run out of it.
        """
        return self.data is not None

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's result: the value of a COMPLETED state, or the failure of a final one.

        The same in sync and async code (a deliberate difference from Prefect, whose
        ``result()`` returns an awaitable inside an event loop); ``await state.aresult()``
        is the async spelling.

        Args:
            raise_on_failure: raise the failure (the task's or flow's own exception, or
                :class:`~orchestrator.TaskRunFailed` for a crashed or cancelled run);
                False returns that exception instead.

        Raises:
            UnfinishedRun: the state is not final (PENDING, RUNNING, SCHEDULED, PAUSED,
                CANCELLING, or a NotReady run), whatever ``raise_on_failure`` says.
        """
        kind = self.type
        if kind is StateType.COMPLETED:
            return self.data
        if kind not in TERMINAL_TYPES:
            detail = f": {self.message}" if self.message else ""
            raise UnfinishedRun(
                f"the run is {self.name}, so it has no result yet{detail}",
                state_message=self.message,
            )
        error = self.data
        if not isinstance(error, BaseException):
            detail = f": {self.message}" if self.message else ""
            error = TaskRunFailed(f"the run ended {self.name}{detail}")
        if raise_on_failure:
            raise error
        return error

    async def aresult(self, raise_on_failure: bool = True) -> Any:
        """:meth:`result`, for async code that prefers to await it."""
        return self.result(raise_on_failure)

    def copy(self, **changes: Any) -> State:
        """Return a fresh, uncommitted copy (no id or timestamp) with ``changes`` applied."""
        changes.setdefault("id", None)
        changes.setdefault("timestamp", None)
        return attrs.evolve(self, **changes)

    def __repr__(self) -> str:
        when = "uncommitted" if self.timestamp is None else self.timestamp.isoformat()
        message = f", message={self.message!r}" if self.message else ""
        return f"State({self.name!r}, type={self.type.name}, {when}{message})"

    def __attrs_post_init__(self) -> None:
        # Only the two checks whose failure would otherwise surface far away (a KeyError,
        # an AttributeError): states are built on every commit. The public calls that
        # take a proposal check every field (orchestrator._core._state_checks).
        if self.type.__class__ is not StateType:
            raise _wrong_state_type(self.type)
        if self.details.__class__ is not StateDetails:
            raise wrong_type("details", self.details, "a StateDetails, such as StateDetails()")


_ID_SLOT: Final = State.__dict__["id"]
_get_id_slot: Final = _ID_SLOT.__get__
State.id = StateIdSlot(_ID_SLOT)  # type: ignore[assignment]


def held_id(state: State) -> Any:
    """What ``state`` holds for its id: an int for a plain UUID, None, or another form.

    For :func:`stamped_state` to copy a proposal's id as it is, UUID never built.
    """
    return _get_id_slot(state, State)


def state_key(state: State) -> Any:
    """The key of ``state``'s id in the store's index: the int of a plain UUID id.

    Equal for two states exactly when their ids are equal; None for no id. Does not
    build the UUID, unlike reading ``state.id``.
    """
    value = _get_id_slot(state, State)
    if value.__class__ is int or value is None:
        return value
    return state_id_key(value.value)  # an id held as given


# The slots' own setters, which a frozen class's __setattr__ refuses to use: building a
# committed state with them skips the keyword parsing and the checks of __init__, about
# half the cost of a commit's State (the proposal it copies was checked already).
_SET_TYPE, _SET_NAME, _SET_TIMESTAMP, _SET_MESSAGE, _SET_DATA, _SET_DETAILS = (
    State.__dict__[name].__set__
    for name in ("type", "name", "timestamp", "message", "data", "details")
)
_SET_ID: Final = _ID_SLOT.__set__


def stamped_state(
    type: StateType,
    name: str,
    timestamp: datetime,
    message: str | None,
    data: Any,
    details: StateDetails,
    id: Any,
) -> State:
    """Return ``State(type=type, name=name, ...)`` for a commit, without ``__init__``'s checks.

    Only for values taken from a checked proposal: ``type`` a StateType and ``details``
    a StateDetails, as ``State.__init__`` would insist. ``id`` is what a state holds for
    its id (:func:`held_id`; a fresh id's int), which ``state.id`` reads back as a UUID.
    """
    state: State = _new_object(State)
    _SET_TYPE(state, type)
    _SET_NAME(state, name)
    _SET_TIMESTAMP(state, timestamp)
    _SET_MESSAGE(state, message)
    _SET_DATA(state, data)
    _SET_DETAILS(state, details)
    _SET_ID(state, id)
    return state


def _wrong_state_type(value: object) -> Exception:
    return wrong_type("type", value, "a StateType, such as StateType.RUNNING")

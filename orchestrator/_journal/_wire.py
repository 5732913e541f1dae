"""The journal's wire form: records as plain values, the frequent ones positional.

A run's creation, a committed state and a plain decision are most of a journal, so
they are written as short tuples rather than the codec's tagged objects::

    (1, run_id, flow, type, name, timestamp, message, data, details, state_id,
     run_count, flow_run_run_count, total_run_time, updated, expected_start_time,
     next_scheduled_start_time, start_time, end_time, policy[, plain])  StateCommitted
    (2, run_id, flow, forced)                                  PlainDecision
    (3, kind, run)                                             RunAdded (kind 0 task, 1 flow)
    (4, kind, run, (state, ...))                               RunHistory
    (5, run_id, flow, log)                                     MirroredDecisions

A run or a state's details is the tuple of its fields (see :mod:`._layouts`); a state
inside a run is ``(type, name, timestamp, message, data, details, id)``. Values are
written by the kind of their field: a UUID as its 128-bit int, a UTC datetime as
microseconds since the epoch (``True`` for a commit's time that is the committed
state's own), a run's tags as a tuple, an empty mapping as ``()``, a drawn key as 0;
anything else, and any value not of its field's usual type, goes through the codec
(``{"$o": ...}`` marks the latter). Every other record is the codec's tagged object.

A row (a call's records) is stored in pickle's format, restricted to those plain
values (tuples, lists, dicts, numbers, strings): it is read back by an unpickler that
refuses every class, so a row can build no object and run no code whatever the file
holds. The user's values inside are whatever the journal's serializer made of them.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, final

import attrs

from .._core._drawn_keys import DRAWN_KEY
from .._core._models import FlowRun, TaskRun, TaskRunPolicy
from .._core._state_record import EMPTY_DETAILS, State, StateDetails, StateType
from ._codec import Codec, Refused
from ._layouts import Layout, raw_slot, signature
from ._records import (
    MirroredDecisions,
    PlainDecision,
    RunAdded,
    RunHistory,
    StateCommitted,
)
from ._wire_reading import EPOCH, MICROSECOND, REMEMBERED, STATE_TYPES, WireReading

__all__ = ["LAYOUTS", "Wire"]

#: The digest of the classes' field orders the wire's tuples follow (see
#: :func:`~._layouts.signature`); a journal written with others is refused.
LAYOUTS: Final = signature((State, StateDetails, TaskRun, FlowRun, TaskRunPolicy))

_UUID: Final = uuid.UUID
_DATETIME: Final = datetime
_STATE_TYPE_CODES: Final = {member: code for code, member in enumerate(STATE_TYPES)}
_PROTOCOL: Final = 5
_NOTHING: Final = object()
_MAPPINGS: Final = (dict, MappingProxyType)
_held: Final = raw_slot(State, "id").__get__


@final
class Wire(WireReading):
    """Turns records into plain values and rows of bytes, and back (the reading is
    :class:`~._wire_reading.WireReading`'s), for one codec."""

    __slots__ = (
        "_codec",
        "_decoders",
        "_details",
        "_encoded",
        "_flow_run",
        "_last_micros",
        "_last_time",
        "_policy",
        "_set_id",
        "_task_run",
        "_untag",
    )

    def __init__(self, codec: Codec) -> None:
        self._codec = codec
        self._untag = untag = codec.untag
        uuid_kind = (self._uuid, self._decode_uuid, None)
        time_kind = (self._time, self._decode_time, None)
        map_kind = (self._mapping, self._decode_mapping, None)
        held = raw_slot(State, "id").__set__
        id_setter = State.__dict__["id"].__set__

        def set_id(state: Any, value: Any) -> None:
            if value is None or value.__class__ is int:
                held(state, value)
            else:
                id_setter(state, untag(value).value)

        self._set_id = set_id
        self._details = Layout(
            StateDetails,
            {
                name: uuid_kind if "UUID" in str(field.type) else time_kind
                for name, field in attrs.fields_dict(StateDetails).items()
                if "UUID" in str(field.type) or "datetime" in str(field.type)
            },
            self._any,
            untag,
        )
        run_kinds = {
            "state": (self._a_state, self._decode_state, None),
            **dict.fromkeys(("id", "flow_run_id", "flow_id", "deployment_id"), uuid_kind),
            "parent_task_run_id": uuid_kind,
            **dict.fromkeys(
                ("expected_start_time", "next_scheduled_start_time", "start_time", "end_time"),
                time_kind,
            ),
            **dict.fromkeys(("updated", "created", "cache_expiration"), time_kind),
            **dict.fromkeys(("labels", "task_inputs", "parameters", "job_variables"), map_kind),
            "tags": (self._tags, self._decode_tags, None),
            "_id_details": (self._run_details, self._decode_run_details, None),
            "empirical_policy": (self._run_policy, self._decode_policy, None),
            "dynamic_key": (self._key, self._decode_key, None),
        }
        layouts = []
        for cls in (TaskRun, FlowRun):
            fields = attrs.fields_dict(cls)
            kinds = {name: kind for name, kind in run_kinds.items() if name in fields}
            layouts.append(Layout(cls, kinds, self._any, untag, skip=("state",)))
        self._task_run, self._flow_run = layouts
        self._policy = Layout(TaskRunPolicy, {}, self._any, untag)
        # The last time encoded with its micros; trees of immutable objects many records
        # share (a run's states' details, a task's policy), by identity. Each entry keeps
        # its object alive, so no new object is mistaken for it.
        self._last_time: object = _NOTHING
        self._last_micros: Any = None
        self._encoded: dict[int, tuple[object, Any]] = {}
        self._start_reading()
        self._decoders: dict[int, Callable[[tuple[Any, ...]], Any]] = {
            1: self._decode_committed,
            2: self._decode_plain,
            3: self._decode_added,
            4: self._decode_history,
            5: self._decode_mirrored,
        }

    # -- encoding -------------------------------------------------------------------------
    def tree(self, record: Any, where: str) -> Any:
        """``record`` as plain values, copied now (later changes of live objects do not
        reach it).

        Raises:
            JournalSerializationError: a value inside that the serializer refuses,
                named by ``where`` and the path to it.
        """
        try:
            cls = record.__class__
            if cls is StateCommitted:
                count, parent, total, updated, expected, following, start, end = record.values
                tree = self._commit(
                    record.run_id,
                    record.flow,
                    record.state,
                    count,
                    parent,
                    total,
                    updated,
                    expected,
                    following,
                    start,
                    end,
                    record.policy,
                )
                return (*tree, record.plain) if record.plain else tree
            if cls is PlainDecision:
                return (2, self._uuid(record.run_id), record.flow, record.forced)
            if cls is RunAdded:
                return (3, *self._run(record.run))
            if cls is RunHistory:
                kind, run = self._run(record.run, skip_state=True)
                return (4, kind, run, tuple(map(self._a_state, record.states)))
            if cls is MirroredDecisions:
                return (5, self._uuid(record.run_id), record.flow, record.log)
            return self._codec.tree(record)
        except Refused as refused:
            raise self._codec.refusal(refused, where) from refused.__cause__

    def commit_tree(self, run: TaskRun | FlowRun, state: State) -> tuple[Any, ...]:
        """The tree of the :class:`StateCommitted` record of ``state`` committed to
        ``run``, read straight from the run (no record is built).

        Raises:
            JournalSerializationError: as :meth:`tree`, naming the run.
        """
        try:
            task = run.__class__ is TaskRun
            return self._commit(
                run.id,
                not task,
                state,
                run.run_count,
                run.flow_run_run_count if task else None,  # type: ignore[union-attr]
                run.total_run_time,
                run.updated,
                run.expected_start_time,
                run.next_scheduled_start_time,
                run.start_time,
                run.end_time,
                None if task else run.empirical_policy,
            )
        except Refused as refused:
            kind = "task" if run.__class__ is TaskRun else "flow"
            where = f"the {state.name} state of {kind} run {run.name!r} ({run.id})"
            raise self._codec.refusal(refused, where) from refused.__cause__

    def _commit(
        self,
        run_id: Any,
        flow: bool,
        state: Any,
        count: Any,
        parent_count: Any,
        total: Any,
        updated: Any,
        expected: Any,
        following: Any,
        start: Any,
        end: Any,
        policy: Any,
    ) -> tuple[Any, ...]:
        """A commit's tree: its run, its state's values, the bookkeeping (a time that is
        the state's own written ``True``), a flow run's policy (see the module docstring)."""
        time, now = self._time, getattr(state, "timestamp", None)
        return (
            1,
            self._uuid(run_id),
            flow,
            *self._state_values(state),
            count if count.__class__ is int else self._any(count),
            parent_count if parent_count.__class__ is int else self._any(parent_count),
            total if total.__class__ is float else self._any(total),
            True if updated is now else None if updated is None else time(updated),
            True if expected is now else None if expected is None else time(expected),
            True if following is now else None if following is None else time(following),
            True if start is now else None if start is None else time(start),
            True if end is now else None if end is None else time(end),
            None if policy is None else self._any(policy),
        )

    def body(self, trees: Sequence[Any]) -> bytes:
        """The bytes of a row holding ``trees``."""
        return pickle.dumps(tuple(trees), _PROTOCOL)

    def _run(self, run: TaskRun | FlowRun, *, skip_state: bool = False) -> tuple[int, Any]:
        if run.__class__ is TaskRun:
            kind, layout = 0, self._task_run
        elif run.__class__ is FlowRun:
            kind, layout = 1, self._flow_run
        else:
            return -1, self._codec.tree(run)
        return kind, layout.encode_without(run) if skip_state else layout.encode(run)

    def _any(self, value: Any) -> Any:
        cls = value.__class__
        if cls is str or cls is int or cls is float or cls is bool or value is None:
            return value
        return self._codec.tree(value)

    def _run_policy(self, value: Any) -> Any:
        """A run's policy: a task run's as its fields' tuple (remembered: a task's runs
        share one), a flow run's through the codec."""
        if value.__class__ is not TaskRunPolicy:
            return self._any(value)
        found = self._encoded.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        return self._remember(value, self._policy.encode(value))

    def _other(self, value: Any) -> Any:
        return {"$o": self._any(value)}

    def _uuid(self, value: Any) -> Any:
        if value.__class__ is _UUID:
            return value.int
        return None if value is None else self._other(value)

    def _time(self, value: Any) -> Any:
        if value is self._last_time:  # a commit's times are mostly one object
            return self._last_micros
        if value.__class__ is _DATETIME and value.tzinfo is UTC:
            micros = (value - EPOCH) // MICROSECOND
            self._last_time = value
            self._last_micros = micros
            return micros
        return None if value is None else self._other(value)

    def _mapping(self, value: Any) -> Any:
        if not value and value.__class__ in _MAPPINGS:
            return ()
        if value.__class__ is MappingProxyType:
            value = dict(value)
        return self._codec.tree(value)

    def _tags(self, value: Any) -> Any:
        if value.__class__ is frozenset and all(tag.__class__ is str for tag in value):
            return tuple(value)
        return self._other(value)

    def _key(self, value: Any) -> Any:
        if value.__class__ is str:
            return value
        return 0 if value is DRAWN_KEY else self._other(value)

    def _state_values(self, state: Any) -> tuple[Any, ...]:
        """A state's ``type, name, timestamp, message, data, details, id``."""
        if state.__class__ is not State:
            raise Refused(state, "a committed state is not a State")
        any_ = self._any
        kind, name, message, data = state.type, state.name, state.message, state.data
        if data is not None:
            try:
                data = any_(data)
            except Refused as refused:
                refused.path.append(".data")
                raise
        held = _held(state, State)
        details = state.details
        return (
            _STATE_TYPE_CODES[kind] if kind.__class__ is StateType else self._other(kind),
            name if name.__class__ is str else any_(name),
            self._time(state.timestamp),
            message if message is None or message.__class__ is str else any_(message),
            data,
            0 if details is EMPTY_DETAILS else self._state_details(details),
            held if held is None or held.__class__ is int else self._other(held.value),
        )

    def _a_state(self, state: Any) -> Any:
        if state.__class__ is State:
            return self._state_values(state)
        return None if state is None else self._other(state)

    def _run_details(self, details: Any) -> Any:
        """A run's own details (which its states share, so written once in a row)."""
        return 0 if details is EMPTY_DETAILS else self._state_details(details)

    def _state_details(self, details: Any) -> Any:
        found = self._encoded.get(id(details))
        if found is not None and found[0] is details:  # a run's states share details
            return found[1]
        if details.__class__ is not StateDetails:
            return self._other(details)
        return self._remember(details, self._details.encode(details))

    def _remember(self, value: object, tree: Any) -> Any:
        encoded = self._encoded
        if len(encoded) >= REMEMBERED:
            encoded.clear()
        encoded[id(value)] = (value, tree)
        return tree

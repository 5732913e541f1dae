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

import io
import pickle
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, final

import attrs

from .._core._drawn_keys import DRAWN_KEY
from .._core._held_ids import uuid_from_int
from .._core._models import FlowRun, TaskRun, TaskRunPolicy
from .._core._state_record import EMPTY_DETAILS, State, StateDetails, StateType, stamped_state
from ._codec import Codec, Other, Refused
from ._layouts import Layout, raw_slot, signature
from ._records import (
    COMMITTED_FIELDS,
    MirroredDecisions,
    PlainDecision,
    RunAdded,
    RunHistory,
    StateCommitted,
)

__all__ = ["LAYOUTS", "Wire"]

#: The digest of the classes' field orders the wire's tuples follow (see
#: :func:`~._layouts.signature`); a journal written with others is refused.
LAYOUTS: Final = signature((State, StateDetails, TaskRun, FlowRun, TaskRunPolicy))

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_UUID: Final = uuid.UUID
_DATETIME: Final = datetime
_REMEMBERED: Final = 4096  # trees of shared immutable objects kept
_RECENT_DETAILS: Final = 256  # decoded details kept for sharing
_STATE_TYPES: Final = tuple(StateType)
_STATE_TYPE_CODES: Final = {member: code for code, member in enumerate(_STATE_TYPES)}
_PROTOCOL: Final = 5
_NOTHING: Final = object()
_MAPPINGS: Final = (dict, MappingProxyType)
_held: Final = raw_slot(State, "id").__get__


class _PlainUnpickler(pickle.Unpickler):
    """Reads plain values only: any class a row names is refused, never imported."""

    def find_class(self, module_name: str, global_name: str, /) -> Any:
        raise pickle.UnpicklingError(
            f"a journal row names {module_name}.{global_name}; rows hold plain values only"
        )


@final
class Wire:
    """Turns records into plain values and rows of bytes, and back, for one codec."""

    __slots__ = (
        "_codec",
        "_decoders",
        "_details",
        "_encoded",
        "_flow_run",
        "_last_details",
        "_last_micros",
        "_last_micros_read",
        "_last_pairs",
        "_last_time",
        "_last_time_read",
        "_policies",
        "_policy",
        "_recent_details",
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
            **{name: time_kind for name in COMMITTED_FIELDS if name.endswith("time")},
            **dict.fromkeys(("updated", "created", "cache_expiration"), time_kind),
            **dict.fromkeys(("labels", "task_inputs", "parameters", "job_variables"), map_kind),
            "tags": (self._tags, self._decode_tags, None),
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
        self._policies: dict[tuple[Any, ...], TaskRunPolicy] = {}
        self._recent_details: dict[tuple[Any, ...], StateDetails] = {}
        # The last time encoded with its micros; trees of immutable objects many records
        # share (a run's states' details, a task's policy), by identity. Each entry keeps
        # its object alive, so no new object is mistaken for it.
        self._last_time: object = _NOTHING
        self._last_micros: Any = None
        self._encoded: dict[int, tuple[object, Any]] = {}
        # The last details and time decoded, and what they were decoded from.
        self._last_pairs: object = _NOTHING
        self._last_details: Any = None
        self._last_micros_read: object = _NOTHING
        self._last_time_read: Any = None
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
                state = record.state
                now = getattr(state, "timestamp", None)
                count, parent_count, total, *times = record.values
                tree = (
                    1,
                    self._uuid(record.run_id),
                    record.flow,
                    *self._state_values(state),
                    self._any(count),
                    self._any(parent_count),
                    self._any(total),
                    *(True if value is now else self._time(value) for value in times),
                    None if record.policy is None else self._any(record.policy),
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
        """The tree of ``StateCommitted.of(run, state)``, read straight from the run.

        Raises:
            JournalSerializationError: as :meth:`tree`.
        """
        try:
            time = self._time
            if run.__class__ is TaskRun:
                flow, parent_count, policy = False, run.flow_run_run_count, None
            else:
                flow, parent_count, policy = True, None, self._any(run.empirical_policy)
            count, total = run.run_count, run.total_run_time
            now = state.timestamp
            updated, expected = run.updated, run.expected_start_time
            following, start, end = run.next_scheduled_start_time, run.start_time, run.end_time
            return (
                1,
                self._uuid(run.id),
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
                policy,
            )
        except Refused as refused:
            raise self._codec.refusal(refused, "StateCommitted") from refused.__cause__

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
            micros = (value - _EPOCH) // _MICROSECOND
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

    def _state_details(self, details: Any) -> Any:
        found = self._encoded.get(id(details))
        if found is not None and found[0] is details:  # a run's states share details
            return found[1]
        if details.__class__ is not StateDetails:
            return self._other(details)
        return self._remember(details, self._details.encode(details))

    def _remember(self, value: object, tree: Any) -> Any:
        encoded = self._encoded
        if len(encoded) >= _REMEMBERED:
            encoded.clear()
        encoded[id(value)] = (value, tree)
        return tree

    # -- decoding -------------------------------------------------------------------------
    def load(self, body: bytes) -> list[Any]:
        """The records of one row written with :meth:`body`.

        Raises:
            pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError: the
                bytes are not such a row (one naming a class is refused unread).
        """
        trees = _PlainUnpickler(io.BytesIO(body)).load()
        if trees.__class__ is not tuple:
            raise ValueError("a journal row is not a tuple of records")
        decoders, untag = self._decoders, self._untag
        return [
            decoders[tree[0]](tree) if tree.__class__ is tuple else _checked(untag(tree))
            for tree in trees
        ]

    def _decode_state(self, tree: Any) -> Any:
        if tree is None:
            return None
        if tree.__class__ is not tuple:
            return self._untag(tree).value
        return self._state(*tree)

    def _state(
        self, kind: Any, name: Any, when: Any, message: Any, data: Any, details: Any, held: Any
    ) -> State:
        untag = self._untag
        state = stamped_state(
            _STATE_TYPES[kind] if kind.__class__ is int else untag(kind).value,
            name if name.__class__ is str else untag(name),
            self._decode_time(when),
            message if message is None or message.__class__ is str else untag(message),
            None if data is None else untag(data),
            EMPTY_DETAILS if details == 0 else self._decode_details(details),
            None,
        )
        self._set_id(state, held)
        return state

    def _decode_details(self, pairs: Any) -> Any:
        """Details, shared with the last ones decoded from equal values (a run's states
        mostly carry the same details, as the engine shares them)."""
        if pairs is self._last_pairs:  # one tree, shared by the states that share it
            return self._last_details
        if pairs.__class__ is not tuple:
            return self._untag(pairs).value
        self._last_pairs = pairs
        self._last_details = self._details_of(pairs)
        return self._last_details

    def _details_of(self, pairs: tuple[Any, ...]) -> Any:
        try:
            key = (*pairs, *map(type, pairs))  # types too: 1, 1.0 and True are equal
            found = self._recent_details.get(key)
        except TypeError:  # a value that is not hashable: decoded apart
            return self._details.build(pairs)
        if found is None:
            found = self._details.build(pairs)
            recent = self._recent_details
            if len(recent) >= _RECENT_DETAILS:
                recent.clear()
            recent[key] = found
        return found

    def _decode_run(self, kind: int, pairs: Any) -> Any:
        if kind == 0:
            return self._task_run.build(pairs)
        if kind == 1:
            return self._flow_run.build(pairs)
        return self._untag(pairs)  # the codec's tagged object

    def _decode_committed(self, tree: tuple[Any, ...]) -> StateCommitted:
        plain = tree[19] if len(tree) == 20 else 0
        (_, run_id, flow, kind, name, when, message, data, details, held, count,
         parent_count, total, updated, expected, following, start, end,
         policy) = tree[:19]  # fmt: skip
        state = self._state(kind, name, when, message, data, details, held)
        now = state.timestamp
        time, untag = self._decode_time, self._untag
        return StateCommitted(
            self._decode_uuid(run_id),
            flow,
            state,
            (
                count if count.__class__ is int else untag(count),
                parent_count if parent_count.__class__ is int else untag(parent_count),
                total if total.__class__ is float else untag(total),
                now if updated is True else time(updated),
                now if expected is True else time(expected),
                now if following is True else time(following),
                now if start is True else time(start),
                now if end is True else time(end),
            ),
            None if policy is None else untag(policy),
            plain,
        )

    def _decode_policy(self, value: Any) -> Any:
        """A run's policy; a task's runs share one (as the original's did)."""
        if value.__class__ is not tuple:
            return self._untag(value)
        try:
            key = (*value, *map(type, value))
            found = self._policies.get(key)
        except TypeError:  # a value that is not hashable: decoded apart
            return self._policy.build(value)
        if found is None:
            if len(self._policies) >= _REMEMBERED:
                self._policies.clear()
            found = self._policies[key] = self._policy.build(value)
        return found

    def _decode_mapping(self, value: Any) -> Any:
        return {} if value == () else self._untag(value)

    def _decode_tags(self, value: Any) -> Any:
        return frozenset(value) if value.__class__ is tuple else self._untag(value).value

    def _decode_key(self, value: Any) -> Any:
        if value.__class__ is str:
            return value
        return DRAWN_KEY if value == 0 else self._untag(value).value

    def _decode_uuid(self, value: Any) -> Any:
        if value.__class__ is int:
            return uuid_from_int(value)
        return None if value is None else self._untag(value).value

    def _decode_time(self, value: Any) -> Any:
        if value.__class__ is int:
            if value == self._last_micros_read:  # one time, shared as the original did
                return self._last_time_read
            when = _EPOCH + _MICROSECOND * value
            self._last_micros_read = value
            self._last_time_read = when
            return when
        return None if value is None else self._untag(value).value

    def _decode_plain(self, tree: tuple[Any, ...]) -> PlainDecision:
        _, run_id, flow, forced = tree
        return PlainDecision(self._decode_uuid(run_id), flow, forced)

    def _decode_mirrored(self, tree: tuple[Any, ...]) -> MirroredDecisions:
        _, run_id, flow, log = tree
        if log.__class__ is not int:
            raise ValueError("a mirrored decision log is not an int")
        return MirroredDecisions(self._decode_uuid(run_id), flow, log)

    def _decode_added(self, tree: tuple[Any, ...]) -> RunAdded:
        _, kind, run = tree
        return RunAdded(self._decode_run(kind, run))

    def _decode_history(self, tree: tuple[Any, ...]) -> RunHistory:
        _, kind, run, states = tree
        decode = self._decode_state
        return RunHistory(self._decode_run(kind, run), tuple(map(decode, states)))


def _checked(record: Any) -> Any:
    if isinstance(record, dict | list | Other):
        raise ValueError("a journal record is neither positional nor a tagged record")
    return record

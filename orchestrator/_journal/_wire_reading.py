"""Reading the wire's rows back into records: :class:`WireReading`, :class:`~._wire.Wire`'s base.

A row is read by an unpickler that refuses every class, so whatever the file holds it
builds plain values only; each positional record is then rebuilt by its decoder, and
every other one by the codec. See :mod:`._wire` for the forms.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .._core._drawn_keys import DRAWN_KEY
from .._core._held_ids import uuid_from_int
from .._core._models import TaskRunPolicy
from .._core._state_record import EMPTY_DETAILS, State, StateDetails, StateType, stamped_state
from ._codec import Other
from ._layouts import Layout
from ._records import (
    MirroredDecisions,
    PlainDecision,
    RunAdded,
    RunHistory,
    StateCommitted,
)

__all__ = ["EPOCH", "MICROSECOND", "REMEMBERED", "STATE_TYPES", "WireReading"]

#: A UTC time is written as the microseconds since this one.
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)
#: A state's type is written as its index here.
STATE_TYPES: Final = tuple(StateType)
#: Shared objects kept (encoded trees, decoded policies) before the memo starts over.
REMEMBERED: Final = 4096
_RECENT_DETAILS: Final = 256  # decoded details kept for sharing


class _PlainUnpickler(pickle.Unpickler):
    """Reads plain values only: any class a row names is refused, never imported."""

    def find_class(self, module_name: str, global_name: str, /) -> Any:
        raise pickle.UnpicklingError(
            f"a journal row names {module_name}.{global_name}; rows hold plain values only"
        )


class WireReading:
    """The decoding half of :class:`~._wire.Wire` (which sets these attributes)."""

    __slots__ = (
        "_last_details",
        "_last_micros_read",
        "_last_pairs",
        "_last_time_read",
        "_policies",
        "_recent_details",
    )

    _untag: Callable[[Any], Any]
    _details: Layout
    _task_run: Layout
    _flow_run: Layout
    _policy: Layout
    _set_id: Callable[[Any, Any], None]
    _decoders: dict[int, Callable[[tuple[Any, ...]], Any]]

    def _start_reading(self) -> None:
        self._policies: dict[tuple[Any, ...], TaskRunPolicy] = {}
        self._recent_details: dict[tuple[Any, ...], StateDetails] = {}
        # The last details and time decoded, and what they were decoded from.
        self._last_pairs: object = None
        self._last_details: Any = None
        self._last_micros_read: object = None
        self._last_time_read: Any = None

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
        plain_id = held is None or held.__class__ is int  # as a state holds it
        state = stamped_state(
            STATE_TYPES[kind] if kind.__class__ is int else untag(kind).value,
            name if name.__class__ is str else untag(name),
            self._decode_time(when),
            message if message is None or message.__class__ is str else untag(message),
            None if data is None else untag(data),
            EMPTY_DETAILS if details == 0 else self._decode_details(details),
            held if plain_id else None,
        )
        if not plain_id:
            self._set_id(state, held)
        return state

    def _decode_run_details(self, pairs: Any) -> Any:
        return EMPTY_DETAILS if pairs == 0 else self._decode_details(pairs)

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
            if len(self._policies) >= REMEMBERED:
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
            when = EPOCH + MICROSECOND * value
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

"""The JSON codec: the package's records as JSON text, and back, with no pickle of them.

A record is encoded to JSON with tags for what JSON has no word for::

    None, bool, int, float, str     themselves (floats include NaN and the infinities)
    list                            a JSON array
    uuid.UUID                       {"$u": hex}
    datetime                        {"$dt": iso}  (naive, or with a fixed-offset timezone)
    timedelta                       {"$td": [days, seconds, microseconds]}
    tuple                           {"$t": [...]}
    set / frozenset                 {"$s": [...]} / {"$fs": [...]}
    dict                            {"$m": [[key, value], ...]}  (any keys, order kept)
    a registered Enum               {"$e": "Class", "v": value}
    a registered attrs class        {"$a": "Class", "f": {field: value, ...}}
    DRAWN_KEY                       {"$k": "drawn"}
    a value outside its slot's type {"$o": value}  (the wire's positional records)
    anything else                   {"$v": base64 of the serializer's bytes}

Only exact types are tagged (a ``dict`` subclass, a ``datetime`` with a ``ZoneInfo``, an
unregistered class all go through the serializer, so they come back as they were). An
attrs record is encoded with its ``__getstate__`` (leaving out a field that holds its
class's default object itself) and rebuilt without ``__init__``
(``object.__new__`` then ``__setstate__``): frozen classes, private fields and the
held-int state ids round-trip, and no validator or converter runs twice. A task run
holding :data:`DRAWN_KEY` is encoded with the marker, not the key derived from it.
"""

from __future__ import annotations

import base64
import enum
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, Final, final

import attrs

from .._core._drawn_keys import DRAWN_KEY
from .._core._models import (
    ConcurrencyLimit,
    Deployment,
    Flow,
    FlowRun,
    FlowRunPolicy,
    TaskRun,
    TaskRunPolicy,
    WorkPool,
    WorkQueue,
    has_drawn_key,
)
from .._core._state_record import State, StateDetails, StateType
from ._codec_tags import (
    Other,
    Refused,
    decode_datetime,
    decode_dict,
    decode_drawn,
    decode_frozenset,
    decode_other,
    decode_set,
    decode_timedelta,
    decode_tuple,
    decode_uuid,
    default_getstate,
    drawn,
    timedelta_tag,
    uuid_tag,
)
from ._errors import JournalSerializationError
from ._serializers import PickleSerializer, Serializer

__all__ = ["CORE_CLASSES", "Codec", "Other", "Refused"]

#: The records of ``_core`` every codec knows: runs, states, their parts, and the rest.
CORE_CLASSES: Final[tuple[type, ...]] = (
    State,
    StateDetails,
    StateType,
    TaskRun,
    FlowRun,
    Flow,
    Deployment,
    WorkPool,
    WorkQueue,
    ConcurrencyLimit,
    TaskRunPolicy,
    FlowRunPolicy,
)

GetState = Callable[[Any], dict[str, Any]]


def _task_run_state(run: TaskRun) -> dict[str, Any]:
    state: dict[str, Any] = default_getstate(run)
    if has_drawn_key(run):
        state["dynamic_key"] = DRAWN_KEY
    return state


_NO_DEFAULT: Final = object()
_DUMPS: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_B64: Final = base64.b64encode
_UNB64: Final = base64.b64decode


@final
class Codec:
    """Encodes records to JSON text and decodes them, for one journal.

    Args:
        serializer: turns values the codec has no tag for into bytes
            (default: :class:`PickleSerializer`).
        classes: the attrs classes and Enums to encode by name (default:
            :data:`CORE_CLASSES`); :meth:`register` adds more.
    """

    __slots__ = (
        "_classes",
        "_defaults",
        "_encoders",
        "_fields",
        "_getstate",
        "_serializer",
        "_tags",
    )

    def __init__(
        self, serializer: Serializer | None = None, classes: Iterable[type] = CORE_CLASSES
    ) -> None:
        self._serializer: Serializer = PickleSerializer() if serializer is None else serializer
        self._classes: dict[str, type] = {}
        self._getstate: dict[type, GetState] = {}
        self._fields: dict[type, frozenset[str]] = {}
        self._defaults: dict[type, dict[str, Any]] = {}
        self._encoders: dict[type, Callable[[Any], Any]] = {
            list: self._list,
            tuple: self._tuple,
            dict: self._dict,
            set: self._set,
            frozenset: self._frozenset,
            uuid.UUID: uuid_tag,
            datetime: self._datetime,
            timedelta: timedelta_tag,
            type(DRAWN_KEY): drawn,
        }
        self._tags: dict[str, Callable[[dict[str, Any]], Any]] = {
            "$u": decode_uuid,
            "$dt": decode_datetime,
            "$td": decode_timedelta,
            "$t": decode_tuple,
            "$s": decode_set,
            "$fs": decode_frozenset,
            "$m": decode_dict,
            "$k": decode_drawn,
            "$e": self._decode_enum,
            "$a": self._decode_attrs,
            "$v": self._decode_opaque,
            "$o": decode_other,
        }
        for cls in classes:
            self.register(cls)

    @property
    def serializer(self) -> Serializer:
        """The serializer of values the codec has no tag for."""
        return self._serializer

    def register(self, cls: type, getstate: GetState | None = None) -> None:
        """Encode instances of ``cls`` (an attrs class or an Enum) by name from now on.

        Args:
            cls: the class; its ``__qualname__`` names it in the text, so it must be new.
            getstate: for an attrs class, returns an instance's fields as a dict
                (default: its ``__getstate__``).

        Raises:
            TypeError: ``cls`` is neither an attrs class nor an Enum.
            ValueError: another class of that name is registered.
        """
        if not isinstance(cls, type) or not (attrs.has(cls) or issubclass(cls, enum.Enum)):
            raise TypeError(f"cls must be an attrs class or an Enum, not {cls!r}")
        name = cls.__qualname__
        known = self._classes.get(name)
        if known is not None and known is not cls:
            raise ValueError(f"cls: another class named {name!r} is registered ({known!r})")
        self._classes[name] = cls
        if issubclass(cls, enum.Enum):
            self._encoders[cls] = self._enum
        else:
            if getstate is None:
                getstate = _task_run_state if cls is TaskRun else default_getstate
            self._getstate[cls] = getstate
            self._fields[cls] = frozenset(field.name for field in attrs.fields(cls))
            self._defaults[cls] = {
                field.name: field.default
                for field in attrs.fields(cls)
                if field.default is not attrs.NOTHING
                and not isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
            }
            self._encoders[cls] = self._attrs

    # -- encoding ---------------------------------------------------------------------
    def encode(self, value: Any, *, where: str = "a record") -> str:
        """Return ``value`` as JSON text.

        Args:
            value: the record (or any value).
            where: what ``value`` is, for the error message.

        Raises:
            JournalSerializationError: a value inside that the serializer refuses; it
                names ``where``, the path to the value, and the value's type.
        """
        try:
            return _DUMPS(self._encode(value))
        except Refused as refused:
            raise self.refusal(refused, where) from refused.__cause__

    def tree(self, value: Any) -> Any:
        """Return ``value`` as JSON values (lists, dicts, strings, numbers, None).

        Raises:
            Refused: a value inside that the serializer refuses (see :meth:`refusal`).
        """
        return self._encode(value)

    @staticmethod
    def refusal(refused: Refused, where: str) -> JournalSerializationError:
        """The error to raise for ``refused``, naming ``where`` and the path inside."""
        path = "".join(reversed(refused.path))
        at = f"{where} at {path}" if path else where
        return JournalSerializationError(at, refused.value_type, refused.reason)

    def untag(self, value: Any) -> Any:
        """Return the value :meth:`tree` turned into ``value`` (its tags decoded).

        Raises:
            ValueError: an unknown tag or class, or fields a class does not have; any
                error of the serializer's ``loads`` is raised as it is.
        """
        cls = value.__class__
        if cls is dict:
            untag = self.untag
            return self._hook({key: untag(item) for key, item in value.items()})
        if cls is list:
            untag = self.untag
            return [untag(item) for item in value]
        return value

    def _encode(self, value: Any) -> Any:
        cls = value.__class__
        if cls is str or cls is int or cls is float or cls is bool or value is None:
            return value
        encoder = self._encoders.get(cls)
        if encoder is not None:
            return encoder(value)
        return self._opaque(value)

    def _opaque(self, value: Any) -> Any:
        try:
            data = self._serializer.dumps(value)
        except Exception as error:  # whatever the serializer raises for a value it refuses
            refused = Refused(value, f"{type(error).__name__}: {error}")
            raise refused from error
        if data.__class__ is not bytes:
            raise Refused(value, f"the serializer returned a {type(data).__name__}, not bytes")
        return {"$v": _B64(data).decode("ascii")}

    def _items(self, values: Iterable[Any], tag: str | None) -> list[Any]:
        encode = self._encode
        out = []
        for index, item in enumerate(values):
            try:
                out.append(encode(item))
            except Refused as refused:
                refused.path.append(f"[{index}]" if tag is None else "{...}")
                raise
        return out

    def _list(self, value: list[Any]) -> Any:
        return self._items(value, None)

    def _tuple(self, value: tuple[Any, ...]) -> Any:
        return {"$t": self._items(value, None)}

    def _set(self, value: set[Any]) -> Any:
        return {"$s": self._items(value, "set")}

    def _frozenset(self, value: frozenset[Any]) -> Any:
        return {"$fs": self._items(value, "set")}

    def _dict(self, value: dict[Any, Any]) -> Any:
        encode = self._encode
        pairs = []
        for key, item in value.items():
            try:
                pairs.append([encode(key), encode(item)])
            except Refused as refused:
                refused.path.append(f"[{key!r}]")
                raise
        return {"$m": pairs}

    def _datetime(self, value: datetime) -> Any:
        zone = value.tzinfo
        if zone is None or zone.__class__ is timezone:
            return {"$dt": value.isoformat()}
        return self._opaque(value)  # a named zone: the serializer keeps its name

    def _enum(self, value: enum.Enum) -> Any:
        try:
            inner = self._encode(value.value)
        except Refused as refused:
            refused.path.append(".value")
            raise
        return {"$e": value.__class__.__qualname__, "v": inner}

    def _attrs(self, value: Any) -> Any:
        cls = value.__class__
        encode = self._encode
        default = self._defaults[cls].get
        fields = {}
        for name, item in self._getstate[cls](value).items():
            if item is default(name, _NO_DEFAULT):
                continue  # left out: decoding puts the very same default object back
            kind = item.__class__
            if kind is str or kind is int or kind is float or kind is bool or item is None:
                fields[name] = item
                continue
            try:
                fields[name] = encode(item)
            except Refused as refused:
                refused.path.append(f".{name}")
                raise
        return {"$a": cls.__qualname__, "f": fields}

    # -- decoding ---------------------------------------------------------------------
    def decode(self, text: str) -> Any:
        """Return the value that :meth:`encode` turned into ``text``.

        Raises:
            ValueError: ``text`` is not a record this codec wrote (bad JSON, an unknown
                tag or class, a field the class does not have); any error of the
                serializer's ``loads`` is raised as it is.
        """
        return json.loads(text, object_hook=self._hook)

    def _hook(self, obj: dict[str, Any]) -> Any:
        for key in obj:
            if key[:1] != "$":
                return obj  # an attrs record's fields, decoded by the "$a" around them
            decode = self._tags.get(key)
            if decode is None:
                raise ValueError(f"unknown tag {key!r}")
            return decode(obj)
        return obj  # the fields of a record with none

    def _known(self, name: Any) -> type:
        cls = self._classes.get(name) if name.__class__ is str else None
        if cls is None:
            raise ValueError(f"unknown class {name!r}")
        return cls

    def _decode_enum(self, obj: dict[str, Any]) -> Any:
        return self._known(obj["$e"])(obj["v"])

    def _decode_attrs(self, obj: dict[str, Any]) -> Any:
        cls = self._known(obj["$a"])
        fields = obj["f"]
        if fields.__class__ is not dict:
            raise ValueError(f"the fields of a {cls.__qualname__} are not an object")
        names = self._fields[cls]
        if len(fields) != len(names):
            fields = {**self._defaults[cls], **fields}
        if fields.keys() != names:
            unknown = sorted(fields.keys() - names)
            missing = sorted(names - fields.keys())
            raise ValueError(
                f"the fields of a {cls.__qualname__} do not match its class "
                f"(unknown: {unknown}, missing: {missing})"
            )
        record: Any = object.__new__(cls)
        setstate = getattr(record, "__setstate__", None)
        if setstate is not None:
            setstate(fields)
        else:
            for name, item in fields.items():
                object.__setattr__(record, name, item)
        return record

    def _decode_opaque(self, obj: dict[str, Any]) -> Any:
        return self._serializer.loads(_UNB64(obj["$v"], validate=True))

"""How the wire writes one attrs class's instances: :class:`Layout`.

An instance is a flat JSON list of ``index, value`` pairs over the class's fields (in
``attrs.fields`` order), leaving out each field that holds its default: the default
object itself, an equal value of an immutable default (an empty frozenset, a zero), or
an empty dict where the default is a new one. Fields are read and set through their
slots' own descriptors, so nothing a class does on attribute access (a derived key, a
UUID built from an int) runs, and no ``__init__`` check runs twice.

The encoder of each layout is written out as one function when the layout is made
(as attrs writes its ``__init__``), so a field costs a read and a test, not a turn of
a generic loop.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any, Final, final

import attrs

from ._codec import Refused

__all__ = ["EMPTY_DICT", "REQUIRED", "Layout", "raw_slot"]

#: The default of a field that has none (its value is always written).
REQUIRED: Final = object()
#: The default of a field whose default is a new empty dict.
EMPTY_DICT: Final = object()

Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]
Set = Callable[[Any, Any], None]
#: A field's kind: how its value is encoded and decoded (None: the generic ones) and
#: set (None: the slot's own setter).
Kind = tuple[Encode | None, Decode | None, Set | None]

_PLAIN: Final = frozenset({str, int, float, bool, type(None)})
_DICTS: Final = (dict, MappingProxyType)
_KEPT_BY_VALUE: Final = (frozenset, str, int, float, bool)
_new_object: Final = object.__new__


def raw_slot(cls: type, name: str) -> Any:
    """The member descriptor holding field ``name`` of ``cls`` as stored."""
    for klass in cls.__mro__:
        found = klass.__dict__.get(name)
        if found is not None:
            return getattr(found, "raw", found)
    raise TypeError(f"{cls.__qualname__}.{name} is not a slot")  # pragma: no cover


def _default(field: attrs.Attribute[Any]) -> Any:
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return EMPTY_DICT if default.factory is dict else REQUIRED
    return REQUIRED if default is attrs.NOTHING else default


@final
class Layout:
    """The ``index, value`` pairs of one attrs class (see the module docstring).

    Args:
        cls: the attrs class (slotted).
        kinds: the kind of each field that is not encoded generically.
        generic: the encoder of every other field's value.
        generic_decode: the decoder of every other field's value.
        skip: fields :attr:`encode_without` leaves out.
    """

    __slots__ = (
        "cls",
        "decoders",
        "defaults",
        "encode",
        "encode_without",
        "names",
        "required",
        "setters",
    )

    def __init__(
        self,
        cls: type,
        kinds: Mapping[str, Kind],
        generic: Encode,
        generic_decode: Decode,
        skip: Collection[str] = (),
    ) -> None:
        self.cls = cls
        fields = attrs.fields(cls)
        self.names = tuple(field.name for field in fields)
        slots = [raw_slot(cls, name) for name in self.names]
        none: Kind = (None, None, None)
        self.setters: tuple[Set, ...] = tuple(
            kinds.get(name, none)[2] or slot.__set__
            for name, slot in zip(self.names, slots, strict=True)
        )
        self.decoders = tuple(kinds.get(name, none)[1] or generic_decode for name in self.names)
        self.defaults = tuple(_default(field) for field in fields)
        self.required = tuple(i for i, d in enumerate(self.defaults) if d is REQUIRED)
        getters = [slot.__get__ for slot in slots]
        encoders = [kinds.get(name, none)[0] for name in self.names]
        traced = _traced(self.names, getters, encoders, self.defaults, generic)
        #: ``encode(value)``: the pairs of an instance.
        self.encode: Encode = _written_out(self, getters, encoders, generic, (), traced)
        #: The pairs without the ``skip`` fields (a snapshot's run, without its state).
        self.encode_without: Encode = _written_out(self, getters, encoders, generic, skip, traced)

    def build(self, pairs: Any) -> Any:
        """The instance the pairs of :attr:`encode` describe (values decoded by kind).

        Raises:
            ValueError, IndexError, TypeError: the pairs are not such a list.
        """
        values = list(self.defaults)
        decoders = self.decoders
        for position in range(0, len(pairs), 2):
            index = pairs[position]
            values[index] = decoders[index](pairs[position + 1])
        for index in self.required:
            if values[index] is REQUIRED:
                name = self.names[index]
                raise ValueError(f"a {self.cls.__qualname__} record lacks its {name!r}")
        made: Any = _new_object(self.cls)
        for set_value, item in zip(self.setters, values, strict=True):
            set_value(made, {} if item is EMPTY_DICT else item)
        return made


def _skipped(item: Any, default: Any) -> bool:
    """Whether a field holding ``item`` is left out (it holds its default)."""
    if item is default:
        return True
    if default is EMPTY_DICT:
        return not item and item.__class__ in _DICTS
    return default.__class__ is item.__class__ in _KEPT_BY_VALUE and bool(item == default)


def _traced(
    names: tuple[str, ...],
    getters: list[Callable[..., Any]],
    encoders: list[Encode | None],
    defaults: tuple[Any, ...],
    generic: Encode,
) -> Encode:
    """The slow encoder, which names the field whose value the serializer refused."""

    def encode(value: Any) -> Any:
        pairs: list[Any] = []
        for index, name in enumerate(names):
            item = getters[index](value)
            if _skipped(item, defaults[index]):
                continue
            encoder = encoders[index] or generic
            try:
                pairs += (index, encoder(item))
            except Refused as refused:
                refused.path.append(f".{name}")
                raise
        return pairs

    return encode


def _written_out(
    layout: Layout,
    getters: list[Callable[..., Any]],
    encoders: list[Encode | None],
    generic: Encode,
    skip: Collection[str],
    traced: Encode,
) -> Encode:
    """The encoder of ``layout`` written out as one function, field after field.

    A value the serializer refuses sends the call to ``traced``, which raises with the
    field named.
    """
    namespace: dict[str, Any] = {
        "Refused": Refused,
        "PLAIN": _PLAIN,
        "DICTS": _DICTS,
        "generic": generic,
        "traced": traced,
    }
    lines = ["def encode(value):", "    try:", "        out = []"]
    for index, name in enumerate(layout.names):
        if name in skip:
            continue
        default = layout.defaults[index]
        namespace[f"get{index}"] = getters[index]
        namespace[f"default{index}"] = default
        lines.append(f"        item = get{index}(value)")
        if default is REQUIRED:
            test = "True"
        elif default is EMPTY_DICT:
            test = "item or item.__class__ not in DICTS"
        elif default.__class__ in _KEPT_BY_VALUE:
            test = (
                f"item is not default{index} and not "
                f"(item.__class__ is default{index}.__class__ and item == default{index})"
            )
        else:
            test = f"item is not default{index}"
        encoder = encoders[index]
        if encoder is None:
            value = "item if item.__class__ in PLAIN else generic(item)"
        else:
            namespace[f"encode{index}"] = encoder
            value = f"encode{index}(item)"
        lines.append(f"        if {test}:")
        lines.append(f"            out += ({index}, {value})")
    lines += ["        return out", "    except Refused:", "        return traced(value)"]
    exec("\n".join(lines), namespace)
    encode: Encode = namespace["encode"]
    return encode

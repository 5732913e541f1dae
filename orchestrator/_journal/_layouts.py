"""How the wire writes one attrs class's instances: :class:`Layout`.

An instance is a tuple of its fields' values in ``attrs.fields`` order, each encoded
by its field's kind (plain values as themselves). Fields are read and set through their
slots' own descriptors, so nothing a class does on attribute access (a derived key, a
UUID built from an int) runs, and no ``__init__`` check runs twice. The order is this
release's: :func:`signature` names it, and a journal written with another order is
refused when opened.

Both directions of each layout are written out as one function when the layout is
made (as attrs writes its ``__init__``), so a field costs a read and a call, not a turn
of a generic loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final, final

import attrs

from ._codec import Refused

__all__ = ["Layout", "raw_slot", "signature"]

Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]
Set = Callable[[Any, Any], None]
#: A field's kind: how its value is encoded and decoded (None: the generic ones) and
#: set (None: the slot's own setter).
Kind = tuple[Encode | None, Decode | None, Set | None]

_PLAIN: Final = frozenset({str, int, float, bool, type(None)})


def raw_slot(cls: type, name: str) -> Any:
    """The member descriptor holding field ``name`` of ``cls`` as stored."""
    for klass in cls.__mro__:
        found = klass.__dict__.get(name)
        if found is not None:
            return getattr(found, "raw", found)
    raise TypeError(f"{cls.__qualname__}.{name} is not a slot")  # pragma: no cover


def signature(classes: Iterable[type]) -> str:
    """A short digest of the classes' names and field orders (what layouts follow)."""
    text = ";".join(
        f"{cls.__qualname__}:{','.join(field.name for field in attrs.fields(cls))}"
        for cls in classes
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@final
class Layout:
    """The field tuple of one attrs class (see the module docstring).

    Args:
        cls: the attrs class (slotted).
        kinds: the kind of each field that is not encoded generically.
        generic: the encoder of every other field's value that is not plain.
        generic_decode: the decoder of those values (a field's own encoder and
            decoder are not called for None, which stays None).
        skip: fields :attr:`encode_without` writes as None (a snapshot's run, whose
            state is the last of the states beside it).
    """

    __slots__ = ("build", "cls", "encode", "encode_without")

    def __init__(
        self,
        cls: type,
        kinds: Mapping[str, Kind],
        generic: Encode,
        generic_decode: Decode,
        skip: Collection[str] = (),
    ) -> None:
        self.cls = cls
        names = tuple(field.name for field in attrs.fields(cls))
        slots = [raw_slot(cls, name) for name in names]
        none: Kind = (None, None, None)
        encoders = [kinds.get(name, none)[0] for name in names]
        traced = _traced(names, [slot.__get__ for slot in slots], encoders, generic)
        namespace: dict[str, Any] = {
            "PLAIN": _PLAIN,
            "Refused": Refused,
            "generic": generic,
            "untag": generic_decode,
            "traced": traced,
            "new": object.__new__,
            "cls": cls,
        }
        for index, (name, slot) in enumerate(zip(names, slots, strict=True)):
            encode, decode, set_value = kinds.get(name, none)
            namespace[f"get{index}"] = slot.__get__
            namespace[f"set{index}"] = set_value or slot.__set__
            namespace[f"encode{index}"] = encode
            namespace[f"decode{index}"] = decode
        values = ", ".join(f"v{index}" for index in range(len(names)))
        lines = ["def build(tree):", f"    ({values},) = tree", "    made = new(cls)"]
        for index in range(len(names)):
            if kinds.get(names[index], none)[1] is None:
                value = f"v{index} if v{index}.__class__ in PLAIN else untag(v{index})"
            else:
                value = f"None if v{index} is None else decode{index}(v{index})"
            lines.append(f"    set{index}(made, {value})")
        lines.append("    return made")
        #: ``build(tree)``: the instance a tree describes (ValueError for a tree of
        #: another length, or what a field's decoder raises).
        self.build: Decode = _written("build", lines, namespace)
        #: ``encode(value)``: the tree of an instance.
        self.encode: Encode = _written("encode", _encoder(names, encoders, ()), namespace)
        #: The tree with the ``skip`` fields written as None.
        self.encode_without: Encode = _written("encode", _encoder(names, encoders, skip), namespace)


def _encoder(
    names: tuple[str, ...], encoders: list[Encode | None], skip: Collection[str]
) -> list[str]:
    """The lines of an encoder function (see :class:`Layout`)."""
    lines = ["def encode(value):", "    try:", "        return ("]
    for index, name in enumerate(names):
        item = f"get{index}(value)"
        if name in skip:
            lines.append("            None,")
        elif encoders[index] is None:
            lines.append(f"            plain if (plain := {item}).__class__ in PLAIN")
            lines.append("            else generic(plain),")
        else:  # a field's own encoder is not called for None either
            lines.append(f"            None if (given := {item}) is None")
            lines.append(f"            else encode{index}(given),")
    lines += ["        )", "    except Refused:", "        return traced(value)"]
    return lines


def _written(name: str, lines: list[str], namespace: dict[str, Any]) -> Any:
    """The function ``name`` that ``lines`` define, with ``namespace`` as its globals."""
    scope = dict(namespace)
    exec("\n".join(lines), scope)
    return scope[name]


def _traced(
    names: tuple[str, ...],
    getters: list[Callable[..., Any]],
    encoders: list[Encode | None],
    generic: Encode,
) -> Encode:
    """The slow encoder, which names the field whose value the serializer refused."""

    def encode(value: Any) -> Any:
        tree = []
        for index, name in enumerate(names):
            item = getters[index](value)
            encoder = encoders[index]
            try:
                if encoder is not None:
                    tree.append(encoder(item))
                else:
                    tree.append(item if item.__class__ in _PLAIN else generic(item))
            except Refused as refused:
                refused.path.append(f".{name}")
                raise
        return tuple(tree)

    return encode

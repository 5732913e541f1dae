"""The equality index: a key -> set-of-values map, optionally dormant until first read.

Split from :mod:`orchestrator._core._indexes` (which re-exports it); see that module for
the store's two index shapes. ``n`` below is the number of values in the index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, KeysView
from typing import Any, Final, Generic, TypeVar, final

__all__ = ["SetIndex", "shrink"]

K = TypeVar("K")
V = TypeVar("V")

_EMPTY: Final[frozenset[Any]] = frozenset()


def shrink(container: dict[Any, Any] | set[Any]) -> None:
    """Rebuild ``container`` in place so that its memory fits what it holds now. O(n).

    A dict keeps its insertion order; both keep their identity, so references to them
    stay valid.
    """
    if isinstance(container, dict):
        items = list(container.items())
        container.clear()
        container.update(items)
    else:
        values = list(container)
        container.clear()
        container.update(values)


@final
class SetIndex(Generic[K, V]):
    """A map from a key to the set of values that have it; empty sets are dropped.

    ``None`` is an ordinary key here ("no flow run", "no state"). An index given a
    ``source`` (every ``(key, value)`` it should hold) is dormant until first read, like a
    :class:`SortedIndex`: it holds nothing and ignores writes, and its first read builds
    it from the source (O(n)), after which it is maintained as usual.
    """

    __slots__ = ("_sets", "_source", "dormant")

    def __init__(self, source: Callable[[], Iterable[tuple[K, V]]] | None = None) -> None:
        self._sets: dict[K, set[V]] = {}
        self._source = source
        #: Whether the index has never been read (it holds nothing until it is). A plain
        #: attribute: hot paths that inline :meth:`move` on :attr:`raw` test it.
        self.dormant = source is not None

    def _wake(self) -> None:
        source = self._source
        assert source is not None
        self._source = None
        self.dormant = False
        sets = self._sets
        for key, value in source():
            values = sets.get(key)
            if values is None:
                sets[key] = {value}
            else:
                values.add(value)

    def __len__(self) -> int:
        """Return the number of keys in use. O(1)."""
        if self.dormant:
            self._wake()
        return len(self._sets)

    def __contains__(self, key: object) -> bool:
        """Return whether some value has ``key``. O(1)."""
        if self.dormant:
            self._wake()
        return key in self._sets

    def add(self, key: K, value: V) -> None:
        """File ``value`` under ``key``. O(1)."""
        if self.dormant:
            return
        values = self._sets.get(key)
        if values is None:
            self._sets[key] = {value}
        else:
            values.add(value)

    def remove(self, key: K, value: V) -> None:
        """Remove ``value`` from ``key``'s set, dropping the set when it empties. O(1).

        Raises:
            KeyError: ``value`` is not filed under ``key`` (in an index that is awake).
        """
        if self.dormant:
            return
        values = self._sets[key]
        values.remove(value)
        if not values:
            del self._sets[key]

    def move(self, old: K, new: K, value: V) -> None:
        """Re-file ``value`` from ``old`` to ``new``. O(1)."""
        if self.dormant:
            return
        sets = self._sets
        values = sets[old]
        values.remove(value)
        if not values:
            del sets[old]
        target = sets.get(new)
        if target is None:
            sets[new] = {value}
        else:
            target.add(value)

    def shrink(self) -> None:
        """Rebuild the map and its sets in place to fit what they hold now. O(n)."""
        for values in self._sets.values():
            shrink(values)
        shrink(self._sets)

    @property
    def raw(self) -> dict[K, set[V]]:
        """The underlying map (live). Only for hot paths that inline :meth:`move`.

        Those must leave it alone while the index is :attr:`dormant` (it stays empty).
        """
        return self._sets

    def get(self, key: K) -> frozenset[V] | set[V]:
        """Return the values under ``key`` (live; do not mutate). O(1)."""
        if self.dormant:
            self._wake()
        return self._sets.get(key, _EMPTY)

    def size(self, key: K) -> int:
        """Return how many values have ``key``. O(1)."""
        if self.dormant:
            self._wake()
        values = self._sets.get(key)
        return 0 if values is None else len(values)

    def keys(self) -> KeysView[K]:
        """Return the keys in use (a live view). O(1)."""
        if self.dormant:
            self._wake()
        return self._sets.keys()

    def as_dict(self) -> dict[K, frozenset[V]]:
        """Return a frozen copy of the whole map, for invariant checks. O(n).

        A dormant index stays dormant: it holds nothing (an empty map).
        """
        return {key: frozenset(values) for key, values in self._sets.items()}

    def clear(self) -> None:
        """Remove every entry. O(1). A dormant index stays dormant (its source is what it holds)."""
        self._sets.clear()

    def discard(self, key: K, value: V) -> bool:
        """Remove ``value`` from ``key``'s set if it is there; return whether it was. O(1).

        Never raises (an unhashable ``key`` files nothing), for repairs after a failed change.
        A dormant index holds nothing: False.
        """
        if self.dormant:
            return False
        try:
            values = self._sets.get(key)
        except TypeError:
            return False
        if values is None or value not in values:
            return False
        values.remove(value)
        if not values:
            del self._sets[key]
        return True

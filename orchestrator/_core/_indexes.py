"""Typed index structures: the only module that imports sortedcontainers.

Two shapes cover every secondary index of the store:

* :class:`SortedIndex` keeps ``(key, seq, value)`` entries in key order. ``seq`` is the
  creation sequence of the value, unique per value, so equal keys keep a deterministic
  order and an entry is found again by bisection alone. Values whose key is ``None``
  live in a separate list ordered by ``seq`` so that every sort can place them last in
  either direction. Writes are paid for when the index is read: an insertion or a move
  only notes the value's wanted key (a dict operation), and the next read (or removal)
  files every noted value once, from where it is filed to where it is wanted, in one
  batch. A value that moves four times between two reads is re-filed once; filing never
  raises (the keys of one index are validated comparable where they come in). An index
  given a source is dormant until first read: it costs nothing per write, and its first
  read builds it from the source in one sort.
* :class:`SetIndex` maps a key to the set of values that have it (state type -> runs,
  task key -> runs, ...). Empty sets are dropped, so the key set is exactly the keys in
  use. One given a source sleeps until first read, as a sorted index does.

Python's dicts and sets never give memory back when entries are deleted; a container
that once held a million runs keeps a table sized for them. :func:`shrink` rebuilds one
in place (it keeps its identity), for owners that do so once most entries are gone.

Values are compared by identity (runs are ``eq=False`` entities), which keeps hashing
and equality in C. ``n`` below is the number of entries in the index and ``k`` the
number of entries an operation yields.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any, Final, Generic, TypeVar, final

from sortedcontainers import SortedList

from ._set_index import SetIndex, shrink

__all__ = ["COMPACT_FLOOR", "SetIndex", "SortedIndex", "shrink", "should_shrink"]

K = TypeVar("K")
V = TypeVar("V")

# Sorts after every int sequence number: (key, _AFTER) bounds all entries with ``key``.
_AFTER: Final = math.inf
_SECOND: Final = itemgetter(1)
_THIRD: Final = itemgetter(2)
#: Containers that never held more than this many entries are not worth shrinking.
COMPACT_FLOOR: Final = 1024


def should_shrink(size: int, peak: int) -> bool:
    """Whether a container at ``size`` entries that once held ``peak`` should be shrunk.

    True once it is down to under a quarter of its peak (and the peak is worth it):
    rebuilding then costs O(size), paid for by the 3/4 peak deletions before it.
    """
    return peak > COMPACT_FLOOR and size * 4 < peak


#: A value's key when it has no entry (None is a key: it files the value among the nulls).
_ABSENT: Final[Any] = object()
#: Noted writes beyond this many (or a quarter of the entries, if more) are filed at once,
#: so an index nobody reads holds a bounded backlog.
_BACKLOG_FLOOR: Final = 4096


@final
class SortedIndex(Generic[K, V]):
    """Values ordered by ``(key, seq)``, with ``None`` keys kept apart in ``seq`` order.

    Keys must be mutually comparable (datetimes, strings or ints of one index); ``seq``
    must be unique per value and stay the same while the value is indexed. Writes are
    noted and filed by the next read (see the module docstring): ``n`` below counts the
    entries, and the first read after ``m`` writes pays O(m log n) for them.
    """

    __slots__ = ("_items", "_nulls", "_pending", "_source")

    def __init__(
        self, source: Callable[[], Iterable[tuple[K | None, int, V]]] | None = None
    ) -> None:
        # Elements are (key, seq, value) and (seq, value); typed loosely because the
        # stubs require the element type itself to be orderable.
        self._items: SortedList[tuple[Any, ...]] = SortedList()
        self._nulls: SortedList[tuple[Any, ...]] = SortedList()
        # value -> (the key it is filed under or _ABSENT, its seq, the key it wants or
        # _ABSENT): the writes not filed yet.
        self._pending: dict[V, tuple[Any, int, Any]] = {}
        # While not None the index is dormant: it holds nothing, ignores writes, and its
        # first read builds it from every (key, seq, value) the source gives.
        self._source = source

    @property
    def dormant(self) -> bool:
        """Whether the index has never been read (it holds nothing until it is)."""
        return self._source is not None

    def __len__(self) -> int:
        """Return the number of entries, ``None`` keys included."""
        self._file()
        return len(self._items) + len(self._nulls)

    @property
    def null_count(self) -> int:
        """The number of entries whose key is ``None``."""
        self._file()
        return len(self._nulls)

    # -- writes: noted, filed by the next read ---------------------------------------------------
    def add(self, key: K | None, seq: int, value: V) -> None:
        """Insert ``value`` under ``key``. O(1) (filed by the next read)."""
        if self._source is not None:
            return
        pending = self._pending
        noted = pending.get(value)
        pending[value] = (_ABSENT if noted is None else noted[0], seq, key)
        if len(pending) > _BACKLOG_FLOOR:
            self._file_backlog()

    def remove(self, key: K | None, seq: int, value: V) -> None:
        """Remove the entry of ``value`` under ``key`` now. O(log n).

        Removals (deletes) are rare and checked: they file the noted writes first.

        Raises:
            ValueError: no such entry (in an index that is awake).
        """
        if self._source is not None:
            return
        self._file()
        if key is None:
            self._nulls.remove((seq, value))
        else:
            self._items.remove((key, seq, value))

    def move(self, old: K | None, new: K | None, seq: int, value: V) -> None:
        """Re-file ``value`` from key ``old`` to key ``new``. O(1) (filed by the next read)."""
        if self._source is not None:
            return
        pending = self._pending
        noted = pending.get(value)
        if noted is None:
            pending[value] = (old, seq, new)
            if len(pending) > _BACKLOG_FLOOR:
                self._file_backlog()
        else:
            pending[value] = (noted[0], seq, new)

    def update(self, entries: Iterable[tuple[K | None, int, V]]) -> None:
        """Insert many ``(key, seq, value)`` entries at once. O(m log m + n) for m entries.

        One sort in C; the fastest way to fill an index. A dormant index ignores them.
        """
        if self._source is not None:
            return
        self._file()
        entries = list(entries)
        items = [entry for entry in entries if entry[0] is not None]
        if len(items) < len(entries):
            self._nulls.update([(entry[1], entry[2]) for entry in entries if entry[0] is None])
        self._items.update(items)

    def _file_backlog(self) -> None:
        if len(self._pending) * 4 > len(self._items) + len(self._nulls):
            self._file()

    def _file(self) -> None:
        """File every noted write: out of the key each value is filed under, into the one
        it wants (or, the first time, build the index from its source). Never raises."""
        if self._source is not None:
            self._wake()
            return
        pending = self._pending
        if not pending:
            return
        self._pending = {}
        items = self._items
        nulls = self._nulls
        to_items: list[tuple[Any, ...]] = []
        to_nulls: list[tuple[Any, ...]] = []
        for value, (filed, seq, wanted) in pending.items():
            if filed is wanted:
                continue  # back where it is filed
            if filed is None:
                nulls.discard((seq, value))
            elif filed is not _ABSENT:
                try:
                    items.discard((filed, seq, value))
                except TypeError:  # a key the others cannot be compared with
                    self._discard_by_identity(seq, value)
            if wanted is None:
                to_nulls.append((seq, value))
            elif wanted is not _ABSENT:
                to_items.append((wanted, seq, value))
        if to_items:
            items.update(to_items)
        if to_nulls:
            nulls.update(to_nulls)

    def _wake(self) -> None:
        source = self._source
        assert source is not None
        self._source = None
        self._pending = {}
        self.update(source())

    # -- reads: file first ------------------------------------------------------------------------
    def count(self, lo: K | None = None, hi: K | None = None, *, hi_inclusive: bool = True) -> int:
        """Return how many non-``None`` keys lie in ``[lo, hi]`` (or ``[lo, hi)``). O(log n).

        A bound of ``None`` means unbounded on that side.
        """
        self._file()
        items = self._items
        start = 0 if lo is None else items.bisect_left((lo,))
        if hi is None:
            stop = len(items)
        elif hi_inclusive:
            stop = items.bisect_right((hi, _AFTER))
        else:
            stop = items.bisect_left((hi,))
        return max(0, stop - start)

    def irange(
        self,
        lo: K | None = None,
        hi: K | None = None,
        *,
        hi_inclusive: bool = True,
        reverse: bool = False,
    ) -> Iterator[V]:
        """Yield the values with a non-``None`` key in ``[lo, hi]`` (or ``[lo, hi)``).

        Ascending by ``(key, seq)``, or descending with ``reverse=True``. O(log n) to
        start, O(1) amortised per value yielded. Writes made while the iterator is
        alive do not disturb it (they are noted, not filed).
        """
        self._file()
        maximum: tuple[Any, ...] | None = None
        if hi is not None:
            maximum = (hi, _AFTER) if hi_inclusive else (hi,)
        entries = self._items.irange(
            None if lo is None else (lo,),
            maximum,
            inclusive=(True, hi_inclusive),
            reverse=reverse,
        )
        # map + itemgetter keep the whole iteration in C (no generator frame per value).
        return map(_THIRD, entries)

    def nulls(self, *, reverse: bool = False) -> Iterator[V]:
        """Yield the values whose key is ``None``, by ``seq`` (descending if ``reverse``).

        O(1) amortised per value.
        """
        self._file()
        entries = reversed(self._nulls) if reverse else iter(self._nulls)
        return map(_SECOND, entries)

    def entries(self) -> Iterator[tuple[K | None, int, V]]:
        """Yield every ``(key, seq, value)``: keyed entries in order, then None keys. O(n)."""
        self._file()
        nulls = ((None, seq, value) for seq, value in self._nulls)
        return itertools.chain(iter(self._items), nulls)

    def clear(self) -> None:
        """Remove every entry. O(n)."""
        self._pending = {}
        self._items.clear()
        self._nulls.clear()  # a dormant index stays dormant: its source is what it holds

    def discard(self, key: K | None, seq: int, value: V) -> bool:
        """Remove the entry of ``value`` under ``key`` if there is one; return whether there was.

        For repairs after a failed change, so it never raises: when ``key`` cannot be
        compared with the index's keys, the entry of ``value`` with this ``seq`` is found
        by a scan (O(n)) and removed whatever its key. O(log n) otherwise (after the noted
        writes are filed). A dormant index holds nothing: False.
        """
        if self._source is not None:
            return False
        self._file()
        entries = self._nulls if key is None else self._items
        try:
            entries.remove((seq, value) if key is None else (key, seq, value))
        except ValueError:
            return False
        except TypeError:
            return self._discard_by_identity(seq, value)
        return True

    def _discard_by_identity(self, seq: int, value: V) -> bool:
        for entries in (self._items, self._nulls):
            for position, entry in enumerate(entries):
                if entry[-1] is value and entry[-2] == seq:
                    del entries[position]
                    return True
        return False

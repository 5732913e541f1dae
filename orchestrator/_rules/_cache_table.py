"""The cache table: cache entries by key, for the caching rules.

A plain synchronous container owned by one orchestrator and reached by rules through
:class:`~orchestrator._rules._context.RuleServices`. It never reads the clock: callers pass
``now``. Every change is reported, in order, to the ``on_change`` callback as a record
of :mod:`orchestrator._rules._table_events`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, final

import attrs

from .._core._checks import check_text
from .._core._clock import as_utc
from .._core._indexes import should_shrink, shrink
from .._core._states import State
from ._table_events import CacheEntryAdded, CacheEntryPruned, CacheEvent

__all__ = ["NEVER", "CacheEntry", "CacheStatistics", "CacheTable", "check"]

#: The expiration of nothing: later than any time a clock gives.
NEVER: Final = datetime.max.replace(tzinfo=UTC)


def check(condition: bool, message: str) -> None:
    """Raise AssertionError with ``message`` unless ``condition`` (for ``check_invariants``)."""
    if not condition:
        raise AssertionError(message)


@final
@attrs.frozen
class CacheEntry:
    """One cache entry: ``state`` is the answer for ``key`` until ``expiration`` (None: forever)."""

    key: str
    expiration: datetime | None
    state: State

    def is_live(self, now: datetime) -> bool:
        """True when the entry has not expired at ``now`` (it expires at its expiration)."""
        return self.expiration is None or self.expiration > now


@final
@attrs.frozen(kw_only=True)
class CacheStatistics:
    """What a :class:`CacheTable` holds: distinct keys and entries (expired ones included)."""

    keys: int
    entries: int


@final
class CacheTable:
    """Cache entries by key, oldest first; a lookup answers with the newest live one.

    Expired entries are pruned by time, amortised: the entries that have an expiration
    sit in a heap ordered by it, and :meth:`prune` pops every entry expired at ``now``
    (O(log n) per entry pruned, one comparison with :attr:`next_expiry` when none has
    expired). A lookup prunes first, so it never meets an expired entry. Nothing here
    reads a clock; the orchestrator prunes after every state proposal whose time
    (its clock's ``now``) has reached :attr:`next_expiry` (see ``Engine.propose``).

    When pruning leaves the table with a quarter of the keys it once held, the key
    dictionary is rebuilt, so the memory of a large expired cache is given back.

    Args:
        on_change: called with a :data:`CacheEvent` for every entry added, and for every
            key with entries pruned.
    """

    __slots__ = (
        "_entries",
        "_expiring",
        "_on_change",
        "_peak",
        "_sequence",
        "_size",
        "next_expiry",
    )

    def __init__(self, on_change: Callable[[CacheEvent], None] | None = None) -> None:
        # key -> {insertion number: entry}, oldest first: an entry leaves in O(1).
        self._entries: dict[str, dict[int, CacheEntry]] = {}
        # (expiration, insertion number, key) of every entry that expires.
        self._expiring: list[tuple[datetime, int, str]] = []
        self._on_change = on_change
        self._sequence = itertools.count()
        self._size = 0
        self._peak = 0
        #: The earliest expiration among the entries (a far-future sentinel when none
        #: expires): nothing can be pruned before it.
        self.next_expiry: datetime = NEVER

    def insert(self, key: str, expiration: datetime | None, state: State) -> CacheEntry:
        """Record ``state`` as the newest entry of ``key`` until ``expiration``. O(log n).

        Raises:
            InvalidArgument: ``key`` is not a non-empty string or ``expiration`` is naive.
        """
        check_text(key, "a cache key")
        if expiration is not None:
            expiration = as_utc(expiration, "cache expiration")
        entry = CacheEntry(key, expiration, state)
        number = next(self._sequence)
        entries = self._entries
        of_key = entries.get(key)
        if of_key is None:
            entries[key] = {number: entry}
            if len(entries) > self._peak:
                self._peak = len(entries)
        else:
            of_key[number] = entry
        self._size += 1
        if expiration is not None:
            heapq.heappush(self._expiring, (expiration, number, key))
            if expiration < self.next_expiry:
                self.next_expiry = expiration
        if self._on_change is not None:
            self._on_change(CacheEntryAdded(key=key, expiration=expiration, state=state))
        return entry

    def lookup(self, key: str, now: datetime) -> State | None:
        """Return the state of the newest entry of ``key`` live at ``now``, or None.

        Prunes every entry expired at ``now`` first (see :meth:`prune`). O(1) amortised.
        """
        if now >= self.next_expiry:
            self.prune(now)
        entries = self._entries.get(key)
        if entries is None:
            return None
        return next(reversed(entries.values())).state

    def prune(self, now: datetime) -> int:
        """Drop every entry expired at ``now`` and return how many.

        O(log n) per entry dropped; O(1) when none has expired. Reports one
        :class:`CacheEntryPruned` per key, in the order the keys' first entries expired.
        """
        heap = self._expiring
        if not heap or heap[0][0] > now:
            return 0
        entries = self._entries
        pruned: dict[str, int] = {}
        pop = heapq.heappop
        while heap and heap[0][0] <= now:
            _, number, key = pop(heap)
            of_key = entries[key]
            del of_key[number]
            if not of_key:
                del entries[key]
            pruned[key] = pruned.get(key, 0) + 1
        dropped = sum(pruned.values())
        self._size -= dropped
        self.next_expiry = heap[0][0] if heap else NEVER
        if should_shrink(len(entries), self._peak):  # give the memory back
            shrink(entries)
            self._peak = len(entries)
        if self._on_change is not None:
            for key, count in pruned.items():
                self._on_change(CacheEntryPruned(key=key, now=now, count=count))
        return dropped

    def cache_keys(self) -> tuple[str, ...]:
        """Every key with an entry (for a journal's image)."""
        return tuple(self._entries)

    def entries(self, key: str) -> tuple[CacheEntry, ...]:
        """Return the entries of ``key``, oldest first, expired ones not yet pruned included."""
        return tuple(self._entries.get(key, {}).values())

    def check_invariants(self) -> None:
        """Raise AssertionError if the table is inconsistent.

        Every key has entries of its own, the size is counted right, and the expiry heap
        holds exactly the entries that expire, under their expiration.
        """
        expiring: list[tuple[datetime, int, str]] = []
        size = 0
        for key, entries in self._entries.items():
            check(bool(entries), f"cache key {key!r} is listed with no entry")
            size += len(entries)
            for number, entry in entries.items():
                check(entry.key == key, f"entry {entry!r} is filed under {key!r}")
                if entry.expiration is not None:
                    expiring.append((entry.expiration, number, key))
        check(size == self._size, f"cache size is {self._size}, the keys hold {size}")
        check(
            sorted(expiring) == sorted(self._expiring),
            "the expiry heap differs from the entries that expire",
        )
        heap = self._expiring
        for index in range(1, len(heap)):
            check(heap[(index - 1) // 2] <= heap[index], "the expiry heap is not a heap")
        check(
            self.next_expiry == (heap[0][0] if heap else NEVER),
            f"next expiry {self.next_expiry} is not the earliest expiration",
        )

    def statistics(self) -> CacheStatistics:
        """Return how many keys and entries the table holds. O(1)."""
        return CacheStatistics(keys=len(self._entries), entries=self._size)

    def __repr__(self) -> str:
        return f"<CacheTable keys={len(self._entries)}>"

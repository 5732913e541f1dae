"""The cache table: cache entries by key, for the caching rules.

A plain synchronous container owned by one orchestrator and reached by rules through
:class:`~orchestrator._rules._context.RuleServices`. It never reads the clock: callers pass
``now``. Every change is reported, in order, to the ``on_change`` callback as a record
of :mod:`orchestrator._rules._table_events`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import final

import attrs

from .._core._checks import check_text
from .._core._clock import as_utc
from .._core._states import State
from ._table_events import CacheEntryAdded, CacheEntryPruned, CacheEvent

__all__ = ["CacheEntry", "CacheStatistics", "CacheTable", "check"]


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

    Expired entries are dropped lazily, when a lookup of their key meets them, or all at
    once by :meth:`prune`.

    Args:
        on_change: called with a :data:`CacheEvent` for every entry added or pruned.
    """

    __slots__ = ("_entries", "_on_change")

    def __init__(self, on_change: Callable[[CacheEvent], None] | None = None) -> None:
        self._entries: dict[str, list[CacheEntry]] = {}
        self._on_change = on_change

    def insert(self, key: str, expiration: datetime | None, state: State) -> CacheEntry:
        """Record ``state`` as the newest entry of ``key`` until ``expiration``. O(1).

        Raises:
            InvalidArgument: ``key`` is not a non-empty string or ``expiration`` is naive.
        """
        check_text(key, "a cache key")
        if expiration is not None:
            expiration = as_utc(expiration, "cache expiration")
        entry = CacheEntry(key, expiration, state)
        self._entries.setdefault(key, []).append(entry)
        if self._on_change is not None:
            self._on_change(CacheEntryAdded(key=key, expiration=expiration, state=state))
        return entry

    def lookup(self, key: str, now: datetime) -> State | None:
        """Return the state of the newest entry of ``key`` live at ``now``, or None.

        Drops the key's expired entries on the way. O(entries of the key).
        """
        entries = self._entries.get(key)
        if entries is None:
            return None
        live = [entry for entry in entries if entry.expiration is None or entry.expiration > now]
        if len(live) != len(entries):
            self._drop_expired(key, live, now, len(entries) - len(live))
        return live[-1].state if live else None

    def prune(self, now: datetime) -> int:
        """Drop every entry expired at ``now`` and return how many. O(entries)."""
        dropped = 0
        for key, entries in list(self._entries.items()):
            live = [entry for entry in entries if entry.is_live(now)]
            if len(live) != len(entries):
                dropped += len(entries) - len(live)
                self._drop_expired(key, live, now, len(entries) - len(live))
        return dropped

    def entries(self, key: str) -> tuple[CacheEntry, ...]:
        """Return the entries of ``key``, oldest first, expired ones included."""
        return tuple(self._entries.get(key, ()))

    def _drop_expired(self, key: str, live: list[CacheEntry], now: datetime, count: int) -> None:
        if live:
            self._entries[key] = live
        else:
            del self._entries[key]
        if self._on_change is not None:
            self._on_change(CacheEntryPruned(key=key, now=now, count=count))

    def check_invariants(self) -> None:
        """Raise AssertionError if the table is inconsistent (every key has entries of its own)."""
        for key, entries in self._entries.items():
            check(bool(entries), f"cache key {key!r} is listed with no entry")
            for entry in entries:
                check(entry.key == key, f"entry {entry!r} is filed under {key!r}")

    def statistics(self) -> CacheStatistics:
        """Return how many keys and entries the table holds. O(keys)."""
        return CacheStatistics(
            keys=len(self._entries), entries=sum(map(len, self._entries.values()))
        )

    def __repr__(self) -> str:
        return f"<CacheTable keys={len(self._entries)}>"

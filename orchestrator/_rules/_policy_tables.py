"""The tables the built-in rules consult: tag concurrency slots (and the cache table).

:class:`SlotTable` is a plain synchronous container owned by one orchestrator (the
engine exposes it to rules through :class:`~orchestrator._rules._context.RuleServices`); it
never reads the clock: callers pass ``now``. Every change is reported, in order, to the
``on_change`` callback as a record of :mod:`orchestrator._rules._table_events`.
:class:`~orchestrator._rules._cache_table.CacheTable` lives in its own module and is
re-exported here, so the engine finds both tables in one place.

:class:`SlotTable` is the tag concurrency of task runs. A run takes one slot on every
limited tag of its own at once or none at all. A run refused because a tag is full
joins that tag's waiter queue, and from then on the free slots of the tag go to its
waiters first come first served: a run is refused while the waiters ahead of it claim
every free slot. ``on_free(tag)`` tells the engine when a waiter of ``tag`` may now
succeed, so it can wake it instead of polling.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final, final

import attrs

from .._core._checks import check_count, check_text
from .._core._clock import as_utc
from .._core._errors import InvalidArgument, ObjectNotFound
from .._core._models import ConcurrencyLimit
from .._core._outcomes import SlotOutcome
from ._cache_table import CacheEntry, CacheStatistics, CacheTable, check
from ._table_events import (
    LimitCreated,
    LimitDeleted,
    LimitReset,
    LimitUpdated,
    SlotEvent,
    SlotsFreed,
    SlotsTaken,
)

__all__ = ["CacheEntry", "CacheStatistics", "CacheTable", "SlotStatistics", "SlotTable"]


# -- tag concurrency slots ------------------------------------------------------------------


@attrs.define(eq=False, kw_only=True)
class _Limit:
    id: uuid.UUID
    tag: str
    limit: int
    created: datetime
    updated: datetime
    holders: set[uuid.UUID] = attrs.field(factory=set)
    # An insertion-ordered dict is the FIFO: O(1) append, O(1) removal of any waiter.
    waiters: dict[uuid.UUID, None] = attrs.field(factory=dict)

    def admits(self, run_id: uuid.UUID) -> bool:
        """True when a slot is free for ``run_id`` once the waiters ahead of it are served."""
        free = self.limit - len(self.holders)
        if free <= 0:
            return False
        waiters = self.waiters
        if run_id not in waiters:
            return len(waiters) < free
        return run_id in itertools.islice(waiters, free)

    def snapshot(self) -> ConcurrencyLimit:
        return ConcurrencyLimit(
            id=self.id,
            tag=self.tag,
            concurrency_limit=self.limit,
            active_slots=frozenset(self.holders),
            created=self.created,
            updated=self.updated,
        )


@final
@attrs.frozen(kw_only=True)
class SlotStatistics:
    """What a :class:`SlotTable` holds.

    Attributes:
        limits: how many tags are limited.
        held_slots: slots taken, summed over the tags.
        holding_runs: distinct runs holding at least one slot.
        waiting_runs: distinct runs in at least one waiter queue.
    """

    limits: int
    held_slots: int
    holding_runs: int
    waiting_runs: int


_ACQUIRED: Final = SlotOutcome(acquired=True)


def _by_tag(limit: _Limit) -> str:
    return limit.tag


def _ignore_free(tag: str) -> None:
    pass


def _ignore_change(event: SlotEvent) -> None:
    pass


@final
class SlotTable:
    """Tag concurrency limits, the runs holding their slots, and the runs waiting for one.

    A limit of 0 refuses every run at once (it never queues one). Changing a limit
    affects later acquisitions only: the runs holding a slot keep it. Deleting a limit
    drops its holders' claims on it and lets its waiters go.

    Args:
        on_free: called with a tag whenever a run in that tag's waiter queue may now get
            an answer: a slot freed, a waiter left, the limit was raised, deleted or set
            to 0 (the waiters will be refused for good). Wake the waiters, nothing more:
            it runs inside the table's operation.
        on_change: called with a :data:`SlotEvent` for every limit created, updated,
            reset or deleted and every set of slots taken or freed.
    """

    __slots__ = ("_held", "_limits", "_on_change", "_on_free", "_waiting")

    def __init__(
        self,
        on_free: Callable[[str], None] | None = None,
        on_change: Callable[[SlotEvent], None] | None = None,
    ) -> None:
        self._limits: dict[str, _Limit] = {}
        self._held: dict[uuid.UUID, set[str]] = {}  # run -> tags it holds a slot on
        self._waiting: dict[uuid.UUID, set[str]] = {}  # run -> tags it waits for
        self._on_free = _ignore_free if on_free is None else on_free
        self._on_change = _ignore_change if on_change is None else on_change

    # -- limits ---------------------------------------------------------------------------
    def upsert(
        self, tag: str, limit: int, *, now: datetime, id: uuid.UUID | None = None
    ) -> ConcurrencyLimit:
        """Create the limit on ``tag`` or change it; return the limit as it now stands.

        ``id`` names a new limit (a random one if None) and is ignored on an update. The
        runs holding a slot keep it; raising the limit lets waiters in. O(1).

        Raises:
            InvalidArgument: ``tag`` is not a non-empty string or ``limit`` not an int >= 0.
        """
        check_text(tag, "a concurrency limit's tag")
        check_count(limit, "a concurrency limit", context=f"for tag {tag!r}")
        now = as_utc(now, "now")
        entry = self._limits.get(tag)
        if entry is None:
            entry = _Limit(id=uuid.uuid4() if id is None else id, tag=tag, limit=limit,
                           created=now, updated=now)  # fmt: skip
            self._limits[tag] = entry
            self._on_change(LimitCreated(id=entry.id, tag=tag, limit=limit, at=now))
            return entry.snapshot()
        # Waiters may now get a slot (raised), or learn at once that they never will (0).
        wake = limit > entry.limit or limit == 0
        entry.limit = limit
        entry.updated = now
        self._on_change(LimitUpdated(tag=tag, limit=limit, at=now))
        if wake and entry.waiters:
            self._on_free(tag)
        return entry.snapshot()

    def get(self, tag: str) -> ConcurrencyLimit | None:
        """Return a snapshot of the limit on ``tag``, or None. O(slots held on it)."""
        entry = self._limits.get(tag)
        return None if entry is None else entry.snapshot()

    def all(self) -> list[ConcurrencyLimit]:
        """Return a snapshot of every limit, sorted by tag."""
        return [self._limits[tag].snapshot() for tag in sorted(self._limits)]

    def delete(self, tag: str) -> ConcurrencyLimit:
        """Delete the limit on ``tag`` and return it as it stood; its waiters may go.

        Raises:
            ObjectNotFound: no limit on ``tag``.
        """
        entry = self._pop_limit(tag)
        for run_id in entry.holders:
            self._unindex(self._held, run_id, tag)
        for run_id in entry.waiters:
            self._unindex(self._waiting, run_id, tag)
        self._on_change(LimitDeleted(tag=tag))
        if entry.waiters:
            self._on_free(tag)
        return entry.snapshot()

    def reset(
        self, tag: str, slot_override: Iterable[uuid.UUID] | None = None, *, now: datetime
    ) -> ConcurrencyLimit:
        """Replace the holders of ``tag``'s slots by ``slot_override`` (none if None).

        Raises:
            ObjectNotFound: no limit on ``tag``.
            InvalidArgument: ``slot_override`` holds something other than UUIDs.
        """
        entry = self._limits.get(tag)
        if entry is None:
            raise ObjectNotFound("concurrency limit", repr(tag), "create it with upsert first")
        holders = set(() if slot_override is None else slot_override)
        for run_id in holders:
            if not isinstance(run_id, uuid.UUID):
                raise InvalidArgument(f"slot_override must hold run ids (UUIDs), got {run_id!r}")
        now = as_utc(now, "now")
        for run_id in entry.holders - holders:
            self._unindex(self._held, run_id, tag)
        for run_id in holders - entry.holders:
            self._held.setdefault(run_id, set()).add(tag)
            if run_id in entry.waiters:
                del entry.waiters[run_id]
                self._unindex(self._waiting, run_id, tag)
        entry.holders = holders
        entry.updated = now
        self._on_change(LimitReset(tag=tag, active_slots=tuple(sorted(holders)), at=now))
        if entry.waiters and len(holders) < entry.limit:
            self._on_free(tag)
        return entry.snapshot()

    # -- slots ----------------------------------------------------------------------------
    def acquire(self, run_id: uuid.UUID, tags: Iterable[str]) -> SlotOutcome:
        """Take one slot for ``run_id`` on every limited tag of ``tags``, or none at all.

        A tag the run already holds never refuses it. A limit of 0 refuses at once
        (``zero_limit``, the first such tag by name); a full tag, or one whose free slots
        the waiters ahead claim, refuses with ``blocked`` (every such tag, sorted) and
        queues the run on it. Success leaves every waiter queue. O(tags + free slots).
        """
        limits = self._limits
        relevant = [limits[tag] for tag in tags if tag in limits] if limits else None
        if not relevant:
            if run_id in self._waiting:
                self.forget_waiter(run_id)
            return _ACQUIRED
        if len(relevant) > 1:
            relevant.sort(key=_by_tag)
        needed: list[_Limit] = []
        blocked: list[_Limit] = []
        for entry in relevant:
            if run_id in entry.holders:
                continue
            if entry.limit == 0:
                # The run will abort: it must not keep a place in any queue.
                self.forget_waiter(run_id)
                return SlotOutcome(acquired=False, zero_limit=entry.tag)
            (needed if entry.admits(run_id) else blocked).append(entry)
        if blocked:
            return self._refuse(run_id, blocked)
        waiting = self._waiting.pop(run_id, None)
        if not needed:
            if waiting is not None:
                self._leave_queues(run_id, waiting)
            return _ACQUIRED
        taken = tuple(entry.tag for entry in needed)
        for entry in needed:
            entry.holders.add(run_id)
            if waiting is not None and entry.tag in waiting:
                del entry.waiters[run_id]
                waiting.discard(entry.tag)
        held = self._held.get(run_id)
        if held is None:
            self._held[run_id] = set(taken)
        else:
            held.update(taken)
        self._on_change(SlotsTaken(run_id=run_id, tags=taken))
        if waiting:
            self._leave_queues(run_id, waiting)
        return SlotOutcome(acquired=True, taken=taken)

    def _refuse(self, run_id: uuid.UUID, blocked: list[_Limit]) -> SlotOutcome:
        for entry in blocked:
            if run_id not in entry.waiters:
                entry.waiters[run_id] = None
                self._waiting.setdefault(run_id, set()).add(entry.tag)
        return SlotOutcome(acquired=False, blocked=tuple(entry.tag for entry in blocked))

    def _leave_queues(self, run_id: uuid.UUID, tags: Iterable[str]) -> None:
        # The run's place in these queues may have held back the waiters behind it.
        for tag in sorted(tags):
            entry = self._limits[tag]
            del entry.waiters[run_id]
            # Always signal: the runs behind may now be admitted, and a worker still
            # waiting for this run (whose place was taken from it) must wake to see that.
            self._on_free(tag)

    def release(self, run_id: uuid.UUID, tags: Iterable[str]) -> None:
        """Give back the slots ``run_id`` holds on ``tags``; holding none is fine. O(tags)."""
        held = self._held.get(run_id)
        if held is None:
            return
        freed = sorted(tag for tag in tags if tag in held)
        if freed:
            self._free(run_id, held, freed)

    def release_all(self, run_id: uuid.UUID) -> tuple[str, ...]:
        """Give back every slot ``run_id`` holds, whatever its tags now; return their tags."""
        held = self._held.get(run_id)
        if held is None:
            return ()
        freed = sorted(held)
        self._free(run_id, held, freed)
        return tuple(freed)

    def _free(self, run_id: uuid.UUID, held: set[str], freed: list[str]) -> None:
        limits = self._limits
        for tag in freed:
            limits[tag].holders.discard(run_id)
            held.discard(tag)
        if not held:
            del self._held[run_id]
        self._on_change(SlotsFreed(run_id=run_id, tags=tuple(freed)))
        for tag in freed:
            entry = limits[tag]
            if entry.waiters and len(entry.holders) < entry.limit:
                self._on_free(tag)

    def forget_waiter(self, run_id: uuid.UUID) -> None:
        """Take ``run_id`` out of every waiter queue (its state changed, or it is gone). O(tags)."""
        waiting_runs = self._waiting
        if not waiting_runs:  # mostly: no run waits (and a run id hashes in Python)
            return
        waiting = waiting_runs.pop(run_id, None)
        if waiting is not None:
            self._leave_queues(run_id, waiting)

    def held_by(self, run_id: uuid.UUID) -> frozenset[str]:
        """Return the tags on which ``run_id`` holds a slot."""
        return frozenset(self._held.get(run_id, ()))

    def waiters(self, tag: str) -> tuple[uuid.UUID, ...]:
        """Return the runs waiting for a slot on ``tag``, first come first."""
        entry = self._limits.get(tag)
        return () if entry is None else tuple(entry.waiters)

    # -- internals and checks ---------------------------------------------------------------
    def _pop_limit(self, tag: str) -> _Limit:
        try:
            return self._limits.pop(tag)
        except KeyError:
            raise ObjectNotFound("concurrency limit", repr(tag)) from None

    @staticmethod
    def _unindex(index: dict[uuid.UUID, set[str]], run_id: uuid.UUID, tag: str) -> None:
        tags = index[run_id]
        tags.discard(tag)
        if not tags:
            del index[run_id]

    def check_invariants(self) -> None:
        """Raise AssertionError unless both run indexes match the limits exactly."""
        held: dict[uuid.UUID, set[str]] = {}
        waiting: dict[uuid.UUID, set[str]] = {}
        for tag, entry in self._limits.items():
            check(entry.tag == tag, f"limit {entry.tag!r} is filed under {tag!r}")
            check(entry.limit >= 0, f"limit on {tag!r} is negative: {entry.limit}")
            both = entry.holders.intersection(entry.waiters)
            check(not both, f"runs {both} both hold and wait for a slot on {tag!r}")
            for run_id in entry.holders:
                held.setdefault(run_id, set()).add(tag)
            for run_id in entry.waiters:
                waiting.setdefault(run_id, set()).add(tag)
        check(held == self._held, f"holder index {self._held} != limits' holders {held}")
        check(waiting == self._waiting, f"waiter index {self._waiting} != limits' {waiting}")

    def statistics(self) -> SlotStatistics:
        """Return counts of limits, slots held, holding runs and waiting runs. O(limits)."""
        return SlotStatistics(
            limits=len(self._limits),
            held_slots=sum(len(entry.holders) for entry in self._limits.values()),
            holding_runs=len(self._held),
            waiting_runs=len(self._waiting),
        )

    def __repr__(self) -> str:
        return f"<SlotTable limits={len(self._limits)} holding_runs={len(self._held)}>"

"""The policy tables in the journal: their change records, replayed and imaged.

The cache, the tag concurrency limits and the deployment concurrency limits report
every change as a record of :mod:`orchestrator._rules._table_events`; a journaled
engine appends each as a :class:`~orchestrator._journal._records.TableChanged`.
:func:`apply_table_change` replays one onto the engine's table (the journal is muted
while restoring, so the table's own report of it is not journaled again), and
:func:`table_image` gives the records that rebuild the tables as they are now, for a
compaction's snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from .._journal._records import TableChanged
from .._rules._policy_tables import SlotTable
from .._rules._table_events import (
    CacheEntryAdded,
    CacheEntryPruned,
    LimitCreated,
    LimitDeleted,
    LimitReset,
    LimitUpdated,
    SlotsFreed,
    SlotsTaken,
)

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = [
    "TABLE_EVENT_TYPES",
    "apply_table_change",
    "deployment_slots_changed",
    "table_changed",
    "table_image",
]

#: The change records the codec must know.
TABLE_EVENT_TYPES: Final = (
    CacheEntryAdded,
    CacheEntryPruned,
    LimitCreated,
    LimitDeleted,
    LimitReset,
    LimitUpdated,
    SlotsFreed,
    SlotsTaken,
)


def _slot_table(engine: Engine, name: str) -> SlotTable:
    if name == "slots":
        return engine.slots
    if name == "deployment_slots":
        return engine.deployment_slots
    raise ValueError(f"unknown policy table {name!r}")


def apply_table_change(engine: Engine, record: TableChanged) -> None:
    """Replay one table change onto ``engine``'s table.

    Raises:
        ValueError: an unknown table or change.
    """
    event = record.event
    if record.table == "cache":
        if isinstance(event, CacheEntryAdded):
            engine.cache.insert(event.key, event.expiration, event.state)
        elif isinstance(event, CacheEntryPruned):
            engine.cache.prune(event.now)
        else:
            raise ValueError(f"not a cache change: {event!r}")
        return
    table = _slot_table(engine, record.table)
    if isinstance(event, SlotsTaken):
        table.acquire(event.run_id, event.tags)
    elif isinstance(event, SlotsFreed):
        table.release(event.run_id, event.tags)
    elif isinstance(event, LimitCreated):
        table.upsert(event.tag, event.limit, now=event.at, id=event.id)
    elif isinstance(event, LimitUpdated):
        table.upsert(event.tag, event.limit, now=event.at)
    elif isinstance(event, LimitReset):
        table.reset(event.tag, event.active_slots, now=event.at)
    elif isinstance(event, LimitDeleted):
        table.delete(event.tag)
    else:
        raise ValueError(f"not a slot table change: {event!r}")


def table_image(engine: Engine) -> Iterator[TableChanged]:
    """The records that rebuild the engine's policy tables as they are now."""
    cache = engine.cache
    for key in cache.cache_keys():
        for entry in cache.entries(key):
            yield TableChanged(
                "cache", CacheEntryAdded(key=key, expiration=entry.expiration, state=entry.state)
            )
    for name in ("slots", "deployment_slots"):
        for limit in _slot_table(engine, name).all():
            yield TableChanged(
                name,
                LimitCreated(
                    id=limit.id, tag=limit.tag, limit=limit.concurrency_limit, at=limit.created
                ),
            )
            yield TableChanged(
                name,
                LimitReset(
                    tag=limit.tag, active_slots=tuple(sorted(limit.active_slots)), at=limit.updated
                ),
            )


def table_changed(engine: Engine, event: object) -> None:
    """A cache or tag-slot table changed: journal it, then tell the observers."""
    if engine.journal is not None:
        cache = isinstance(event, CacheEntryAdded | CacheEntryPruned)
        engine.journal.append(TableChanged("cache" if cache else "slots", event))
    engine.notify(lambda o: o.policy_table_changed(event))


def deployment_slots_changed(engine: Engine, event: object) -> None:
    """The deployment slot table changed: journal it."""
    if engine.journal is not None:
        engine.journal.append(TableChanged("deployment_slots", event))

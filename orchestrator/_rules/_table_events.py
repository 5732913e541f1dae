"""Change records of the policy tables, for observers and the durability journal.

:class:`~orchestrator._rules._policy_tables.CacheTable` and
:class:`~orchestrator._rules._policy_tables.SlotTable` report every change they make as one of
these frozen records, in the order they make them. Each record holds plain values
(strings, integers, UUIDs, aware datetimes, states) and a ``type`` discriminator, so a
journal can serialise it, and replaying the records of a table in order onto an empty
table rebuilds it exactly (waiter queues excepted: a waiter proposes again after a
restart).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, final

import attrs

from .._core._states import State

__all__ = [
    "CacheEntryAdded",
    "CacheEntryPruned",
    "CacheEvent",
    "LimitCreated",
    "LimitDeleted",
    "LimitReset",
    "LimitUpdated",
    "SlotEvent",
    "SlotsFreed",
    "SlotsTaken",
]


@final
@attrs.frozen(kw_only=True)
class CacheEntryAdded:
    """A cache entry was recorded: ``state`` under ``key`` until ``expiration``."""

    key: str
    expiration: datetime | None
    state: State
    type: Literal["cache_entry_added"] = "cache_entry_added"


@final
@attrs.frozen(kw_only=True)
class CacheEntryPruned:
    """The entries of ``key`` that had expired at ``now`` (``count`` of them) were dropped."""

    key: str
    now: datetime
    count: int
    type: Literal["cache_entry_pruned"] = "cache_entry_pruned"


@final
@attrs.frozen(kw_only=True)
class LimitCreated:
    """A tag concurrency limit was created, holding no slot."""

    id: uuid.UUID
    tag: str
    limit: int
    at: datetime
    type: Literal["limit_created"] = "limit_created"


@final
@attrs.frozen(kw_only=True)
class LimitUpdated:
    """The limit on ``tag`` changed to ``limit``; the runs holding a slot keep it."""

    tag: str
    limit: int
    at: datetime
    type: Literal["limit_updated"] = "limit_updated"


@final
@attrs.frozen(kw_only=True)
class LimitDeleted:
    """The limit on ``tag`` was deleted; its holders' claims on it are gone."""

    tag: str
    type: Literal["limit_deleted"] = "limit_deleted"


@final
@attrs.frozen(kw_only=True)
class LimitReset:
    """The holders of the limit on ``tag`` were replaced by ``active_slots``."""

    tag: str
    active_slots: tuple[uuid.UUID, ...]
    at: datetime
    type: Literal["limit_reset"] = "limit_reset"


@final
@attrs.frozen(kw_only=True)
class SlotsTaken:
    """``run_id`` took one slot on each of ``tags`` (sorted), all at once."""

    run_id: uuid.UUID
    tags: tuple[str, ...]
    type: Literal["slots_taken"] = "slots_taken"


@final
@attrs.frozen(kw_only=True)
class SlotsFreed:
    """``run_id`` gave back its slot on each of ``tags`` (sorted)."""

    run_id: uuid.UUID
    tags: tuple[str, ...]
    type: Literal["slots_freed"] = "slots_freed"


#: What a :class:`CacheTable` reports.
CacheEvent = CacheEntryAdded | CacheEntryPruned
#: What a :class:`SlotTable` reports.
SlotEvent = LimitCreated | LimitUpdated | LimitDeleted | LimitReset | SlotsTaken | SlotsFreed

"""The engine's tables as rules see them: a :class:`RuleServices` over named parts.

Rules never reach the engine; they get this adapter, which holds only the tables a rule
may read or change (store reads, the cache, the slot table, the task queues). Every
method runs under the engine's lock, inside a transition.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import final

from .._core._models import ConcurrencyLimit, FlowRun, TaskRun
from .._core._outcomes import SlotOutcome
from .._core._states import State
from .._queues._registry import TaskQueues
from .._rules._context import RuleServices
from .._rules._policy_tables import CacheTable, SlotTable
from .._store._store import Store

__all__ = ["EngineServices"]


@final
class EngineServices(RuleServices):
    """The policy tables of one engine, as rules see them."""

    __slots__ = ("_cache", "_deployment_slots", "_queues", "_slots", "_store")

    def __init__(
        self,
        store: Store,
        cache: CacheTable,
        slots: SlotTable,
        queues: TaskQueues,
        deployment_slots: SlotTable | None = None,
    ) -> None:
        self._deployment_slots = SlotTable() if deployment_slots is None else deployment_slots
        self._store = store
        self._cache = cache
        self._slots = slots
        self._queues = queues

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRun | None:
        return self._store.get_flow_run(flow_run_id)

    def lookup_cache(self, key: str, now: datetime) -> State | None:
        return self._cache.lookup(key, now)

    def insert_cache(self, key: str, expiration: datetime | None, state: State) -> None:
        self._cache.insert(key, expiration, state)

    def acquire_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> SlotOutcome:
        return self._slots.acquire(run_id, tags)

    def release_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> None:
        self._slots.release(run_id, tags)

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit | None:
        return self._slots.get(tag)

    def enqueue(self, run: TaskRun, *, retry: bool) -> None:
        self._queues.put(run, retry=retry)

    def acquire_deployment_slot(self, run_id: uuid.UUID, deployment_id: uuid.UUID) -> SlotOutcome:
        return self._deployment_slots.acquire(run_id, (str(deployment_id),))

    def release_deployment_slot(self, run_id: uuid.UUID, deployment_id: uuid.UUID) -> None:
        self._deployment_slots.release(run_id, (str(deployment_id),))

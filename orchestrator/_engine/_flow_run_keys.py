"""Flow-run idempotency keys: find the run of a flow that already has a key.

A key is unique per flow (the reference's unique index is on flow and key), so a
deployment run shares the key space of every other run of its flow. The store files
every flow run by its key, so the lookup reads only the runs holding that key.
"""

from __future__ import annotations

import uuid

from .._core._models import FlowRun
from .._store._store import Store

__all__ = ["find_by_idempotency_key"]


def find_by_idempotency_key(store: Store, flow_id: uuid.UUID, key: str) -> FlowRun | None:
    """Return the run of ``flow_id`` whose idempotency key is ``key``, or None.

    O(runs holding ``key``), which is one per flow.
    """
    holders = store.flow_table.sets["idempotency_key"].get(key)
    if not holders:
        return None
    return next((run for run in holders if run.flow_id == flow_id), None)

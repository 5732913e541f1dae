"""What rules may reach beyond their transition context: the orchestrator's policy tables.

:class:`RuleServices` is the protocol of ``ctx.services``; the engine implements it
over its own tables (``orchestrator._engine._services``), and rule tests pass stubs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from .._core._models import ConcurrencyLimit, FlowRun, TaskRun
from .._core._outcomes import SlotOutcome
from .._core._states import State

__all__ = ["RuleServices"]


class RuleServices(Protocol):
    """What rules may read and do beyond the context: the orchestrator's policy tables.

    The engine implements this over its own tables; tests can pass any object with
    these methods. Every method is synchronous and runs under the engine's lock.
    """

    def read_flow_run(self, flow_run_id: uuid.UUID) -> FlowRun | None:
        """Return a flow run, or None when it does not exist."""
        ...

    def lookup_cache(self, key: str, now: datetime) -> State | None:
        """Return the state of the newest cache entry for ``key`` that is live at ``now``."""
        ...

    def insert_cache(self, key: str, expiration: datetime | None, state: State) -> None:
        """Record ``state`` under ``key`` until ``expiration`` (forever if None)."""
        ...

    def acquire_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> SlotOutcome:
        """Take one slot for ``run_id`` on every limited tag of ``tags``, all or nothing."""
        ...

    def release_slots(self, run_id: uuid.UUID, tags: frozenset[str]) -> None:
        """Give back the slots ``run_id`` holds on ``tags`` (holding none is fine)."""
        ...

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit | None:
        """Return the limit on ``tag``, or None."""
        ...

    def enqueue(self, run: TaskRun, *, retry: bool) -> None:
        """Put a deferred run on its task key's scheduled (or retry) queue."""
        ...

    def acquire_deployment_slot(self, run_id: uuid.UUID, deployment_id: uuid.UUID) -> SlotOutcome:
        """Take a slot of the deployment's concurrency limit for a flow run (if limited)."""
        ...

    def release_deployment_slot(self, run_id: uuid.UUID, deployment_id: uuid.UUID) -> None:
        """Give back the deployment slot the run holds (holding none is fine)."""
        ...

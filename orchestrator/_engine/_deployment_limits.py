"""Deployment concurrency limits in the engine's deployment slot table.

The table holds one limit per limited deployment, keyed by the text of its id; the
rule :class:`~orchestrator.policies.SecureDeploymentConcurrencySlots` takes the slots
and the engine's flow-run commit gives them back. These helpers keep the table in step
with the deployments' ``concurrency_limit``; both run under the engine's lock, after
every argument has been checked, and cannot fail.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Final

from .._core._models import Deployment
from .._core._states import StateType

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["drop_concurrency_limit", "set_concurrency_limit"]

#: The states in which a flow run holds its deployment's concurrency slot.
_ACTIVE: Final = frozenset({StateType.PENDING, StateType.RUNNING})


def set_concurrency_limit(
    engine: Engine, deployment: Deployment, limit: int | None, now: datetime
) -> None:
    """Give ``deployment`` the checked ``limit`` (None: none).

    A changed limit applies to later admissions; a limit set where there was none counts
    the deployment's runs already PENDING or RUNNING as holding their slots.
    """
    table = engine.deployment_slots
    key = str(deployment.id)
    had_limit = table.get(key) is not None
    deployment.concurrency_limit = limit
    if limit is None:
        if had_limit:
            table.delete(key)
        return
    table.upsert(key, limit, now=now)
    if not had_limit:
        active = [
            run.id
            for run in engine.store.flow_runs.values()
            if run.deployment_id == deployment.id and run.state_type in _ACTIVE
        ]
        table.reset(key, active, now=now)


def drop_concurrency_limit(engine: Engine, deployment_id: uuid.UUID) -> None:
    """Forget a deleted deployment's limit: its slots and its line of waiting runs."""
    key = str(deployment_id)
    if engine.deployment_slots.get(key) is not None:
        engine.deployment_slots.delete(key)

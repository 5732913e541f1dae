"""Journaling work pools, work queues and deployments, and replaying their records.

Pools and queues change rarely, so any change of one journals the image of all of them
(:class:`~orchestrator._journal._records.PoolsImage`); a deployment is journaled whole
after its creation or update. These objects are changed in place by the facets, which
call :func:`journal_pools` and :func:`journal_deployment` under the engine's lock once
the change is made (a journal that refuses it raises JournalError; the in-memory change
stays, and restore gives the last committed call).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._core._models import Deployment
from .._journal._records import DeploymentImage, DeploymentRemoved, PoolsImage, Record

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = [
    "apply_deployment",
    "apply_pools",
    "journal_deployment",
    "journal_deployment_removed",
    "journal_pools",
    "objects_image",
]


def _pools_image(engine: Engine) -> PoolsImage:
    table = engine.work_pools
    queues = tuple(queue for by_name in table.queues.values() for queue in by_name.values())
    return PoolsImage(tuple(table.pools.values()), queues)


def journal_pools(engine: Engine) -> None:
    """Journal every pool and queue as they are now (nothing without a journal)."""
    if engine.journal is not None:
        engine.journal.append(_pools_image(engine))


def journal_deployment(engine: Engine, deployment: Deployment) -> None:
    """Journal ``deployment`` as it is now (nothing without a journal)."""
    if engine.journal is not None:
        engine.journal.append(DeploymentImage(deployment))


def journal_deployment_removed(engine: Engine, deployment: Deployment) -> None:
    """Journal the deletion of ``deployment`` (nothing without a journal)."""
    if engine.journal is not None:
        engine.journal.append(DeploymentRemoved(deployment.id))


def apply_pools(engine: Engine, record: PoolsImage) -> None:
    """Make the engine's pools and queues those of ``record``."""
    table = engine.work_pools
    table.pools.clear()
    table.queues.clear()
    for pool in record.pools:
        table.pools[pool.name] = pool
        table.queues[pool.name] = {}
    for queue in record.queues:
        table.queues.setdefault(queue.work_pool_name, {})[queue.name] = queue


def apply_deployment(engine: Engine, record: DeploymentImage | DeploymentRemoved) -> None:
    """Add, replace or remove a deployment as ``record`` says."""
    store = engine.store
    if isinstance(record, DeploymentRemoved):
        store.remove_deployment(record.deployment_id)
        return
    deployment = record.deployment
    if store.get_deployment(deployment.id) is not None:
        store.remove_deployment(deployment.id)
    store.add_deployment(deployment)


def objects_image(engine: Engine) -> Iterator[Record]:
    """The records that rebuild the pools, queues and deployments as they are now."""
    yield _pools_image(engine)
    for deployment in engine.store.deployments.values():
        yield DeploymentImage(deployment)

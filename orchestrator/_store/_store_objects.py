"""The store's flows and deployments: plain tables by id (flows also by unique name).

Mixed into :class:`~orchestrator._store._store.Store` (as the queries and the state
methods are), so the store module keeps the run tables and their bookkeeping.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from .._core._errors import ObjectAlreadyExists, ObjectNotFound
from .._core._models import Deployment, Flow

__all__ = ["StoreObjects"]


class StoreObjects:
    """Flows (by id and by name) and deployments (by id): insert, read, remove, all O(1)."""

    __slots__ = ()

    if TYPE_CHECKING:
        _flows: dict[uuid.UUID, Flow]
        _flows_by_name: dict[str, Flow]
        _deployments: dict[uuid.UUID, Deployment]

    def add_flow(self, flow: Flow) -> None:
        """Insert a flow. O(1).

        Raises:
            ObjectAlreadyExists: its id or its name is taken.
        """
        if flow.id in self._flows:
            raise ObjectAlreadyExists(f"flow {flow.id} already exists")
        if flow.name in self._flows_by_name:
            raise ObjectAlreadyExists(f"a flow named {flow.name!r} already exists")
        self._flows[flow.id] = flow
        self._flows_by_name[flow.name] = flow

    def get_flow(self, flow_id: uuid.UUID, /) -> Flow | None:
        """Return the flow with this id, or None. O(1)."""
        return self._flows.get(flow_id)

    def get_flow_by_name(self, name: str, /) -> Flow | None:
        """Return the flow with this name, or None. O(1)."""
        return self._flows_by_name.get(name)

    def remove_flow(self, flow_id: uuid.UUID) -> Flow:
        """Remove a flow and return it (its runs and deployments are left alone).

        Raises:
            ObjectNotFound: no such flow.
        """
        flow = self._flows.pop(flow_id, None)
        if flow is None:
            raise ObjectNotFound("flow", flow_id)
        del self._flows_by_name[flow.name]
        return flow

    def add_deployment(self, deployment: Deployment) -> None:
        """Insert a deployment. O(1).

        Raises:
            ObjectAlreadyExists: its id is taken.
        """
        if deployment.id in self._deployments:
            raise ObjectAlreadyExists(f"deployment {deployment.id} already exists")
        self._deployments[deployment.id] = deployment

    def get_deployment(self, deployment_id: uuid.UUID, /) -> Deployment | None:
        """Return the deployment with this id, or None. O(1)."""
        return self._deployments.get(deployment_id)

    def remove_deployment(self, deployment_id: uuid.UUID) -> Deployment:
        """Remove a deployment and return it (its flow runs are left alone).

        Raises:
            ObjectNotFound: no such deployment.
        """
        deployment = self._deployments.pop(deployment_id, None)
        if deployment is None:
            raise ObjectNotFound("deployment", deployment_id)
        return deployment

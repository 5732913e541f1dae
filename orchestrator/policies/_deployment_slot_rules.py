"""Deployment concurrency: a flow run of a limited deployment takes a slot to start.

A deployment's ``concurrency_limit`` bounds how many of its flow runs are PENDING or
RUNNING at once. :class:`SecureDeploymentConcurrencySlots` takes the run's slot on its
way into PENDING or RUNNING (a run that already holds one keeps it and is never
blocked by itself) and hands the new state a lease id; a run refused a slot is sent
back to SCHEDULED, named "AwaitingConcurrencySlot", due a little later, and keeps its
place in the deployment's first-come-first-served line. The engine gives the slot back
when the run commits any state other than PENDING or RUNNING, or is deleted.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import ClassVar, Final, final

import attrs

from .._core._checks import check_seconds
from .._core._models import FlowRun
from .._core._states import Scheduled, StateType
from .._rules._context import TransitionContext
from .._rules._rule import Rule, StateTypes

__all__ = ["SecureDeploymentConcurrencySlots"]

_TAKEN: Final = "SecureDeploymentConcurrencySlots.taken"
#: The name of the SCHEDULED state a run refused a slot is sent back to.
AWAITING_CONCURRENCY_SLOT: Final = "AwaitingConcurrencySlot"


@final
@attrs.frozen
class SecureDeploymentConcurrencySlots(Rule):
    """→PENDING or RUNNING: take a slot of the run's deployment, or send the run back.

    * no deployment, or a deployment without a limit: nothing to do;
    * the run already holds its slot (PENDING → RUNNING): it keeps it, and the lease id
      of the state it leaves is carried onto the new one;
    * a limit of 0: ABORT (the run could never start);
    * no free slot for it (the runs waiting before it come first): REJECT into
      SCHEDULED "AwaitingConcurrencySlot", due ``wait_seconds`` from now;
    * otherwise the slot is taken and the new state gets a fresh
      ``deployment_concurrency_lease_id``.

    Args:
        wait_seconds: how long after a refusal the run is due again (> 0).
    """

    to_states: ClassVar[StateTypes] = frozenset({StateType.PENDING, StateType.RUNNING})
    wait_seconds: float = 30.0

    def __attrs_post_init__(self) -> None:
        check_seconds(self.wait_seconds, "wait_seconds", positive=True)

    def before(self, ctx: TransitionContext) -> None:
        """Take the slot, keep the one held, or abort or reject."""
        run = ctx.run
        if not isinstance(run, FlowRun) or run.deployment_id is None:
            return
        deployment_id = run.deployment_id
        outcome = ctx.services.acquire_deployment_slot(run.id, deployment_id)
        if outcome.acquired:
            if outcome.taken:
                ctx.parameters[_TAKEN] = deployment_id
                lease = uuid.UUID(int=ctx.random.getrandbits(128), version=4)
                ctx.update_details(deployment_concurrency_lease_id=lease)
            else:
                self._keep_lease(ctx)
            return
        if outcome.zero_limit is not None:
            ctx.abort(
                "The deployment concurrency limit is 0 and will deadlock "
                "if the flow run tries to run again."
            )
            return
        ctx.reject(
            Scheduled(
                name=AWAITING_CONCURRENCY_SLOT,
                scheduled_time=ctx.now + timedelta(seconds=self.wait_seconds),
            ),
            "Deployment concurrency limit reached.",
        )

    @staticmethod
    def _keep_lease(ctx: TransitionContext) -> None:
        initial, proposed = ctx.initial, ctx.proposed
        if initial is None or proposed is None:
            return
        lease = initial.details.deployment_concurrency_lease_id
        if lease is not None and proposed.details.deployment_concurrency_lease_id is None:
            ctx.update_details(deployment_concurrency_lease_id=lease)

    def cleanup(self, ctx: TransitionContext) -> None:
        """Give back the slot this transition took."""
        deployment_id = ctx.parameters.pop(_TAKEN, None)
        if isinstance(deployment_id, uuid.UUID):
            ctx.services.release_deployment_slot(ctx.run.id, deployment_id)

"""A Hypothesis state machine for deployment concurrency limits.

Two deployments of one flow; random creations of their flow runs, proposals (through the
core flow policy) and forced exits from PENDING/RUNNING, deletions of runs and of a whole
deployment (replaced by a new one), limit changes (None, 0 to 3) and clock advances.

After every step ``check_invariants()`` must pass: no slot is held by a run that is not
PENDING or RUNNING of that deployment, no run waits for a slot unless it is SCHEDULED.
At every admission (a proposal that takes a run of a limited deployment from neither
PENDING nor RUNNING into one of them) fewer runs of that deployment than its limit were
PENDING or RUNNING before: the limit is never exceeded by an admission. Forced
proposals only leave PENDING/RUNNING here (a forced entry bypasses the rules, as in
Prefect), so the count of PENDING or RUNNING runs is exactly the count of slots held.
"""

from __future__ import annotations

import uuid
from typing import Final

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orchestrator import (
    Cancelled,
    Completed,
    Failed,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    State,
    StateType,
    VirtualClock,
)
from tests.test_deployment_concurrency import START

_ACTIVE: Final = frozenset({StateType.PENDING, StateType.RUNNING})
_PROPOSALS: Final = ("pending", "running", "completed", "failed", "cancelled", "scheduled")
_FORCED: Final = ("completed", "cancelled", "scheduled")


def _state(kind: str) -> State:
    makers = {
        "pending": Pending,
        "running": Running,
        "completed": Completed,
        "failed": Failed,
        "cancelled": Cancelled,
        "scheduled": Scheduled,
    }
    return makers[kind]()


class DeploymentConcurrencyMachine(RuleBasedStateMachine):
    """Random use of deployment limits; see the module docstring for what is checked."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock(START)
        self.orch = Orchestrator(clock=self.clock, seed=11)
        self.flow_id = self.orch.create_flow("etl").id
        self.made = 0
        self.deployments: list[uuid.UUID] = [self._new_deployment(1), self._new_deployment(2)]
        self.runs: list[uuid.UUID] = []
        self.admissions = 0

    def _new_deployment(self, limit: int | None) -> uuid.UUID:
        self.made += 1
        name = f"d{self.made}"
        return self.orch.create_deployment(self.flow_id, name, concurrency_limit=limit).id

    def _active(self, deployment_id: uuid.UUID) -> set[uuid.UUID]:
        return {
            run.id
            for run in self.orch.read_flow_runs()
            if run.deployment_id == deployment_id and run.state_type in _ACTIVE
        }

    @rule(which=st.integers(0, 1))
    def create_run(self, which: int) -> None:
        run = self.orch.create_flow_run_from_deployment(self.deployments[which])
        self.runs.append(run.id)

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), kind=st.sampled_from(_PROPOSALS))
    def propose(self, data: st.DataObject, kind: str) -> None:
        run_id = data.draw(st.sampled_from(self.runs))
        run = self.orch.read_flow_run(run_id)
        deployment_id = run.deployment_id
        assert deployment_id is not None
        was_active = run.state_type in _ACTIVE
        active_before = self._active(deployment_id)
        result = self.orch.set_flow_run_state(run_id, _state(kind))
        after = self.orch.read_flow_run(run_id).state_type
        if was_active or after not in _ACTIVE:
            return
        assert result.status is SetStateStatus.ACCEPT
        limit = self._limit(deployment_id)
        if limit is not None:
            self.admissions += 1
            assert len(active_before) < limit, (active_before, limit)

    def _limit(self, deployment_id: uuid.UUID) -> int | None:
        if deployment_id not in self.deployments:
            return None
        return self.orch.read_deployment(deployment_id).concurrency_limit

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), kind=st.sampled_from(_FORCED))
    def force_out(self, data: st.DataObject, kind: str) -> None:
        run_id = data.draw(st.sampled_from(self.runs))
        result = self.orch.set_flow_run_state(run_id, _state(kind), force=True)
        assert result.status is SetStateStatus.ACCEPT

    @precondition(lambda self: self.runs)
    @rule(data=st.data())
    def delete_run(self, data: st.DataObject) -> None:
        run_id = data.draw(st.sampled_from(self.runs))
        self.orch.delete_flow_run(run_id)
        self.runs.remove(run_id)

    @rule(which=st.integers(0, 1), limit=st.none() | st.integers(0, 3))
    def change_limit(self, which: int, limit: int | None) -> None:
        deployment = self.orch.update_deployment(self.deployments[which], concurrency_limit=limit)
        assert deployment.concurrency_limit == limit

    @rule(which=st.integers(0, 1), limit=st.none() | st.integers(0, 3))
    def replace_deployment(self, which: int, limit: int | None) -> None:
        self.orch.delete_deployment(self.deployments[which])
        self.deployments[which] = self._new_deployment(limit)

    @rule(seconds=st.sampled_from([1, 15, 30, 31]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def holds_together(self) -> None:
        self.orch.check_invariants()


DeploymentConcurrencyMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestDeploymentConcurrency = DeploymentConcurrencyMachine.TestCase

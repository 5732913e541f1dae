"""The store's self-check: every secondary index recomputed from the primary dicts.

Mixed into :class:`~orchestrator._store._store.Store` (as the queries, the state methods
and the flow and deployment tables are), so the store module keeps the run tables and
their bookkeeping.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from .._core._models import Deployment, Flow, FlowRun, TaskRun, has_drawn_key
from .._core._states import State

if TYPE_CHECKING:
    from ._state_ids import StateIds
    from ._table import RunTable
    from ._task_keys import TaskKeys

__all__ = ["StoreChecks"]


class StoreChecks:
    """``check_invariants``: what the store holds, recomputed and compared."""

    __slots__ = ()

    if TYPE_CHECKING:
        _task_table: RunTable[TaskRun]
        _flow_table: RunTable[FlowRun]
        _task_keys: TaskKeys
        _task_run_states: dict[uuid.UUID, list[State]]
        _flow_run_states: dict[uuid.UUID, list[State]]
        _task_run_state_count: int
        _flow_run_state_count: int
        _state_ids: StateIds
        _flows: dict[uuid.UUID, Flow]
        _flows_by_name: dict[str, Flow]
        _deployments: dict[uuid.UUID, Deployment]

        def find_task_run(
            self, flow_run_id: uuid.UUID | None, task_key: str, dynamic_key: str
        ) -> TaskRun | None: ...

    def check_invariants(self) -> None:
        """Recompute every secondary index from the primary dicts and compare.

        Raises:
            AssertionError: with a message naming the index, the record and the values.
        """
        self._task_table.check()
        self._flow_table.check()
        runs = self._task_table.runs
        expected_keys = {(r.flow_run_id, r.task_key, r.dynamic_key): r for r in runs.values()}
        if len(expected_keys) != len(runs):
            raise AssertionError("two task runs share an identity key")
        filed = 0  # runs with a drawn dynamic key are found by id, not filed
        for key, run in expected_keys.items():
            if self.find_task_run(*key) is not run:
                raise AssertionError(f"identity index misses task run {run.id}")
            filed += not has_drawn_key(run)
        if len(self._task_keys) != filed or sum(1 for _ in self._task_keys.runs()) != filed:
            raise AssertionError(
                f"identity index has {len(self._task_keys)} entries for {filed} task runs "
                "with a chosen dynamic key"
            )
        for name, states, table in (
            ("task run", self._task_run_states, self._task_table),
            ("flow run", self._flow_run_states, self._flow_table),
        ):
            if states.keys() != table.runs.keys():
                raise AssertionError(
                    f"{name} state histories: missing {sorted(table.runs.keys() - states.keys())}, "
                    f"extra {sorted(states.keys() - table.runs.keys())}"
                )
        for name, counted, histories in (
            ("task run", self._task_run_state_count, self._task_run_states),
            ("flow run", self._flow_run_state_count, self._flow_run_states),
        ):
            actual = sum(map(len, histories.values()))
            if counted != actual:
                raise AssertionError(
                    f"{name} state count is {counted}, the histories hold {actual}"
                )
        self._state_ids.check(self._task_run_states, self._flow_run_states)
        if {f.name: f for f in self._flows.values()} != self._flows_by_name:
            raise AssertionError("flows-by-name index differs from the flows")
        for flow_id, flow in self._flows.items():
            if flow.id != flow_id:
                raise AssertionError(f"flow filed under {flow_id} has id {flow.id}")
        for deployment_id, deployment in self._deployments.items():
            if deployment.id != deployment_id:
                raise AssertionError(
                    f"deployment filed under {deployment_id} has id {deployment.id}"
                )

"""A snapshot of everything an orchestrator holds, read through its public API.

:func:`take_snapshot` copies what a user can observe of an orchestrator into plain,
comparable values: the clock, the counts of :meth:`~orchestrator.Orchestrator.statistics`,
every task run and flow run (its fields, every state of its history and every decision
taken on it), flows, deployments, tag concurrency limits with their slot holders, the
task queues, work pools and their queues, claim leases and stored parameters. Two
snapshots compare equal when nothing observable changed in between, so a test of a
refused call reads::

    before = take_snapshot(orchestrator)
    with pytest.raises(InvalidArgument):
        orchestrator.set_task_run_state(run.id, Running(), force="no")
    assert take_snapshot(orchestrator) == before
    orchestrator.check_invariants()

Records are live objects the engine mutates in place, so their fields are copied (every
mapping and list in them, however deep). States and decisions are frozen values and are
kept as they are. Private fields (a leading underscore) are internal caches, not state.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, final

import attrs
from attrs import AttrsInstance

from orchestrator import (
    ConcurrencyLimit,
    Decision,
    Orchestrator,
    OrchestratorStatistics,
    State,
)
from orchestrator._engine._leases import PendingLeasesStatistics
from orchestrator._queues._records import TaskQueuesStatistics
from orchestrator.filters import FlowRunSort, TaskRunSort

__all__ = ["OrchestratorSnapshot", "RunSnapshot", "record_fields", "take_snapshot"]

#: A record's public fields, copied: field name -> value.
Fields = Mapping[str, Any]


def _copied(value: object) -> object:
    """``value`` with every mapping and list in it copied (other values are kept as they are)."""
    if isinstance(value, Mapping):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def record_fields(record: AttrsInstance) -> dict[str, Any]:
    """Return a copy of an attrs record's public fields (mappings and lists copied deeply)."""
    return {
        field.name: _copied(getattr(record, field.name))
        for field in attrs.fields(type(record))
        if not field.name.startswith("_")
    }


@final
@attrs.frozen
class RunSnapshot:
    """One run as it stands: its fields, its whole state history and its decisions."""

    fields: Fields
    history: tuple[State, ...]
    decisions: tuple[Decision, ...]


@final
@attrs.frozen
class OrchestratorSnapshot:
    """Everything observable of an orchestrator at one moment (see the module docstring)."""

    now: datetime
    statistics: OrchestratorStatistics
    task_runs: Mapping[uuid.UUID, RunSnapshot]
    flow_runs: Mapping[uuid.UUID, RunSnapshot]
    flows: tuple[Fields, ...]
    deployments: tuple[Fields, ...]
    concurrency_limits: tuple[ConcurrencyLimit, ...]
    task_queues: TaskQueuesStatistics
    work_pools: tuple[Fields, ...]
    work_queues: Mapping[str, tuple[Fields, ...]]
    leases: PendingLeasesStatistics
    stored_parameters: int

    @property
    def task_run_ids(self) -> frozenset[uuid.UUID]:
        """The ids of the task runs that exist."""
        return frozenset(self.task_runs)


def _histories(
    orchestrator: Orchestrator, ids: Sequence[uuid.UUID], *, flow: bool
) -> dict[uuid.UUID, RunSnapshot]:
    runs: dict[uuid.UUID, RunSnapshot] = {}
    for run_id in ids:
        if flow:
            record: AttrsInstance = orchestrator.read_flow_run(run_id)
            history = orchestrator.read_flow_run_states(run_id)
        else:
            record = orchestrator.read_task_run(run_id)
            history = orchestrator.read_task_run_states(run_id)
        decisions = orchestrator.read_decisions(run_id)
        runs[run_id] = RunSnapshot(record_fields(record), tuple(history), tuple(decisions))
    return runs


def take_snapshot(orchestrator: Orchestrator) -> OrchestratorSnapshot:
    """Copy everything observable of ``orchestrator`` (see :class:`OrchestratorSnapshot`)."""
    task_run_ids = [run.id for run in orchestrator.read_task_runs(sort=TaskRunSort.ID_DESC)]
    flow_run_ids = [run.id for run in orchestrator.read_flow_runs(sort=FlowRunSort.ID_DESC)]
    pools = orchestrator.read_work_pools()
    return OrchestratorSnapshot(
        now=orchestrator.clock.now(),
        statistics=orchestrator.statistics(),
        task_runs=_histories(orchestrator, task_run_ids, flow=False),
        flow_runs=_histories(orchestrator, flow_run_ids, flow=True),
        flows=tuple(record_fields(flow) for flow in orchestrator.read_flows()),
        deployments=tuple(record_fields(d) for d in orchestrator.read_deployments()),
        concurrency_limits=tuple(orchestrator.read_concurrency_limits()),
        task_queues=orchestrator.task_queues.statistics(),
        work_pools=tuple(record_fields(pool) for pool in pools),
        work_queues={
            pool.name: tuple(record_fields(q) for q in orchestrator.read_work_queues(pool.name))
            for pool in pools
        },
        leases=orchestrator.pending_leases.statistics(),
        stored_parameters=orchestrator.result_store.statistics().entries,
    )

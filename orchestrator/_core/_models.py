"""Records: task runs, flow runs and what they belong to.

Runs are identity-bearing, mutable ``attrs`` classes owned by the orchestrator's store:
the engine is their only writer. ``read_*`` methods hand out the live record so reads
cost nothing; treat it as read-only and change it through the orchestrator's
``update_*`` and ``set_*_state`` methods (``check_invariants()`` notices tampering).

Policies and limits are frozen values validated on construction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, final

import attrs

from ._drawn_keys import DRAWN_KEY, DynamicKeySlot
from ._run_policies import (
    DEFAULT_FLOW_POLICY,
    DEFAULT_TASK_POLICY,
    MAX_RETRY_DELAYS,
    FlowRunPolicy,
    TaskRunPolicy,
)
from ._states import State, StateDetails, StateType

__all__ = [
    "DRAWN_KEY",
    "MAX_RETRY_DELAYS",
    "ConcurrencyLimit",
    "Deployment",
    "Flow",
    "FlowRun",
    "FlowRunPolicy",
    "TaskRun",
    "TaskRunPolicy",
    "WorkPool",
    "WorkQueue",
    "has_drawn_key",
]


class _RunTimes:
    """Bookkeeping shared by task and flow runs (mixin; fields live on the subclasses)."""

    __slots__ = ()
    state: State | None
    expected_start_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    total_run_time: float

    @property
    def state_type(self) -> StateType | None:
        """The current state's type, or None before the first state."""
        state = self.state
        return None if state is None else state.type

    @property
    def state_name(self) -> str | None:
        """The current state's name, or None before the first state."""
        state = self.state
        return None if state is None else state.name

    @property
    def state_timestamp(self) -> datetime | None:
        """When the current state was committed."""
        state = self.state
        return None if state is None else state.timestamp

    @property
    def state_id(self) -> uuid.UUID | None:
        """The current state's id."""
        state = self.state
        return None if state is None else state.id

    def estimated_run_time(self, now: datetime) -> float:
        """Seconds spent running, counting the current RUNNING state up to ``now``."""
        state = self.state
        if state is not None and state.type is StateType.RUNNING and state.timestamp is not None:
            return self.total_run_time + (now - state.timestamp).total_seconds()
        return self.total_run_time

    def estimated_start_time_delta(self, now: datetime) -> float:
        """Seconds between the expected and the actual (or, if not started yet, current) start."""
        expected = self.expected_start_time
        if expected is None:
            return 0.0
        if self.start_time is not None:
            if self.start_time > expected:
                return (self.start_time - expected).total_seconds()
            return 0.0
        state = self.state
        if expected < now and (state is None or not state.is_final()):
            return (now - expected).total_seconds()
        return 0.0


@final
@attrs.define(eq=False, kw_only=True, weakref_slot=False)  # no weak references: 8 bytes less
class TaskRun(_RunTimes):
    """One execution of a task, with its current state and bookkeeping.

    Identity is ``(flow_run_id, task_key, dynamic_key)``; creating a run with the same
    three returns the existing one. ``run_count`` counts entries into RUNNING;
    ``total_run_time`` is float seconds. Times are aware UTC datetimes.
    """

    id: uuid.UUID
    name: str
    task_key: str
    dynamic_key: str
    flow_run_id: uuid.UUID | None = None
    cache_key: str | None = None
    cache_expiration: datetime | None = None
    task_version: str | None = None
    empirical_policy: TaskRunPolicy = DEFAULT_TASK_POLICY
    tags: frozenset[str] = frozenset()
    labels: Mapping[str, str] = attrs.field(factory=dict)
    task_inputs: Mapping[str, Any] = attrs.field(factory=dict)
    state: State | None = None
    run_count: int = 0
    flow_run_run_count: int = 0
    expected_start_time: datetime | None = None
    next_scheduled_start_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: float = 0.0
    created: datetime
    # The details the engine stamps on states proposed without details (run ids only),
    # shared by all of them to save memory; internal.
    _id_details: StateDetails | None = attrs.field(default=None, init=False, repr=False)
    updated: datetime

    def __repr__(self) -> str:
        state = "no state" if self.state is None else self.state.name
        return f"TaskRun({self.name!r}, key={self.task_key!r}, {state}, id={self.id})"

    def _repr_html_(self) -> str:
        from .._display import run_table  # display sits above the records

        return run_table(self)._repr_html_()


@final
@attrs.define(eq=False, kw_only=True, weakref_slot=False)  # no weak references: 8 bytes less
class FlowRun(_RunTimes):
    """One execution of a flow: the parent of task runs, or a job for a process worker.

    ``infrastructure_pid`` is a string or None, as in the reference: whatever identifies
    the infrastructure running the flow run (a container id, ``host:pid``). A
    :class:`~orchestrator.workers.ProcessWorker` records its command's process id as
    decimal text (``str(pid)``); read it back with ``int(run.infrastructure_pid)``.
    """

    id: uuid.UUID
    name: str
    flow_id: uuid.UUID
    deployment_id: uuid.UUID | None = None
    work_pool_name: str | None = None
    work_queue_name: str | None = None
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    job_variables: Mapping[str, Any] = attrs.field(factory=dict)
    tags: frozenset[str] = frozenset()
    labels: Mapping[str, str] = attrs.field(factory=dict)
    parent_task_run_id: uuid.UUID | None = None
    empirical_policy: FlowRunPolicy = DEFAULT_FLOW_POLICY
    state: State | None = None
    run_count: int = 0
    expected_start_time: datetime | None = None
    next_scheduled_start_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: float = 0.0
    infrastructure_pid: str | None = None
    created: datetime
    _id_details: StateDetails | None = attrs.field(default=None, init=False, repr=False)
    updated: datetime
    #: Create-or-return key: one run per flow and key (see ``create_flow_run``).
    idempotency_key: str | None = None
    #: The version of the flow's code this run runs (informational).
    flow_version: str | None = None
    #: Inputs given to the run by key, as ``resume_flow_run(run_input=...)`` stores them
    #: (read them with ``read_flow_run_input``); they go when the run is deleted.
    inputs: dict[str, Any] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        state = "no state" if self.state is None else self.state.name
        return f"FlowRun({self.name!r}, {state}, id={self.id})"

    @property
    def effective_start_time(self) -> datetime | None:
        """When the run started or, until it starts, when it is expected to.

        ``start_time`` if set, else ``expected_start_time``: the key of the start-time
        sorts (``FlowRunSort.START_TIME_*``) and of ``FlowRunFilterStartTime``'s bounds,
        as in the reference, so scheduled runs sort and filter by when they are due.
        """
        start = self.start_time
        return self.expected_start_time if start is None else start

    def _repr_html_(self) -> str:
        from .._display import run_table  # display sits above the records

        return run_table(self)._repr_html_()


@final
@attrs.define(eq=False, kw_only=True)
class Flow:
    """A named flow; flow runs and deployments point to it."""

    id: uuid.UUID
    name: str
    tags: frozenset[str] = frozenset()
    labels: Mapping[str, str] = attrs.field(factory=dict)
    created: datetime


@final
@attrs.define(eq=False, kw_only=True)
class Deployment:
    """How to run a flow: where (work pool and queue), with what, and how."""

    id: uuid.UUID
    name: str
    flow_id: uuid.UUID
    work_pool_name: str | None = None
    work_queue_name: str | None = None
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    job_variables: Mapping[str, Any] = attrs.field(factory=dict)
    command: Sequence[str] | None = None
    tags: frozenset[str] = frozenset()
    paused: bool = False
    #: The most flow runs of this deployment PENDING or RUNNING at once (None: no limit).
    concurrency_limit: int | None = None
    created: datetime
    updated: datetime


@final
@attrs.define(eq=False, kw_only=True)
class WorkPool:
    """A pool of work that workers of one type take flow runs from."""

    id: uuid.UUID
    name: str
    type: str = "process"
    base_job_template: Mapping[str, Any] = attrs.field(factory=dict)
    concurrency_limit: int | None = None
    is_paused: bool = False
    created: datetime
    updated: datetime
    #: The pool's default queue: runs and deployments given no queue go there, and it
    #: cannot be deleted. It keeps this role when renamed.
    default_queue_name: str = "default"


@final
@attrs.define(eq=False, kw_only=True)
class WorkQueue:
    """A queue within a work pool; a lower ``priority`` number is served first."""

    id: uuid.UUID
    name: str
    work_pool_name: str
    priority: int = 1
    concurrency_limit: int | None = None
    is_paused: bool = False
    last_polled: datetime | None = None
    created: datetime
    updated: datetime


@final
@attrs.frozen(kw_only=True)
class ConcurrencyLimit:
    """A tag concurrency limit: at most ``concurrency_limit`` runs with ``tag`` may run.

    ``active_slots`` holds the ids of the runs that hold a slot. A limit of 0 aborts
    any run with the tag instead of waiting forever.
    """

    id: uuid.UUID
    tag: str
    concurrency_limit: int
    active_slots: frozenset[uuid.UUID] = frozenset()
    created: datetime
    updated: datetime


# A drawn dynamic key is derived when read, not kept (see ._drawn_keys).
_KEY_SLOT: Final = TaskRun.__dict__["dynamic_key"]
_held_key: Final = _KEY_SLOT.__get__
TaskRun.dynamic_key = DynamicKeySlot(_KEY_SLOT)  # type: ignore[assignment,misc]


def has_drawn_key(run: TaskRun) -> bool:
    """Whether ``run``'s dynamic key is a drawn one, derived from its id (:data:`DRAWN_KEY`)."""
    return _held_key(run, TaskRun) is DRAWN_KEY

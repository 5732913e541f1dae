"""The records of an orchestrator's journal: one change each, in commit order.

The engine appends a record when it makes a change (see :mod:`._writer`); restoring
applies them in order (see :mod:`._replay`). A record holds the objects it changes as
they were right after the change: the writer encodes it at once, so the encoded text is
the copy and later changes of the live objects never reach it.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, NamedTuple

import attrs

from .._core._events import Decision
from .._core._models import (
    Deployment,
    Flow,
    FlowRun,
    FlowRunPolicy,
    TaskRun,
    WorkPool,
    WorkQueue,
)
from .._core._states import State

__all__ = [
    "COMMITTED_FIELDS",
    "DecisionMade",
    "MirroredDecisions",
    "RECORD_TYPES",
    "DeploymentImage",
    "DeploymentRemoved",
    "FlowAdded",
    "PlainDecision",
    "PoolsImage",
    "Record",
    "ResultDeleted",
    "ResultWritten",
    "RunImage",
    "RunRemoved",
    "StateCommitted",
    "StateDeleted",
    "TableChanged",
    "TaskKeyConfigured",
    "RunAdded",
    "RunHistory",
]


@attrs.frozen
class FlowAdded:
    """A flow was created."""

    flow: Flow


@attrs.frozen
class RunAdded:
    """A task or flow run entered the store (with no state yet; its first commit follows)."""

    run: TaskRun | FlowRun


@attrs.frozen
class RunHistory:
    """A run with its whole history, as a snapshot holds it (``run.state`` is the last
    of ``states``)."""

    run: TaskRun | FlowRun
    states: tuple[State, ...]


#: The run fields a commit changes (its bookkeeping), in :class:`StateCommitted` order;
#: a flow run has no ``flow_run_run_count`` (None in the record).
COMMITTED_FIELDS: Final = (
    "run_count",
    "flow_run_run_count",
    "total_run_time",
    "updated",
    "expected_start_time",
    "next_scheduled_start_time",
    "start_time",
    "end_time",
)


class StateCommitted(NamedTuple):
    """A state was committed to a run, with the bookkeeping the commit left.

    (A named tuple, not an attrs class: a log holds a million of them, and the wire
    writes them itself.)

    ``values`` holds the run's :data:`COMMITTED_FIELDS` after the commit; ``policy`` a
    flow run's policy (flow rules change it), None for a task run. Only these change in
    a commit (rules change no other field), so the record stays small. ``plain`` says
    the decision that follows was a plain acceptance (1; 2: a forced one creating the
    run), folded into this record (0: none folded).
    """

    run_id: uuid.UUID
    flow: bool
    state: State
    values: tuple[Any, ...]
    policy: FlowRunPolicy | None = None
    plain: int = 0


@attrs.frozen
class RunImage:
    """A run's fields changed without a new state (a rename, an update)."""

    run: TaskRun | FlowRun


@attrs.frozen
class RunRemoved:
    """A run was deleted with its states (``flow``: a flow run, else a task run)."""

    run_id: uuid.UUID
    flow: bool


@attrs.frozen
class StateDeleted:
    """One past state was deleted from its run's history."""

    state_id: uuid.UUID
    flow: bool


@attrs.frozen
class ResultWritten:
    """A value was stored in the result store (parameters of a submitted run, a result)."""

    key: str
    value: Any


@attrs.frozen
class ResultDeleted:
    """A value was deleted from the result store."""

    key: str


@attrs.frozen
class PoolsImage:
    """Every work pool and work queue, after a change of any (they change rarely)."""

    pools: tuple[WorkPool, ...]
    queues: tuple[WorkQueue, ...]


@attrs.frozen
class DeploymentImage:
    """A deployment as a creation or an update left it."""

    deployment: Deployment


@attrs.frozen
class DeploymentRemoved:
    """A deployment was deleted."""

    deployment_id: uuid.UUID


@attrs.frozen
class DecisionMade:
    """A proposal was decided (journaled when the journal keeps decisions)."""

    decision: Decision


@attrs.frozen
class PlainDecision:
    """The run's last commit was a plain acceptance (by its default policy, with no rule
    speaking; ``forced``: a creation in a state): the decision reads back from the
    state, as the log keeps it."""

    run_id: uuid.UUID
    flow: bool
    forced: bool = False


@attrs.frozen
class MirroredDecisions:
    """A run's decisions are the plain acceptances of its history (a snapshot's form of
    the decision log's compact ``log``: ``2 * count + forced_first``)."""

    run_id: uuid.UUID
    flow: bool
    log: int


@attrs.frozen
class TaskKeyConfigured:
    """The bounds of one task key's queues were set (the sizes in force after it)."""

    task_key: str
    scheduled_size: int
    retry_size: int


@attrs.frozen
class TableChanged:
    """A policy table changed: ``table`` is ``"cache"``, ``"slots"`` (tag concurrency)
    or ``"deployment_slots"``; ``event`` is the table's own change record (the engine
    registers those classes with the codec)."""

    table: str
    event: Any


Record = (
    DecisionMade
    | PlainDecision
    | MirroredDecisions
    | TaskKeyConfigured
    | PoolsImage
    | DeploymentImage
    | DeploymentRemoved
    | TableChanged
    | ResultWritten
    | ResultDeleted
    | FlowAdded
    | RunAdded
    | RunHistory
    | StateCommitted
    | RunImage
    | RunRemoved
    | StateDeleted
)

#: Every record class, for the codec's registry of attrs classes it may rebuild.
RECORD_TYPES: Final = (
    ResultWritten,
    ResultDeleted,
    TableChanged,
    TaskKeyConfigured,
    DecisionMade,
    PlainDecision,
    MirroredDecisions,
    PoolsImage,
    DeploymentImage,
    DeploymentRemoved,
    FlowAdded,
    RunAdded,
    RunHistory,
    RunImage,
    RunRemoved,
    StateDeleted,
)

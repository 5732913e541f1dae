"""The records of an orchestrator's journal: one change each, in commit order.

The engine appends a record when it makes a change (see :mod:`._writer`); restoring
applies them in order (see :mod:`._replay`). A record holds the objects it changes as
they were right after the change: the writer encodes it at once, so the encoded text is
the copy and later changes of the live objects never reach it.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import attrs

from .._core._models import Flow, FlowRun, TaskRun
from .._core._states import State

__all__ = [
    "RECORD_TYPES",
    "FlowAdded",
    "Record",
    "ResultDeleted",
    "ResultWritten",
    "RunImage",
    "RunRemoved",
    "StateCommitted",
    "StateDeleted",
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


@attrs.frozen
class StateCommitted:
    """A state was committed to a run: the run as the commit left it, and the state.

    ``run.state`` is ``state`` (replay makes it the same object as the history's last).
    """

    run: TaskRun | FlowRun
    state: State


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


Record = (
    ResultWritten
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
    FlowAdded,
    RunAdded,
    RunHistory,
    StateCommitted,
    RunImage,
    RunRemoved,
    StateDeleted,
)

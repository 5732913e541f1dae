"""The store's methods on single states: states by id, and undoing a part-done change.

Mixed into :class:`~orchestrator._store._store.Store` (as the queries are), so the store
module keeps the tables and their bookkeeping while this one keeps what the state-id
index (:mod:`._state_ids`) and the all-or-nothing commits need of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._core._models import FlowRun, TaskRun
from .._core._states import State

if TYPE_CHECKING:
    from ._state_ids import StateIds
    from ._table import RunTable

__all__ = ["StoreStates"]

#: The history of a run the store does not hold (shared; never mutated).
_NO_STATES: list[State] = []


class StoreStates:
    """State-by-id reads and removals, and the undo steps of a failed commit."""

    __slots__ = ()

    if TYPE_CHECKING:
        _task_table: RunTable[TaskRun]
        _flow_table: RunTable[FlowRun]
        _task_run_states: dict[uuid.UUID, list[State]]
        _flow_run_states: dict[uuid.UUID, list[State]]
        _state_ids: StateIds

        def _count_states(self, delta: int, *, flow: bool) -> None: ...

    def run_history(self, run: TaskRun | FlowRun, /) -> list[State]:
        """Return the run's live history, oldest first (do not mutate; empty if unknown). O(1)."""
        histories = self._task_run_states if isinstance(run, TaskRun) else self._flow_run_states
        return histories.get(run.id, _NO_STATES)

    # -- states by id ---------------------------------------------------------------------
    def has_state_id(self, state_id: uuid.UUID, /) -> bool:
        """Return whether a stored state, of a task run or a flow run, has this id. O(1)."""
        return state_id in self._state_ids

    def fresh_state_id(self, draw: Callable[[], int], /) -> int:
        """Return a new id (a UUID's int) from ``draw`` for a state about to be stored. O(1).

        No stored state has it; the store knows it as fresh when the state is appended.
        """
        return self._state_ids.fresh(draw)

    def check_state_id(self, state: State, /) -> None:
        """Refuse a state whose (client-chosen) id is already a stored state's. O(1).

        Raises:
            ObjectAlreadyExists: ``state.id`` is taken by a task-run or a flow-run state.
        """
        self._state_ids.check_free(state.id)

    def state_run_id(self, state_id: uuid.UUID, /, *, flow: bool) -> uuid.UUID | None:
        """Return the id of the task run (``flow=False``) or flow run holding this state. O(1)."""
        return self._state_ids.run_id(state_id, flow=flow)

    def get_run_state(self, state_id: uuid.UUID, /, *, flow: bool) -> State | None:
        """Return the task-run (``flow=False``) or flow-run state with this id, or None.

        O(1) to find its run, then O(length of the run's history).
        """
        histories = self._flow_run_states if flow else self._task_run_states
        return self._state_ids.find(state_id, histories, flow=flow, remove=False)

    def remove_run_state(self, state_id: uuid.UUID, /, *, flow: bool) -> State | None:
        """Take a task-run (``flow=False``) or flow-run state out of its history, or None.

        The run is not touched: the caller keeps its current state last in its history.
        """
        histories = self._flow_run_states if flow else self._task_run_states
        state = self._state_ids.find(state_id, histories, flow=flow, remove=True)
        if state is not None:
            self._count_states(-1, flow=flow)
        return state

    # -- undoing a change that failed part-way ------------------------------------------------
    def restore_run(self, run: TaskRun | FlowRun, before: Any) -> None:
        """Put back the run's state and indexed values from its snapshot ``before``.

        For a change that raised after it began: the run is filed again, exactly once in
        every index, under its previous values. Non-indexed fields are the caller's.
        """
        if isinstance(run, TaskRun):
            self._task_table.restore(run, before)
        else:
            self._flow_table.restore(run, before)

    def retract_state(self, run: TaskRun | FlowRun, state: State) -> None:
        """Take ``state`` off the end of the run's history if it is there (undo an append)."""
        task = isinstance(run, TaskRun)
        states = (self._task_run_states if task else self._flow_run_states).get(run.id)
        if states and states[-1] is state:
            states.pop()
            self._state_ids.discard(
                self._state_ids.task if task else self._state_ids.flow, (state,)
            )
            self._count_states(-1, flow=not task)

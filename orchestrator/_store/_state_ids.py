"""The state-id index: which run holds each committed state of a store.

Two dicts, one for task-run states and one for flow-run states, each mapping a state id
to the id of the run whose history holds the state. A state id is unique over both, so
testing whether an id is taken is one lookup in each. The dict entries are the whole
cost: keys and values are the states' and runs' own id objects, shared, not copies.
Finding the state itself is then a scan of one run's history, which is short.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import final

from .._core._errors import ObjectAlreadyExists
from .._core._indexes import shrink
from .._core._states import State

__all__ = ["StateIds"]


@final
class StateIds:
    """State id -> run id, task-run and flow-run states apart (see the module docstring)."""

    __slots__ = ("flow", "task")

    def __init__(self) -> None:
        #: Task-run state id -> task run id.
        self.task: dict[uuid.UUID, uuid.UUID] = {}
        #: Flow-run state id -> flow run id.
        self.flow: dict[uuid.UUID, uuid.UUID] = {}

    def compact(self) -> None:
        """Rebuild both maps so their memory fits what they hold (after mass deletes). O(n)."""
        shrink(self.task)
        shrink(self.flow)

    def __contains__(self, state_id: object) -> bool:
        """Whether any stored state, of a task run or a flow run, has this id. O(1)."""
        return state_id in self.task or state_id in self.flow

    def check_free(self, state_id: uuid.UUID | None) -> None:
        """Raise unless ``state_id`` is None or no stored state has it. O(1).

        Raises:
            ObjectAlreadyExists: a task-run or a flow-run state has this id.
        """
        if state_id is not None and (state_id in self.task or state_id in self.flow):
            raise ObjectAlreadyExists(
                f"state.id {state_id} is already the id of a stored state; state ids are "
                "unique: pass a state with another id, or with id=None to get a new one"
            )

    def add(self, table: dict[uuid.UUID, uuid.UUID], run_id: uuid.UUID, state: State) -> None:
        """File ``state`` of run ``run_id`` in ``table`` (``task`` or ``flow``). O(1).

        Raises:
            ValueError: the state has no id (it was never committed); nothing changes.
            ObjectAlreadyExists: its id is taken by another state; nothing changes.
        """
        state_id = state.id
        if state_id is None:
            raise ValueError(f"only committed states are stored, and {state!r} has no id")
        self.check_free(state_id)
        table[state_id] = run_id

    @staticmethod
    def discard(table: dict[uuid.UUID, uuid.UUID], states: Iterable[State]) -> None:
        """Forget ``states`` (a deleted run's history) in ``table``. O(len(states))."""
        for state in states:
            if state.id is not None:
                table.pop(state.id, None)

    def run_id(self, state_id: uuid.UUID, *, flow: bool) -> uuid.UUID | None:
        """The id of the task run (``flow=False``) or flow run holding this state, or None."""
        return (self.flow if flow else self.task).get(state_id)

    def find(
        self,
        state_id: uuid.UUID,
        histories: Mapping[uuid.UUID, list[State]],
        *,
        flow: bool,
        remove: bool,
    ) -> State | None:
        """Return the task-run (``flow=False``) or flow-run state ``state_id``, or None.

        ``histories`` are the runs' histories of that kind. ``remove`` takes the state out
        of its run's history and of the index. O(1) to find the run, then O(length of its
        history).
        """
        table = self.flow if flow else self.task
        run_id = table.get(state_id)
        if run_id is None:
            return None
        history = histories[run_id]
        for index in range(len(history) - 1, -1, -1):
            state = history[index]
            if state.id == state_id:
                if remove:
                    del history[index]
                    del table[state_id]
                return state
        raise AssertionError(f"state {state_id} is indexed under run {run_id} but not there")

    def check(
        self,
        task_histories: Mapping[uuid.UUID, list[State]],
        flow_histories: Mapping[uuid.UUID, list[State]],
    ) -> None:
        """Compare the index with the histories; raise AssertionError on the first difference."""
        for name, table, histories in (
            ("task run", self.task, task_histories),
            ("flow run", self.flow, flow_histories),
        ):
            held = 0
            for run_id, states in histories.items():
                for state in states:
                    held += 1
                    if state.id is None or table.get(state.id) != run_id:
                        raise AssertionError(
                            f"the state id index does not file state {state.id} under its "
                            f"{name} {run_id}"
                        )
            if len(table) != held:
                raise AssertionError(
                    f"the state id index holds {len(table)} {name} states, the histories {held}"
                )
        shared = self.task.keys() & self.flow.keys()
        if shared:
            raise AssertionError(f"state ids used by a task-run and a flow-run state: {shared}")

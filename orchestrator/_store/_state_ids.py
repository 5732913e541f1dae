"""The state-id index: which run holds each committed state of a store.

Two dicts, one for task-run states and one for flow-run states, each mapping a state id
to the id of the run whose history holds the state. A state id is unique over both, so
testing whether an id is taken is one lookup in each. The dict entries are the whole
cost: keys and values are the states' and runs' own id objects, shared, not copies.
Finding the state itself is then a scan of one run's history, which is short.

The index is built on first need. Until then it is empty and every stored state's id
is a *fresh* draw (:meth:`StateIds.fresh`: 122 random bits from the engine's seeded
source, as the int a state holds for its id), which no other state can have, so
nothing needs filing; the engine's own commits never look an id up (nor build the
UUID of a state id). The first id chosen by someone else (a client's state
id, a state stored directly), and the first read or deletion of a state by id, file
every stored state once, O(states); from then on the index is kept as every commit
goes. A store that only ever commits fresh ids saves a dict entry per state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import final

from .._core._errors import ObjectAlreadyExists
from .._core._held_ids import state_id_key, uuid_from_int
from .._core._indexes import shrink
from .._core._state_record import state_key
from .._core._states import State

__all__ = ["StateIds"]


@final
class StateIds:
    """State id -> run id, task-run and flow-run states apart (see the module docstring)."""

    __slots__ = ("_built", "_flow_histories", "_fresh", "_task_histories", "flow", "task")

    def __init__(
        self,
        task_histories: Mapping[uuid.UUID, list[State]],
        flow_histories: Mapping[uuid.UUID, list[State]],
    ) -> None:
        #: Task-run state id -> task run id (empty until built).
        self.task: dict[uuid.UUID, uuid.UUID] = {}
        #: Flow-run state id -> flow run id (empty until built).
        self.flow: dict[uuid.UUID, uuid.UUID] = {}
        # The store's histories (live), which building the index reads.
        self._task_histories = task_histories
        self._flow_histories = flow_histories
        self._built = False
        # The last fresh id (its int) handed out and not stored yet.
        self._fresh: int | None = None

    @property
    def built(self) -> bool:
        """Whether every stored state is filed (else none is: see the module docstring)."""
        return self._built

    def build(self) -> None:
        """File every stored state, once; a no-op when built. O(states) the first time.

        Raises:
            AssertionError: two stored states share an id (an integrity failure).
        """
        if self._built:
            return
        for table, histories in (
            (self.task, self._task_histories),
            (self.flow, self._flow_histories),
        ):
            for run_id, states in histories.items():
                for state in states:
                    if state.id is None or state.id in self.task or state.id in self.flow:
                        raise AssertionError(f"stored state {state!r} has no id or a taken one")
                    table[state.id] = run_id
        self._built = True

    def fresh(self, draw: Callable[[], int]) -> int:
        """Return a new id (a UUID's int) from ``draw`` that no stored state has. O(1).

        Until the index is built no stored id can be a fresh draw's, so none is looked up.
        """
        state_id = draw()
        if self._built:
            taken = uuid_from_int(state_id)
            while taken in self.task or taken in self.flow:  # a client took it first
                state_id = draw()
                taken = uuid_from_int(state_id)
        self._fresh = state_id
        return state_id

    def compact(self) -> None:
        """Rebuild both maps so their memory fits what they hold (after mass deletes). O(n)."""
        shrink(self.task)
        shrink(self.flow)

    def __contains__(self, state_id: object) -> bool:
        """Whether any stored state, of a task run or a flow run, has this id. O(1)."""
        self.build()
        return state_id in self.task or state_id in self.flow

    def check_free(self, state_id: uuid.UUID | None) -> None:
        """Raise unless ``state_id`` is None or no stored state has it. O(1).

        Raises:
            ObjectAlreadyExists: a task-run or a flow-run state has this id.
        """
        if state_id is not None and state_id in self:
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
        if state_key(state) is self._fresh is not None:  # the int, no UUID built
            self._fresh = None
            if not self._built:
                return  # a fresh draw needs no filing until the index is built
        state_id = state.id
        if state_id is None:
            raise ValueError(f"only committed states are stored, and {state!r} has no id")
        self.check_free(state_id)
        table[state_id] = run_id

    def add_restored(
        self, table: dict[uuid.UUID, uuid.UUID], run_id: uuid.UUID, states: Iterable[State]
    ) -> None:
        """File a restored run's ``states``, checked when they were first committed: only
        if the index is built (until then they count as fresh draws). O(len(states)).

        Raises:
            ObjectAlreadyExists: an id is taken (the states before it are filed).
        """
        if self._built:
            for state in states:
                self.check_free(state.id)
                table[state.id] = run_id  # type: ignore[index]

    def discard(self, table: dict[uuid.UUID, uuid.UUID], states: Iterable[State]) -> None:
        """Forget ``states`` (a deleted run's history) in ``table``. O(len(states))."""
        if not self._built:
            return
        for state in states:
            if state.id is not None:
                table.pop(state.id, None)

    def run_id(self, state_id: uuid.UUID, *, flow: bool) -> uuid.UUID | None:
        """The id of the task run (``flow=False``) or flow run holding this state, or None."""
        self.build()
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
        self.build()
        table = self.flow if flow else self.task
        run_id = table.get(state_id)
        if run_id is None:
            return None
        history = histories[run_id]
        key = state_id_key(state_id)  # compared without building the states' UUIDs
        for index in range(len(history) - 1, -1, -1):
            state = history[index]
            if state_key(state) == key:
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
        """Compare the index with the histories; raise AssertionError on the first difference.

        Before the index is built it must be empty and the stored ids distinct.
        """
        if not self._built:
            if self.task or self.flow:
                raise AssertionError("the state id index holds states before it was built")
            seen: set[uuid.UUID] = set()
            for histories in (task_histories, flow_histories):
                for states in histories.values():
                    for state in states:
                        if state.id is None or state.id in seen:
                            raise AssertionError(f"stored state {state!r} has no id or a taken one")
                        seen.add(state.id)
            return
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

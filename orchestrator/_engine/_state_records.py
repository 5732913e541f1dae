"""One committed state by its id: what ``read_*_run_state`` and ``delete_*_run_state`` do.

The store files every committed state by id, so finding one is O(1) plus a scan of its
run's history. Deleting a state takes it out of its run's history only: the run's
bookkeeping (run count, start and end times, ...) stays as it was, and the decision log
keeps saying what each decision moved from.

A run's *current* state cannot be deleted: the engine keeps a run's state as the last
of its history, and rules, leases and claims rely on it. The reference deletes it and
leaves the run pointing at no state; here the call is refused and says what to do
instead (propose a new state first, or delete the whole run).
"""

from __future__ import annotations

import uuid

from .._core._checks import check_id, wrong_value
from .._core._errors import ObjectNotFound
from .._core._states import State
from .._journal._records import StateDeleted
from ._engine import Engine

__all__ = ["delete_run_state", "read_run_state"]


def _kind(flow: bool) -> str:
    return "flow run" if flow else "task run"


def _not_found(state_id: uuid.UUID, flow: bool) -> ObjectNotFound:
    other = "read_task_run_state" if flow else "read_flow_run_state"
    return ObjectNotFound(
        f"{_kind(flow)} state",
        state_id,
        f"check the id, whether its run was deleted, or whether it is a state of a "
        f"{_kind(not flow)} (see {other})",
    )


def read_run_state(engine: Engine, state_id: object, *, flow: bool) -> State:
    """Return the task-run (``flow=False``) or flow-run state with id ``state_id``.

    Raises:
        InvalidArgument: ``state_id`` is not a UUID or a UUID string.
        ObjectNotFound: no such state.
    """
    checked = check_id(state_id, "state_id", text=True)
    with engine.lock:
        state = engine.store.get_run_state(checked, flow=flow)
    if state is None:
        raise _not_found(checked, flow)
    return state


def delete_run_state(engine: Engine, state_id: object, *, flow: bool) -> None:
    """Delete the task-run (``flow=False``) or flow-run state ``state_id`` from its history.

    Raises:
        InvalidArgument: ``state_id`` is not a UUID, or names its run's current state.
        ObjectNotFound: no such state.
    """
    checked = check_id(state_id, "state_id", text=True)
    with engine.lock:
        store = engine.store
        run_id = store.state_run_id(checked, flow=flow)
        if run_id is None:
            raise _not_found(checked, flow)
        run = engine.flow_run(run_id) if flow else engine.task_run(run_id)
        current = run.state
        if current is not None and current.id == checked:
            verb = "set_flow_run_state" if flow else "set_task_run_state"
            raise wrong_value(
                "state_id",
                state_id,
                "the id of a past state, not of a run's current state",
                context=(
                    f"(the current state of {_kind(flow)} {run_id}, which must stay the last "
                    f"of its history): propose a new state with {verb} first, or delete the "
                    f"whole run with delete_{_kind(flow).replace(' ', '_')}"
                ),
            )
        history = store.flow_run_states(run_id) if flow else store.task_run_states(run_id)
        index = next(i for i, state in enumerate(history) if state.id == checked)
        if engine.journal is not None:
            engine.journal.append(StateDeleted(checked, flow=flow))
        engine.decisions.before_state_deleted(run, history, index)
        store.remove_run_state(checked, flow=flow)

"""Stamping: turning the proposal that survived the rules into the state that is committed.

The committed state gets the commit's time (or the client's timestamp), the run's ids in
its details (shared along the history when equal, to save memory), the scheduled time for
a SCHEDULED state, and an id: the client's, if it chose one (refused when a stored state
has it), or a fresh one from the engine's seeded source that no stored state has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from .._core._models import FlowRun, TaskRun
from .._core._state_record import held_id, stamped_state
from .._core._states import State, StateType
from .._rules._bookkeeping import details_for_run
from .._rules._context import TransitionContext
from .._store._store import Store

__all__ = ["stamp"]

_SCHEDULED: Final = StateType.SCHEDULED


def stamp(
    run: TaskRun | FlowRun,
    ctx: TransitionContext,
    new_id: Callable[[], int],
    store: Store,
) -> State:
    """Return the state to commit for ``ctx``'s remaining proposal (see the module docstring).

    ``new_id`` draws a fresh state id as its 128-bit int (the engine's ``new_id_int``).

    Raises:
        ObjectAlreadyExists: the proposal's id is a stored state's.
    """
    proposed = ctx.proposed
    assert proposed is not None  # run_transition commits only a remaining proposal
    timestamp = ctx.now if proposed.timestamp is None else proposed.timestamp
    initial = ctx.initial
    details = details_for_run(
        run,
        proposed.details,
        timestamp if proposed.type is _SCHEDULED else None,
        None if initial is None else initial.details,
    )
    state_id = held_id(proposed)  # a client's id is kept, as in the reference
    if state_id is None:
        state_id = store.fresh_state_id(new_id)  # one no stored state has
    else:
        store.check_state_id(proposed)  # a rule may put a stored state in its place
    return stamped_state(
        proposed.type,
        proposed.name,
        timestamp,
        proposed.message,
        proposed.data,
        details,
        state_id,
    )

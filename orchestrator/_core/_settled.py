"""Settled runs: those nothing will move on by itself any more.

A run is *settled* when its state is terminal (COMPLETED, FAILED, CANCELLED, CRASHED),
or when it is PENDING with the name "NotReady": a run it depended on did not complete,
so it was never started and never will be. Waits on futures return on a settled run,
drains and the teardown guard do not count it as unfinished; only asking a NotReady
run for its result raises (:class:`~orchestrator.UnfinishedRun`).
"""

from __future__ import annotations

from typing import Final

from ._state_record import TERMINAL_TYPES, State, StateType

__all__ = ["NOT_READY", "is_not_ready", "is_settled"]

#: The name of the PENDING state of a run whose upstream run did not complete.
NOT_READY: Final = "NotReady"


def is_not_ready(state: State) -> bool:
    """Return whether ``state`` is the PENDING "NotReady" state of a run that never runs."""
    return state.type is StateType.PENDING and state.name == NOT_READY


def is_settled(state: State) -> bool:
    """Return whether ``state`` is terminal or "NotReady" (nothing moves the run on)."""
    return state.type in TERMINAL_TYPES or (
        state.type is StateType.PENDING and state.name == NOT_READY
    )

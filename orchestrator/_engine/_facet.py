"""The base of the :class:`~orchestrator.Orchestrator`'s facets, and their shared checks.

A facet is one slice of the public surface (task runs, flow runs, work pools, ...). It
holds no state: every method reaches the orchestrator's one :class:`Engine` through
``self._engine``. Facets do not inherit each other; ``Orchestrator`` lists them all.
"""

from __future__ import annotations

from .._core._errors import ArgumentTypeError
from .._core._states import State
from ._engine import Engine

__all__ = ["Facet", "check_state"]


class Facet:
    """A stateless slice of the Orchestrator's public methods over ``self._engine``."""

    __slots__ = ()
    _engine: Engine


def check_state(state: object) -> State:
    """Return ``state``; refuse anything that is not a :class:`State`."""
    if not isinstance(state, State):
        raise ArgumentTypeError(
            f"state must be a State such as Running() or Completed(data), got {state!r}"
        )
    return state

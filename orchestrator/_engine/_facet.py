"""The base of the :class:`~orchestrator.Orchestrator`'s facets, and their shared checks.

A facet is one slice of the public surface (task runs, flow runs, work pools, ...). It
holds no state: every method reaches the orchestrator's one :class:`Engine` through
``self._engine``. Facets do not inherit each other; ``Orchestrator`` lists them all.
"""

from __future__ import annotations

from .._core._state_checks import check_state
from ._engine import Engine

__all__ = ["Facet", "check_state"]


class Facet:
    """A stateless slice of the Orchestrator's public methods over ``self._engine``."""

    __slots__ = ()
    _engine: Engine

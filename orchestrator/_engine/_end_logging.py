"""End-state log lines: every task run and flow run that reaches a final state, at INFO.

The engine calls :func:`log_end_state` from its commit path on the
``orchestrator.engine`` logger, only for terminal states and only when that logger is
enabled for INFO (``logger.isEnabledFor`` is a cached look-up), so a transition pays
nothing for formatting while logging is off. The line names the run, its id, the state
and its message; failures' tracebacks are logged by the workers that saw them (on
``orchestrator.workers``).

The library configures no handler: set up logging as usual, for example
``logging.basicConfig(level="INFO")``. Without any configuration Python's last-resort
handler prints WARNING and above to stderr (the workers' failure tracebacks), and these
INFO lines go nowhere.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .._core._models import FlowRun, TaskRun
    from .._core._states import State

__all__ = ["engine_logger", "log_end_state"]

#: The engine's logger: run end states.
engine_logger: Final = logging.getLogger("orchestrator.engine")


def log_end_state(kind: str, run: TaskRun | FlowRun, state: State) -> None:
    """Log that ``run`` (a "task run" or a "flow run") ended in ``state``."""
    if state.message:
        engine_logger.info(
            "%s %r (%s) ended %s: %s", kind, run.name, run.id, state.name, state.message
        )
    else:
        engine_logger.info("%s %r (%s) ended %s", kind, run.name, run.id, state.name)

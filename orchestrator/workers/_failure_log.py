"""Failure log lines of a task worker: each failed call, with its traceback.

When a task's function raises (or times out), the worker proposes Failed and the policy
decides what becomes of it. :func:`log_failed_call` then logs on the
``orchestrator.workers`` logger, with the exception's traceback:

* WARNING when the run will be retried (the policy turned the failure into
  AwaitingRetry): which attempt failed and when the next one is due;
* ERROR when the failure is final.

Each line names the run and its id. The end state itself is logged at INFO by the
engine (``orchestrator.engine``). Nothing is formatted while the level is disabled.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from .._core._states import StateType

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from .._core._states import State

__all__ = ["log_failed_call"]

logger: Final = logging.getLogger("orchestrator.workers")

_FAILED: Final = StateType.FAILED
_SCHEDULED: Final = StateType.SCHEDULED


def log_failed_call(run: TaskRun, proposal: State, committed: State | None) -> None:
    """Log a call that failed (``proposal`` is FAILED) by what the policy made of it."""
    if proposal.type is not _FAILED or committed is None:
        return
    retried = committed.type is _SCHEDULED
    level = logging.WARNING if retried else logging.ERROR
    if not logger.isEnabledFor(level):
        return
    error = proposal.data
    exc_info = (type(error), error, error.__traceback__) if isinstance(error, Exception) else None
    message = proposal.message or proposal.name
    if retried:
        due = committed.details.scheduled_time or committed.timestamp
        logger.warning(
            "task run %r (%s): attempt %d failed, retrying at %s: %s",
            run.name,
            run.id,
            run.run_count,
            "now" if due is None else due.isoformat(),
            message,
            exc_info=exc_info,
        )
    else:
        logger.error(
            "task run %r (%s) failed after %d attempt%s (%s): %s",
            run.name,
            run.id,
            run.run_count,
            "" if run.run_count == 1 else "s",
            committed.name,
            message,
            exc_info=exc_info,
        )

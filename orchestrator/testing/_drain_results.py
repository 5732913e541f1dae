"""What the drain helpers return and raise.

A :class:`DrainResult` says what a drain did (the clock when it began and returned, its
jumps, the runs it saw finish, the failures it collected); a :class:`TaskFailure` is one
task run that ended FAILED or CRASHED meanwhile; :class:`DrainStalled` is raised when
unfinished task runs cannot progress, listing them. The drains themselves are in
:mod:`orchestrator.testing._drain`, which re-exports these names.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import final

import attrs

from .._core._errors import OrchestratorError
from .._core._states import State
from .._display import format_time
from ._stall import WaitingRun

__all__ = ["DrainResult", "DrainStalled", "TaskFailure"]


@final
@attrs.frozen(kw_only=True)
class TaskFailure:
    """A task run that ended FAILED or CRASHED while a drain ran.

    Attributes:
        run_id, name, task_key: which run.
        state: its final state (the exception, if any, is in ``state.data``).
    """

    run_id: uuid.UUID
    name: str
    task_key: str
    state: State

    @property
    def exception(self) -> Exception | None:
        """The exception the run failed with, or None when its state holds none."""
        data = self.state.data
        return data if isinstance(data, Exception) else None

    def describe(self) -> str:
        """Return one line: which run ended in which state, when, and with what message."""
        line = (
            f"task run {self.name!r} ({self.run_id}) ended {self.state.name} "
            f"at {format_time(self.state.timestamp)}"
        )
        if self.state.message:
            line += f": {self.state.message}"
        return line


@final
@attrs.frozen(kw_only=True)
class DrainResult:
    """What a drain did.

    Attributes:
        started, ended: the orchestrator's clock when the drain began and returned.
        jumps: how many times the drain moved the virtual clock.
        finished: task runs that reached a terminal state during the drain.
        failures: those that ended FAILED or CRASHED, in the order they did (only
            filled with ``fail_fast=False``; otherwise the first one was raised).
    """

    started: datetime
    ended: datetime
    jumps: int
    finished: int
    failures: tuple[TaskFailure, ...]


@final
class DrainStalled(OrchestratorError):
    """Raised by the drain helpers when unfinished task runs cannot progress.

    Attributes:
        waiting: every unfinished task run, with why it waits; ``str(error)`` lists them.
    """

    def __init__(self, message: str, waiting: Sequence[WaitingRun]) -> None:
        super().__init__(message)
        self.waiting: tuple[WaitingRun, ...] = tuple(waiting)

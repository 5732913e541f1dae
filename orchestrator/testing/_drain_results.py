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
from .._core._summary import STATE_COLOURS, format_time, summary_html
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
@attrs.frozen(kw_only=True, repr=False)
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

    @property
    def elapsed(self) -> float:
        """Seconds the drain took on the orchestrator's clock."""
        return (self.ended - self.started).total_seconds()

    def __repr__(self) -> str:
        failed = len(self.failures)
        jumps = f"{self.jumps} jump{'' if self.jumps == 1 else 's'}"
        return (
            f"<DrainResult {format_time(self.started)} to {format_time(self.ended)} "
            f"({self.elapsed:g} s on the clock, {jumps}): "
            f"{self.finished} finished, {failed} failed>"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("started", format_time(self.started)),
            ("ended", format_time(self.ended)),
            ("on the clock", f"{self.elapsed:g} s"),
            ("clock jumps", str(self.jumps)),
            ("finished", str(self.finished)),
            ("failed", str(len(self.failures))),
        ]
        colours: list[str | None] = [None] * len(rows)
        for failure in self.failures:
            line = f"{failure.state.name} at {format_time(failure.state.timestamp)}"
            if failure.state.message:
                line += f": {failure.state.message}"
            rows.append((failure.name, line))
            colours.append(STATE_COLOURS[failure.state.type])
        return summary_html("Drain", rows, colours=colours)


@final
class DrainStalled(OrchestratorError):
    """Raised by the drain helpers when unfinished task runs cannot progress.

    Attributes:
        waiting: every unfinished task run, with why it waits; ``str(error)`` lists them.
    """

    def __init__(self, message: str, waiting: Sequence[WaitingRun]) -> None:
        super().__init__(message)
        self.waiting: tuple[WaitingRun, ...] = tuple(waiting)

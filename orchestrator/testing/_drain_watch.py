"""What a drain watches while it runs: commits, failures, and the counts of its progress.

The :class:`Watcher` is the drain's observer: it counts the commits and the runs created
and finished, records the failures, wakes the drain on a failure and tells the progress
reporter (if any) that the counts changed. :func:`report` turns its counts into a
progress report; :func:`unfinished` counts the runs a drain begins with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from .._core._events import Observer
from .._core._settled import is_not_ready
from .._core._states import TERMINAL_TYPES, State, StateType
from .._core._wakeup import Signal
from ..filters import TaskRunFilter, TaskRunFilterState
from ._drain_results import TaskFailure
from ._progress import ProgressReporter
from ._stall import DRAIN_UNFINISHED_TYPES

if TYPE_CHECKING:
    from .._core._models import TaskRun
    from .._engine._orchestrator import Orchestrator

__all__ = ["Watcher", "report", "unfinished"]

_FAILED_TYPES: Final = frozenset({StateType.FAILED, StateType.CRASHED})


@final
class Watcher(Observer):
    """Counts the changes and records the failures committed while a drain runs."""

    __slots__ = ("changed", "commits", "created", "failed", "failures", "finished", "reporter")

    def __init__(self, reporter: ProgressReporter | None = None) -> None:
        self.commits = 0
        self.created = 0
        self.finished = 0
        self.failures: list[TaskFailure] = []
        self.changed = Signal()
        self.failed = Signal()
        self.reporter = reporter

    def task_run_created(self, run: TaskRun) -> None:
        self.commits += 1
        self.created += 1
        self.changed.notify()
        if self.reporter is not None:
            self.reporter.changed()

    def task_run_deleted(self, run: TaskRun) -> None:
        self.commits += 1
        self.changed.notify()

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        self.commits += 1
        if state.type in TERMINAL_TYPES:
            self.finished += 1
            if state.type in _FAILED_TYPES:
                failure = TaskFailure(
                    run_id=run.id, name=run.name, task_key=run.task_key, state=state
                )
                self.failures.append(failure)
                self.failed.notify()
            if self.reporter is not None:
                self.reporter.changed()
        self.changed.notify()


def unfinished(orchestrator: Orchestrator) -> int:
    """The task runs the drain waits for (a NotReady run never runs: it is settled)."""
    runs = orchestrator.read_task_runs(
        task_runs=TaskRunFilter(state=TaskRunFilterState(type=DRAIN_UNFINISHED_TYPES))
    )
    return sum(1 for run in runs if run.state is None or not is_not_ready(run.state))


def report(reporter: ProgressReporter, watcher: Watcher, before: int, final: bool) -> None:
    """Report the drain's counts: done, total (unfinished at the start + created), failed."""
    total = before + watcher.created
    reporter.report(watcher.finished, total, len(watcher.failures), final=final)

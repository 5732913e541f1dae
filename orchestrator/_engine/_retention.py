"""Retention: deleting finished runs, oldest first, so a long-running process stays flat.

An :class:`~orchestrator.Orchestrator` made with ``retention=Retention(max_age=...,
max_terminal_runs=...)`` gets a :class:`RetentionIndex`, an observer of its engine that
keeps its *finished top-level runs* in a line, in the order their terminal states were
committed:

* a top-level run is a task run without a flow run, or a flow run that is not a subflow
  (its parent task run is None, or was deleted). A task run of a flow run, and a subflow
  run, are never deleted on their own: they go with their top-level run;
* a run joins the end of the line when a terminal state is committed for it (again, if
  it was already finished), and leaves the line when a non-terminal state is committed
  (say it is forced back to Scheduled) or when it is deleted.

:meth:`RetentionIndex.enforce` deletes, from the front of the line, the runs beyond the
newest ``max_terminal_runs`` and those finished at least ``max_age`` ago on the
orchestrator's clock, each with everything that hangs from it: a flow run with its task
runs, and a task run with its subflow runs (recursively), whatever their states. One
exception: a task run that a future is still waiting on (a waiter woken by the run's end
that has not read its final state yet) is kept until the waiter has, and goes at the
next enforcement after that.

The engine calls :meth:`~RetentionIndex.enforce` after a top-level state proposal (not
from inside a commit) once the proposal's time reaches :attr:`RetentionIndex.due`:
O(1) per commit plus O(1) amortised per run deleted (the cost of deleting it).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final, final

from .._core._clock import Clock
from .._core._events import Observer
from .._core._models import FlowRun, TaskRun
from .._core._retention import Retention
from .._core._states import TERMINAL_TYPES, State
from .._rules._cache_table import NEVER
from .._store._store import Store
from ..filters import FlowRunFilter, FlowRunFilterParentTaskRunId, TaskRunFilter

__all__ = ["RetentionIndex"]

Run = TaskRun | FlowRun
#: A time before any clock's: "due at the next proposal".
_NOW: Final = datetime.min.replace(tzinfo=NEVER.tzinfo)


@final
class RetentionIndex(Observer):
    """The line of finished top-level runs of one orchestrator, and its enforcement.

    Args:
        retention: the limits.
        store: the orchestrator's store (read only: to find a run's task runs and
            subflows).
        clock: the orchestrator's clock (read when a subflow becomes top-level).
        remove_task_run, remove_flow_run: the engine's deletions.
        waiting: whether a future still waits on a task run id.
    """

    __slots__ = (
        "_clock",
        "_line",
        "_max_age",
        "_max_runs",
        "_remove_flow_run",
        "_remove_task_run",
        "_store",
        "_waiting",
        "active",
        "due",
    )

    def __init__(
        self,
        retention: Retention,
        *,
        store: Store,
        clock: Clock,
        remove_task_run: Callable[[TaskRun], None],
        remove_flow_run: Callable[[FlowRun], None],
        waiting: Callable[[uuid.UUID], bool],
    ) -> None:
        self._max_age: timedelta | None = retention.max_age
        self._max_runs: int | None = retention.max_terminal_runs
        #: Whether there is a limit to apply (the engine subscribes the index only then).
        self.active = not retention.keeps_everything
        self._store = store
        self._clock = clock
        self._remove_task_run = remove_task_run
        self._remove_flow_run = remove_flow_run
        self._waiting = waiting
        # run -> when its terminal state was committed, oldest first. An OrderedDict:
        # taking from the front of a plain dict slows down as deletions pile up there.
        self._line: OrderedDict[Run, datetime] = OrderedDict()
        #: When :meth:`enforce` has something to do (a far-future sentinel when never).
        self.due: datetime = NEVER

    # -- the line ---------------------------------------------------------------------------
    def __len__(self) -> int:
        """Finished top-level runs in the line (those kept for a waiting future included)."""
        return len(self._line)

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        """Line up a finished task run without a flow run; take one out that left terminal."""
        if run.flow_run_id is None:
            self._committed(run, state, run.updated)

    def flow_run_state_committed(self, run: FlowRun, state: State) -> None:
        """Line up a finished top-level flow run; take one out that left terminal."""
        parent = run.parent_task_run_id
        if parent is None or self._store.get_task_run(parent) is None:
            self._committed(run, state, run.updated)

    def task_run_deleted(self, run: TaskRun) -> None:
        """Take the run out of the line; its finished subflows become top-level."""
        self._left(run)
        if self._store.has_subflow(run.id):
            now = self._clock.now()
            for subflow in self._subflows(run):
                state = subflow.state
                if subflow not in self._line and state is not None:
                    self._committed(subflow, state, now)

    def flow_run_deleted(self, run: FlowRun) -> None:
        """Take the run out of the line."""
        self._left(run)

    def _committed(self, run: Run, state: State, when: datetime) -> None:
        # ``when`` is the run's ``updated``: the commit sets it to the commit's time.
        line = self._line
        if state.type in TERMINAL_TYPES:
            line.pop(run, None)
            line[run] = when
            self._refresh_due()
        elif run in line:
            self._left(run)

    def _left(self, run: Run) -> None:
        if self._line.pop(run, None) is not None:
            self._refresh_due()

    def _refresh_due(self) -> None:
        line = self._line
        if not line:
            self.due = NEVER
        elif self._max_runs is not None and len(line) > self._max_runs:
            self.due = _NOW
        elif self._max_age is not None:
            self.due = line[next(iter(line))] + self._max_age
        else:
            self.due = NEVER

    # -- enforcement ----------------------------------------------------------------------------
    def enforce(self, now: datetime) -> int:
        """Delete the runs beyond the limits at ``now``, oldest first; return how many.

        Counts top-level runs only (not the task runs and subflows deleted with them).
        """
        line = self._line
        max_runs, max_age = self._max_runs, self._max_age
        beyond = 0 if max_runs is None else len(line) - max_runs
        cutoff = None if max_age is None else now - max_age
        victims: list[Run] = []
        for run, finished in line.items():
            if beyond > 0:
                beyond -= 1
            elif cutoff is None or finished > cutoff:
                break
            if isinstance(run, TaskRun) and self._waiting(run.id):
                continue  # a woken future has not read the final state yet: next time
            victims.append(run)
        for run in victims:
            if run in line:
                self._delete_tree(run)
        self._refresh_due()
        return len(victims)

    def _delete_tree(self, run: Run) -> None:
        store = self._store
        if isinstance(run, FlowRun):
            for task_run in store.query_task_runs(task_runs=TaskRunFilter(flow_run_id=[run.id])):
                self._delete_subflows(task_run)
            self._remove_flow_run(run)
        else:
            self._delete_subflows(run)
            self._remove_task_run(run)

    def _delete_subflows(self, task_run: TaskRun) -> None:
        if self._store.has_subflow(task_run.id):
            for subflow in self._subflows(task_run):
                self._delete_tree(subflow)

    def _subflows(self, task_run: TaskRun) -> list[FlowRun]:
        parent = FlowRunFilterParentTaskRunId(any_=[task_run.id])
        return self._store.query_flow_runs(flow_runs=FlowRunFilter(parent_task_run_id=parent))

    def check_invariants(self) -> None:
        """Raise AssertionError unless the line holds exactly the finished top-level runs."""
        store = self._store
        for run in self._line:
            found = (
                store.get_task_run(run.id)
                if isinstance(run, TaskRun)
                else store.get_flow_run(run.id)
            )
            if found is not run:
                raise AssertionError(f"retention lines up deleted run {run.id}")
            if run.state_type not in TERMINAL_TYPES:
                raise AssertionError(f"retention lines up run {run.id} in {run.state_type}")
        for task_run in store.task_runs.values():
            if (
                task_run.flow_run_id is None
                and task_run.state_type in TERMINAL_TYPES
                and task_run not in self._line
            ):
                raise AssertionError(f"finished task run {task_run.id} is not lined up")
        for flow_run in store.flow_runs.values():
            parent = flow_run.parent_task_run_id
            if (
                (parent is None or store.get_task_run(parent) is None)
                and flow_run.state_type in TERMINAL_TYPES
                and flow_run not in self._line
            ):
                raise AssertionError(f"finished flow run {flow_run.id} is not lined up")

"""Task-run reads of the :class:`~orchestrator.Orchestrator`: one run, queries, pages, history.

:class:`TaskRunReads` reads runs, their states and their decisions under the engine's
lock and changes nothing; :class:`Page` is what the ``paginate_*`` methods return. The
methods that create and change task runs are in ``_task_runs.py``.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Generic, TypeVar, final

import attrs

from .._core._checks import check_count, check_id, check_page, check_positive_int
from .._core._checks_objects import check_instance
from .._core._errors import ObjectNotFound
from .._core._events import Decision
from .._core._models import TaskRun
from .._core._states import State
from .._store._history import HistoryBucket, task_run_history
from ..filters import (
    DeploymentFilter,
    FlowFilter,
    FlowRunFilter,
    TaskRunFilter,
    TaskRunSort,
)
from ._facet import Facet
from ._state_records import read_run_state

__all__ = ["Page", "TaskRunReads"]

T = TypeVar("T")


@final
@attrs.frozen
class Page(Generic[T]):
    """One page of results: ``results``, the total ``count``, and where this page is."""

    results: list[T]
    count: int
    limit: int
    pages: int
    page: int


class TaskRunReads(Facet):
    """Task-run read / query / paginate / history methods; none changes a run."""

    __slots__ = ()

    def read_task_run(self, task_run_id: uuid.UUID) -> TaskRun:
        """Return the task run with this id (the live record: treat it as read-only).

        Raises:
            ObjectNotFound: no such run (also a KeyError).
        """
        task_run_id = check_id(task_run_id, "task_run_id", text=True)
        with self._engine.lock:
            return self._engine.task_run(task_run_id)

    def read_task_runs(
        self,
        *,
        task_runs: TaskRunFilter | None = None,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        sort: TaskRunSort = TaskRunSort.ID_DESC,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TaskRun]:
        """Return the task runs matching every filter, sorted, from ``offset``, at most ``limit``.

        ``sort`` is a :class:`~orchestrator.filters.TaskRunSort` member: equal keys go
        in creation order and runs whose key is None come last (its docstring has the
        rules).

        The cross-entity filters (``flow_runs``, ``flows``, ``deployments``) select runs
        whose parent flow run matches; runs without a flow run never match them.

        Raises:
            InvalidArgument: a negative limit or offset, or a sort that is not a TaskRunSort.
        """
        check_page(limit, offset)
        check_instance(sort, TaskRunSort, "sort")
        with self._engine.lock:
            return self._engine.store.query_task_runs(
                task_runs=task_runs,
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                sort=sort,
                limit=limit,
                offset=offset,
            )

    def count_task_runs(
        self,
        *,
        task_runs: TaskRunFilter | None = None,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
    ) -> int:
        """Return how many task runs match every given filter."""
        with self._engine.lock:
            return self._engine.store.count_task_runs(
                task_runs=task_runs, flow_runs=flow_runs, flows=flows, deployments=deployments
            )

    def paginate_task_runs(
        self,
        *,
        page: int = 1,
        limit: int = 200,
        task_runs: TaskRunFilter | None = None,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        sort: TaskRunSort = TaskRunSort.ID_DESC,
    ) -> Page[TaskRun]:
        """Return page ``page`` (from 1) of ``limit`` runs, with the total count and page count.

        Raises:
            InvalidArgument: ``page`` < 1, a limit that is not an integer >= 0, or a sort
                that is not a TaskRunSort.
        """
        check_positive_int(page, "page")
        check_count(limit, "limit")
        check_instance(sort, TaskRunSort, "sort")
        with self._engine.lock:
            count = self._engine.store.count_task_runs(
                task_runs=task_runs, flow_runs=flow_runs, flows=flows, deployments=deployments
            )
            results = self._engine.store.query_task_runs(
                task_runs=task_runs,
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                sort=sort,
                limit=limit,
                offset=(page - 1) * limit,
            )
        pages = math.ceil(count / limit) if limit else 0
        return Page(results=results, count=count, limit=limit, pages=pages, page=page)

    def read_task_run_states(self, task_run_id: uuid.UUID) -> list[State]:
        """Return every state the run has had, in commit order (oldest first).

        Raises:
            ObjectNotFound: no such run.
        """
        task_run_id = check_id(task_run_id, "task_run_id", text=True)
        with self._engine.lock:
            self._engine.task_run(task_run_id)
            return self._engine.store.task_run_states(task_run_id)

    def read_decisions(self, run_id: uuid.UUID) -> list[Decision]:
        """Return every decision taken on a run's proposals, oldest first.

        Works for task runs and flow runs; empty when the decision log is off.

        Raises:
            ObjectNotFound: no task run or flow run has this id.
        """
        run_id = check_id(run_id, "run_id", text=True)
        with self._engine.lock:
            task_run = self._engine.store.get_task_run(run_id)
            if task_run is not None:
                return self._engine.decisions.read(
                    task_run, self._engine.store.task_run_states(run_id)
                )
            flow_run = self._engine.store.get_flow_run(run_id)
            if flow_run is not None:
                return self._engine.decisions.read(
                    flow_run, self._engine.store.flow_run_states(run_id)
                )
            raise ObjectNotFound("task run or flow run", run_id)

    def explain(self, run_id: uuid.UUID) -> str:
        """Return a readable account of a run's decisions: why it is where it is.

        Raises:
            ObjectNotFound: no task run or flow run has this id.
        """
        decisions = self.read_decisions(run_id)
        if not decisions:
            return f"no decisions recorded for run {run_id}"
        return "\n".join(d.explain() for d in decisions)

    def task_run_history(
        self,
        *,
        history_start: datetime,
        history_end: datetime,
        history_interval: float | timedelta,
        task_runs: TaskRunFilter | None = None,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        max_buckets: int = 500,
    ) -> list[HistoryBucket]:
        """Count task runs per time bucket and current state.

        Buckets are ``[start + i*interval, start + (i+1)*interval)`` while their start is
        before ``history_end``; a run falls in the bucket holding its expected start time.

        Raises:
            InvalidArgument: ``history_start`` or ``history_end`` is not an aware datetime
                (strings are not parsed), ``history_end`` is before ``history_start``, or
                the interval is under 1 second, NaN or infinite.
            HistoryTooLarge: more than ``max_buckets`` buckets (narrow the window or widen
                the interval; nothing is silently cut).
        """
        with self._engine.lock:
            return task_run_history(
                self._engine.store,
                history_start=history_start,
                history_end=history_end,
                history_interval=history_interval,
                now=self._engine.clock.now(),
                task_runs=task_runs,
                flow_runs=flow_runs,
                flows=flows,
                deployments=deployments,
                max_buckets=max_buckets,
            )

    def read_task_run_state(self, state_id: uuid.UUID) -> State:
        """Return the task-run state with this id (any state of a run's history).

        Raises:
            InvalidArgument: ``state_id`` is not a UUID or its string form.
            ObjectNotFound: no task-run state has this id.
        """
        return read_run_state(self._engine, state_id, flow=False)

"""The store's queries: compile the filters, plan, answer (mixed into ``Store``).

Every query compiles its filters into one criterion (``_criteria``) and hands it to the
planner (``_planner``) with the table, the sort and the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from .._core._checks import check_page, wrong_type
from .._core._models import FlowRun, TaskRun
from .._core._sorts import FlowRunSort, TaskRunSort
from ._criteria import FALSE, Criterion, In, all_of, flow_run_query, task_run_query
from ._filters_flow import FlowRunFilter
from ._filters_flow_deployment import DeploymentFilter, FlowFilter
from ._filters_task import TaskRunFilter
from ._planner import QueryPlan, count, iterate, plan, select

if TYPE_CHECKING:
    from ._sources import Catalog
    from ._table import RunTable

__all__ = ["StoreQueries"]


def _criterion(value: object, kind: type, what: str) -> Criterion | None:
    if value is None:
        return None
    if not isinstance(value, kind):
        raise wrong_type(what, value, f"a {kind.__name__} or None")
    criterion: Criterion = value.criterion  # type: ignore[attr-defined]
    return criterion


class StoreQueries:
    """Query methods over the store's run tables (mixed into ``Store``)."""

    __slots__ = ()

    if TYPE_CHECKING:
        _task_table: RunTable[TaskRun]
        _flow_table: RunTable[FlowRun]

        def _as_catalog(self) -> Catalog: ...

    def matching_flow_runs(self, crit: Criterion, /) -> list[FlowRun]:
        """Return every flow run matching ``crit``, in no particular order (for sub-queries)."""
        return iterate(self._flow_table, crit, self._as_catalog())

    def task_run_criterion(
        self,
        task_runs: TaskRunFilter | None = None,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
    ) -> Criterion:
        """Compile a task-run query's filters into one criterion (checking their types).

        Raises:
            InvalidArgument: a filter of the wrong type.
        """
        return task_run_query(
            _criterion(task_runs, TaskRunFilter, "task_runs"),
            _criterion(flow_runs, FlowRunFilter, "flow_runs"),
            _criterion(flows, FlowFilter, "flows"),
            _criterion(deployments, DeploymentFilter, "deployments"),
        )

    def flow_run_criterion(
        self,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        task_runs: TaskRunFilter | None = None,
        within: AbstractSet[uuid.UUID] | None = None,
    ) -> Criterion:
        """Compile a flow-run query's filters into one criterion (checking their types).

        ``task_runs`` keeps the flow runs that have a matching task run (the reference's
        "such a task run exists"); ``within`` keeps the runs with these ids (the engine
        resolves a work-pool filter to them). Both become id lists, which the planner
        serves by id lookup.

        Raises:
            InvalidArgument: a filter of the wrong type.
        """
        crit = flow_run_query(
            _criterion(flow_runs, FlowRunFilter, "flow_runs"),
            _criterion(flows, FlowFilter, "flows"),
            _criterion(deployments, DeploymentFilter, "deployments"),
        )
        parts = [crit]
        task_crit = _criterion(task_runs, TaskRunFilter, "task_runs")
        if task_crit is not None:
            runs = iterate(self._task_table, task_crit, self._as_catalog())
            ids = frozenset(run.flow_run_id for run in runs if run.flow_run_id is not None)
            parts.append(In("id", ids) if ids else FALSE)
        if within is not None:
            parts.append(In("id", frozenset(within)) if within else FALSE)
        return all_of(parts)

    def query_task_runs(
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
        """Return the matching task runs in ``sort`` order, from ``offset``, at most ``limit``.

        Ties are broken by creation order and runs whose sort key is None come last (see
        :class:`~orchestrator.filters.TaskRunSort`). Costs O(log n + k) when an index
        applies (see ``_planner``).

        Raises:
            InvalidArgument: a bad filter, sort, limit or offset.
        """
        return self.plan_task_runs(
            task_runs=task_runs,
            flow_runs=flow_runs,
            flows=flows,
            deployments=deployments,
            sort=sort,
            limit=limit,
            offset=offset,
        )[1]()

    def plan_task_runs(
        self,
        *,
        task_runs: TaskRunFilter | None = None,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        sort: TaskRunSort = TaskRunSort.ID_DESC,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[QueryPlan, Callable[[], list[TaskRun]]]:
        """Return how ``query_task_runs`` would answer, and a function that answers."""
        check_page(limit, offset)
        if not isinstance(sort, TaskRunSort):
            raise wrong_type("sort", sort, "a TaskRunSort member")
        crit = self.task_run_criterion(task_runs, flow_runs, flows, deployments)
        return plan(
            self._task_table,
            crit,
            self._as_catalog(),
            sort=(sort.field, sort.descending),
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
        """Return how many task runs match (O(1) for a single indexed criterion).

        Raises:
            InvalidArgument: a filter of the wrong type.
        """
        crit = self.task_run_criterion(task_runs, flow_runs, flows, deployments)
        return count(self._task_table, crit, self._as_catalog())

    def query_flow_runs(
        self,
        *,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        task_runs: TaskRunFilter | None = None,
        within: AbstractSet[uuid.UUID] | None = None,
        sort: FlowRunSort = FlowRunSort.ID_DESC,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[FlowRun]:
        """Return the matching flow runs in ``sort`` order, from ``offset``, at most ``limit``.

        Raises:
            InvalidArgument: a bad filter, sort, limit or offset.
        """
        check_page(limit, offset)
        if not isinstance(sort, FlowRunSort):
            raise wrong_type("sort", sort, "a FlowRunSort member")
        crit = self.flow_run_criterion(flow_runs, flows, deployments, task_runs, within)
        return select(
            self._flow_table,
            crit,
            self._as_catalog(),
            sort=(sort.field, sort.descending),
            limit=limit,
            offset=offset,
        )

    def count_flow_runs(
        self,
        *,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
        task_runs: TaskRunFilter | None = None,
        within: AbstractSet[uuid.UUID] | None = None,
    ) -> int:
        """Return how many flow runs match.

        Raises:
            InvalidArgument: a filter of the wrong type.
        """
        crit = self.flow_run_criterion(flow_runs, flows, deployments, task_runs, within)
        return count(self._flow_table, crit, self._as_catalog())

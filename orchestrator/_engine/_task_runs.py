"""Task-run methods of the :class:`~orchestrator.Orchestrator`: create, read, query, change.

Creation is idempotent on ``(flow_run_id, task_key, dynamic_key)``, for runs with or
without a flow run: the existing run is returned unchanged and ``created`` is False.
An initial state is applied with ``force=True`` (a deferred one through the background
policy, which enqueues the run). Every method checks its arguments before it changes
anything, so a refused call leaves no trace.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, TypeVar, final

import attrs

from .._core._checks import (
    check_bool,
    check_count,
    check_id,
    check_optional_text,
    check_page,
    check_positive_int,
    check_tags,
    check_text,
)
from .._core._checks_objects import (
    check_instance,
    check_mapping,
    check_mapping_of_str,
    check_optional_datetime,
)
from .._core._errors import ObjectAlreadyExists, ObjectNotFound
from .._core._events import Decision
from .._core._models import DEFAULT_TASK_POLICY, TaskRun, TaskRunPolicy
from .._core._outcomes import OrchestrationResult
from .._core._states import Pending, State, StateType
from .._store._history import HistoryBucket, task_run_history
from ..filters import (
    DeploymentFilter,
    FlowFilter,
    FlowRunFilter,
    TaskRunFilter,
    TaskRunSort,
)
from ._facet import Facet, check_state
from ._rollback import change_run
from ._state_records import delete_run_state, read_run_state

__all__ = ["CreatedTaskRun", "Page", "TaskRuns"]

T = TypeVar("T")
# Shared by every run created without labels or inputs (records never mutate them).
_NO_ENTRIES: Mapping[str, Any] = MappingProxyType({})


class CreatedTaskRun(NamedTuple):
    """What ``create_task_run`` returns: the run, and whether this call created it."""

    run: TaskRun
    created: bool


@final
@attrs.frozen
class Page(Generic[T]):
    """One page of results: ``results``, the total ``count``, and where this page is."""

    results: list[T]
    count: int
    limit: int
    pages: int
    page: int


class TaskRuns(Facet):
    """Task-run create / read / query / update / delete / set-state methods."""

    __slots__ = ()

    def create_task_run(
        self,
        task_key: str,
        *,
        flow_run_id: uuid.UUID | None = None,
        dynamic_key: str | None = None,
        name: str | None = None,
        id: uuid.UUID | None = None,
        state: State | None = None,
        cache_key: str | None = None,
        cache_expiration: datetime | None = None,
        task_version: str | None = None,
        policy: TaskRunPolicy | None = None,
        tags: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        task_inputs: Mapping[str, Any] | None = None,
    ) -> CreatedTaskRun:
        """Create a task run, or return the one with the same identity.

        Args:
            task_key: what the run executes (a task's key); must be a non-empty string.
            flow_run_id: the parent flow run, or None for an autonomous run.
            dynamic_key: distinguishes runs of one key in one flow run; when None a unique
                one is generated, so the call always creates a run.
            name: display name (a non-empty string); ``<task_key>-<4 hex digits>`` when
                None.
            id: the run's id; generated when None.
            state: the initial state, applied with force; ``Pending()`` when None.
            cache_key, cache_expiration, task_version: informational fields.
            policy: retries and retry delays; no retries when None.
            tags: tags (tag concurrency limits apply to them).
            labels: labels (strings to strings), merged over the parent flow run's labels and
                the ids of the parent flow and flow run (``orchestrator.flow.id``,
                ``orchestrator.flow-run.id``).
            task_inputs: provenance of the inputs (a mapping with string keys), stored
                as given.

        Returns:
            ``(run, created)``; ``created`` is False when an existing run was returned
            (its fields and state are left as they were).

        Raises:
            InvalidArgument: a bad argument (nothing is created).
            ObjectNotFound: ``flow_run_id`` names no flow run.
            ObjectAlreadyExists: ``id`` is taken by a run with another identity.
            QueueFull: ``state`` is a deferred Scheduled state and the task key's queue is
                full (its message names ``scheduled_queue_size=`` and
                :meth:`configure_task_key`, which set the bound).
        """
        check_text(task_key, "task_key")
        check_optional_text(dynamic_key, "dynamic_key", empty=True)
        check_optional_text(name, "name")
        check_optional_text(cache_key, "cache_key", empty=True)
        check_optional_text(task_version, "task_version", empty=True)
        if policy is not None:
            check_instance(policy, TaskRunPolicy, "policy")
        if state is not None:
            check_state(state)
        cache_expiration = check_optional_datetime(cache_expiration, "cache_expiration")
        if flow_run_id is not None:
            flow_run_id = check_id(flow_run_id, "flow_run_id", text=True)
        if id is not None:
            id = check_id(id, "id", text=True)
        frozen_tags = check_tags(tags)
        if labels is not None:
            labels = check_mapping_of_str(labels, "labels")
        if task_inputs is not None:
            task_inputs = check_mapping(task_inputs, "task_inputs")
        engine = self._engine
        with engine.lock:
            parent = None if flow_run_id is None else engine.flow_run(flow_run_id)
            if dynamic_key is None:
                dynamic_key = f"{task_key}-{engine.new_id().hex}"
            existing = engine.store.find_task_run(flow_run_id, task_key, dynamic_key)
            if existing is not None:
                return CreatedTaskRun(existing, False)
            if id is not None and engine.store.get_task_run(id) is not None:
                raise ObjectAlreadyExists(
                    f"task run id {id} is already used by another run; omit id to get a new one"
                )
            if (
                state is not None
                and state.type is StateType.SCHEDULED
                and state.details.deferred
                and not engine.queues.has_room(task_key)
            ):
                raise engine.queues.full_error(task_key)
            run_id = engine.new_id() if id is None else id
            merged_labels: dict[str, str] = {}
            if parent is not None:
                merged_labels.update(parent.labels)
                merged_labels["orchestrator.flow.id"] = str(parent.flow_id)
                merged_labels["orchestrator.flow-run.id"] = str(parent.id)
            if labels:
                merged_labels.update(labels)
            now = engine.clock.now()
            run = TaskRun(
                id=run_id,
                name=f"{task_key}-{run_id.hex[:4]}" if name is None else name,
                task_key=task_key,
                dynamic_key=dynamic_key,
                flow_run_id=flow_run_id,
                cache_key=cache_key,
                cache_expiration=cache_expiration,
                task_version=task_version,
                empirical_policy=DEFAULT_TASK_POLICY if policy is None else policy,
                tags=frozen_tags,
                labels=merged_labels or _NO_ENTRIES,
                task_inputs=dict(task_inputs) if task_inputs else _NO_ENTRIES,
                created=now,
                updated=now,
            )
            engine.insert_task_run(run, Pending() if state is None else state)
            return CreatedTaskRun(run, True)

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

    def update_task_run(self, task_run_id: uuid.UUID, *, name: str) -> TaskRun:
        """Rename a task run (its name is the only field that is not bookkeeping).

        Raises:
            ObjectNotFound: no such run.
            InvalidArgument: ``name`` is not a non-empty string.
        """
        task_run_id = check_id(task_run_id, "task_run_id", text=True)
        check_text(name, "name")
        with self._engine.lock:
            run = self._engine.task_run(task_run_id)
            change_run(self._engine.store, run, {"name": name}, self._engine.clock.now())
            self._engine.notify(lambda o: o.task_run_updated(run, {"name": name}))
            return run

    def delete_task_run(self, task_run_id: uuid.UUID) -> None:
        """Delete a task run with its states, slots and decisions.

        Raises:
            ObjectNotFound: no such run.
        """
        task_run_id = check_id(task_run_id, "task_run_id", text=True)
        with self._engine.lock:
            self._engine.remove_task_run(self._engine.task_run(task_run_id))

    def set_task_run_state(
        self, task_run_id: uuid.UUID, state: State, *, force: bool = False
    ) -> OrchestrationResult:
        """Propose ``state`` for a task run and return what the policy decided.

        The orchestrator's task policy decides (the core policy unless you gave your
        own); ``force=True`` uses the minimal policy instead (bookkeeping still runs);
        a deferred SCHEDULED or PENDING proposal always goes through the background
        policy. Atomic and safe from any thread.

        Raises:
            ObjectNotFound: no such run.
            InvalidArgument: ``state`` is not a State, or ``force`` not True or False.
            Exception: whatever a rule raised; the outcome was ABORT and nothing was
                committed (the decision log has it).
        """
        task_run_id = check_id(task_run_id, "task_run_id", text=True)
        check_state(state)
        check_bool(force, "force")
        with self._engine.lock:
            run = self._engine.task_run(task_run_id)
            engine = self._engine
            return engine.propose(
                run, state, force=force, policy=engine.choose_task_policy(state, force)
            )

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

    def delete_task_run_state(self, state_id: uuid.UUID) -> None:
        """Delete one past state from its task run's history; the run is otherwise unchanged.

        A run's current state cannot be deleted (unlike in the reference, which leaves the
        run with no state): propose a new state first, or delete the run.

        Raises:
            InvalidArgument: ``state_id`` is not a UUID, or names a run's current state.
            ObjectNotFound: no task-run state has this id.
        """
        delete_run_state(self._engine, state_id, flow=False)

    def delete_task_runs(
        self,
        *,
        task_runs: TaskRunFilter | None = None,
        flow_runs: FlowRunFilter | None = None,
        flows: FlowFilter | None = None,
        deployments: DeploymentFilter | None = None,
    ) -> int:
        """Delete every task run matching all the given filters; return how many.

        The filters mean what they mean to :meth:`read_task_runs`: with none, every task
        run matches, so ``delete_task_runs()`` deletes them all (Prefect's bulk delete
        likewise deletes whatever its filter matches). Each run goes as with
        :meth:`delete_task_run`: states, slots, decisions, queue entry, observers told.

        Raises:
            InvalidArgument: a filter of the wrong type (nothing is deleted).
        """
        engine = self._engine
        with engine.lock:
            runs = engine.store.query_task_runs(
                task_runs=task_runs, flow_runs=flow_runs, flows=flows, deployments=deployments
            )
            for run in runs:
                engine.remove_task_run(run)
            return len(runs)

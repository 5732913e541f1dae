"""Task-run methods of the :class:`~orchestrator.Orchestrator`: create, change, delete.

Creation is idempotent on ``(flow_run_id, task_key, dynamic_key)``, for runs with or
without a flow run: the existing run is returned unchanged and ``created`` is False.
An initial state is applied with ``force=True`` (a deferred one through the background
policy, which enqueues the run). Every method checks its arguments before it changes
anything, so a refused call leaves no trace. The reads (one run, queries, pages,
history, decisions) are in ``_task_run_reads.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from .._core._checks import (
    check_bool,
    check_id,
    check_optional_text,
    check_tags,
    check_text,
)
from .._core._checks_objects import (
    check_instance,
    check_mapping,
    check_mapping_of_str,
    check_optional_datetime,
)
from .._core._errors import ObjectAlreadyExists
from .._core._models import DRAWN_KEY, TaskRun, TaskRunPolicy
from .._core._outcomes import OrchestrationResult
from .._core._run_policies import DEFAULT_TASK_POLICY
from .._core._states import Pending, State, StateType
from ..filters import (
    DeploymentFilter,
    FlowFilter,
    FlowRunFilter,
    TaskRunFilter,
)
from ._facet import Facet, check_state
from ._rollback import journal_change
from ._state_records import delete_run_state

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["CreatedTaskRun", "TaskRuns", "create_checked_task_run"]

# Shared by every run created without labels or inputs (records never mutate them).
_NO_ENTRIES: Mapping[str, Any] = MappingProxyType({})


class CreatedTaskRun(NamedTuple):
    """What ``create_task_run`` returns: the run, and whether this call created it."""

    run: TaskRun
    created: bool


def create_checked_task_run(
    engine: Engine,
    task_key: str,
    *,
    flow_run_id: uuid.UUID | None,
    dynamic_key: str | None,
    name: str | None,
    id: uuid.UUID | None,
    state: State | None,
    cache_key: str | None,
    cache_expiration: datetime | None,
    task_version: str | None,
    policy: TaskRunPolicy | None,
    tags: frozenset[str],
    labels: Mapping[str, str] | None,
    task_inputs: Mapping[str, Any] | None,
) -> CreatedTaskRun:
    """:meth:`TaskRuns.create_task_run` once its arguments are known to be well-formed.

    Submissions call it directly: everything they pass is checked where it is made (the
    task's own fields when the task was built, the run name and cache key as they are
    rendered), so checking it again on every submission would only cost time.
    """
    with engine.lock:
        parent = None if flow_run_id is None else engine.flow_run(flow_run_id)
        if dynamic_key is not None:
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
        if dynamic_key is None or dynamic_key == f"{task_key}-{run_id.hex}":
            # The drawn form, "<task key>-<run id hex>", is derived from the run, not kept.
            dynamic_key = DRAWN_KEY
        run_labels: Mapping[str, str] = _NO_ENTRIES
        if parent is not None or labels:
            merged_labels: dict[str, str] = {}
            if parent is not None:
                merged_labels.update(parent.labels)
                merged_labels["orchestrator.flow.id"] = str(parent.flow_id)
                merged_labels["orchestrator.flow-run.id"] = str(parent.id)
            if labels:
                merged_labels.update(labels)
            run_labels = merged_labels or _NO_ENTRIES
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
            tags=tags,
            labels=run_labels,
            task_inputs=dict(task_inputs) if task_inputs else _NO_ENTRIES,
            created=now,
            updated=now,
        )
        engine.insert_task_run(run, Pending() if state is None else state)
        return CreatedTaskRun(run, True)


class TaskRuns(Facet):
    """Task-run create / update / delete / set-state methods."""

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
        return create_checked_task_run(
            self._engine,
            task_key,
            flow_run_id=flow_run_id,
            dynamic_key=dynamic_key,
            name=name,
            id=id,
            state=state,
            cache_key=cache_key,
            cache_expiration=cache_expiration,
            task_version=task_version,
            policy=policy,
            tags=frozen_tags,
            labels=labels,
            task_inputs=task_inputs,
        )

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
            journal_change(self._engine, run, {"name": name})
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
        if task_run_id.__class__ is not uuid.UUID:  # the check's call only when it can matter
            task_run_id = check_id(task_run_id, "task_run_id", text=True)
        check_state(state)
        if force is not False and force is not True:  # user input: the annotation may lie
            check_bool(force, "force")  # type: ignore[unreachable]
        engine = self._engine
        with engine.lock:
            run = engine.store.get_task_run(task_run_id)
            if run is None:
                run = engine.task_run(task_run_id)  # raises ObjectNotFound
            return engine.propose(
                run, state, force=force, policy=engine.choose_task_policy(state, force)
            )

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

"""Submission: turning a call of a task into a background task run.

:func:`submit_task` is what ``orchestrator.submit(task, ...)``, ``task.submit(...)`` and
``task.delay(...)`` do; :func:`asubmit_task` is the async form, which waits for room in
a full queue instead of raising :class:`~orchestrator.QueueFull`.

A submission first does everything that can fail without side effects: bind the
arguments to the signature (a :class:`TypeError` when they do not fit), render the run
name, compute the cache key. Then it stores the parameters under a new
``task_parameters_id`` and creates the run in ``Scheduled(deferred=True)``, which the
background policy puts on the task key's queue. If the creation fails (a full queue, or
anything else) the stored parameters are deleted: a refused submission leaves nothing
behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from .._core._checks_objects import check_optional_datetime
from .._core._errors import ArgumentTypeError, QueueFull
from .._core._run_context import TaskRunContext
from .._core._states import StateDetails, StateType, make_state
from .._core._tasks import Task
from .._store._results import parameters_key
from ._futures import TaskRunFuture
from ._task_runs import create_checked_task_run

if TYPE_CHECKING:
    from ._orchestrator import Orchestrator

__all__ = ["asubmit_task", "submit_task"]


_SCHEDULED: Final = StateType.SCHEDULED
#: The proposal of a run without parameters, due now: shared, since proposals are values
#: (the engine commits a new, stamped state).
_DEFERRED_NOW: Final = make_state(
    _SCHEDULED, "Scheduled", None, None, StateDetails(deferred=True), None
)


#: Everything needed to create the run, computed before anything is changed: the run id,
#: the parameters id, the parameters, the name, the scheduled time, the cache key
#: and its expiration. A plain tuple: a NamedTuple's constructor is a Python call per submit.
_Submission = tuple[
    uuid.UUID,
    uuid.UUID | None,
    dict[str, Any],
    str,
    datetime | None,
    str | None,
    datetime | None,
]


def _prepare(
    orchestrator: Orchestrator,
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    scheduled_time: datetime | None,
) -> _Submission:
    if type(task) is not Task:
        raise ArgumentTypeError(
            f"submit takes a task made with @task, got {task!r}; decorate the function first"
        )
    if args or kwargs or task.takes_parameters:
        parameters = task.bind_parameters(*args, **kwargs)
    else:  # no arguments for no parameters: what binding returns, without the call
        parameters = {}
    if scheduled_time is not None:
        scheduled_time = check_optional_datetime(scheduled_time, "scheduled_time")
    # Ids come from the orchestrator's seeded source, so a seeded run is reproducible.
    new_id = orchestrator._engine.new_id  # Orchestrator.new_id, without its wrapper call
    run_id = new_id()
    run_hex = run_id.hex  # a Python-level property: read once
    name = None if task.task_run_name is None else task.render_run_name(parameters)
    if name is None:
        name = f"{task.name}-{run_hex[:8]}"
    cache_key = None
    if task.cache_key_fn is not None:
        # The run does not exist yet: a context's task_run cannot be read here.
        context = TaskRunContext(
            orchestrator=orchestrator, task=task, task_run_id=run_id, parameters=parameters
        )
        cache_key = task.cache_key(parameters, context)
    cache_expiration = None
    if cache_key is not None and task.cache_expiration is not None:
        try:
            cache_expiration = orchestrator.clock.now() + task.cache_expiration
        except OverflowError:
            cache_expiration = None  # past the year 9999: the entry never expires
    return (
        run_id,
        new_id() if task.takes_parameters else None,
        parameters,
        name,
        scheduled_time,
        cache_key,
        cache_expiration,
    )


def _create(
    orchestrator: Orchestrator, task: Task[..., Any], submission: _Submission
) -> TaskRunFuture[Any]:
    run_id, parameters_id, parameters, name, scheduled_time, cache_key, expiration = submission
    refresh = True if task.refresh_cache else None
    if parameters_id is None and scheduled_time is None and refresh is None:
        proposal = _DEFERRED_NOW  # shared: stamping copies it once, adding the run's id
    else:
        # Built directly rather than through Scheduled(): this is the hot path. The
        # details carry the run's id already, as the committed state's must: stamping
        # then keeps them as they are instead of copying them to fill it in.
        proposal = make_state(
            _SCHEDULED,
            "Scheduled",
            None,
            None,
            StateDetails(
                task_run_id=run_id,
                deferred=True,
                scheduled_time=scheduled_time,
                task_parameters_id=parameters_id,
                # refresh_cache travels with the run: the worker may serve another copy
                # of the task than the one submitted (with_options(refresh_cache=True)).
                refresh_cache=refresh,
            ),
            None,
        )
    key = None
    if parameters_id is not None:
        # Bound parameters are a fresh dict with string keys: stored as they are.
        key = parameters_key(parameters_id)
        orchestrator.result_store.write(key, parameters)
    try:
        # Every argument is well-formed by construction (see create_checked_task_run).
        create_checked_task_run(
            orchestrator._engine,
            task.task_key,
            flow_run_id=None,
            # None: the run's key is drawn, "<task key>-<run id hex>", derived from the
            # run when read (not built here only to be parsed back and dropped).
            dynamic_key=None,
            name=name,
            id=run_id,
            state=proposal,
            cache_key=cache_key,
            cache_expiration=expiration,
            task_version=None,
            policy=task.policy,
            tags=task.tags,
            labels=None,
            task_inputs=None,
        )
    except BaseException:
        if key is not None:
            orchestrator.result_store.delete(key, missing_ok=True)
        raise
    return TaskRunFuture(orchestrator, run_id)


def submit_task(
    orchestrator: Orchestrator,
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    scheduled_time: datetime | None = None,
) -> TaskRunFuture[Any]:
    """Create a background run of ``task`` called with ``args`` and ``kwargs``.

    Args:
        orchestrator: where the run is created.
        task: the task to run.
        args: positional arguments of the call.
        kwargs: keyword arguments of the call.
        scheduled_time: when the run is due (aware datetime); now when None.

    Returns:
        A future for the new run.

    Raises:
        TypeError: the arguments do not fit the task's signature.
        InvalidArgument: ``task`` is not a Task, ``scheduled_time`` is not an aware
            datetime, or the run name or cache key cannot be computed from the parameters
            (a naming or cache key function that raised is chained as ``__cause__``).
        QueueFull: the task key's scheduled queue is full.

    Nothing is created or stored when it raises.
    """
    submission = _prepare(orchestrator, task, args, kwargs, scheduled_time)
    return _create(orchestrator, task, submission)


async def asubmit_task(
    orchestrator: Orchestrator,
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    scheduled_time: datetime | None = None,
) -> TaskRunFuture[Any]:
    """Like :func:`submit_task`, but wait for room when the task key's queue is full.

    The wait is woken when the queue frees room (no polling). Cancelling the caller
    while it waits leaves nothing behind.

    Raises:
        TypeError: the arguments do not fit the task's signature.
        InvalidArgument: as for :func:`submit_task`.
    """
    submission = _prepare(orchestrator, task, args, kwargs, scheduled_time)
    queues = orchestrator.task_queues
    while True:
        try:
            return _create(orchestrator, task, submission)
        except QueueFull:
            await queues.wait_for_room(task.task_key)

"""The states a task worker proposes for a run it executes: claim, start, and how it went.

Each proposal carries what the policies would otherwise fill in or copy over: the
claim's details (deferred, the parameters id, the scheduled time, the run ids) go on the
run's later proposals, so a retry keeps its place on the queue and its parameters, and
the engine has nothing to add. Nothing here proposes anything: the executor
(:mod:`orchestrator.workers._execution`) does, through the engine.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._core._states import Failed, State, StateDetails, StateType, make_state
from ..executors._base import remote_traceback
from ._abandoning import waits_for

if TYPE_CHECKING:
    from .._core._abandoned import AbandonedCall
    from .._core._clock import Clock
    from .._core._models import TaskRun
    from .._core._run_context import TaskRunContext
    from .._core._tasks import Task
    from ._claims import Claim

__all__ = [
    "claim_proposal",
    "completed_proposal",
    "failed_proposal",
    "has_hooks",
    "running_proposal",
    "timed_out_proposal",
    "unjournaled_proposal",
]

_PENDING: Final = StateType.PENDING
_RUNNING: Final = StateType.RUNNING
_COMPLETED: Final = StateType.COMPLETED
_FAILED: Final = StateType.FAILED

#: The proposal of a call that returned None, without a cache key: shared, since
#: proposals are values.
_COMPLETED_NONE: Final = make_state(_COMPLETED, "Completed", None, None, None, None)


#: The detail fields a claim copies from the queued state or sets itself.
_CLAIM_FIELDS: Final = frozenset(
    {
        "deferred",
        "scheduled_time",
        "task_parameters_id",
        "refresh_cache",
        "flow_run_id",
        "task_run_id",
    }
)
_UNCLAIMED: Final = tuple(
    field for field in attrs.fields(StateDetails) if field.name not in _CLAIM_FIELDS
)
#: Reads every other field of a StateDetails, as a tuple; a claim leaves them all unset.
_unclaimed_fields: Final = attrgetter(*(field.name for field in _UNCLAIMED))
_UNCLAIMED_DEFAULTS: Final = tuple(field.default for field in _UNCLAIMED)


def has_hooks(task: Task[..., Any]) -> bool:
    """Whether running ``task`` calls anything around it: a state hook or a retry condition.

    Read at each run, since hooks may be added to a task after it is served.
    """
    return bool(
        task.on_running_hooks
        or task.on_completion_hooks
        or task.on_failure_hooks
        or task.retry_condition_fn is not None
    )


def claim_proposal(run: TaskRun, queued: State, abandoned: AbandonedCall | None) -> State:
    """``Pending(deferred=True)`` claiming ``run``, queued in ``queued``.

    Everything the background rules would copy over is given, so they copy nothing;
    ``abandoned`` (an earlier attempt's call still running) is named in the message.
    """
    details = queued.details
    run_id = run.id
    flow_run_id = run.flow_run_id
    if not (
        details.deferred is True
        # Identity first: mostly the very id objects (UUID.__eq__ is a Python call).
        and (details.task_run_id is run_id or details.task_run_id == run_id)
        and (details.flow_run_id is flow_run_id or details.flow_run_id == flow_run_id)
        and _unclaimed_fields(details) == _UNCLAIMED_DEFAULTS
    ):
        # The queued state carries more than a claim does (or lacks its ids): build the
        # claim's own details. Otherwise they are the same value, shared (details are
        # immutable): the common case, a run queued by submit, builds none.
        details = StateDetails(
            deferred=True,
            scheduled_time=details.scheduled_time,
            task_parameters_id=details.task_parameters_id,
            refresh_cache=details.refresh_cache,
            flow_run_id=flow_run_id,
            task_run_id=run_id,
        )
    # make_state: the slots set directly, at about half the cost of State(...).
    message = None if abandoned is None else waits_for(abandoned)
    return make_state(_PENDING, "Pending", message, None, details, None)


def running_proposal(claim: Claim, task: Task[..., Any], context: TaskRunContext) -> State:
    """Running, with the run's cache key and its refresh flag when it has them."""
    cache_key = claim.run.cache_key
    if cache_key is None and task.cache_key_fn is not None:
        cache_key = task.cache_key(context.parameters, context)
    # The run's own flag (set at submission) wins over the served task's.
    refresh = bool(task.refresh_cache or claim.details.refresh_cache)
    if cache_key is None and not refresh:
        return make_state(_RUNNING, "Running", None, None, claim.details, None)
    details = claim.details.replace(cache_key=cache_key, refresh_cache=True if refresh else None)
    return make_state(_RUNNING, "Running", None, None, details, None)


def timed_out_proposal(claim: Claim, task: Task[..., Any]) -> State:
    """Failed as "TimedOut": the call ran past the task's timeout."""
    message = f"Task run exceeded its timeout of {task.timeout_seconds:g} s"
    return State(
        type=_FAILED,
        name="TimedOut",
        message=message,
        data=TimeoutError(message),
        details=claim.details,
    )


def failed_proposal(claim: Claim, exc: Exception) -> State:
    """Failed: the function raised ``exc`` (with its remote traceback, if it ran remotely)."""
    message = f"Task run encountered an exception: {exc!r}"
    text = remote_traceback(exc)
    if text:
        message = f"{message}\n\nRemote traceback:\n{text.rstrip()}"
    return State(
        type=_FAILED,
        name="Failed",
        message=message,
        data=exc,
        details=claim.details,
    )


def completed_proposal(claim: Claim, task: Task[..., Any], value: Any, clock: Clock) -> State:
    """Completed with ``value``, with the cache key and expiration when the run is cached."""
    running = claim.running
    cache_key = running.details.cache_key if running is not None else None
    if cache_key is None:
        if value is None:
            return _COMPLETED_NONE  # shared: the engine commits a new, stamped state
        return make_state(_COMPLETED, "Completed", None, value, None, None)
    expiration = claim.run.cache_expiration
    if task.cache_expiration is not None:
        expiration = clock.now() + task.cache_expiration
    details = StateDetails(cache_key=cache_key, cache_expiration=expiration)
    return State(type=_COMPLETED, name="Completed", data=value, details=details)


def unjournaled_proposal(error: Exception) -> State:
    """Failed, for a run whose outcome the journal's serializer cannot store (``error``
    names the run and the value)."""
    return Failed(
        message=(
            f"{error}; return a value the journal's serializer can store, or give the "
            "journal another serializer"
        ),
    )

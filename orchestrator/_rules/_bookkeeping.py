"""Bookkeeping: the run fields every committed state updates, whatever the policy.

These are the global transforms of the reference (state type, name and timestamp,
start and end time, run time, expected and next scheduled start, state details, run
count), applied as one function when the engine commits a state. They run for forced
transitions too, and never for a nullified proposal (nothing is committed then).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from operator import attrgetter
from typing import Any, Final

import attrs

from .._core._models import FlowRun, TaskRun
from .._core._states import EMPTY_DETAILS, TERMINAL_TYPES, State, StateDetails, StateType

__all__ = ["apply_bookkeeping", "details_for_run"]

_RUNNING = StateType.RUNNING
_SCHEDULED = StateType.SCHEDULED

_FIELDS: Final = tuple(field.name for field in attrs.fields(StateDetails))
#: Every field of a StateDetails as one tuple, in field order (what attrs' __eq__ compares).
_values: Final = attrgetter(*_FIELDS)
#: The slots' own setters (a frozen class's __setattr__ refuses), in field order.
_SETTERS: Final = tuple(StateDetails.__dict__[name].__set__ for name in _FIELDS)
_FLOW: Final = _FIELDS.index("flow_run_id")
_TASK: Final = _FIELDS.index("task_run_id")
_TIME: Final = _FIELDS.index("scheduled_time")
_new_object = object.__new__


def details_for_run(
    run: TaskRun | FlowRun,
    details: StateDetails,
    scheduled_time: datetime | None = None,
    initial: StateDetails | None = None,
) -> StateDetails:
    """Return ``details`` with the run's ids (and a missing ``scheduled_time``) filled in.

    Returns ``details`` itself when nothing is missing. Proposals without details (the
    common case) all get one shared ids-only object per run, so a run's history does
    not repeat it. ``scheduled_time`` is the default for a SCHEDULED state's time.
    ``initial`` (the current state's details, when stamping) is returned instead of an
    equal result, so equal details are shared along the history: a claim that copies
    the scheduled time builds nothing. Any other result is built once, in one copy.
    """
    flow_run_id: uuid.UUID | None
    task_run_id: uuid.UUID | None
    if isinstance(run, TaskRun):
        flow_run_id, task_run_id = run.flow_run_id, run.id
    else:
        flow_run_id, task_run_id = run.id, details.task_run_id
        if run.parent_task_run_id is not None:
            task_run_id = run.parent_task_run_id
    needs_time = scheduled_time is not None and details.scheduled_time is None
    # Ids compared by identity first: they are mostly the run's own objects, and
    # UUID.__eq__ (reached too when None meets a UUID) is a Python-level call.
    flow, task = details.flow_run_id, details.task_run_id
    same_ids = (
        flow is flow_run_id
        or (flow is not None and flow_run_id is not None and flow == flow_run_id)
    ) and (
        task is task_run_id
        or (task is not None and task_run_id is not None and task == task_run_id)
    )
    if not needs_time:
        if same_ids:
            if initial is not None and details is not initial and details == initial:
                return initial  # share equal details along the history (memory)
            return details
        if details is EMPTY_DETAILS:
            shared = run._id_details
            if shared is None or (
                shared.task_run_id is not task_run_id and shared.task_run_id != task_run_id
            ):
                shared = run._id_details = StateDetails(
                    flow_run_id=flow_run_id, task_run_id=task_run_id
                )
            return shared
    values: list[Any] = list(_values(details))
    if not same_ids:
        values[_FLOW] = flow_run_id
        values[_TASK] = task_run_id
    if needs_time:
        values[_TIME] = scheduled_time
    if initial is not None and tuple(values) == _values(initial):
        return initial  # equal: shared, nothing built
    built: StateDetails = _new_object(StateDetails)
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(built, value)
    return built


def apply_bookkeeping(
    run: TaskRun | FlowRun, initial: State | None, new: State, *, count_runs: bool = True
) -> None:
    """Update ``run``'s bookkeeping for the move from ``initial`` to the committed ``new``.

    ``new`` must carry its timestamp (and its scheduled time, for SCHEDULED).
    ``count_runs=False`` skips the run-count increment (a resuming flow run).
    """
    timestamp: datetime = new.timestamp  # type: ignore[assignment]
    new_type = new.type
    initial_type = None if initial is None else initial.type
    if new_type is _RUNNING:
        if run.start_time is None:
            run.start_time = timestamp
        if count_runs:
            run.run_count += 1
    new_final = new_type in TERMINAL_TYPES
    if initial_type in TERMINAL_TYPES and not new_final:
        run.end_time = None
    if new_final and run.end_time is None:
        if run.start_time is None:
            run.start_time = timestamp
        run.end_time = timestamp
    if initial_type is _RUNNING and initial is not None and initial.timestamp is not None:
        run.total_run_time += (timestamp - initial.timestamp).total_seconds()
    if run.expected_start_time is None:
        if new_type is _SCHEDULED and new.details.scheduled_time is not None:
            run.expected_start_time = new.details.scheduled_time
        else:
            run.expected_start_time = timestamp
    if initial_type is _SCHEDULED:
        run.next_scheduled_start_time = None
    if new_type is _SCHEDULED:
        run.next_scheduled_start_time = new.details.scheduled_time
    run.state = new

"""Run factories: task runs and flow runs in a given state, for your own tests.

The factories go through the orchestrator's public methods with ``force=True`` (the
minimal policy, bookkeeping included), so the runs they make are ordinary runs: in the
store, indexed, with a state history and decisions. By default the run walks the
usual path to the state you ask for (``Pending -> Running -> Completed`` for a
completed run), so its start time, end time and run count look like a real run's; pass
``walk=False`` to create it directly in that state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from .._core._checks import check_bool
from .._core._checks_objects import check_instance
from .._core._errors import ArgumentTypeError, ArgumentValueError
from .._core._models import FlowRun, FlowRunPolicy, TaskRun, TaskRunPolicy
from .._core._states import Pending, Running, State, StateType
from .._engine._orchestrator import Orchestrator

__all__ = ["make_flow_run", "make_task_run"]

#: The states a run walks through before the one asked for (see :func:`_path`).
_AFTER_RUNNING: Final = frozenset(
    {
        StateType.COMPLETED,
        StateType.FAILED,
        StateType.CRASHED,
        StateType.CANCELLING,
        StateType.CANCELLED,
        StateType.PAUSED,
    }
)


def _target(state: State | StateType | str | None) -> State:
    if state is None:
        return Pending()
    if isinstance(state, State):
        return state
    if isinstance(state, StateType):
        return State(type=state)
    if isinstance(state, str):
        key = state.upper()
        if key in StateType.__members__:
            return State(type=StateType[key])
        raise ArgumentValueError(
            f"{state!r} is not a state type; give one of "
            f"{', '.join(t.name for t in StateType)}, or a State such as AwaitingRetry()"
        )
    raise ArgumentTypeError(f"state is a State, a StateType or a type name, got {state!r}")


def _path(target: State) -> list[State]:
    """Pending first; Running before a state that normally follows it; then the target."""
    path: list[State] = []
    if target.type is not StateType.PENDING and target.type is not StateType.SCHEDULED:
        path.append(Pending())
        if target.type in _AFTER_RUNNING:
            path.append(Running())
    path.append(target)
    return path


def make_task_run(
    orchestrator: Orchestrator,
    state: State | StateType | str | None = None,
    *,
    task_key: str = "my-task",
    flow_run: FlowRun | uuid.UUID | None = None,
    name: str | None = None,
    tags: Iterable[str] = (),
    retries: int | None = None,
    retry_delay: float | Sequence[float] | None = None,
    retry_jitter_factor: float | None = None,
    cache_key: str | None = None,
    labels: Mapping[str, str] | None = None,
    walk: bool = True,
) -> TaskRun:
    """Create a task run that is in ``state``, and return its live record.

    Example::

        run = make_task_run(orchestrator, "RUNNING", tags=["db"])
        done = make_task_run(orchestrator, Completed(42))
        retrying = make_task_run(orchestrator, AwaitingRetry(), retries=3)

    Args:
        orchestrator: where to create the run.
        state: the state to end in: a State, a StateType, or a type name in any case
            (``"completed"``); Pending when None.
        task_key: the run's task key.
        flow_run: the parent flow run (record or id); an autonomous run when None.
        name: the run's name; ``<task_key>-<4 hex digits>`` when None.
        tags: the run's tags (tag concurrency limits apply when it runs later).
        retries, retry_delay, retry_jitter_factor: the run's retry policy.
        cache_key: the run's cache key (informational).
        labels: labels merged over the flow run's.
        walk: go through Pending (and Running, for a state that follows running) first,
            each with force; False creates the run directly in ``state``.

    Raises:
        InvalidArgument: a bad state or field (nothing is created).
        ObjectNotFound: ``flow_run`` names no flow run.
    """
    check_instance(orchestrator, Orchestrator, "orchestrator")
    target = _target(state)
    check_bool(walk, "walk")
    policy = TaskRunPolicy(
        retries=retries, retry_delay=retry_delay, retry_jitter_factor=retry_jitter_factor
    )
    path = _path(target) if walk else [target]
    parent = flow_run.id if isinstance(flow_run, FlowRun) else flow_run
    run, _ = orchestrator.create_task_run(
        task_key,
        flow_run_id=parent,
        name=name,
        state=path[0],
        tags=tags,
        policy=policy,
        cache_key=cache_key,
        labels=labels,
    )
    for step in path[1:]:
        orchestrator.set_task_run_state(run.id, step, force=True)
    return run


def make_flow_run(
    orchestrator: Orchestrator,
    state: State | StateType | str | None = None,
    *,
    flow_name: str = "my-flow",
    name: str | None = None,
    parameters: Mapping[str, object] | None = None,
    tags: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    retries: int | None = None,
    retry_delay: float | None = None,
    walk: bool = True,
) -> FlowRun:
    """Create a flow run (of the flow ``flow_name``, created if needed) that is in ``state``.

    Example::

        flow_run = make_flow_run(orchestrator, "RUNNING")
        child = make_task_run(orchestrator, "PENDING", flow_run=flow_run)

    Args:
        orchestrator: where to create the run.
        state: the state to end in, as for :func:`make_task_run`; Pending when None.
        flow_name: the flow's name.
        name: the run's name; generated when None.
        parameters: the run's parameters.
        tags, labels: the run's tags and labels.
        retries, retry_delay: the run's retry policy.
        walk: as for :func:`make_task_run`.

    Raises:
        InvalidArgument: a bad state or field (nothing is created).
    """
    check_instance(orchestrator, Orchestrator, "orchestrator")
    target = _target(state)
    check_bool(walk, "walk")
    policy = FlowRunPolicy(retries=retries, retry_delay=retry_delay)
    path = _path(target) if walk else [target]
    flow = orchestrator.create_flow(flow_name)
    run = orchestrator.create_flow_run(
        flow.id,
        name=name,
        state=path[0],
        parameters=parameters,
        tags=tags,
        labels=labels,
        policy=policy,
    )
    for step in path[1:]:
        orchestrator.set_flow_run_state(run.id, step, force=True)
    return run

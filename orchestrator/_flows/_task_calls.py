"""Calling, submitting and mapping a task: what ``task(...)``, ``.submit`` and ``.map`` do.

As in Prefect 3, calling a task is a task run: executed inline, in the calling thread
(a sync task) or when the returned coroutine is awaited (an async task), on the current
orchestrator, or on a fresh default one when none is current. Inside a flow the run is
attached to the flow run. ``return_state=True`` returns the final state instead of the
value, and ``wait_for=[futures]`` waits for other runs first.

``task.submit(...)`` and ``task.map(...)`` run on the task runner of the flow running
here and return futures at once; outside a flow they raise, pointing to ``.delay``
(the background path through TaskWorkers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from .._core._checks import check_bool, wrong_type
from .._core._errors import NoFlowRunning
from .._core._run_context import current_flow_context
from .._core._wakeup import current_async_library
from .._engine._futures import TaskRunFuture
from ._flow_runs import driving_time, driving_time_async, target_orchestrator
from ._mapping import TaskRunFutureList, map_parameters
from ._task_runs import TaskRunCall

if TYPE_CHECKING:
    from .._core._tasks import Task

__all__ = ["call_task", "map_task", "submit_task"]

#: The keyword arguments a task call takes for itself.
RESERVED: Final = ("return_state", "wait_for")


def _wait_for(value: object) -> list[TaskRunFuture[Any]]:
    if value is None:
        return []
    if isinstance(value, TaskRunFuture) or not isinstance(value, Iterable):
        raise wrong_type("wait_for", value, "a list of futures (TaskRunFuture) or None")
    futures = list(value)
    for future in futures:
        if not isinstance(future, TaskRunFuture):
            raise wrong_type("wait_for", value, "a list of futures (TaskRunFuture) or None")
    return futures


def _split(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], bool, list[TaskRunFuture[Any]]]:
    rest = dict(kwargs)
    return_state = check_bool(rest.pop("return_state", False), "return_state")
    return rest, return_state, _wait_for(rest.pop("wait_for", None))


def call_task(task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """``task(*args, **kwargs)``: a task run executed inline; its value or final state."""
    rest, return_state, wait_for = _split(kwargs)
    parameters = task.bind_parameters(*args, **rest)
    if task.is_async:
        return _call_async(task, parameters, return_state, wait_for)
    call = _new_call(task, parameters, wait_for)
    with driving_time(call.orchestrator):
        state = call.run_blocking()
    return state if return_state else state.result()


async def _call_async(
    task: Task[..., Any],
    parameters: dict[str, Any],
    return_state: bool,
    wait_for: Sequence[TaskRunFuture[Any]],
) -> Any:
    call = _new_call(task, parameters, wait_for)
    async with driving_time_async(call.orchestrator):
        state = await call.run_async()
    return state if return_state else state.result()


def _new_call(
    task: Task[..., Any], parameters: dict[str, Any], wait_for: Sequence[TaskRunFuture[Any]]
) -> TaskRunCall:
    orchestrator = target_orchestrator()
    flow = current_flow_context()
    flow_run_id = None
    if flow is not None and flow.orchestrator is orchestrator:
        flow_run_id = flow.flow_run_id
    return TaskRunCall(orchestrator, task, parameters, wait_for=wait_for, flow_run_id=flow_run_id)


def _flow_for(task: Task[..., Any], method: str) -> Any:
    flow = current_flow_context()
    if flow is None:
        raise NoFlowRunning(
            f"{task.name}.{method}() runs the task on a flow's task runner, and no flow is "
            f"running here: call it inside a @flow function, or use {task.name}.delay(...) "
            "for a background run that a TaskWorker serves"
        )
    return flow


def submit_task(
    task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TaskRunFuture[Any]:
    """``task.submit(*args, **kwargs)`` inside a flow: a run on its task runner; its future."""
    flow = _flow_for(task, "submit")
    rest, return_state, wait_for = _split(kwargs)
    if return_state:
        raise wrong_type("return_state", return_state, "False: submit returns a future")
    parameters = task.bind_parameters(*args, **rest)
    return _submit(flow, task, parameters, wait_for)


def _submit(
    flow: Any,
    task: Task[..., Any],
    parameters: dict[str, Any],
    wait_for: Sequence[TaskRunFuture[Any]],
) -> TaskRunFuture[Any]:
    call = TaskRunCall(
        flow.orchestrator, task, parameters, wait_for=wait_for, flow_run_id=flow.flow_run_id
    )
    flow.task_runner.submit(call, is_async=task.is_async, backend=current_async_library())
    return call.future


def map_task(
    task: Task[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> TaskRunFutureList[Any]:
    """``task.map(*iterables, **kwargs)`` inside a flow: one run per element; their futures."""
    flow = _flow_for(task, "map")
    rest, return_state, wait_for = _split(kwargs)
    if return_state:
        raise wrong_type("return_state", return_state, "False: map returns futures")
    bound = task.bind_parameters(*args, **rest)
    # A future passed to map is mapped over its result (waited for now), as in Prefect.
    bound = {
        name: value.result() if isinstance(value, TaskRunFuture) else value
        for name, value in bound.items()
    }
    return TaskRunFutureList(
        _submit(flow, task, parameters, wait_for) for parameters in map_parameters(task.name, bound)
    )

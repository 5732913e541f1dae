"""The run context: which task run or flow run the running code belongs to.

Whatever executes a run (a TaskWorker, a flow's task runner, a direct call of a task, a
flow call) enters :func:`run_context` around the user's function. Inside it,
:func:`get_run_context` returns the run's context and ``Orchestrator.current()`` is the
orchestrator running it, whatever the caller had entered. Both are context variables, so
threads and tasks started inside inherit them and nothing is process-wide.

A task run inside a flow sees its own :class:`TaskRunContext`; :func:`current_flow_context`
still finds the enclosing flow's :class:`FlowRunContext` (its task runner, its flow run).

A run whose task or flow says ``log_prints=True`` also captures ``print`` for its extent
(see :mod:`._log_prints`): each print becomes an INFO line of the run's log. A task's
``log_prints`` left at None follows the run it executes in (its flow's setting).
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, final

import attrs

from ._current import CURRENT, Submitter
from ._errors import OrchestratorError
from ._log_prints import PRINT_PATCH, PRINT_SINK, PrintSink

if TYPE_CHECKING:
    from .._engine._orchestrator import Orchestrator
    from ._models import FlowRun, TaskRun
    from ._tasks import Task

__all__ = [
    "FlowRunContext",
    "MissingContextError",
    "RunContextBlock",
    "TaskRunContext",
    "current_flow_context",
    "current_task_context",
    "get_run_context",
    "run_context",
]


@final
class MissingContextError(OrchestratorError, RuntimeError):
    """``get_run_context()`` was called outside any task run or flow run."""


@final
@attrs.frozen(eq=False, kw_only=True)
class TaskRunContext:
    """What a running task can know about its run.

    Attributes:
        orchestrator: the orchestrator running the task.
        task: the task being run.
        task_run_id: the run's id.
        parameters: the arguments of the call, bound to the task's parameter names.
    """

    orchestrator: Orchestrator
    task: Task[..., Any]
    task_run_id: uuid.UUID
    parameters: Mapping[str, Any]

    @property
    def task_run(self) -> TaskRun:
        """The run's live record (``run_count`` is the attempt, 1 for the first)."""
        return self.orchestrator.read_task_run(self.task_run_id)


@final
@attrs.frozen(eq=False, kw_only=True)
class FlowRunContext:
    """What a running flow can know about its run.

    Attributes:
        orchestrator: the orchestrator running the flow.
        flow: the flow being run (the object ``@flow`` made).
        flow_run_id: the run's id.
        parameters: the arguments of the call, bound to the flow's parameter names.
        task_runner: where tasks submitted in this flow run.
    """

    orchestrator: Orchestrator
    flow: Any
    flow_run_id: uuid.UUID
    parameters: Mapping[str, Any]
    task_runner: Any

    @property
    def flow_run(self) -> FlowRun:
        """The run's live record (``run_count`` is the attempt, 1 for the first)."""
        return self.orchestrator.read_flow_run(self.flow_run_id)


RunContext = TaskRunContext | FlowRunContext

_TASK: Final[contextvars.ContextVar[TaskRunContext | None]] = contextvars.ContextVar(
    "orchestrator_task_run_context", default=None
)
_FLOW: Final[contextvars.ContextVar[FlowRunContext | None]] = contextvars.ContextVar(
    "orchestrator_flow_run_context", default=None
)


def get_run_context() -> TaskRunContext | FlowRunContext:
    """Return the context of the task run or flow run executing here.

    Inside a task (called, submitted in a flow, or run by a TaskWorker) it is the task
    run's :class:`TaskRunContext`; in a flow's body outside any task, the flow run's
    :class:`FlowRunContext`.

    Raises:
        MissingContextError: no task run or flow run executes in this context.
    """
    found: RunContext | None = _TASK.get() or _FLOW.get()
    if found is None:
        raise MissingContextError(
            "get_run_context() was called outside any task run or flow run: call it from "
            "the body of a @task or @flow function while it runs"
        )
    return found


def current_task_context() -> TaskRunContext | None:
    """The innermost task run's context here, or None."""
    return _TASK.get()


def current_flow_context() -> FlowRunContext | None:
    """The innermost flow run's context here (also inside its tasks), or None."""
    return _FLOW.get()


def run_context(context: RunContext) -> RunContextBlock:
    """Run the block as part of ``context``'s run, on ``context.orchestrator``.

    Inside, :func:`get_run_context` returns ``context`` and the run's orchestrator is the
    current one. A flow run's context hides any task run's context of its caller (a
    subflow called from a task is not that task). ``with run_context(c) as entered``
    gives ``c``.
    """
    return RunContextBlock(context)


@final
class RunContextBlock:
    """The ``with`` block of :func:`run_context`; enter it once.

    A class rather than a generator context manager: it is entered for every run a worker
    executes, and sets and resets the context variables directly.
    """

    __slots__ = ("_context", "_current", "_flow", "_sink", "_sink_token", "_task")

    _current: contextvars.Token[Submitter | None] | None
    _flow: contextvars.Token[FlowRunContext | None] | None
    _sink: PrintSink | None
    _sink_token: contextvars.Token[PrintSink | None] | None
    _task: contextvars.Token[TaskRunContext | None]

    def __init__(self, context: RunContext) -> None:
        self._context = context

    def __enter__(self) -> RunContext:
        context = self._context
        is_task = context.__class__ is TaskRunContext
        owner = context.task if is_task else context.flow  # type: ignore[union-attr]
        # getattr: the option is read off any task or flow object, with or without it.
        setting = getattr(owner, "log_prints", None)
        outer_sink = PRINT_SINK.get()
        captured = outer_sink is not None if setting is None else setting is True
        sink = _print_sink(context) if captured else None
        # A variable that already holds the value is left alone (no token, no reset):
        # the same values inside and after, one copy of the context less per run.
        orchestrator = context.orchestrator
        self._current = None if CURRENT.get() is orchestrator else CURRENT.set(orchestrator)
        if is_task:
            self._flow = None
            self._task = _TASK.set(context)  # type: ignore[arg-type]
        else:
            self._flow = _FLOW.set(context)  # type: ignore[arg-type]
            self._task = _TASK.set(None)
        self._sink = sink
        self._sink_token = None if sink is outer_sink else PRINT_SINK.set(sink)
        if sink is not None:
            PRINT_PATCH.acquire()
        return context

    def __exit__(self, *exc_info: object) -> None:
        sink_token = self._sink_token
        if sink_token is not None:
            PRINT_SINK.reset(sink_token)
        if self._sink is not None:
            PRINT_PATCH.release()
        _TASK.reset(self._task)
        flow = self._flow
        if flow is not None:
            _FLOW.reset(flow)
        current = self._current
        if current is not None:
            CURRENT.reset(current)


def _print_sink(context: RunContext) -> PrintSink:
    """The sink of a run that captures its prints: its log."""

    def log_print(text: str) -> None:
        if isinstance(context, TaskRunContext):
            logger = context.orchestrator.run_logger(task_run_id=context.task_run_id)
        else:
            logger = context.orchestrator.run_logger(flow_run_id=context.flow_run_id)
        # stacklevel: the line is the print's (log_print, the print wrapper, the caller).
        logger.info("%s", text, stacklevel=3)

    return log_print

"""``get_run_logger()`` and ``read_logs()``: run logs reached through the current context.

:func:`get_run_logger` finds the run executing here with
:func:`~orchestrator._core._run_context.get_run_context` (a task run's context inside a
task, wherever it runs; a flow run's in a flow's body) and returns that run's
:class:`~._run_logger.RunLogger`. :func:`read_logs` reads the current orchestrator's.
"""

from __future__ import annotations

import uuid

from .._core._run_context import (
    MissingContextError,
    TaskRunContext,
    current_flow_context,
    current_task_context,
)
from ._orchestrator import Orchestrator
from ._run_logger import RunLogger
from ._run_logs import RunLog

__all__ = ["get_run_logger", "read_logs", "run_logger_for"]


def get_run_logger() -> RunLogger:
    """Return the logger of the task run or flow run executing here.

    Inside a task (called, run in a flow, or run by a TaskWorker) it is the task run's
    logger, naming the task run's flow run when it has one; in a flow's body, the flow
    run's. Each line is kept on the run (see ``Orchestrator.read_logs``) and goes on to
    the stdlib logger ``orchestrator.runs``, so handlers and pytest's ``caplog`` see it.

    Example::

        @task
        def fetch(url: str) -> bytes:
            get_run_logger().info("fetching %s", url)
            ...

    Raises:
        MissingContextError: no task run or flow run executes here (also a
            RuntimeError): call it inside the body of a ``@task`` or ``@flow`` function.
    """
    context: TaskRunContext | None = current_task_context()
    if context is not None:
        return context.orchestrator.run_logger(task_run_id=context.task_run_id)
    flow = current_flow_context()
    if flow is not None:
        return flow.orchestrator.run_logger(flow_run_id=flow.flow_run_id)
    raise MissingContextError(
        "get_run_logger() was called outside any task run or flow run: call it inside the "
        "body of a @task or @flow function while it runs (or use "
        "run_logger_for(orchestrator, task_run_id=...) to log on a run from outside it)"
    )


def run_logger_for(
    orchestrator: Orchestrator,
    *,
    task_run_id: uuid.UUID | None = None,
    flow_run_id: uuid.UUID | None = None,
) -> RunLogger:
    """Return a run's logger from its ids: ``orchestrator.run_logger(...)``, as a function.

    Raises:
        InvalidArgument: neither id, or an id that is not a UUID (naming it).
    """
    return orchestrator.run_logger(task_run_id=task_run_id, flow_run_id=flow_run_id)


def read_logs(
    task_run_id: uuid.UUID | None = None,
    flow_run_id: uuid.UUID | None = None,
    level: int | str | None = None,
) -> list[RunLog]:
    """Return the current orchestrator's run logs: ``Orchestrator.current().read_logs(...)``.

    Raises:
        RuntimeError: no orchestrator is current (use ``with orchestrator:``).
        InvalidArgument: a bad argument, naming it (see ``Orchestrator.read_logs``).
    """
    return Orchestrator.current().read_logs(
        task_run_id=task_run_id, flow_run_id=flow_run_id, level=level
    )

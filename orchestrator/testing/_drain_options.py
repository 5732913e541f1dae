"""A drain's arguments: the checks its options get, and the worker that serves its tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core._checks import check_bool, check_optional_seconds, check_positive_int
from .._core._checks_objects import check_instance
from .._core._errors import ArgumentValueError
from .._engine._orchestrator import Orchestrator

if TYPE_CHECKING:
    from .._core._tasks import Task
    from ..workers import TaskWorker
    from ..workers._worker_setup import ExecutorOption

__all__ = ["check_drain_options", "drain_worker"]


def check_drain_options(
    orchestrator: object, timeout: float | None, fail_fast: object, max_idle_jumps: int
) -> None:
    """Check a drain's common options (each error names its parameter).

    Raises:
        InvalidArgument: a bad ``orchestrator``, ``timeout``, ``fail_fast`` or
            ``max_idle_jumps``.
    """
    check_instance(orchestrator, Orchestrator, "orchestrator")
    # "real" seconds: the timeout runs on the wall clock, not the orchestrator's clock.
    # An infinite timeout is the same as None.
    check_optional_seconds(
        timeout, "timeout", positive=True, finite=False, expected="None or real seconds > 0"
    )
    check_bool(fail_fast, "fail_fast")
    check_positive_int(max_idle_jumps, "max_idle_jumps", expected="an int >= 1")


def drain_worker(
    caller: str,
    orchestrator: Orchestrator,
    tasks: tuple[Task[..., Any], ...],
    limit: int | None,
    executor: ExecutorOption | None,
) -> TaskWorker | None:
    """The TaskWorker a drain serves ``tasks`` with (None: no tasks, workers are the
    caller's).

    Raises:
        ArgumentValueError: an executor with no tasks to serve.
    """
    if not tasks:
        if executor is not None:
            raise ArgumentValueError(
                f"{caller} got an executor but no tasks: give the tasks its worker serves"
            )
        return None
    from ..workers import TaskWorker  # the runtime layer, loaded only when needed

    return TaskWorker(*tasks, orchestrator=orchestrator, limit=limit, executor=executor)

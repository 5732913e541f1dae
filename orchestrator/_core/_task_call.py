"""Calling a task: the run executes inline, as in Prefect 3.

:class:`TaskCall` holds :meth:`~orchestrator.Task.__call__` (a base class of
:class:`~orchestrator.Task`). Its overloads carry the task's return type to the caller:
the value, or with ``return_state=True`` the final State (a coroutine of it for an async
task). The call itself runs in :mod:`orchestrator._flows`, imported lazily (a listed
exception to the layers: calling a task runs it as a task run).
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar, cast, overload

if TYPE_CHECKING:
    from .._engine._futures import TaskRunFuture
    from ._state_record import State
    from ._tasks import Task

__all__ = ["TaskCall"]

P = ParamSpec("P")
R = TypeVar("R")


class TaskCall(Generic[P, R]):
    """Calling a :class:`~orchestrator.Task` runs it now as a task run (its base class)."""

    __slots__ = ()

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def __call__(
        self: TaskCall[..., Coroutine[Any, Any, Any]],
        *args: Any,
        return_state: Literal[True],
        wait_for: Iterable[TaskRunFuture[Any]] | None = None,
        **kwargs: Any,
    ) -> Coroutine[Any, Any, State]: ...

    @overload
    def __call__(
        self,
        *args: Any,
        return_state: Literal[True],
        wait_for: Iterable[TaskRunFuture[Any]] | None = None,
        **kwargs: Any,
    ) -> State: ...

    @overload
    def __call__(
        self,
        *args: Any,
        return_state: Literal[False] = False,
        wait_for: Iterable[TaskRunFuture[Any]] | None,
        **kwargs: Any,
    ) -> R: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task now as a task run, and return its value.

        As in Prefect 3: the run executes inline (a sync task in this thread; an async
        task returns a coroutine to await), on the current orchestrator or on a fresh
        default one, attached to the flow run when called inside a flow, with the task's
        retries, cache, tag limits and timeout. Two keywords are the call's own:
        ``return_state=True`` returns the final State instead of the value, and
        ``wait_for=[futures]`` waits for other runs first. ``task.fn`` is the plain
        function.

        Raises:
            TypeError: the arguments do not fit the signature (nothing is created).
            Exception: the task's own exception when the run ends Failed.
            UnfinishedRun: an upstream run did not complete (the run is NotReady).
        """
        from .._flows._task_calls import call_task

        return call_task(cast("Task[P, R]", self), args, kwargs)

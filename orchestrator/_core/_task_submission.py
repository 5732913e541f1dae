"""Handing a task's runs off: to a flow's task runner, or to the background queues.

:class:`TaskSubmission` holds the methods of :class:`~orchestrator.Task` that create a
run and return its future instead of running it in the caller: ``submit`` and ``map``
(inside a flow, on the flow's task runner; see :mod:`orchestrator._flows`) and
``delay``, ``adelay`` and ``apply_async`` (background runs that a TaskWorker serves).
Their overloads carry the task's return type to the future; an async task's future
has the type its coroutine returns.
"""

from __future__ import annotations

import warnings
from collections.abc import Coroutine, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast, overload

from ._checks import wrong_type
from ._checks_objects import check_args, check_datetime, check_mapping
from ._current import Submitter, current

if TYPE_CHECKING:
    from .._engine._futures import TaskRunFuture
    from .._engine._orchestrator import Orchestrator
    from .._flows._mapping import TaskRunFutureList
    from ._tasks import Task

__all__ = ["TaskSubmission"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class TaskSubmission(Generic[P, R]):
    """The run-creating methods of :class:`~orchestrator.Task` (its base class)."""

    __slots__ = ()

    def _as_task(self) -> Task[P, R]:
        """This object, typed as the :class:`~orchestrator.Task` it always is."""
        return cast("Task[P, R]", self)

    @overload
    def submit(
        self: TaskSubmission[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    @overload
    def submit(
        self: TaskSubmission[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    @overload
    def submit(
        self: TaskSubmission[..., Coroutine[Any, Any, T]],
        *args: Any,
        wait_for: Iterable[TaskRunFuture[Any]] | None,
        **kwargs: Any,
    ) -> TaskRunFuture[T]: ...

    @overload
    def submit(
        self: TaskSubmission[..., T],
        *args: Any,
        wait_for: Iterable[TaskRunFuture[Any]] | None,
        **kwargs: Any,
    ) -> TaskRunFuture[T]: ...

    def submit(self, *args: Any, **kwargs: Any) -> TaskRunFuture[Any]:
        """Inside a flow: run the task now on the flow's task runner; return its future.

        No worker is needed. Futures (and states) among the arguments are resolved to
        their results first; ``wait_for=[futures]`` waits for more runs. Outside a flow
        it raises: use :meth:`delay` for a background run served by a TaskWorker.

        Raises:
            NoFlowRunning: no flow is running here (a RuntimeError).
            TypeError: the arguments do not fit the signature (nothing is created).
        """
        from .._flows._task_calls import submit_task

        return submit_task(self._as_task(), args, kwargs)

    @overload
    def map(
        self: TaskSubmission[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any
    ) -> TaskRunFutureList[T]: ...

    @overload
    def map(self: TaskSubmission[..., T], *args: Any, **kwargs: Any) -> TaskRunFutureList[T]: ...

    def map(self, *args: Any, **kwargs: Any) -> TaskRunFutureList[Any]:
        """Inside a flow: one run per element of the iterable arguments; their futures.

        Every argument that is iterable (strings and bytes aside) is mapped over, in
        step; wrap one in :class:`~orchestrator.unmapped` to pass it whole to every run.
        The result is a list of futures that can also ``wait()`` and ``result()``.

        Raises:
            NoFlowRunning: no flow is running here (use :meth:`delay` per element).
            InvalidArgument: nothing to map over, or iterables of different lengths.
            TypeError: the arguments do not fit the signature (nothing is created).
        """
        from .._flows._task_calls import map_task

        return map_task(self._as_task(), args, kwargs)

    @overload
    def delay(
        self: TaskSubmission[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    @overload
    def delay(
        self: TaskSubmission[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    def delay(self, *args: Any, **kwargs: Any) -> TaskRunFuture[Any]:
        """Submit a background run on the current orchestrator and return its future.

        A TaskWorker serving the task executes it (``orchestrator.submit(task, ...)`` is
        the explicit form).

        Raises:
            RuntimeError: no orchestrator is current (use ``with orchestrator:``).
            TypeError: the arguments do not fit the signature (nothing is created).
            QueueFull: the task key's queue is full (nothing is created).
        """
        return current().submit(self._as_task(), *args, **kwargs)

    @overload
    async def adelay(
        self: TaskSubmission[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    @overload
    async def adelay(
        self: TaskSubmission[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    async def adelay(self, *args: Any, **kwargs: Any) -> TaskRunFuture[Any]:
        """Like :meth:`delay`, waiting for room in a full queue instead of raising QueueFull.

        Raises:
            RuntimeError: no orchestrator is current (use ``async with orchestrator:``).
            TypeError: the arguments do not fit the signature (nothing is created).
        """
        return await current().asubmit(self._as_task(), *args, **kwargs)

    async def asubmit(self, *args: Any, **kwargs: Any) -> TaskRunFuture[Any]:
        """Deprecated: the old name of :meth:`adelay` (``submit`` now means a flow's runner)."""
        warnings.warn(
            "Task.asubmit() is deprecated: use Task.adelay(), the same background submission",
            DeprecationWarning,
            stacklevel=2,
        )
        return await self.adelay(*args, **kwargs)

    @overload
    def apply_async(
        self: TaskSubmission[..., Coroutine[Any, Any, T]],
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        scheduled_time: datetime | None = None,
        orchestrator: Orchestrator | None = None,
    ) -> TaskRunFuture[T]: ...

    @overload
    def apply_async(
        self: TaskSubmission[..., T],
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        scheduled_time: datetime | None = None,
        orchestrator: Orchestrator | None = None,
    ) -> TaskRunFuture[T]: ...

    def apply_async(
        self,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        scheduled_time: datetime | None = None,
        orchestrator: Orchestrator | None = None,
    ) -> TaskRunFuture[Any]:
        """Submit a background run, optionally due at a later time or on a given orchestrator.

        Args:
            args: positional arguments of the call, a tuple or a list.
            kwargs: keyword arguments of the call, a mapping with string keys.
            scheduled_time: when the run is due (aware datetime); now when None.
            orchestrator: where to submit; the current orchestrator when None.

        Raises:
            InvalidArgument: ``args`` is not a tuple or list, or ``kwargs`` not a mapping
                with string keys (nothing is created).
            RuntimeError: no orchestrator is given or current.
            TypeError: the arguments do not fit the signature (nothing is created).
            QueueFull: the task key's queue is full (nothing is created).
        """
        call_args = check_args(args, "args")
        call_kwargs = {} if kwargs is None else dict(check_mapping(kwargs, "kwargs"))
        if orchestrator is not None and not isinstance(orchestrator, Submitter):
            raise wrong_type("orchestrator", orchestrator, "an Orchestrator or None")
        target: Submitter = current() if orchestrator is None else orchestrator
        if scheduled_time is None:
            return target.submit(self._as_task(), *call_args, **call_kwargs)
        when = check_datetime(scheduled_time, "scheduled_time")
        return target.schedule(when, self._as_task(), *call_args, **call_kwargs)

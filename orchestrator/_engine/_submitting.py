"""The Orchestrator's submission methods: background runs of tasks, and their futures.

``submit``/``schedule`` create a background run now (raising QueueFull on a full queue),
``asubmit``/``aschedule`` wait for room instead. The future carries the task's return
type; an async task's future carries the type its coroutine returns.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast, overload

from .._core._checks_objects import check_datetime
from .._core._tasks import Task
from ._facet import Facet
from ._futures import TaskRunFuture
from ._submission import asubmit_task, submit_task

if TYPE_CHECKING:
    from ._orchestrator import Orchestrator

__all__ = ["Submissions"]

P = ParamSpec("P")
T = TypeVar("T")


class Submissions(Facet):
    """Submitting background runs of tasks (``submit``, ``schedule`` and async forms)."""

    __slots__ = ()

    @overload
    def submit(
        self, task: Task[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    @overload
    def submit(
        self, task: Task[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    def submit(self, task: Task[P, Any], /, *args: Any, **kwargs: Any) -> TaskRunFuture[Any]:
        """Create a background run of ``task(*args, **kwargs)``, due now; return its future.

        The run waits in its task key's queue for a :class:`TaskWorker` serving the task.

        Raises:
            TypeError: the arguments do not fit the task's signature (nothing is created).
            QueueFull: the task key's queue is full (nothing is created); from async code
                use :meth:`asubmit`, which waits for room.
        """
        # self is the Orchestrator this facet belongs to; no typing.cast, which is a call.
        return submit_task(self, task, args, kwargs)  # type: ignore[arg-type]

    @overload
    def schedule(
        self,
        when: datetime,
        task: Task[P, Coroutine[Any, Any, T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> TaskRunFuture[T]: ...

    @overload
    def schedule(
        self, when: datetime, task: Task[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    def schedule(
        self, when: datetime, task: Task[P, Any], /, *args: Any, **kwargs: Any
    ) -> TaskRunFuture[Any]:
        """Like :meth:`submit`, for a run due at ``when`` (an aware datetime)."""
        return submit_task(
            cast("Orchestrator", self),
            task,
            args,
            kwargs,
            scheduled_time=check_datetime(when, "when"),
        )

    @overload
    async def asubmit(
        self, task: Task[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    @overload
    async def asubmit(
        self, task: Task[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    async def asubmit(self, task: Task[P, Any], /, *args: Any, **kwargs: Any) -> TaskRunFuture[Any]:
        """Like :meth:`submit`, but wait for room in a full queue instead of raising."""
        return await asubmit_task(cast("Orchestrator", self), task, args, kwargs)

    @overload
    async def aschedule(
        self,
        when: datetime,
        task: Task[P, Coroutine[Any, Any, T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> TaskRunFuture[T]: ...

    @overload
    async def aschedule(
        self, when: datetime, task: Task[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[T]: ...

    async def aschedule(
        self, when: datetime, task: Task[P, Any], /, *args: Any, **kwargs: Any
    ) -> TaskRunFuture[Any]:
        """Like :meth:`schedule`, but wait for room in a full queue instead of raising."""
        when = check_datetime(when, "when")
        return await asubmit_task(
            cast("Orchestrator", self), task, args, kwargs, scheduled_time=when
        )

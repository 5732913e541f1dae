"""The current orchestrator: the one ``task.delay(...)`` submits to.

``with orchestrator:`` (or ``async with``) makes an orchestrator current in this
context (a :class:`contextvars.ContextVar`, so threads and tasks started inside inherit
it and two tests never see each other's). Tasks live below the engine, so they reach
the current orchestrator through the narrow :class:`Submitter` protocol instead of
importing it.
"""

from __future__ import annotations

import contextvars
from datetime import datetime
from typing import TYPE_CHECKING, Final, ParamSpec, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from .._engine._futures import TaskRunFuture
    from ._tasks import Task

__all__ = ["CURRENT", "Submitter", "current"]

P = ParamSpec("P")
R = TypeVar("R")


@runtime_checkable
class Submitter(Protocol):
    """What a task needs of an orchestrator to submit a background run of itself."""

    def submit(self, task: Task[P, R], /, *args: P.args, **kwargs: P.kwargs) -> TaskRunFuture[R]:
        """Create a background run of ``task(*args, **kwargs)``, due now; return its future."""
        ...

    def schedule(
        self, when: datetime, task: Task[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[R]:
        """The same, for a run due at ``when``."""
        ...

    async def asubmit(
        self, task: Task[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> TaskRunFuture[R]:
        """Like :meth:`submit`, waiting for room in a full queue instead of raising."""
        ...


#: The orchestrator of the innermost ``with orchestrator:`` block in this context.
CURRENT: Final[contextvars.ContextVar[Submitter | None]] = contextvars.ContextVar(
    "orchestrator_current", default=None
)


def current() -> Submitter:
    """Return the current orchestrator.

    Raises:
        RuntimeError: no orchestrator is current in this context.
    """
    submitter = CURRENT.get()
    if submitter is None:
        raise RuntimeError(
            "no current orchestrator: use `with orchestrator:` (or `async with`), or call "
            "orchestrator.submit(task, ...) explicitly"
        )
    return submitter

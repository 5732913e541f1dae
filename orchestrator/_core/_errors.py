"""The exception tree of ``orchestrator``.

Every error the library raises on purpose derives from :class:`OrchestratorError`,
and the tree is at most two levels deep::

    OrchestratorError
    ├── ObjectNotFound (also KeyError)         unknown run, flow, pool, limit ... id or name
    ├── ObjectAlreadyExists (also ValueError)  an id or a name that is already taken
    ├── InvalidArgument (also ValueError)      a bad value given to a public call
    │   ├── ArgumentTypeError (also TypeError) a value of a kind the parameter never takes
    │   ├── ArgumentValueError                 the right kind of value, out of range
    │   └── HistoryTooLarge                    run history asked for too many buckets
    ├── QueueFull                              admission control refused a submission
    ├── TemplateError (also ValueError)        a job template that cannot be rendered
    ├── TaskRunFailed                          ``future.result()`` of a run that did not complete
    ├── TaskRunStalled                         ``future.result()`` of a run nothing can finish
    ├── UnfinishedRun                          ``future.result()`` of a run that will never run
    ├── WorkerError (also RuntimeError)        a worker used in a way it does not support
    ├── ExecutorLost                           the process running a remote call died
    └── OrchestratorTimeout (also TimeoutError) a wait that ran out of time

Every refusal of an argument is an ``InvalidArgument`` naming the parameter; as in
Python's own APIs, a value of the wrong kind (``"3"`` for a count, ``"no"`` for a flag)
is also a :class:`TypeError`, and a value of the right kind out of range (``-1``, NaN, a
naive datetime) a :class:`ValueError`. ``InvalidArgument`` itself stays a ``ValueError``,
so code catching either keeps working.

``ExecutorLost`` is defined with the executors (``orchestrator.executors._base``).

Control-flow signals (``StopTaskWorker``) are not errors and live apart from this tree.
"""

from __future__ import annotations

import uuid
from typing import final

__all__ = [
    "ArgumentTypeError",
    "ArgumentValueError",
    "HistoryTooLarge",
    "InvalidArgument",
    "NoFlowRunning",
    "ObjectAlreadyExists",
    "ObjectNotFound",
    "OrchestratorError",
    "OrchestratorTimeout",
    "QueueFull",
    "StopTaskWorker",
    "TaskRunFailed",
    "TaskRunStalled",
    "TemplateError",
    "UnfinishedRun",
    "WorkerError",
]


class OrchestratorError(Exception):
    """Base class of every error raised on purpose by ``orchestrator``."""


@final
class ObjectNotFound(OrchestratorError, KeyError):
    """Raised when an id or a name does not name an existing object.

    Raised by every ``read_*``, ``update_*``, ``delete_*`` and ``set_*_state`` method
    of :class:`~orchestrator.Orchestrator` given an unknown id. It is also a
    :class:`KeyError`, so ``except KeyError`` works as for a dictionary.
    """

    def __init__(self, kind: str, key: object, hint: str = "") -> None:
        self.kind = kind
        self.key = key
        message = f"{kind} {key!s} was not found"
        if hint:
            message = f"{message}: {hint}"
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError quotes its argument; a plain sentence reads better.
        return str(self.args[0])


@final
class ObjectAlreadyExists(OrchestratorError, ValueError):
    """Raised when creating an object whose id or unique name is already taken."""


class InvalidArgument(OrchestratorError, ValueError):
    """Raised when a public call gets a value it cannot accept; nothing is changed."""


@final
class ArgumentTypeError(InvalidArgument, TypeError):
    """An :class:`InvalidArgument` that is also a :class:`TypeError`: a value of the wrong kind.

    Raised, for example, for ``force="no"`` (a flag takes True or False), ``retries="3"``
    or a string where a datetime belongs. Nothing is changed.
    """


@final
class ArgumentValueError(InvalidArgument, ValueError):
    """An :class:`InvalidArgument` that is also a :class:`ValueError`: a value out of range.

    Raised, for example, for a negative count, NaN or infinite seconds, an empty name or
    a naive datetime. Nothing is changed.
    """


@final
class HistoryTooLarge(InvalidArgument):
    """Raised by ``task_run_history`` when the window holds more buckets than allowed."""


@final
class QueueFull(OrchestratorError):
    """Raised by a synchronous submission when the task key's queue has no room.

    Nothing was created. The bound is ``Orchestrator(scheduled_queue_size=1000)`` for
    every key, or ``orchestrator.configure_task_key(key, scheduled_size=...)`` for one.
    Start a :class:`~orchestrator.workers.TaskWorker` that serves the key, raise the
    bound, or submit from async code (``asubmit``), which waits for room.
    """


@final
class TemplateError(OrchestratorError, ValueError):
    """Raised when a job template is malformed or, in strict mode, has unresolved placeholders."""


@final
class TaskRunFailed(OrchestratorError):
    """Raised by ``TaskRunFuture.result()`` for a run that ended without a result.

    For a run that failed with an exception raised by the task itself, that exception is
    raised instead; this error covers crashed and cancelled runs and failures whose
    exception is not available.
    """


@final
class NoFlowRunning(OrchestratorError, RuntimeError):
    """Raised by ``task.submit(...)`` and ``task.map(...)`` called outside a flow.

    They run the task on the task runner of the flow running here; outside a flow use
    ``task.delay(...)``, a background run that a TaskWorker serves.
    """


@final
class TaskRunStalled(OrchestratorError):
    """Raised by ``TaskRunFuture.result()``/``aresult()`` when nothing can finish the run.

    The run is a background run queued on its task key, and for the whole grace period
    (``unserved_grace=``) no :class:`~orchestrator.TaskWorker` of its orchestrator served
    that key; the message names the run and the key and says how to fix it. The run is
    left as it is: start a worker serving the key and wait again.

    Attributes:
        task_run_id: the run's id.
        task_key: the task key nobody serves.
    """

    def __init__(self, message: str, *, task_run_id: uuid.UUID, task_key: str) -> None:
        super().__init__(message)
        self.task_run_id = task_run_id
        self.task_key = task_key

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_stalled, (str(self), self.task_run_id, self.task_key))


def _rebuild_stalled(message: str, task_run_id: uuid.UUID, task_key: str) -> TaskRunStalled:
    return TaskRunStalled(message, task_run_id=task_run_id, task_key=task_key)


@final
class UnfinishedRun(OrchestratorError):
    """Raised when the result of a run that has not finished is asked for.

    ``TaskRunFuture.result()`` of a run that is settled but never ran: it stays PENDING
    with the name "NotReady", because a run it depended on (an upstream future passed as
    an argument or in ``wait_for``) did not complete. Waits return on such a run; only
    asking for its result raises this. ``State.result()`` of a state that is not final
    raises it too.

    Attributes:
        task_run_id: the run's id (None when raised by ``State.result()``, which does
            not know its run).
        state_message: the message of the run's state (which upstream run failed), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        task_run_id: uuid.UUID | None = None,
        state_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.task_run_id = task_run_id
        self.state_message = state_message

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_unfinished, (str(self), self.task_run_id, self.state_message))


def _rebuild_unfinished(
    message: str, task_run_id: uuid.UUID | None, state_message: str | None
) -> UnfinishedRun:
    return UnfinishedRun(message, task_run_id=task_run_id, state_message=state_message)


@final
class WorkerError(OrchestratorError, RuntimeError):
    """Raised when a worker is used in a way it does not support (for example, stopped twice)."""


@final
class OrchestratorTimeout(OrchestratorError, TimeoutError):
    """Raised when a wait (a future's result, a drain, a worker's ``timeout``) runs out of time."""


@final
class StopTaskWorker(Exception):
    """Raised inside a task worker to stop it; ``serve`` treats it as a clean exit.

    Not an error: it is the signal ``TaskWorker.stop()`` and ``handle_sigterm`` use.
    """

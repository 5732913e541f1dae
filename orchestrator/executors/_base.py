"""The executor seam: submit a function, await its result, cancel it, learn if its place died.

An *executor* runs task functions somewhere else than the orchestrating event loop: a
process pool on this machine, a Dask cluster. Orchestration (states, policies, queues,
slots, the journal) stays in this process; only the call leaves it. The seam is small:

* :class:`Executor` (a :class:`typing.Protocol`): ``submit(fn, /, *args, **kwargs)``
  returns a :class:`RemoteCall` at once (it never blocks on the call); ``close()`` releases
  what the executor owns; an executor is a context manager that closes on exit.
* :class:`RemoteCall`: one submitted call. ``await call.result()`` gives the function's
  value, raises its exception (with the remote traceback's text attached, see
  :func:`remote_traceback`), or raises :class:`ExecutorLost` when the process running it
  died. ``call.cancel()`` asks the executor to drop it, ``call.add_done_callback(cb)``
  calls ``cb(call)`` from whichever thread settles it.

:class:`RemoteCall` is concrete and thread-safe: an executor makes one per submission
(passing how to cancel the underlying future) and settles it exactly once, from any
thread, with :meth:`RemoteCall.set_result`, :meth:`RemoteCall.set_exception` or
:meth:`RemoteCall.set_lost`. Awaiting its result parks the awaiting task on a
cross-thread :class:`~orchestrator._core._wakeup.Waiter` (asyncio or trio), so nothing
polls and no thread is held per waiting call.

What ships: the function and its arguments are pickled (by value; a
:class:`~orchestrator.Task` pickles by reference, as its module and qualified name). An
argument, function or result that cannot be pickled surfaces either from ``submit`` or
from ``result()`` as an exception whose message names what could not be pickled; the
executor keeps serving.

Each ``submit`` is a distinct call: an executor never merges two submissions of the same
function and arguments, so a retry never gets a cached failure.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Generic, ParamSpec, Protocol, Self, TypeVar, final

from .._core._errors import OrchestratorError
from .._core._wakeup import Waiter

__all__ = [
    "Executor",
    "ExecutorLost",
    "RemoteCall",
    "attach_remote_traceback",
    "remote_traceback",
]

T = TypeVar("T")
P = ParamSpec("P")

logger: Final = logging.getLogger("orchestrator.executors")

#: The attribute under which a remote exception carries its remote traceback's text.
_REMOTE_TRACEBACK: Final = "__orchestrator_remote_traceback__"


@final
class ExecutorLost(OrchestratorError):
    """Raised by :meth:`RemoteCall.result` when the process running the call died.

    A pool process killed mid-run (the whole pool is then broken and replaced), a Dask
    worker that died or was lost with the call on it. A task worker ends such a run
    *Crashed*, and the run's retry policy decides whether it runs again.
    """


def remote_traceback(exc: BaseException) -> str:
    """The text of the remote traceback of ``exc``, raised by a remote call, or ``""``.

    Args:
        exc: an exception raised by :meth:`RemoteCall.result`.

    Returns:
        The formatted traceback of the exception where the function ran (another
        process, another machine), or ``""`` when it carries none.
    """
    text = getattr(exc, _REMOTE_TRACEBACK, "")
    return text if isinstance(text, str) else ""


def attach_remote_traceback(exc: BaseException, text: str) -> None:
    """Attach ``text``, the traceback where ``exc`` was raised, for :func:`remote_traceback`.

    It travels with ``exc`` when pickled (in its ``__dict__``). An exception type whose
    instances take no attribute carries none.
    """
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, _REMOTE_TRACEBACK, text)


def _no_cancel() -> bool:
    return False


_PENDING: Final = 0
_VALUE: Final = 1
_ERROR: Final = 2


@final
class RemoteCall(Generic[T]):
    """One call submitted to an :class:`Executor`; settled once, from any thread.

    Users await :meth:`result`, and may :meth:`cancel` or :meth:`add_done_callback`.
    The executor that made it settles it with :meth:`set_result`,
    :meth:`set_exception` or :meth:`set_lost`.

    Args:
        cancel: asks the underlying place to drop the call; returns whether it will not
            run (True) or may still run or be running (False). Called at most once, by
            :meth:`cancel`, and never after the call was settled.
        name: what the call is, for ``repr`` (the function's name, typically).
    """

    __slots__ = (
        "_callbacks",
        "_cancel",
        "_error",
        "_lock",
        "_name",
        "_outcome",
        "_value",
        "_waiters",
    )

    def __init__(self, cancel: Callable[[], bool] = _no_cancel, *, name: str = "") -> None:
        self._lock = threading.Lock()
        self._cancel = cancel
        self._name = name
        self._outcome = _PENDING
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[RemoteCall[T]], None]] = []
        self._waiters: list[Waiter] = []

    # -- the user's side -------------------------------------------------------------------
    def done(self) -> bool:
        """Whether the call has been settled (a value, an exception, or lost)."""
        return self._outcome != _PENDING

    async def result(self) -> T:
        """Wait (without blocking the event loop) for the call, and return its value.

        Returns:
            The function's return value.

        Raises:
            ExecutorLost: the process running the call died, or the call was cancelled
                before it ran.
            Exception: whatever the function raised (its remote traceback's text is
                given by :func:`remote_traceback`), or a pickling error naming what
                could not be shipped.
        """
        if self._outcome == _PENDING:
            waiter = Waiter.for_current_task()
            with self._lock:
                pending = self._outcome == _PENDING
                if pending:
                    self._waiters.append(waiter)
            if pending:
                try:
                    await waiter.wait()
                finally:
                    with self._lock:
                        if waiter in self._waiters:
                            self._waiters.remove(waiter)
        if self._outcome == _ERROR:
            error = self._error
            assert error is not None
            raise error
        return self._value  # type: ignore[no-any-return]

    def cancel(self) -> bool:
        """Ask the executor to drop the call.

        Returns:
            True if the call will not run (it then ends with :class:`ExecutorLost`);
            False if it may be running or has already finished (a running call is not
            interrupted: its :meth:`add_done_callback` callbacks still tell when it ends).
        """
        with self._lock:
            if self._outcome != _PENDING:
                return False
            cancel, self._cancel = self._cancel, _no_cancel
        dropped = cancel()
        if dropped:
            self.set_lost("the call was cancelled before it ran")
        return dropped

    def add_done_callback(self, callback: Callable[[RemoteCall[T]], None]) -> None:
        """Call ``callback(self)`` once the call is settled (at once, if it is).

        The callback runs in whichever thread settles the call (an executor's thread, a
        Dask client's thread, the event loop), before :meth:`result` returns to anyone
        awaiting it: it must be quick and thread-safe. An exception it raises is logged.
        """
        with self._lock:
            if self._outcome == _PENDING:
                self._callbacks.append(callback)
                return
        _call_back(callback, self)

    # -- the executor's side ---------------------------------------------------------------
    def set_result(self, value: T) -> bool:
        """Settle the call with the function's return value (False: already settled)."""
        return self._settle(_VALUE, value, None)

    def set_exception(self, exc: BaseException, remote_traceback: str = "") -> bool:
        """Settle the call with the exception the function raised (False: already settled).

        Args:
            exc: the exception, as shipped back.
            remote_traceback: the formatted traceback where it was raised; attached to
                ``exc`` so :func:`remote_traceback` finds it.
        """
        if remote_traceback:
            attach_remote_traceback(exc, remote_traceback)
        return self._settle(_ERROR, None, exc)

    def set_lost(self, reason: str) -> bool:
        """Settle the call with :class:`ExecutorLost` (False: already settled).

        Args:
            reason: why, in words: put in the error's message.
        """
        return self._settle(_ERROR, None, ExecutorLost(reason))

    def _settle(self, outcome: int, value: Any, error: BaseException | None) -> bool:
        with self._lock:
            if self._outcome != _PENDING:
                return False
            self._value = value
            self._error = error
            self._outcome = outcome
            self._cancel = _no_cancel
            callbacks, self._callbacks = self._callbacks, []
            waiters, self._waiters = self._waiters, []
        # Callbacks first: whoever awaits the result sees them done (an abandoned call's
        # ending is recorded before its caller can look).
        for callback in callbacks:
            _call_back(callback, self)
        for waiter in waiters:
            waiter.wake()
        return True

    def __repr__(self) -> str:
        state = ("pending", "finished", "failed")[self._outcome]
        return f"<RemoteCall {self._name or '?'} {state}>"


def _call_back(callback: Callable[[RemoteCall[T]], None], call: RemoteCall[T]) -> None:
    try:
        callback(call)
    except Exception:  # a callback must not break the settling thread
        logger.exception("a RemoteCall callback failed")


class Executor(Protocol):
    """Where task functions run: anything with ``submit``, ``close`` and a context manager.

    Implemented by :class:`~orchestrator.executors.ProcessPoolExecutor` and
    :class:`~orchestrator.executors.DaskExecutor`; give one to ``TaskWorker(...,
    executor=...)``, ``run_until_idle(..., executor=...)`` or a flow's task runner. A class
    that subclasses it explicitly gets the context manager (``with`` closes it).
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> RemoteCall[T]:
        """Start ``fn(*args, **kwargs)`` in the executor; return its call at once.

        ``fn`` and its arguments are pickled; ``fn`` must be importable by reference (a
        module-level function or :class:`~orchestrator.Task`) for an executor in another
        process. Thread-safe; never blocks on the call itself.

        Raises:
            ExecutorLost: the executor is closed.
            Exception: a pickling error naming what could not be shipped (some executors
                report it from the call's ``result()`` instead).
        """
        ...

    def close(self) -> None:
        """Release what the executor owns (processes, a client it made); idempotent.

        Calls still in flight end with :class:`ExecutorLost` unless they finish first.
        """
        ...

    def __enter__(self) -> Self:
        """Return the executor itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the executor."""
        self.close()

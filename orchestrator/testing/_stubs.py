"""Per-key task stubs: replace a task's function on one orchestrator, or script its outcomes.

A stub answers for one task key on one orchestrator. Every worker of that orchestrator
(a :class:`~orchestrator.TaskWorker`, :func:`~orchestrator.testing.run_until_idle_sync`)
calls the stub instead of the task's function; runs of other keys, and every other
orchestrator in the process, are untouched. Everything else about the run is real: it
is claimed, started and finished through the engine under the task's own options
(retries and their delays, tags, caching, timeout), so a scripted failure is retried,
or fails the drain, exactly as a real one would::

    with stub_task(orchestrator, charge, outcomes=[GatewayError("down"), "receipt-1"]) as stub:
        future = orchestrator.submit(charge, "ada", 500)
        run_until_idle_sync(orchestrator, charge)
    assert future.result() == "receipt-1"
    assert [call.attempt for call in stub.calls] == [1, 2]

What a call does, chosen by one keyword (none: every call returns None):

- ``returns=value``: every call returns ``value``.
- ``raises=error``: every call raises ``error`` (an exception, or an exception class,
  instantiated afresh for each call).
- ``outcomes=[...]``: call *n* takes the *n*-th outcome: an exception (or exception
  class) is raised, anything else returned. **A script does not repeat**: a call past
  its end raises :class:`StubExhausted` as the task's exception (so it fails the run
  and, under a fail-fast drain, the test), naming the call, the run and the attempt.
  An unexpected extra call is news; give the script one outcome per expected call, or
  use ``returns=``/``raises=`` for "every call".
- ``fn=function``: the function is called instead, with the arguments the task's
  function would get; it may be sync (run in a worker thread) or async (awaited in the
  event loop) whatever the task is. Scripted stubs run in the event loop.

Every call is recorded in :attr:`TaskStub.calls` (its bound parameters, the run, the
attempt and the virtual time) when it starts. Calling the task directly (``charge(...)``)
still runs the plain function: stubs change what workers execute, nothing else.

A stub is undone by :meth:`TaskStub.undo`, at the end of its ``with`` block, or, for
the plugin's ``orchestrator`` fixture, at the test's teardown. A key takes one stub at
a time on an orchestrator.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final, cast, final

import attrs

from .._core._errors import ArgumentTypeError, ArgumentValueError, OrchestratorError
from .._core._task_options import is_async
from .._core._tasks import Task
from .._engine._orchestrator import Orchestrator

if TYPE_CHECKING:
    from .._core._models import TaskRun

__all__ = ["StubCall", "StubExhausted", "TaskStub", "stub_task", "undo_stubs"]


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Final[Any] = _Unset()


@final
@attrs.frozen(kw_only=True)
class StubCall:
    """One call of a stubbed task, recorded when the worker made it.

    Attributes:
        parameters: the call's bound parameters (name -> value, defaults filled in),
            as the task's function would have received them.
        run_id: the task run being executed.
        attempt: which execution of that run it was (its ``run_count``): 1 for the
            first, 2 for the first retry, and so on.
        time: the orchestrator's clock when the call was made.
    """

    parameters: Mapping[str, Any]
    run_id: uuid.UUID
    attempt: int
    time: datetime


@final
class StubExhausted(OrchestratorError, AssertionError):
    """Raised, as the task's exception, by a scripted stub called past its last outcome.

    The run fails with it (or is retried, if it has retries left), so a fail-fast drain
    raises it in the test. It is an :class:`AssertionError` too: the test expected
    fewer calls.
    """


def _is_error(outcome: object) -> bool:
    """Whether a scripted outcome is raised: an Exception, or an Exception class."""
    return isinstance(outcome, Exception) or (
        isinstance(outcome, type) and issubclass(outcome, Exception)
    )


def _check_outcome(outcome: object, what: str) -> None:
    shutdown = isinstance(outcome, BaseException) or (
        isinstance(outcome, type) and issubclass(outcome, BaseException)
    )
    if shutdown and not _is_error(outcome):
        raise ArgumentValueError(
            f"{what} {outcome!r} is a BaseException but not an Exception; workers treat "
            "those as their own shutdown, so a stub cannot raise one: use an Exception"
        )


#: An outcome and whether it is raised (else returned).
_Outcome = tuple[bool, object]


@final
class TaskStub:
    """A stub answering for one task key on one orchestrator (see the module docstring).

    Made by :func:`stub_task`, and answering from the moment it is made; undone by
    :meth:`undo` or at the end of a ``with`` block.
    """

    __slots__ = (
        "_calls",
        "_fn",
        "_hook",
        "_lock",
        "_orchestrator",
        "_outcomes",
        "_repeat",
        "task_key",
    )

    def __init__(
        self,
        orchestrator: Orchestrator,
        task_key: str,
        *,
        outcomes: tuple[_Outcome, ...],
        repeat: bool,
        fn: Callable[..., Any] | None,
    ) -> None:
        self._orchestrator = orchestrator
        #: The task key the stub answers for.
        self.task_key: str = task_key
        self._outcomes = outcomes
        self._repeat = repeat
        self._fn = fn
        self._calls: list[StubCall] = []
        self._lock = threading.Lock()  # sync replacements record from worker threads
        self._hook = self._stand_in  # one bound method: the table compares by identity
        # Last, once the stub is whole: raises InvalidArgument, installing nothing, when
        # the key is stubbed on this orchestrator already.
        orchestrator.task_overrides.install(task_key, self._hook)

    # -- reading -----------------------------------------------------------------------------
    @property
    def orchestrator(self) -> Orchestrator:
        """The orchestrator whose workers call the stub."""
        return self._orchestrator

    @property
    def calls(self) -> tuple[StubCall, ...]:
        """Every call so far, in the order they started."""
        with self._lock:
            return tuple(self._calls)

    @property
    def call_count(self) -> int:
        """How many times the stub was called."""
        return len(self._calls)

    @property
    def active(self) -> bool:
        """Whether workers call the stub now (False once undone)."""
        return self._orchestrator.task_overrides.get(self.task_key) is self._hook

    # -- undoing -----------------------------------------------------------------------------
    def undo(self) -> None:
        """Give the task key back to the task's own function; nothing happens if undone already.

        A run whose stub call has started finishes with the stub.
        """
        self._orchestrator.task_overrides.remove(self.task_key, self._hook)

    def __enter__(self) -> TaskStub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.undo()

    # -- calling -------------------------------------------------------------------------------
    def _stand_in(self, task: Task[..., Any], run: TaskRun) -> Task[..., Any]:
        """Return the task a worker calls for ``run`` (the hook of :mod:`.._task_overrides`)."""
        # Read now, in the event loop, right after the RUNNING commit: the attempt and
        # the time of the call.
        run_id, attempt, time = run.id, run.run_count, self._orchestrator.clock.now()

        def record(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
            parameters = MappingProxyType(task.bind_parameters(*args, **kwargs))
            call = StubCall(parameters=parameters, run_id=run_id, attempt=attempt, time=time)
            with self._lock:
                self._calls.append(call)
                return len(self._calls)

        fn = self._fn
        call: Callable[..., Any]
        if fn is None:

            async def scripted(*args: Any, **kwargs: Any) -> Any:
                return self._outcome(record(args, kwargs), run_id, attempt)

            call = scripted
        elif is_async(fn):

            async def replaced_async(*args: Any, **kwargs: Any) -> Any:
                record(args, kwargs)
                return await fn(*args, **kwargs)

            call = replaced_async
        else:

            def replaced(*args: Any, **kwargs: Any) -> Any:
                record(args, kwargs)
                return fn(*args, **kwargs)

            call = replaced
        # The worker binds the run's parameters against this signature: the task's own.
        setattr(call, "__signature__", task.signature)  # noqa: B010 - typed as a Callable
        return Task(
            call, name=task.name, task_key=task.task_key, timeout_seconds=task.timeout_seconds
        )

    def _outcome(self, number: int, run_id: uuid.UUID, attempt: int) -> Any:
        outcomes = self._outcomes
        if number <= len(outcomes):
            raised, outcome = outcomes[number - 1]
        elif self._repeat:
            raised, outcome = outcomes[-1]
        else:
            count = len(outcomes)
            raise StubExhausted(
                f"the stub of task key {self.task_key!r} was called {number} times, but its "
                f"script has {count} outcome{'' if count == 1 else 's'} (call {number} "
                f"executed task run {run_id}, attempt {attempt}); add outcomes, or use "
                "returns=/raises= for every call"
            )
        if not raised:
            return outcome
        if isinstance(outcome, type):
            raise outcome()  # a class: a fresh exception for each call
        raise cast("Exception", outcome)  # checked when the stub was made

    def __repr__(self) -> str:
        if self._fn is not None:
            how = f"fn={getattr(self._fn, '__qualname__', self._fn)!r}"
        elif self._repeat:
            raised, outcome = self._outcomes[0]
            how = f"{'raises' if raised else 'returns'}={outcome!r}"
        else:
            how = f"outcomes={len(self._outcomes)}"
        state = "active" if self.active else "undone"
        return f"<TaskStub {self.task_key!r} {how} calls={self.call_count} {state}>"


def stub_task(
    orchestrator: Orchestrator,
    task: Task[..., Any] | str,
    *,
    returns: object = _UNSET,
    raises: Exception | type[Exception] | None = None,
    outcomes: Iterable[object] | None = None,
    fn: Callable[..., Any] | None = None,
) -> TaskStub:
    """Make ``orchestrator``'s workers call a stub instead of ``task``'s function.

    Give at most one of ``returns``, ``raises``, ``outcomes`` and ``fn`` (none: every
    call returns None); see the module docstring for what each does. The stub takes
    effect from the next call a worker makes, and records every call. A worker with an
    executor (a process pool, a Dask cluster) calls the stub in this process.

    Args:
        orchestrator: whose workers call the stub; other orchestrators are untouched.
        task: the task, or its task key.
        returns: what every call returns.
        raises: what every call raises (an exception, or an exception class).
        outcomes: the script: call *n* takes the *n*-th outcome, raised if it is an
            exception (or exception class), returned otherwise; a call past the end
            raises :class:`StubExhausted`.
        fn: a function to call instead (sync or async), with the task's arguments.

    Returns:
        The stub: read :attr:`TaskStub.calls`; use it as a context manager, or call
        :meth:`TaskStub.undo`, to give the key back.

    Raises:
        InvalidArgument: a bad orchestrator, task or behaviour, more than one behaviour,
            an empty script, or a key already stubbed on this orchestrator (nothing
            changes).
    """
    if not isinstance(orchestrator, Orchestrator):
        raise ArgumentTypeError(f"stub_task needs an Orchestrator, got {orchestrator!r}")
    if isinstance(task, Task):
        task_key = task.task_key
    elif isinstance(task, str) and task:
        task_key = task
    else:
        error = ArgumentValueError if isinstance(task, str) else ArgumentTypeError
        raise error(f"stub_task stubs a Task or a non-empty task key, got {task!r}")
    given = [
        name
        for name, value in (
            ("returns", returns is not _UNSET),
            ("raises", raises is not None),
            ("outcomes", outcomes is not None),
            ("fn", fn is not None),
        )
        if value
    ]
    if len(given) > 1:
        raise ArgumentTypeError(
            f"give stub_task one of returns=, raises=, outcomes= or fn=, got {' and '.join(given)}"
        )
    script: tuple[_Outcome, ...] = ((False, None),)
    repeat = True
    if raises is not None:
        if not _is_error(raises):
            raise ArgumentTypeError(
                f"raises= takes an exception or an exception class, got {raises!r}"
            )
        script = ((True, raises),)
    elif outcomes is not None:
        if isinstance(outcomes, str | bytes) or not isinstance(outcomes, Iterable):
            raise ArgumentTypeError(
                f"outcomes= takes a list of values and exceptions, got {outcomes!r}"
            )
        listed = tuple(outcomes)
        if not listed:
            raise ArgumentValueError(
                "outcomes= is empty, so the first call would fail; give one outcome per call"
            )
        for outcome in listed:
            _check_outcome(outcome, "the outcome")
        script = tuple((_is_error(outcome), outcome) for outcome in listed)
        repeat = False
    elif fn is not None:
        if not callable(fn):
            raise ArgumentTypeError(f"fn= takes a function, got {fn!r}")
    elif returns is not _UNSET:
        script = ((False, returns),)
    return TaskStub(orchestrator, task_key, outcomes=script, repeat=repeat, fn=fn)


def undo_stubs(orchestrator: Orchestrator) -> int:
    """Undo every stub on ``orchestrator``; return how many there were.

    The plugin's ``orchestrator`` fixture does this at teardown; call it from a fixture
    of your own for an orchestrator you build yourself.
    """
    return len(orchestrator.task_overrides.clear())

"""Waiting on many futures at once: ``wait`` and ``as_completed``, blocking and async.

``orchestrator.wait(futures, timeout=None)`` returns a :class:`DoneAndNotDone` once every
future is settled (terminal, or NotReady: see :mod:`orchestrator._core._settled`) or the
timeout runs out. ``orchestrator.as_completed(futures, timeout=None)`` yields the futures
as they settle, those already settled first. Their async forms, ``wait_async`` and
``as_completed_async`` (an async iterator), do the same in async code.

Nothing polls: each future's run gets one wake-up callback in its orchestrator's
:class:`~orchestrator._engine._waiters.FutureWaiters`, which records the future and
notifies one :class:`~orchestrator._core._wakeup.Signal`; a wake-up costs O(1), so
``as_completed`` over ``n`` futures costs O(n) in all. A run deleted while waited on
counts as done (its ``result()`` raises ObjectNotFound).

Timeouts: the blocking forms count real seconds; the async forms count on the futures'
orchestrator's clock when they all belong to one orchestrator, else real seconds. The
blocking forms refuse, as ``future.result()`` does, to block a running event loop on a
background run that is not settled.
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, NamedTuple, TypeVar, final

from .._core._checks import check_optional_seconds, wrong_type
from .._core._clock import Clock, SystemClock
from .._core._errors import ObjectNotFound, OrchestratorTimeout, WorkerError
from .._core._units import parked_blocking
from .._core._wakeup import Signal, current_async_library, wait_for_any
from ._futures import TaskRunFuture

if TYPE_CHECKING:
    from ._waiters import FutureWaiters

__all__ = ["DoneAndNotDone", "as_completed", "as_completed_async", "wait", "wait_async"]

R = TypeVar("R")

_REAL: Final = SystemClock()


class DoneAndNotDone(NamedTuple, Generic[R]):
    """What :func:`wait` returns: the futures that settled, and those that did not."""

    done: set[TaskRunFuture[R]]
    """The futures whose runs are settled (or deleted)."""
    not_done: set[TaskRunFuture[R]]
    """The futures whose runs were still unsettled when the timeout ran out."""


def _check_futures(futures: object) -> list[TaskRunFuture[Any]]:
    if isinstance(futures, TaskRunFuture) or not isinstance(futures, Iterable):
        raise wrong_type("futures", futures, "an iterable of TaskRunFuture")
    checked: dict[TaskRunFuture[Any], None] = {}
    for future in futures:
        if not isinstance(future, TaskRunFuture):
            raise wrong_type("futures", future, "an iterable of TaskRunFuture (an item)")
        checked[future] = None
    return list(checked)


def _check_timeout(timeout: object) -> float | None:
    return check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")


def _settled(future: TaskRunFuture[Any]) -> bool:
    try:
        return future.done()
    except ObjectNotFound:
        return True


@final
class _Settling(Generic[R]):
    """The futures of one wait, reported once each as they settle (module docstring)."""

    __slots__ = ("_left", "_registered", "_woken", "signal")

    def __init__(self, futures: list[TaskRunFuture[R]]) -> None:
        self.signal = Signal()
        self._left: dict[TaskRunFuture[R], None] = dict.fromkeys(futures)
        # deque.append and popleft are atomic: callbacks append from any thread.
        self._woken: collections.deque[TaskRunFuture[R]] = collections.deque()
        self._registered: list[tuple[FutureWaiters, TaskRunFuture[R], Callable[[], None]]] = []

    def __enter__(self) -> _Settling[R]:
        try:
            for future in self._left:
                registry = future.orchestrator._engine.watch_futures()
                wake = functools.partial(self._wake, future)
                registry.add(future.task_run_id, wake)
                self._registered.append((registry, future, wake))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        # Registered first, then looked: a run settled before the look is found by it.
        self._woken.extend(future for future in self._left if _settled(future))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for registry, future, wake in self._registered:
            registry.discard(future.task_run_id, wake)
        self._registered.clear()

    def _wake(self, future: TaskRunFuture[R]) -> None:
        self._woken.append(future)
        self.signal.notify()

    @property
    def left(self) -> set[TaskRunFuture[R]]:
        """The futures not reported yet."""
        return set(self._left)

    def take(self) -> list[TaskRunFuture[R]]:
        """The futures settled since the last call, each once, in the order they woke."""
        taken = []
        woken = self._woken
        while woken:
            future = woken.popleft()
            if future in self._left and _settled(future):
                del self._left[future]
                taken.append(future)
        return taken

    def refuse_to_block_a_loop(self, call: str) -> None:
        if current_async_library() is None:
            return
        for future in self._left:
            if future.background and not _settled(future):
                raise WorkerError(
                    f"orchestrator.{call} would block the event loop while background task "
                    f"run {future.task_run_id} is not finished, and the loop may be what "
                    f"finishes it; use `await orchestrator.{call.replace('(', '_async(', 1)}` "
                    "in async code"
                )

    def block(self, seen: int, end: float | None) -> bool:
        """Block until notified after ``seen``; False once ``end`` (real time) passed."""
        remaining = None
        if end is not None:
            remaining = end - _REAL.timestamp()
            if remaining <= 0:
                return False
        woken = threading.Event()
        # Parked while it blocks; whoever notifies marks this thread busy again first.
        with parked_blocking() as parking:
            wake = _CallWake(parking.waking(woken.set))
            if not self.signal.watch(wake, seen):
                return True
            try:
                parking.park()
                woken.wait(remaining)
            finally:
                self.signal.unwatch(wake)
        return True

    def clock(self) -> Clock:
        orchestrators = {id(future.orchestrator): future.orchestrator for future in self._left}
        if len(orchestrators) == 1:
            return next(iter(orchestrators.values())).clock
        return _REAL


@final
class _CallWake:
    __slots__ = ("_call",)

    def __init__(self, call: Callable[[], None]) -> None:
        self._call = call

    def wake(self) -> None:
        self._call()


def _end(timeout: float | None) -> float | None:
    return None if timeout is None else _REAL.timestamp() + timeout


def wait(futures: Iterable[TaskRunFuture[R]], timeout: float | None = None) -> DoneAndNotDone[R]:
    """Block this thread until every future is settled, or ``timeout`` runs out.

    Args:
        futures: the futures to wait for (duplicates count once).
        timeout: the most real seconds to block; forever when None.

    Returns:
        ``(done, not_done)``: the settled futures, and those still unsettled.

    Raises:
        WorkerError: a background run is not settled and this thread runs an event
            loop (use ``await orchestrator.wait_async(...)``).
        InvalidArgument: ``futures`` is not an iterable of TaskRunFuture, or a bad
            ``timeout``.
    """
    checked = _check_futures(futures)
    seconds = _check_timeout(timeout)
    with _Settling(checked) as settling:
        done = set(settling.take())
        if settling.left:
            settling.refuse_to_block_a_loop("wait(...)")
        end = _end(seconds)
        while settling.left:
            seen = settling.signal.generation
            done.update(settling.take())
            if not settling.left or not settling.block(seen, end):
                break
        done.update(settling.take())
        return DoneAndNotDone(done, settling.left)


def as_completed(
    futures: Iterable[TaskRunFuture[R]], timeout: float | None = None
) -> Iterator[TaskRunFuture[R]]:
    """Yield the futures as their runs settle, blocking this thread between them.

    Futures already settled come first. Checked at the call; waits start at the first
    ``next()``.

    Args:
        futures: the futures to wait for (duplicates are yielded once).
        timeout: the most real seconds for the whole iteration; forever when None.

    Raises:
        OrchestratorTimeout: ``timeout`` ran out with futures left (raised by ``next()``).
        WorkerError: a background run is not settled and this thread runs an event
            loop (use ``orchestrator.as_completed_async(...)``).
        InvalidArgument: ``futures`` is not an iterable of TaskRunFuture, or a bad
            ``timeout``.
    """
    checked = _check_futures(futures)
    seconds = _check_timeout(timeout)
    return _as_completed(checked, seconds)


def _as_completed(
    futures: list[TaskRunFuture[R]], timeout: float | None
) -> Iterator[TaskRunFuture[R]]:
    end = _end(timeout)
    with _Settling(futures) as settling:
        while True:
            seen = settling.signal.generation
            yield from settling.take()
            if not settling.left:
                return
            settling.refuse_to_block_a_loop("as_completed(...)")
            if not settling.block(seen, end):
                raise _timed_out("as_completed", timeout, settling.left, len(futures))


def _timed_out(
    call: str, timeout: float | None, left: set[TaskRunFuture[Any]], total: int
) -> Exception:
    ids = ", ".join(sorted(str(future.task_run_id) for future in left)[:5])
    more = "" if len(left) <= 5 else f" and {len(left) - 5} more"
    return OrchestratorTimeout(
        f"{call}: {len(left)} (of {total}) futures unfinished after {timeout} s: {ids}{more}"
    )


async def wait_async(
    futures: Iterable[TaskRunFuture[R]],
    timeout: float | None = None,  # noqa: ASYNC109 - clock seconds
) -> DoneAndNotDone[R]:
    """Wait until every future is settled, or ``timeout`` runs out (see :func:`wait`).

    ``timeout`` counts on the futures' orchestrator's clock when they share one, else
    in real seconds.

    Raises:
        InvalidArgument: ``futures`` is not an iterable of TaskRunFuture, or a bad
            ``timeout``.
    """
    checked = _check_futures(futures)
    seconds = _check_timeout(timeout)
    with _Settling(checked) as settling:
        done = set(settling.take())
        if settling.left:
            deadline = _deadline(settling, seconds)
            while settling.left:
                seen = settling.signal.generation
                done.update(settling.take())
                if not settling.left or not await _wait(settling, seen, deadline):
                    break
        done.update(settling.take())
        return DoneAndNotDone(done, settling.left)


async def as_completed_async(
    futures: Iterable[TaskRunFuture[R]],
    timeout: float | None = None,  # noqa: ASYNC109 - clock seconds
) -> AsyncIterator[TaskRunFuture[R]]:
    """Yield the futures as their runs settle (see :func:`as_completed`); ``async for``.

    ``timeout`` counts on the futures' orchestrator's clock when they share one, else
    in real seconds.

    Raises:
        OrchestratorTimeout: ``timeout`` ran out with futures left.
        InvalidArgument: ``futures`` is not an iterable of TaskRunFuture, or a bad
            ``timeout`` (raised at the first step).
    """
    checked = _check_futures(futures)
    seconds = _check_timeout(timeout)
    with _Settling(checked) as settling:
        deadline = _deadline(settling, seconds)
        while True:
            seen = settling.signal.generation
            for future in settling.take():
                yield future
            if not settling.left:
                return
            if not await _wait(settling, seen, deadline):
                raise _timed_out("as_completed_async", timeout, settling.left, len(checked))


def _deadline(settling: _Settling[Any], seconds: float | None) -> tuple[Clock, datetime] | None:
    if seconds is None:
        return None
    clock = settling.clock()
    return clock, clock.now() + timedelta(seconds=seconds)


async def _wait(
    settling: _Settling[Any], seen: int, deadline: tuple[Clock, datetime] | None
) -> bool:
    """Wait for a notification after ``seen``; False once the deadline has passed."""
    if deadline is None:
        await settling.signal.wait(seen)
        return True
    clock, when = deadline
    if clock.now() >= when:
        return False
    await wait_for_any([(settling.signal, seen)], functools.partial(clock.sleep_until, when))
    return True

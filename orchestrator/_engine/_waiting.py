"""Waiting for many futures at once: :func:`wait` and :func:`as_completed`.

Both block the calling thread (as Prefect's do) and are woken by the engine when one of
the runs settles (a terminal state, or NotReady); nothing polls. ``timeout`` counts real
seconds, like the futures' own blocking calls. The futures may belong to different
orchestrators.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

from .._core._checks import check_optional_seconds, wrong_type
from .._core._clock import SystemClock
from .._core._errors import OrchestratorTimeout
from ._futures import TaskRunFuture

__all__ = ["DoneAndNotDone", "as_completed", "wait"]

F = TypeVar("F", bound=TaskRunFuture[Any])

#: Real time, for the timeouts of blocking waits (the clock module reads time).
_REAL = SystemClock()


class DoneAndNotDone(NamedTuple):
    """What :func:`wait` returns: the settled futures and the others."""

    done: set[TaskRunFuture[Any]]
    not_done: set[TaskRunFuture[Any]]


def _futures(futures: object) -> list[Any]:
    if isinstance(futures, TaskRunFuture) or not isinstance(futures, Iterable):
        raise wrong_type("futures", futures, "an iterable of TaskRunFuture")
    found = list(dict.fromkeys(futures))  # each once, in order
    for future in found:
        if not isinstance(future, TaskRunFuture):
            raise wrong_type("futures", future, "TaskRunFuture items")
    return found


class _Settling:
    """Wake-ups of a set of futures: one event, set by any of their runs settling."""

    def __init__(self, futures: list[F]) -> None:
        self.event = threading.Event()
        self._registered = [
            (future, future.orchestrator._engine.watch_futures()) for future in futures
        ]

    def __enter__(self) -> _Settling:
        for future, registry in self._registered:
            registry.add(future.task_run_id, self.event.set)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for future, registry in self._registered:
            registry.discard(future.task_run_id, self.event.set)


def wait(futures: Iterable[TaskRunFuture[Any]], timeout: float | None = None) -> DoneAndNotDone:
    """Block until every future's run settled, or ``timeout`` real seconds passed.

    Returns:
        ``(done, not_done)``: the futures whose runs settled, and the others (empty unless
        the timeout ran out).

    Raises:
        InvalidArgument: ``futures`` is not an iterable of futures, or a negative timeout.
    """
    found = _futures(futures)
    check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
    end = None if timeout is None else _REAL.timestamp() + timeout
    pending = [future for future in found if not future.done()]
    while pending:
        with _Settling(pending) as settling:
            pending = [future for future in pending if not future.done()]
            if not pending:
                break
            left = None if end is None else end - _REAL.timestamp()
            if left is not None and left <= 0:
                break
            settling.event.wait(left)
        pending = [future for future in pending if not future.done()]
    not_done = set(pending)
    return DoneAndNotDone({f for f in found if f not in not_done}, not_done)


def as_completed(futures: Iterable[F], timeout: float | None = None) -> Iterator[F]:
    """Yield each future as its run settles (those already settled first, in order).

    Raises:
        InvalidArgument: ``futures`` is not an iterable of futures, or a negative timeout.
        OrchestratorTimeout: ``timeout`` real seconds passed with futures still unsettled
            (raised by the iteration, after every future settled so far was yielded).
    """
    found = _futures(futures)
    check_optional_seconds(timeout, "timeout", finite=False, expected="None or seconds >= 0")
    return _as_completed(found, timeout)


def _as_completed(found: list[F], timeout: float | None) -> Iterator[F]:
    end = None if timeout is None else _REAL.timestamp() + timeout
    pending = list(found)
    while pending:
        with _Settling(pending) as settling:
            settled = [future for future in pending if future.done()]
            if not settled:
                left = None if end is None else end - _REAL.timestamp()
                if left is not None and left <= 0:
                    raise OrchestratorTimeout(
                        f"{len(pending)} of {len(found)} futures did not settle within {timeout} s"
                    )
                settling.event.wait(left)
                continue
        for future in settled:
            pending.remove(future)
            yield future

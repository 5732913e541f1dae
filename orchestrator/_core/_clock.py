"""Clocks: the only module that reads time.

Every timestamp the library writes and every timer it waits on goes through the
:class:`Clock` an :class:`~orchestrator.Orchestrator` was given. :class:`SystemClock`
reads the real time; :class:`VirtualClock` holds a time that moves only when told to
(``set``, ``advance``, ``advance_to_next``), so a test of a ten-minute retry back-off
runs in milliseconds and asserts exact timestamps.

Times are timezone-aware UTC :class:`~datetime.datetime` values; durations are float
seconds.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time as _time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, final

import anyio

from ._checks import check_seconds, is_number, wrong_type, wrong_value
from ._checks_objects import check_datetime
from ._errors import ArgumentValueError
from ._parking import parked
from ._units import parked_blocking
from ._wakeup import Signal, Waiter, current_async_library

__all__ = ["Clock", "SystemClock", "VirtualClock", "as_utc"]

#: Where a :class:`VirtualClock` starts unless told otherwise.
DEFAULT_VIRTUAL_START = datetime(2026, 1, 1, tzinfo=UTC)

#: A deadline no clock reaches (past the year 9999).
_NEVER: Final = datetime.max.replace(tzinfo=UTC)


def as_utc(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` in UTC; refuse a naive datetime, or anything else, with a clear message.

    The same check as :func:`~orchestrator._core._checks_objects.check_datetime`, under
    the name the clock and the engine have always used.

    Raises:
        ArgumentTypeError: ``value`` is not a datetime (a string is never parsed).
        ArgumentValueError: ``value`` has no timezone.
    """
    return check_datetime(value, what)


class Clock(ABC):
    """Where an orchestrator gets the current time and waits for a time to come."""

    @abstractmethod
    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""

    def timestamp(self) -> float:
        """Return the current time as float seconds since the epoch."""
        return self.now().timestamp()

    @abstractmethod
    async def sleep_until(self, deadline: datetime) -> None:
        """Return once the clock reads ``deadline`` or later (at once if it already does)."""

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` have passed on this clock.

        At once for 0 or less; never (until cancelled) for infinity or a time past the
        year 9999, which no clock reaches.

        Raises:
            InvalidArgument: ``seconds`` is not a number, or is NaN.
        """
        deadline = self._deadline_after(seconds)
        if deadline is _NEVER:
            await parked(anyio.sleep_forever())
        elif deadline is not None:
            await self.sleep_until(deadline)

    @abstractmethod
    def sleep_until_blocking(self, deadline: datetime) -> None:
        """Block the calling thread until the clock reads ``deadline`` or later.

        For sync code in a plain thread (a sync flow body, a sync task). Inside code
        counted on an orchestrator's activity the thread counts as idle for the wait, so
        time skipping may move a virtual clock to the deadline.
        """

    def sleep_blocking(self, seconds: float) -> None:
        """Block the calling thread until ``seconds`` have passed on this clock.

        At once for 0 or less; forever for infinity or a time past the year 9999.

        Raises:
            InvalidArgument: ``seconds`` is not a number, or is NaN.
        """
        deadline = self._deadline_after(seconds)
        if deadline is _NEVER:
            with parked_blocking() as parking:
                parking.park()
                threading.Event().wait()  # nothing sets it: as sleep_forever
        elif deadline is not None:
            self.sleep_until_blocking(deadline)

    def _deadline_after(self, seconds: float) -> datetime | None:
        """The deadline ``seconds`` from now; None: now; ``_NEVER``: no clock gets there."""
        if not is_number(seconds) or math.isnan(seconds):
            expected = "a number of seconds (infinity sleeps until cancelled)"
            if is_number(seconds):
                raise wrong_value("seconds", seconds, expected)
            raise wrong_type("seconds", seconds, expected)
        try:
            deadline = self.now() + timedelta(seconds=seconds)
        except OverflowError:
            return None if seconds < 0 else _NEVER
        return deadline if seconds > 0 else None

    @property
    def is_virtual(self) -> bool:
        """True for clocks whose time moves only when told to."""
        return False


@final
class SystemClock(Clock):
    """The real time, read from :func:`time.time`."""

    def now(self) -> datetime:
        """Return the real current time in UTC."""
        return datetime.fromtimestamp(_time.time(), UTC)

    def timestamp(self) -> float:
        """Return the real current time as float seconds since the epoch."""
        return _time.time()

    async def sleep_until(self, deadline: datetime) -> None:
        """Sleep on the event loop until ``deadline``."""
        delay = deadline.timestamp() - _time.time()
        if delay > 0:
            await anyio.sleep(delay)

    def sleep_until_blocking(self, deadline: datetime) -> None:
        """Block the calling thread until ``deadline`` (real time, a threading wait)."""
        target = deadline.timestamp()
        delay = target - _time.time()
        if delay <= 0:
            return
        event = threading.Event()  # nothing sets it: a timed wait that no one cuts short
        with parked_blocking() as parking:
            parking.park()
            while delay > 0:
                event.wait(delay)
                delay = target - _time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


@final
class _Sleeper:
    """One sleeper on a virtual clock: its wake-up, and whether it is gone (woken or left)."""

    __slots__ = ("gone", "wake")

    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake
        self.gone = False


@final
class VirtualClock(Clock):
    """A clock whose time moves only when told to; thread-safe.

    Sleepers registered through :meth:`sleep_until` (in a task of any event loop, in
    any thread) or :meth:`sleep_until_blocking` (a plain thread) wake when
    :meth:`advance`, :meth:`set` or :meth:`advance_to_next`, called from any thread,
    move the time to or past their deadline. They are woken in deadline order, ties in
    the order they went to sleep; each wake-up is a thread-safe hand-off
    (:class:`~orchestrator._core._wakeup.Waiter`, or a threading event for a blocked
    thread), and a sleeper counted as a busy unit is marked busy again by the thread
    that moves the clock, before it is woken (see :mod:`orchestrator._core._units`).

    Args:
        start: the initial time (an aware datetime); defaults to 2026-01-01T00:00:00Z.

    Raises:
        InvalidArgument: ``start`` is not an aware datetime (strings are not parsed).
    """

    __slots__ = ("_lock", "_now", "_sequence", "_sleepers", "_sleeping")

    def __init__(self, start: datetime | None = None) -> None:
        self._now = DEFAULT_VIRTUAL_START if start is None else as_utc(start, "start")
        self._lock = threading.Lock()
        self._sleepers: list[tuple[datetime, int, _Sleeper]] = []
        self._sequence = itertools.count()
        #: Notified whenever a sleeper arrives (for :meth:`wait_for_sleeper`).
        self._sleeping = Signal()

    @property
    def is_virtual(self) -> bool:
        """Always True."""
        return True

    def now(self) -> datetime:
        """Return the clock's current time."""
        return self._now

    def set(self, when: datetime) -> None:
        """Move the clock to ``when`` and wake every sleeper due by then.

        Raises:
            InvalidArgument: ``when`` is not an aware datetime, or is earlier than the
                current time.
        """
        when = as_utc(when, "when")
        with self._lock:
            if when < self._now:
                raise ArgumentValueError(
                    f"a virtual clock only moves forward: it reads {self._now.isoformat()}, "
                    f"asked for when={when.isoformat()}"
                )
            self._now = when
            due = self._pop_due()
        _wake(due)

    def advance(self, seconds: float = 0.0) -> datetime:
        """Move the clock forward by ``seconds`` and return the new time.

        Raises:
            InvalidArgument: ``seconds`` is not a finite, non-negative number, or moves
                the clock past the year 9999.
        """
        amount = check_seconds(
            seconds, "seconds", expected="a finite, non-negative number of seconds"
        )
        with self._lock:
            try:
                when = self._now + timedelta(seconds=amount)
            except OverflowError:
                raise wrong_value(
                    "seconds", seconds, "small enough to keep the clock before the year 10000"
                ) from None
            self._now = when
            due = self._pop_due()
        _wake(due)
        return when

    def next_deadline(self) -> datetime | None:
        """Return the earliest deadline of a sleeper, or None when nobody sleeps."""
        with self._lock:
            return self._next_deadline()

    def advance_to_next(self) -> datetime | None:
        """Jump to the earliest sleeper's deadline and wake it; return that time.

        Returns None, leaving the time unchanged, when nobody sleeps.
        """
        with self._lock:
            deadline = self._next_deadline()
            if deadline is None:
                return None
            when = self._now = max(deadline, self._now)
            due = self._pop_due()
        _wake(due)
        return when

    async def sleep_until(self, deadline: datetime) -> None:
        """Wait until the virtual time reaches ``deadline`` (in a task of any event loop)."""
        if deadline <= self._now:
            return
        waiter = Waiter.for_current_task()
        sleeper = self._add(deadline, waiter.wake)
        if sleeper is None:
            return
        try:
            await waiter.wait()  # a wait on this clock: time skipping may jump
        finally:
            sleeper.gone = True  # cancelled: next_deadline skips the entry

    def sleep_until_blocking(self, deadline: datetime) -> None:
        """Block the calling thread until the virtual time reaches ``deadline``.

        Another thread moves the clock (a time skipper, or a test calling
        :meth:`advance`); inside code counted on an orchestrator's activity the thread is
        idle for the wait, and the thread that moves the clock marks it busy again before
        it wakes it.

        Raises:
            RuntimeError: called from an event loop's thread, whose loop could then never
                run what moves the clock; ``await clock.sleep_until(...)`` there.
        """
        if deadline <= self._now:
            return
        library = current_async_library()
        if library is not None:
            raise RuntimeError(
                f"VirtualClock.sleep_until_blocking() would block the {library} event loop "
                "of this thread; use `await clock.sleep_until(...)` instead"
            )
        woken = threading.Event()
        with parked_blocking() as parking:
            sleeper = self._add(deadline, parking.waking(woken.set))
            if sleeper is None:
                return
            try:
                parking.park()
                woken.wait()
            finally:
                sleeper.gone = True

    async def wait_for_sleeper(self) -> None:
        """Return once at least one task or thread sleeps on this clock (for time skipping)."""
        signal = self._sleeping
        seen = signal.generation
        if self.next_deadline() is not None:
            return
        await signal.wait(seen)

    def _add(self, deadline: datetime, wake: Callable[[], None]) -> _Sleeper | None:
        """Register a sleeper; None, registering nothing, when ``deadline`` has come."""
        sleeper = _Sleeper(wake)
        with self._lock:
            if deadline <= self._now:
                return None
            heapq.heappush(self._sleepers, (deadline, next(self._sequence), sleeper))
        self._sleeping.notify()
        return sleeper

    def _next_deadline(self) -> datetime | None:
        sleepers = self._sleepers
        while sleepers and sleepers[0][2].gone:
            heapq.heappop(sleepers)
        return sleepers[0][0] if sleepers else None

    def _pop_due(self) -> list[_Sleeper]:
        """Take the sleepers due now off the heap, in wake-up order (under the lock)."""
        sleepers = self._sleepers
        due: list[_Sleeper] = []
        now = self._now
        while sleepers and sleepers[0][0] <= now:
            sleeper = heapq.heappop(sleepers)[2]
            if not sleeper.gone:
                sleeper.gone = True
                due.append(sleeper)
        return due

    def __repr__(self) -> str:
        return f"VirtualClock({self._now.isoformat()})"


def _wake(due: list[_Sleeper]) -> None:
    """Wake ``due`` in order, outside the clock's lock (a wake-up never blocks)."""
    for sleeper in due:
        sleeper.wake()

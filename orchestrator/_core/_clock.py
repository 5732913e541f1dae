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
import time as _time
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from typing import final

import anyio

from ._checks import check_seconds, is_number, wrong_type, wrong_value
from ._checks_objects import check_datetime
from ._errors import ArgumentValueError
from ._parking import parked

__all__ = ["Clock", "SystemClock", "VirtualClock", "as_utc"]

#: Where a :class:`VirtualClock` starts unless told otherwise.
DEFAULT_VIRTUAL_START = datetime(2026, 1, 1, tzinfo=UTC)


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
        if not is_number(seconds) or math.isnan(seconds):
            expected = "a number of seconds (infinity sleeps until cancelled)"
            if is_number(seconds):
                raise wrong_value("seconds", seconds, expected)
            raise wrong_type("seconds", seconds, expected)
        try:
            deadline = self.now() + timedelta(seconds=seconds)
        except OverflowError:
            if seconds < 0:
                return
            await parked(anyio.sleep_forever())
            return
        await self.sleep_until(deadline)

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

    def __repr__(self) -> str:
        return "SystemClock()"


@final
class VirtualClock(Clock):
    """A clock whose time moves only when told to.

    Sleepers registered through :meth:`sleep_until` wake when :meth:`advance`,
    :meth:`set` or :meth:`advance_to_next` move the time to or past their deadline.
    Ties between sleepers with the same deadline wake in the order they went to sleep.

    Args:
        start: the initial time (an aware datetime); defaults to 2026-01-01T00:00:00Z.

    Raises:
        InvalidArgument: ``start`` is not an aware datetime (strings are not parsed).

    The methods that move time must be called from the thread that runs the event loop
    when there are async sleepers.
    """

    __slots__ = ("_now", "_sequence", "_sleepers", "_watchers")

    def __init__(self, start: datetime | None = None) -> None:
        self._now = DEFAULT_VIRTUAL_START if start is None else as_utc(start, "start")
        self._sleepers: list[tuple[datetime, int, anyio.Event]] = []
        self._sequence = itertools.count()
        self._watchers: list[anyio.Event] = []

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
        if when < self._now:
            raise ArgumentValueError(
                f"a virtual clock only moves forward: it reads {self._now.isoformat()}, "
                f"asked for when={when.isoformat()}"
            )
        self._now = when
        self._wake_due()

    def advance(self, seconds: float = 0.0) -> datetime:
        """Move the clock forward by ``seconds`` and return the new time.

        Raises:
            InvalidArgument: ``seconds`` is not a finite, non-negative number, or moves
                the clock past the year 9999.
        """
        amount = check_seconds(
            seconds, "seconds", expected="a finite, non-negative number of seconds"
        )
        try:
            when = self._now + timedelta(seconds=amount)
        except OverflowError:
            raise wrong_value(
                "seconds", seconds, "small enough to keep the clock before the year 10000"
            ) from None
        self.set(when)
        return self._now

    def next_deadline(self) -> datetime | None:
        """Return the earliest deadline of a sleeper, or None when nobody sleeps."""
        while self._sleepers and self._sleepers[0][2].is_set():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def advance_to_next(self) -> datetime | None:
        """Jump to the earliest sleeper's deadline and wake it; return that time.

        Returns None, leaving the time unchanged, when nobody sleeps.
        """
        deadline = self.next_deadline()
        if deadline is None:
            return None
        self.set(max(deadline, self._now))
        return self._now

    async def sleep_until(self, deadline: datetime) -> None:
        """Wait until the virtual time reaches ``deadline``."""
        if deadline <= self._now:
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (deadline, next(self._sequence), event))
        for watcher in self._watchers:
            watcher.set()
        self._watchers.clear()
        try:
            await parked(event.wait())  # a wait on this clock: time skipping may jump
        finally:
            if not event.is_set():
                # Cancelled: mark the entry dead so next_deadline skips it.
                event.set()

    async def wait_for_sleeper(self) -> None:
        """Return once at least one task sleeps on this clock (used by time skipping)."""
        if self.next_deadline() is not None:
            return
        event = anyio.Event()
        self._watchers.append(event)
        await event.wait()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, event = heapq.heappop(self._sleepers)
            event.set()

    def __repr__(self) -> str:
        return f"VirtualClock({self._now.isoformat()})"

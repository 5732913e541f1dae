"""Busy units: who runs user code right now, across threads, for time skipping.

Time skipping (:mod:`orchestrator._engine._autojump`) may move a virtual clock only
while all work is idle. Work that the skipper's event loop cannot look at is counted on
an orchestrator's :class:`~orchestrator._core._activity.Activity` as *busy units*
(``activity.executing``): a sync task function in a worker thread, a sync flow body in
the caller's thread (:meth:`~orchestrator._core._activity.Activity.counted`), an event
loop of its own in a runner thread (a *foreign loop*, see
:mod:`orchestrator._engine._foreign_loop`).

A unit that waits on the orchestrator is idle for the length of the wait, and the rules
that keep time from ever jumping over work are these:

* **A blocking wait parks its unit.** A blocking orchestrator wait (a blocking clock
  sleep, :meth:`~orchestrator._core._wakeup.Signal.wait_blocking`, a blocking future
  wait, a blocking wait for a slot turn) made by code counted on an activity goes
  through :func:`parked_blocking`: it registers its wake-up first, then
  :meth:`Parking.park` marks the unit idle, then it blocks.
* **The waker marks it busy, before it wakes it.** The wake-up registered is wrapped by
  :meth:`Parking.waking`: whoever wakes the wait (the thread that advances the clock,
  the one that commits a run's final state) first marks the unit busy again, under the
  activity's lock, then wakes the thread. A skipper that reads ``executing == 0`` can
  therefore never see "all idle" between a wake and the resume of the woken code. The
  waiting thread marks itself busy again when its wait returns in any other way (a
  real-time timeout); :meth:`Parking.resume` is idempotent.
* **An async waiter of a foreign loop kicks its loop.** An async
  :class:`~orchestrator._core._wakeup.Waiter` made in a task of a foreign loop carries
  the loop unit's *wake hook* (:func:`current_wake_hook`): the waker hands it the
  posting of the wake-up, and the hook marks the loop busy, posts (which queues the
  wake-up in the loop synchronously), and then tells the loop's monitor. The loop is
  busy from before the post until its monitor, having seen the post, finds it idle
  again.

Which unit the running code belongs to is a context variable (:func:`current_unit`),
set by :meth:`~orchestrator._core._activity.Activity.counted` and by foreign loops; a
unit applies only in the thread it was entered in (a context copied into another thread
does not carry it there). Outside any unit every helper here does nothing, for one
context-variable read. Nothing here is process-wide state.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Final, Protocol, final

__all__ = [
    "Counter",
    "Parking",
    "ThreadUnit",
    "Unit",
    "WakeHook",
    "current_unit",
    "current_wake_hook",
    "parked_blocking",
    "using_unit",
]

#: Wraps the posting of a wake-up: ``hook(post)`` marks the unit busy, calls ``post()``,
#: then tells the unit a wake-up was posted. Never blocks, never raises.
WakeHook = Callable[[Callable[[], None]], None]

_UNIT: Final[ContextVar[Unit | None]] = ContextVar("orchestrator_busy_unit", default=None)


class Counter(Protocol):
    """Where a unit is counted busy: an activity's executing count."""

    def mark_idle(self) -> None:
        """One busy unit went idle (waits on the orchestrator)."""

    def mark_busy(self) -> None:
        """One idle unit is busy again."""


class Unit(ABC):
    """A busy unit: code counted on one or more activities, entered in one thread.

    Attributes:
        thread: the identity of the thread the unit was entered in.
    """

    __slots__ = ("thread",)

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    @abstractmethod
    def parking(self) -> Parking | None:
        """A parking for a blocking wait made in :attr:`thread`, or None (nothing to park)."""

    @abstractmethod
    def wake_hook(self) -> WakeHook | None:
        """What a waker hands the posting of a wake-up of this unit's async waiter to."""


@final
class ThreadUnit(Unit):
    """Sync code counted on ``counter`` in the current thread (see ``Activity.counted``).

    Args:
        counter: the activity it is counted on.
        outer: the unit of the same thread it is nested in (a flow body calling another
            orchestrator's flow), parked and resumed together with this one.
    """

    __slots__ = ("counter", "outer")

    def __init__(self, counter: Counter, outer: ThreadUnit | None) -> None:
        super().__init__()
        self.counter = counter
        self.outer = outer if outer is not None and outer.thread == self.thread else None

    def counters(self) -> tuple[Counter, ...]:
        """The activities this unit and the units it is nested in are counted on."""
        found: list[Counter] = []
        unit: ThreadUnit | None = self
        while unit is not None:
            if not any(c is unit.counter for c in found):
                found.append(unit.counter)
            unit = unit.outer
        return tuple(found)

    def parking(self) -> Parking | None:
        """A parking over every activity of the chain, when called in the unit's thread."""
        if threading.get_ident() != self.thread:
            return None
        return Parking(self.counters())

    def wake_hook(self) -> WakeHook | None:
        """None: a plain thread makes no async waiters (a loop in it is a foreign loop)."""
        return None


# Parking states.
_NEW: Final = 0
_PARKED: Final = 1
_RESUMED: Final = 2


@final
class Parking:
    """One blocking wait of a unit: idle between :meth:`park` and the first :meth:`resume`.

    Thread-safe. :meth:`resume` may come first (the wake-up arrived before the wait
    blocked): then :meth:`park` does nothing and the unit never looks idle.

    Args:
        counters: the activities the unit is counted on (none: a no-op parking).
    """

    __slots__ = ("_counters", "_lock", "_state")

    def __init__(self, counters: tuple[Counter, ...] = ()) -> None:
        self._counters = counters
        self._lock = threading.Lock()
        self._state = _NEW

    def park(self) -> None:
        """The wait is about to block: mark the unit idle (unless already resumed)."""
        if not self._counters:
            return
        with self._lock:
            if self._state != _NEW:
                return
            self._state = _PARKED
        # Outside the lock: a count change may notify, and the two changes commute.
        for counter in self._counters:
            counter.mark_idle()

    def resume(self) -> None:
        """Mark the unit busy again (once; later calls do nothing). Never blocks for long."""
        if not self._counters:
            return
        with self._lock:
            state = self._state
            self._state = _RESUMED
        if state == _PARKED:
            for counter in reversed(self._counters):
                counter.mark_busy()

    def waking(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Wrap ``wake`` so that it first marks the unit busy again (for the waker to call)."""
        if not self._counters:
            return wake

        def resume_then_wake() -> None:
            self.resume()
            wake()

        return resume_then_wake

    def __repr__(self) -> str:
        state = ("new", "parked", "resumed")[self._state]
        return f"<Parking {state} counters={len(self._counters)}>"


def current_unit() -> Unit | None:
    """The busy unit the running code belongs to, or None."""
    return _UNIT.get()


@contextlib.contextmanager
def using_unit(unit: Unit | None) -> Iterator[None]:
    """Make ``unit`` the current busy unit inside the ``with`` block (this context only)."""
    token = _UNIT.set(unit)
    try:
        yield
    finally:
        _UNIT.reset(token)


def current_wake_hook() -> WakeHook | None:
    """What a waker must hand the posting of a wake-up of an async waiter made here to.

    None outside a foreign loop: the waker just posts.
    """
    unit = _UNIT.get()
    if unit is None or unit.thread != threading.get_ident():
        return None
    return unit.wake_hook()


@contextlib.contextmanager
def parked_blocking() -> Iterator[Parking]:
    """Make a blocking orchestrator wait count as idle for time skipping.

    The pattern, for a thread that blocks until some other thread wakes it::

        with parked_blocking() as parking:
            register(parking.waking(event.set))  # 1. the waker resumes, then wakes
            if not condition():  # 2. check after registering
                parking.park()  # 3. idle from here...
                event.wait()  # ...until the waker (or the block's end) resumes it

    Outside a counted unit (or in another thread than the unit's) the parking does
    nothing. Leaving the block resumes the unit if nothing did yet.
    """
    unit = _UNIT.get()
    parking = unit.parking() if unit is not None else None
    if parking is None:
        parking = Parking()
    try:
        yield parking
    finally:
        parking.resume()

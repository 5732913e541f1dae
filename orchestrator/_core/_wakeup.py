"""Wake-ups that cross threads: async code waits, any thread wakes it, nobody polls.

The engine changes runs under a lock, from whatever thread proposed a transition (an
event loop, a worker thread running a sync task, a test's own thread). Whoever waits for
such a change (a queue getter, a task-run future, a run waiting for a slot) is a task in
an asyncio or trio event loop, or a plain thread. This module joins the two without
polling and without ever blocking the side that wakes:

* :class:`Waiter` is one task's one-shot wake-up. It captures the task's event loop when
  it is made (asyncio: the running loop and a future; trio: the task and the trio
  token). :meth:`Waiter.wake` may be called from any thread, even under a lock: from the
  loop's own thread it resolves the waiter directly; from another thread it posts the
  resolution with ``loop.call_soon_threadsafe`` (asyncio) or ``TrioToken.run_sync_soon``
  (trio), which never block.
* :class:`Signal` is a reusable broadcast: :meth:`Signal.notify` wakes every waiter
  registered at that moment. It is *edge-triggered with an event count*: the signal
  counts its notifications (:attr:`Signal.generation`), and a waiter says which
  generation it has already seen, so a notification that lands between a waiter's check
  and its wait is not lost. The pattern, for any condition guarded by a signal::

      while True:
          seen = signal.generation  # 1. snapshot first
          if condition():  # 2. then check
              return
          await signal.wait(seen)  # 3. returns at once if notified since the snapshot

  The side that makes ``condition()`` true must change its data *before* it calls
  :meth:`Signal.notify`. One signal per condition (per task key, per run, per tag) keeps
  wake-ups targeted; waking is a broadcast, so a cancelled waiter never swallows a
  notification another waiter needed.
* Every wait of a :class:`Waiter` counts as *parked on the orchestrator* for time skipping
  (:func:`~orchestrator._core._parking.parked`): the wake-up comes from the orchestrator.
  A waiter made in a foreign loop (an event loop counted as a busy unit, see
  :mod:`orchestrator._core._units`) carries the loop's wake hook: :meth:`Waiter.wake`
  posts through it, so the loop is busy again before the wake-up is posted into it; and
  :meth:`Signal.wait_blocking` parks the current busy unit for its wait, the notifier
  marking it busy again before it wakes the thread.
* :func:`wait_for_any` waits on several signals at once, optionally racing an awaitable
  such as ``clock.sleep_until(deadline)``; :meth:`Signal.wait_blocking` waits from a
  plain thread (and refuses, with a clear error, to block an event loop).

Costs: :meth:`Signal.notify` with nobody waiting is one uncontended lock and an
increment; with ``w`` waiters it is O(w) non-blocking calls. Registering and
unregistering a waiter is O(1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, final

import anyio

from ._parking import parked
from ._units import WakeHook, parked_blocking
from ._units import current_wake_hook as _current_wake_hook

if TYPE_CHECKING:
    import trio

__all__ = ["Signal", "Wakeable", "Waiter", "current_async_library", "wait_for_any"]

_logger: Final = logging.getLogger(__name__)
_get_ident: Final = threading.get_ident


def current_async_library() -> str | None:
    """Return ``"trio"`` or ``"asyncio"`` when called from a task of that library, else None.

    Trio is asked first (and only when it was imported), so a trio task running as a
    guest inside an asyncio loop counts as trio. Worker threads count as None.
    """
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_task():
        return "trio"
    return "asyncio" if asyncio._get_running_loop() is not None else None


class Wakeable(Protocol):
    """Anything a :class:`Signal` can wake: ``wake()`` must not block and must not raise."""

    def wake(self) -> None:
        """Wake whoever waits; may be called from any thread, more than once."""


class Waiter(ABC):
    """A one-shot wake-up for the task that created it.

    Make one with :meth:`for_current_task` inside the task that will wait, register it
    where the wake-up will come from, then ``await waiter.wait()`` once. :meth:`wake`
    may be called from any thread, any number of times, before or during the wait: the
    first call resolves the waiter, the rest do nothing. A wake that arrives before
    :meth:`wait` makes the wait return at once. Cancelling the wait is safe: a later wake
    is ignored.
    """

    __slots__ = ()

    @staticmethod
    def for_current_task() -> Waiter:
        """Return a waiter bound to the current task and its event loop.

        Raises:
            RuntimeError: not called from an asyncio or trio task.
        """
        library = current_async_library()
        if library == "asyncio":
            return _AsyncioWaiter(asyncio.get_running_loop(), _current_wake_hook())
        if library == "trio":
            return _TrioWaiter(_current_wake_hook())
        raise RuntimeError(
            f"a Waiter needs a running asyncio or trio event loop (found {library!r}); "
            "from a plain thread use Signal.wait_blocking()"
        )

    @abstractmethod
    def wake(self) -> None:
        """Resolve the waiter; safe from any thread, never blocks, never raises.

        When the waiter was made in a foreign loop, first marks that loop busy.
        """

    @abstractmethod
    async def wait(self) -> None:
        """Return once :meth:`wake` has been called (at once if it already was)."""


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@final
class _AsyncioWaiter(Waiter):
    __slots__ = ("_future", "_hook", "_loop", "_thread")

    def __init__(self, loop: asyncio.AbstractEventLoop, hook: WakeHook | None = None) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()
        self._thread = _get_ident()
        self._hook = hook

    def wake(self) -> None:
        hook = self._hook
        if hook is None:
            self._post()
        else:
            hook(self._post)

    def _post(self) -> None:
        if _get_ident() == self._thread:
            _resolve(self._future)
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to wake
            self._loop.call_soon_threadsafe(_resolve, self._future)

    async def wait(self) -> None:
        await parked(self._future)


# _TrioWaiter states; they change only in the trio thread, so they need no lock.
_IDLE: Final = 0
_PARKED: Final = 1
_WOKEN: Final = 2
_GONE: Final = 3


@final
class _TrioWaiter(Waiter):
    __slots__ = ("_hook", "_state", "_task", "_thread", "_token", "_trio")

    def __init__(self, hook: WakeHook | None = None) -> None:
        import trio  # loaded only when it is the running backend

        self._hook = hook
        self._trio = trio
        self._task = trio.lowlevel.current_task()
        self._token = trio.lowlevel.current_trio_token()
        self._thread = _get_ident()
        self._state = _IDLE

    def wake(self) -> None:
        hook = self._hook
        if hook is None:
            self._post()
        else:
            hook(self._post)

    def _post(self) -> None:
        if _get_ident() == self._thread:
            self._wake_here()
            return
        with contextlib.suppress(self._trio.RunFinishedError):  # the run is over: no one to wake
            self._token.run_sync_soon(self._wake_here)

    def _wake_here(self) -> None:
        state = self._state
        if state == _PARKED:
            self._state = _WOKEN
            self._trio.lowlevel.reschedule(self._task)
        elif state == _IDLE:
            self._state = _WOKEN

    async def wait(self) -> None:
        if self._state == _WOKEN:
            return
        self._state = _PARKED
        await parked(self._trio.lowlevel.wait_task_rescheduled(self._abort))

    def _abort(self, raise_cancel: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        # Cancelled while parked: later wakes must not reschedule the task.
        self._state = _GONE
        return self._trio.lowlevel.Abort.SUCCEEDED


@final
class _ThreadWaiter:
    __slots__ = ("_event", "wake")

    def __init__(self, wrap: Callable[[Callable[[], None]], Callable[[], None]]) -> None:
        self._event = threading.Event()
        self.wake = wrap(self._event.set)  # the parking's resume, then the set

    def wait(self, timeout: float | None) -> bool:
        return self._event.wait(timeout)


@final
class Signal:
    """A reusable, thread-safe broadcast wake-up with an event count.

    :meth:`notify` may be called from any thread, even while holding a lock; it never
    blocks on a waiter. Waiters pass the :attr:`generation` they snapshotted before
    checking their condition, so no notification is lost (see the module docstring).
    """

    __slots__ = ("_generation", "_lock", "_watchers")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._watchers: dict[Wakeable, None] = {}

    @property
    def generation(self) -> int:
        """How many times :meth:`notify` was called; snapshot it before checking. O(1)."""
        return self._generation

    @property
    def waiting(self) -> int:
        """The number of waiters registered right now. O(1)."""
        return len(self._watchers)

    def notify(self) -> None:
        """Count one notification and wake every registered waiter. O(waiters).

        Safe from any thread; never blocks and never raises.
        """
        with self._lock:
            self._generation += 1
            watchers = self._watchers
            if not watchers:
                return
            self._watchers = {}
        for watcher in watchers:
            try:
                watcher.wake()
            except Exception:  # a custom Wakeable broke its contract: report, go on
                _logger.exception("waking %r failed", watcher)

    def watch(self, waiter: Wakeable, seen: int | None = None) -> bool:
        """Register ``waiter`` for the next notification after generation ``seen``. O(1).

        Returns False, registering nothing, when the signal was already notified after
        ``seen`` (the caller should not wait). With ``seen=None`` the waiter is always
        registered and wakes on the next notification.
        """
        with self._lock:
            if seen is not None and seen != self._generation:
                return False
            self._watchers[waiter] = None
            return True

    def unwatch(self, waiter: Wakeable) -> None:
        """Forget ``waiter`` (no error if it is not registered). O(1)."""
        with self._lock:
            self._watchers.pop(waiter, None)

    async def wait(self, seen: int | None = None) -> None:
        """Return at the first notification after generation ``seen``.

        Returns at once, without yielding, when that already happened; with
        ``seen=None``, waits for the next notification. Cancellation is safe.

        Raises:
            RuntimeError: not called from an asyncio or trio task.
        """
        waiter = Waiter.for_current_task()
        if not self.watch(waiter, seen):
            return
        try:
            await waiter.wait()
        finally:
            self.unwatch(waiter)

    def wait_blocking(self, seen: int | None = None, timeout: float | None = None) -> bool:
        """Block the calling thread until a notification after generation ``seen``.

        For plain threads (for example a sync task in a worker thread). ``timeout`` is
        in real seconds (None: no limit).

        Returns:
            True when notified, False when ``timeout`` ran out first.

        Raises:
            RuntimeError: called from an event loop's thread, where blocking would stop
                the very loop that has to deliver the notification.
        """
        library = current_async_library()
        if library is not None:
            raise RuntimeError(
                f"Signal.wait_blocking() would block the {library} event loop of this "
                "thread; use `await signal.wait(...)` instead"
            )
        with parked_blocking() as parking:
            waiter = _ThreadWaiter(parking.waking)
            if not self.watch(waiter, seen):
                return True
            try:
                parking.park()
                return waiter.wait(timeout)
            finally:
                self.unwatch(waiter)

    def __repr__(self) -> str:
        return f"Signal(generation={self._generation}, waiting={len(self._watchers)})"


async def wait_for_any(
    signals: Sequence[tuple[Signal, int | None]],
    until: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Wait until one of ``signals`` is notified after its snapshot, or ``until()`` returns.

    Args:
        signals: ``(signal, seen)`` pairs; see :meth:`Signal.watch` for ``seen``.
        until: an optional async callable raced against the signals, for example
            ``functools.partial(clock.sleep_until, deadline)``; it runs in a child task
            that is cancelled as soon as a signal fires.

    Returns at once, without yielding, when a signal was already notified after its
    snapshot. With no signals and no ``until`` it waits until cancelled. Cancellation is
    safe: every registration is removed.

    Raises:
        RuntimeError: not called from an asyncio or trio task.
    """
    waiter = Waiter.for_current_task()
    watched: list[Signal] = []
    try:
        for signal, seen in signals:
            if not signal.watch(waiter, seen):
                return
            watched.append(signal)
        if until is None:
            await waiter.wait()
            return
        async with anyio.create_task_group() as group:
            group.start_soon(_wake_after, until, waiter)
            await waiter.wait()
            group.cancel_scope.cancel()
    finally:
        for signal in watched:
            signal.unwatch(waiter)


async def _wake_after(until: Callable[[], Awaitable[Any]], waiter: Waiter) -> None:
    await until()
    waiter.wake()

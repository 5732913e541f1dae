"""Who drives time during a top-level call: a shared time skipper for flow calls.

An orchestrator built with ``autojump=True`` skips virtual time while ``async with
orchestrator:`` is open (its skipper runs in that event loop). A flow called outside
such a block (``with orchestrator: pipeline()``, from sync code, or from async code
under a plain ``with``) still needs someone to move the clock. The flow engine wraps
each top-level call in :func:`drive_time` (sync) or :func:`drive_time_async` (async):

* when the orchestrator has ``autojump=False``, runs on another clock, or a skipper its
  user started drives the clock already, they do nothing;
* otherwise they start a :class:`~orchestrator._engine._autojump.TimeSkipper` on an
  event loop of a helper thread, or **join** the one another call started, and the last
  call to leave stops it. Calls in several threads (or several tasks) at once share one
  skipper, so a call that ends first never leaves another without a driver.

The skipper runs in a thread of its own, not in the caller's loop: a sync flow body
blocks its thread, and an async flow body may block its loop on a task-runner future.
Everything the skipper cannot see is counted as busy units on the orchestrator's
activity (see :mod:`orchestrator._core._units`): sync code inside
``activity.counted()``, event loops through
:func:`~orchestrator._engine._foreign_loop.foreign_loop`. :func:`drive_time_async`
counts the caller's own loop that way for the length of the call when the skipper
driving the clock runs in another thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, final

import anyio
import anyio.from_thread
import anyio.to_thread

from .._core._clock import VirtualClock
from .._core._errors import WorkerError
from ._autojump import TimeSkipper, active_time_skipper
from ._foreign_loop import foreign_loop

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ._orchestrator import Orchestrator

__all__ = ["drive_time", "drive_time_async"]


@final
class _SharedDriver:
    """A skipper on an event loop of a helper thread, shared by the calls that need it."""

    __slots__ = ("_future", "_lock", "_portal", "_stopping", "_users", "skipper", "stopped")

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._stopping = False
        self._portal: contextlib.AbstractContextManager[Any] | None = None
        self._future: Future[None] | None = None
        self.skipper = TimeSkipper(orchestrator)
        self.skipper.driver = self
        #: Set once the skipper has stopped driving the clock.
        self.stopped = threading.Event()

    def start(self) -> bool:
        """Start the skipper; False (nothing started) when another one drives the clock."""
        # Counted before the skipper registers: from then on another call can join it,
        # and its join must not be overwritten (the first leave would stop the skipper
        # under the other call, whose sleep would then never end).
        with self._lock:
            self._users += 1
        portal_manager = anyio.from_thread.start_blocking_portal()
        portal = portal_manager.__enter__()
        try:
            self._future, _ = portal.start_task(self.skipper.run, name="orchestrator time")
        except BaseException as error:
            portal_manager.__exit__(None, None, None)
            self.stopped.set()
            if isinstance(error, WorkerError):
                return False  # another call's skipper won the race
            raise
        self._portal = portal_manager
        return True

    def join(self) -> bool:
        """One more call uses the skipper; False when it is already stopping."""
        with self._lock:
            if self._stopping:
                return False
            self._users += 1
            return True

    def leave(self) -> None:
        """One call is done with the skipper; the last one stops it and waits for that."""
        with self._lock:
            self._users -= 1
            if self._users:
                return
            self._stopping = True
        future, portal = self._future, self._portal
        assert future is not None, "leave() before start()"
        assert portal is not None, "leave() before start()"
        future.cancel()
        portal.__exit__(None, None, None)
        self.stopped.set()


def _wants_driver(orchestrator: Orchestrator) -> bool:
    return bool(orchestrator._autojump) and isinstance(orchestrator.clock, VirtualClock)


def _acquire(orchestrator: Orchestrator) -> _SharedDriver | None:
    """Join or start the shared skipper; None when none is needed (see the module doc)."""
    if not _wants_driver(orchestrator):
        return None
    while True:
        current = active_time_skipper(orchestrator)
        if current is not None:
            driver = current.driver
            if not isinstance(driver, _SharedDriver):
                return None  # its user's skipper drives the clock
            if driver.join():
                return driver
            driver.stopped.wait()  # the last call is stopping it: then start another
            continue
        driver = _SharedDriver(orchestrator)
        if driver.start():
            return driver


@contextlib.contextmanager
def drive_time(orchestrator: Orchestrator) -> Iterator[TimeSkipper | None]:
    """Make sure a skipper drives ``orchestrator``'s clock while the block runs (sync calls).

    Yields the skipper driving the clock (None when the orchestrator has no autojump,
    or its user's own skipper drives it). Use it around a top-level sync flow call, whose
    body runs counted (``activity.counted()``) in the calling thread.
    """
    driver = _acquire(orchestrator)
    try:
        yield active_time_skipper(orchestrator) if driver is not None else None
    finally:
        if driver is not None:
            driver.leave()


@contextlib.asynccontextmanager
async def drive_time_async(orchestrator: Orchestrator) -> AsyncIterator[TimeSkipper | None]:
    """Make sure a skipper drives ``orchestrator``'s clock while the block runs (async calls).

    As :func:`drive_time`; when the skipper runs in another thread, this event loop is
    counted as a foreign loop for the block (the block is one run's execution, see
    :func:`~orchestrator._engine._foreign_loop.foreign_loop`). Under the skipper of
    ``async with orchestrator:`` in this loop it does nothing.
    """
    with anyio.CancelScope(shield=True):
        driver = await anyio.to_thread.run_sync(_acquire, orchestrator)
    try:
        skipper = active_time_skipper(orchestrator)
        if skipper is not None and skipper.thread != threading.get_ident():
            async with foreign_loop(orchestrator.activity):
                yield skipper
        else:
            yield skipper if driver is not None else None
    finally:
        if driver is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(driver.leave)

"""A task worker's intake and its pool of runner tasks.

The intake takes runs from the worker's :class:`~orchestrator.MultiQueue` only when a
slot is free (backpressure), claims each through the engine, and hands the claim, with
its slot, to an idle runner. Runners are long-lived tasks, one per slot: executing a run
costs no new task. A runner that finishes a run takes the next due run itself while
there is one, keeping its slot, and yields to the event loop between runs; only when
nothing is due does it give its slot back and wait for the intake. So a busy worker
runs without wake-ups, and an idle one is woken once per run that arrives. A worker
with no limit has no pool: each claim gets a task of its own.

A runner cancelled while a claim is handed to it hands the run back, so no claim is
lost between the two.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, final

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from .._core._wakeup import Waiter, current_async_library

if TYPE_CHECKING:
    from .._queues._registry import MultiQueue
    from ._claims import Claim
    from ._execution import RunExecutor

__all__ = ["RunnerPool"]


def _loop_checkpoint() -> Callable[[], Awaitable[None]]:
    """The running event loop's own checkpoint, as ``anyio.lowlevel.checkpoint()`` would call.

    Looked up once per runner: anyio looks up the backend at every call, and a busy
    runner yields once per run.
    """
    if current_async_library() == "trio":
        checkpoint: Callable[[], Awaitable[None]] = sys.modules["trio"].lowlevel.checkpoint
        return checkpoint
    return _asyncio_yield


@types.coroutine
def _asyncio_yield() -> Generator[None, None, None]:
    """Give the other asyncio tasks a turn: what ``asyncio.sleep(0)`` does, in one frame.

    A bare ``yield`` makes the task's step schedule the next one with ``call_soon``,
    exactly as ``sleep(0)`` does through its inner ``__sleep0``; a pending cancellation
    is thrown in here the same way.
    """
    yield


@final
class _Runner:
    __slots__ = ("claim", "idle", "waiter")

    def __init__(self) -> None:
        self.claim: Claim | None = None
        self.waiter: Waiter | None = None
        self.idle = False


@final
class RunnerPool:
    """The intake and the runners of one serving task worker.

    Args:
        executor: executes the claims; its slots bound the runs at once.
        queue: where runs come from.
    """

    __slots__ = ("_closed", "_executor", "_idle", "_queue")

    def __init__(self, executor: RunExecutor, queue: MultiQueue) -> None:
        self._executor = executor
        self._queue = queue
        self._idle: list[_Runner] = []
        self._closed = False

    async def serve(self, group: TaskGroup) -> None:
        """Start the runners in ``group`` and take runs until cancelled or stopping.

        Runners still busy when it returns finish their runs, then end.
        """
        executor = self._executor
        slots = executor.slots
        queue = self._queue
        limit = slots.limit
        if limit is not None:
            for _ in range(limit):
                group.start_soon(self._run, _Runner())
        idle = self._idle
        try:
            while not executor.stopping:
                await slots.acquire()  # backpressure: never take a run that cannot start
                try:
                    run = await queue.get()
                except BaseException:
                    slots.release()
                    raise
                claim = executor.claim(run)
                if claim is None:
                    slots.release()  # claimed elsewhere or moved on: nothing to do
                elif idle:
                    runner = idle.pop()
                    runner.idle = False
                    runner.claim = claim  # the slot goes with it
                    runner.waiter.wake()  # type: ignore[union-attr]
                else:
                    group.start_soon(self._run_once, claim)
                    if limit is None:
                        await anyio.lowlevel.checkpoint()  # let the runs start
        finally:
            self.close()

    def close(self) -> None:
        """Let idle runners end; busy ones end after their run."""
        self._closed = True
        idle, self._idle = self._idle, []
        for runner in idle:
            runner.idle = False
            runner.claim = None
            runner.waiter.wake()  # type: ignore[union-attr]

    def _next(self) -> Claim | None:
        """Claim the next due run now, or None when nothing is due (or stopping)."""
        executor = self._executor
        queue = self._queue
        while not (self._closed or executor.stopping):
            try:
                run = queue.get_nowait()
            except anyio.WouldBlock:
                return None
            claim = executor.claim(run)
            if claim is not None:
                return claim
        return None

    async def _run_once(self, claim: Claim) -> None:
        try:
            await self._executor.execute(claim)
        finally:
            self._executor.slots.release()

    async def _run(self, runner: _Runner) -> None:
        executor = self._executor
        slots = executor.slots
        idle = self._idle
        holding = False  # whether this runner holds a slot (from the intake, or kept)
        checkpoint = _loop_checkpoint()
        try:
            while not self._closed:
                runner.waiter = waiter = Waiter.for_current_task()
                runner.idle = True
                idle.append(runner)
                try:
                    await waiter.wait()
                finally:
                    if runner.idle:  # cancelled while idle
                        runner.idle = False
                        idle.remove(runner)
                claim, runner.claim = runner.claim, None
                if claim is None:
                    return
                holding = True
                while claim is not None:
                    await executor.execute(claim)
                    claim = self._next()
                    if claim is not None:
                        # Others' turn; a cancellation here hands the claim back (below).
                        runner.claim = claim
                        await checkpoint()
                        runner.claim = None
                holding = False
                slots.release()
        finally:
            claim, runner.claim = runner.claim, None
            if claim is not None:  # handed over as the runner was cancelled
                holding = True
                executor.hand_back_unstarted(claim, "the task worker was cancelled")
            if holding:
                slots.release()

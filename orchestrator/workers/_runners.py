"""A task worker's intake and its pool of runner tasks.

The intake takes runs from the worker's :class:`~orchestrator.MultiQueue` (only when a
slot is free: backpressure), claims each through the engine, and hands the claim to an
idle runner. Runners are long-lived tasks, one per slot, so executing a run costs two
wake-ups (the intake's and the runner's) instead of a new task each time. A worker with
no limit has no pool: each claim gets a task of its own.

Runners park on a :class:`~orchestrator._wakeup.Waiter`; the intake sets their claim
and wakes them. A runner cancelled while a claim is handed to it hands the run back, so
no claim is lost between the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from .._wakeup import Waiter

if TYPE_CHECKING:
    from .._queues import MultiQueue
    from ._claims import Claim
    from ._execution import Executor

__all__ = ["RunnerPool"]

_EXIT: Final = None


@final
class _Runner:
    __slots__ = ("claim", "waiter")

    def __init__(self) -> None:
        self.claim: Claim | None = None
        self.waiter: Waiter | None = None


@final
class RunnerPool:
    """The intake and the runners of one serving task worker.

    Args:
        executor: executes the claims.
        queue: where runs come from.
    """

    __slots__ = ("_closed", "_executor", "_idle", "_queue")

    def __init__(self, executor: Executor, queue: MultiQueue) -> None:
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
                    runner.claim = claim
                    runner.waiter.wake()  # type: ignore[union-attr]
                else:
                    group.start_soon(executor.execute, claim)
                    if limit is None:
                        await anyio.lowlevel.checkpoint()  # let the runs start
        finally:
            self.close()

    def close(self) -> None:
        """Let idle runners end; busy ones end after their run."""
        self._closed = True
        idle, self._idle = self._idle, []
        for runner in idle:
            runner.claim = _EXIT
            runner.waiter.wake()  # type: ignore[union-attr]

    async def _run(self, runner: _Runner) -> None:
        executor = self._executor
        idle = self._idle
        try:
            while not self._closed:
                runner.waiter = waiter = Waiter.for_current_task()
                idle.append(runner)
                try:
                    await waiter.wait()
                finally:
                    if runner in idle:
                        idle.remove(runner)
                claim, runner.claim = runner.claim, None
                if claim is None:
                    return
                await executor.execute(claim)
        finally:
            claim, runner.claim = runner.claim, None
            if claim is not None:  # handed over as the runner was cancelled
                executor.hand_back_unstarted(claim, "the task worker was cancelled")

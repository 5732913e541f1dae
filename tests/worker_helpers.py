"""Helpers for the task worker tests: waiting for states without polling, reading histories."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import anyio

from orchestrator import (
    Decision,
    Observer,
    Orchestrator,
    SetStateStatus,
    State,
    TaskRun,
    TaskRunFuture,
)
from orchestrator._core._wakeup import Signal
from orchestrator.workers import TaskWorker

__all__ = [
    "HANG_GUARD",
    "Commits",
    "WaitOrder",
    "history",
    "names",
    "outcome",
    "serving",
    "typed",
    "wait_until",
]

#: Real seconds after which a wait in a test fails instead of hanging.
HANG_GUARD: Final = 10.0


class Commits(Observer):
    """Wakes waiters on every commit and every decision (it subscribes itself)."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.signal = Signal()
        self.count = 0
        orchestrator.subscribe(self)

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        self.count += 1
        self.signal.notify()

    def decision_recorded(self, decision: Decision) -> None:
        self.signal.notify()

    async def until(self, predicate: Callable[[], bool], what: str = "the condition") -> None:
        """Return once ``predicate()`` holds, re-checking after every commit and decision."""
        with anyio.fail_after(HANG_GUARD):
            while True:
                seen = self.signal.generation
                if predicate():
                    return
                await self.signal.wait(seen)

    async def state(self, run: uuid.UUID | TaskRunFuture[Any], name: str, nth: int = 1) -> None:
        """Return once the run has committed a state named ``name`` ``nth`` times."""
        run_id = run if isinstance(run, uuid.UUID) else run.task_run_id
        await self.until(lambda: names(self.orchestrator, run_id).count(name) >= nth)


class WaitOrder(Observer):
    """Records, in order, the runs told to WAIT (subscribe it to an orchestrator)."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.run_ids: list[uuid.UUID] = []
        orchestrator.subscribe(self)

    def decision_recorded(self, decision: Decision) -> None:
        if decision.status is SetStateStatus.WAIT and decision.run_id not in self.run_ids:
            self.run_ids.append(decision.run_id)


async def wait_until(commits: Commits, predicate: Callable[[], bool]) -> None:
    """Shorthand for ``commits.until(predicate)``."""
    await commits.until(predicate)


def _id(run: uuid.UUID | TaskRunFuture[Any]) -> uuid.UUID:
    return run if isinstance(run, uuid.UUID) else run.task_run_id


def names(orchestrator: Orchestrator, run: uuid.UUID | TaskRunFuture[Any]) -> list[str]:
    """The names of the run's states, oldest first."""
    return [state.name for state in orchestrator.read_task_run_states(_id(run))]


def history(
    orchestrator: Orchestrator, run: uuid.UUID | TaskRunFuture[Any], start: datetime
) -> list[tuple[str, float]]:
    """The run's states as ``(name, seconds after start)``, oldest first."""
    result = []
    for state in orchestrator.read_task_run_states(_id(run)):
        assert state.timestamp is not None
        result.append((state.name, (state.timestamp - start).total_seconds()))
    return result


def typed(future: TaskRunFuture[Any]) -> TaskRunFuture[Any]:
    """The future, typed for any result (an async task's future is typed as its coroutine)."""
    return future


async def outcome(future: TaskRunFuture[Any]) -> Any:
    """``await future.aresult()``, typed as Any."""
    return await future.aresult()


def serving(worker: TaskWorker) -> bool:
    """Whether the worker serves now (a function, so type checkers do not narrow it)."""
    return worker.started

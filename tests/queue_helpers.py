"""Helpers for the queue tests: a clock, a run table and a registry over them."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta

from orchestrator import State, StateDetails, StateType, TaskRun, VirtualClock
from orchestrator._queues._registry import TaskQueues

__all__ = ["World"]


class World:
    """A :class:`VirtualClock`, a dict of runs and a :class:`TaskQueues` reading that dict.

    Ids are deterministic: runs get ``UUID(int=1), UUID(int=2), ...`` and states ids from
    a separate range.
    """

    def __init__(self, *, scheduled_size: int = 1000, retry_size: int = 100) -> None:
        self.clock = VirtualClock()
        self.start = self.clock.now()
        self.runs: dict[uuid.UUID, TaskRun] = {}
        self.queues = TaskQueues(
            self.clock,
            lookup=self.runs.get,
            default_scheduled_size=scheduled_size,
            default_retry_size=retry_size,
        )
        self._run_ids = itertools.count(1)
        self._state_ids = itertools.count(1 << 64)

    def at(self, seconds: float) -> datetime:
        """The time ``seconds`` after the clock's start."""
        return self.start + timedelta(seconds=seconds)

    def state(self, *, due_in: float | None = 0.0, retry: bool = False) -> State:
        """A committed SCHEDULED state stamped now, due ``due_in`` seconds from now.

        ``due_in=None`` sets no scheduled time (the state's timestamp is then the due time).
        """
        now = self.clock.now()
        return State(
            type=StateType.SCHEDULED,
            name="AwaitingRetry" if retry else "Scheduled",
            timestamp=now,
            id=uuid.UUID(int=next(self._state_ids)),
            details=StateDetails(
                scheduled_time=None if due_in is None else now + timedelta(seconds=due_in),
                deferred=True,
            ),
        )

    def run(
        self,
        key: str = "a",
        name: str | None = None,
        *,
        due_in: float | None = 0.0,
        retry: bool = False,
        put: bool = True,
    ) -> TaskRun:
        """Create a run of ``key`` in a fresh SCHEDULED state; queue it unless ``put=False``."""
        now = self.clock.now()
        run_id = uuid.UUID(int=next(self._run_ids))
        label = f"{key}{run_id.int}" if name is None else name
        run = TaskRun(
            id=run_id,
            name=label,
            task_key=key,
            dynamic_key=label,
            state=self.state(due_in=due_in, retry=retry),
            created=now,
            updated=now,
        )
        self.runs[run.id] = run
        if put:
            self.queues.put(run, retry=retry)
        return run

    def move(self, run: TaskRun, *, due_in: float | None = 0.0, retry: bool = False) -> TaskRun:
        """Give ``run`` a new committed state (its old entries become stale); return it."""
        run.state = self.state(due_in=due_in, retry=retry)
        return run

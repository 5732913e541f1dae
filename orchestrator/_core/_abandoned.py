"""Abandoned calls: task calls given up at their timeout that may still be running.

A sync task function runs in a worker thread, and a thread cannot be interrupted: at
its timeout the run is failed as "TimedOut", but the call runs on until it returns
(later, a remote executor may be unable to confirm that a call stopped). Until then
the call is *abandoned*, and the orchestrator keeps one rule for it: **no later
execution of the same run starts before the abandoned call has returned**. Workers
register such a call in the orchestrator's :class:`AbandonedCalls` (by run id) and look
it up before they start a run; whoever ran the call marks it returned, from any thread.

Waiting is event-driven: :meth:`AbandonedCall.wait` is woken through a thread-safe
:class:`~orchestrator._core._wakeup.Signal` (no polling).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import final

from ._wakeup import Signal

__all__ = ["AbandonedCall", "AbandonedCalls"]


@final
class AbandonedCall:
    """One call of a run given up at its timeout, until it returns (see the module docstring).

    Attributes:
        run_id: the run whose call it is.
        task_key: the run's task key.
        since: when it was abandoned (its deadline, on the orchestrator's clock).
    """

    __slots__ = ("_forget", "_returned", "_signal", "run_id", "since", "task_key")

    def __init__(
        self,
        run_id: uuid.UUID,
        task_key: str,
        since: datetime,
        forget: Callable[[AbandonedCall], None],
    ) -> None:
        self._forget = forget
        self.run_id = run_id
        self.task_key = task_key
        self.since = since
        self._returned = False
        self._signal = Signal()

    @property
    def returned(self) -> bool:
        """Whether the call has returned (or raised)."""
        return self._returned

    def mark_returned(self) -> None:
        """The call returned: forget it and wake whoever waits; from any thread, idempotent."""
        if self._returned:
            return
        self._returned = True
        self._forget(self)
        self._signal.notify()

    async def wait(self) -> None:
        """Return once the call has returned (at once if it has)."""
        signal = self._signal
        while True:
            seen = signal.generation
            if self._returned:
                return
            await signal.wait(seen)

    def __repr__(self) -> str:
        state = "returned" if self._returned else "running"
        return f"AbandonedCall({self.run_id}, {self.task_key!r}, since={self.since}, {state})"


@final
class AbandonedCalls:
    """The abandoned calls of one orchestrator that have not returned yet, by run id.

    Safe from any thread. Reach it as :attr:`Orchestrator.abandoned_calls
    <orchestrator.Orchestrator.abandoned_calls>`.
    """

    __slots__ = ("_by_run", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_run: dict[uuid.UUID, AbandonedCall] = {}

    def add(self, run_id: uuid.UUID, task_key: str, since: datetime) -> AbandonedCall:
        """Record that a call of ``run_id`` was abandoned at ``since``; return its record.

        A run has at most one abandoned call at a time (its next execution waits for
        it); a second one for the same run replaces the record in the lookup, and both
        records still wake their own waiters when their calls return.
        """
        call = AbandonedCall(run_id, task_key, since, self._forget)
        with self._lock:
            self._by_run[run_id] = call
        return call

    def get(self, run_id: uuid.UUID) -> AbandonedCall | None:
        """The call of ``run_id`` still running after its timeout, or None."""
        return self._by_run.get(run_id)

    def snapshot(self) -> Mapping[uuid.UUID, datetime]:
        """Run id -> when its call was abandoned, for every call still running (a copy)."""
        with self._lock:
            return MappingProxyType({run_id: call.since for run_id, call in self._by_run.items()})

    def __len__(self) -> int:
        return len(self._by_run)

    def _forget(self, call: AbandonedCall) -> None:
        with self._lock:
            if self._by_run.get(call.run_id) is call:
                del self._by_run[call.run_id]

    def __repr__(self) -> str:
        return f"AbandonedCalls({len(self._by_run)} running)"

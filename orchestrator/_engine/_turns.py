"""Turns: a run waiting for a tag concurrency slot is woken only when its turn has come.

A proposal refused a slot gets WAIT, naming each full tag as a
:class:`~orchestrator.SlotWait`, and joins the tag's first-come-first-served waiter
queue (the slot table keeps it). Waking every waiter of a tag when a slot frees would
cost one transition per waiter per freed slot, all but the head refused again.

:meth:`SlotTurns.wait` (behind :meth:`~orchestrator.Orchestrator.wait_for_turn`) wakes
a waiter only when the slot table would now admit it (it is among the first ``free``
waiters of each tag it waits for, or the tag changed so that it gets another answer: the
limit was deleted or set to 0, or the run lost its place). One :class:`_TagTurns` per tag
is registered on the tag's signal (:class:`TagSignals`); when the signal fires (under the
engine's lock, a slot freed or a waiter left) it looks at the head of the tag's queue and
wakes just those runs. A freed slot costs one wake-up, not
one per waiter. Registration happens under the engine's lock after checking admission,
so no freed slot goes unnoticed.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, final

import anyio

from .._core._clock import Clock
from .._core._outcomes import OrchestrationResult, SlotWait, WaitDetails
from .._core._wakeup import Signal, Waiter
from .._rules._policy_tables import SlotTable

__all__ = ["SlotTurns", "TagSignals"]


@final
class TagSignals:
    """One :class:`~orchestrator._core._wakeup.Signal` per tag, made when first watched.

    The slot table calls :meth:`notify` (its ``on_free``) under the engine's lock when a
    slot of the tag frees or a waiter leaves its queue.
    """

    __slots__ = ("_by_tag",)

    def __init__(self) -> None:
        self._by_tag: dict[str, Signal] = {}

    def signal(self, tag: str) -> Signal:
        """The tag's signal, made the first time (the caller holds the engine's lock)."""
        signal = self._by_tag.get(tag)
        if signal is None:
            signal = self._by_tag[tag] = Signal()
        return signal

    def notify(self, tag: str) -> None:
        """Wake whoever watches the tag (nobody yet: nothing to do)."""
        signal = self._by_tag.get(tag)
        if signal is not None:
            signal.notify()


@final
class _TagTurns:
    """The runs waiting (through :meth:`SlotTurns.wait`) for a slot on one tag."""

    __slots__ = ("_armed", "_signal", "_slots", "_tag", "waiting")

    def __init__(self, slots: SlotTable, signal: Signal, tag: str) -> None:
        self._slots = slots
        self._signal = signal
        self._tag = tag
        self._armed = False
        self.waiting: dict[uuid.UUID, list[Waiter]] = {}

    def add(self, run_id: uuid.UUID, waiter: Waiter) -> None:
        """Wake ``waiter`` when run ``run_id``'s turn comes (the caller holds the engine's lock)."""
        self.waiting.setdefault(run_id, []).append(waiter)
        if not self._armed:
            self._armed = True
            self._signal.watch(self)

    def discard(self, run_id: uuid.UUID, waiter: Waiter) -> None:
        """Forget ``waiter`` (the caller holds the engine's lock)."""
        waiters = self.waiting.get(run_id)
        if waiters is None:
            return
        if waiter in waiters:
            waiters.remove(waiter)
        if not waiters:
            del self.waiting[run_id]

    def wake(self) -> None:
        """The tag's signal fired (under the engine's lock): wake the runs whose turn came."""
        self._armed = False
        waiting = self.waiting
        if not waiting:
            return
        slots = self._slots
        limit = slots.get(self._tag)
        if limit is None or limit.concurrency_limit == 0:
            due = list(waiting)
        else:
            queue = slots.waiters(self._tag)
            free = limit.concurrency_limit - len(limit.active_slots)
            head = queue[: max(free, 0)]
            due = [run_id for run_id in head if run_id in waiting]
            if len(waiting) > len(due):  # and those that lost their place get an answer too
                queued = set(queue)
                due.extend(run_id for run_id in waiting if run_id not in queued)
        for run_id in due:
            for waiter in waiting.pop(run_id):
                waiter.wake()
        if waiting:
            self._armed = True
            self._signal.watch(self)


@final
class SlotTurns:
    """Wakes each run waiting for tag slots when its turn comes (see the module docstring).

    Args:
        slots: the engine's slot table (read under ``lock``).
        signals: the tags' signals the slot table notifies.
        lock: the engine's lock.
        clock: the engine's clock, for the WAIT's delay.
    """

    __slots__ = ("_by_tag", "_clock", "_lock", "_signals", "_slots")

    def __init__(
        self,
        slots: SlotTable,
        signals: TagSignals,
        lock: AbstractContextManager[bool],
        clock: Clock,
    ) -> None:
        self._slots = slots
        self._signals = signals
        self._lock = lock
        self._clock = clock
        self._by_tag: dict[str, _TagTurns] = {}

    async def wait(self, run_id: uuid.UUID, result: OrchestrationResult) -> None:
        """After a WAIT, return when proposing again is worth it, or the delay has passed.

        For a WAIT on tag slots: returns once the slot table would admit the run (see
        the module docstring); for any other WAIT: after its delay on the clock. Returns
        at once for other statuses. Cancellation is safe: the run's registrations are
        removed.
        """
        details = result.details
        if not isinstance(details, WaitDetails):
            return
        tags = tuple(target.tag for target in details.wait_for if isinstance(target, SlotWait))
        clock = self._clock
        deadline = clock.now() + timedelta(seconds=details.delay_seconds)
        until = functools.partial(clock.sleep_until, deadline)
        if not tags:
            await until()
            return
        lock = self._lock
        while True:
            waiter = Waiter.for_current_task()
            with lock:
                if self._admitted(run_id, tags):
                    return
                turns = [self._turns(tag) for tag in tags]
                for turn in turns:
                    turn.add(run_id, waiter)
            try:
                await _race(waiter, until)
            finally:
                with lock:
                    for turn in turns:
                        turn.discard(run_id, waiter)
            if clock.now() >= deadline:
                return

    def _turns(self, tag: str) -> _TagTurns:
        """The tag's :class:`_TagTurns`, made the first time (the caller holds the lock)."""
        turns = self._by_tag.get(tag)
        if turns is None:
            turns = self._by_tag[tag] = _TagTurns(self._slots, self._signals.signal(tag), tag)
        return turns

    def _admitted(self, run_id: uuid.UUID, tags: tuple[str, ...]) -> bool:
        """Whether proposing again gets an answer other than WAIT (the caller holds the lock)."""
        slots = self._slots
        for tag in tags:
            limit = slots.get(tag)
            if limit is None or limit.concurrency_limit == 0:
                return True
            queue = slots.waiters(tag)
            if run_id not in queue:
                return True
            free = limit.concurrency_limit - len(limit.active_slots)
            if free <= 0 or run_id not in queue[:free]:
                return False
        return True


async def _race(waiter: Waiter, until: Callable[[], Awaitable[Any]]) -> None:
    async with anyio.create_task_group() as group:

        async def expire() -> None:
            await until()
            waiter.wake()

        group.start_soon(expire)
        await waiter.wait()
        group.cancel_scope.cancel()

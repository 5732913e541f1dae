"""Serving WAIT: a run told to wait is woken when what it waits for frees.

A WAIT names what the run waits for (``"tag:<tag>"`` for a concurrency slot) and the
longest it should wait. :meth:`WaitsMixin.wait_for_turn` returns as soon as a slot on
one of those tags frees (the slot table says so through ``on_free``), or when the delay
has passed on the orchestrator's clock, whichever comes first. The slot table keeps the
waiters in first-come-first-served order, so a woken run that proposes again is
admitted only when its turn has come; others wait again.

The signal generations are snapshotted when the WAIT is decided, under the engine's
lock, so a slot freed between the WAIT and the call to ``wait_for_turn`` is not missed.
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta

from ._engine_base import EngineBase
from ._outcomes import OrchestrationResult, WaitDetails
from ._wakeup import Signal, wait_for_any

__all__ = ["WaitsMixin"]

_TAG_PREFIX = "tag:"


class WaitsMixin(EngineBase):
    """Wake-ups for runs that were told to WAIT."""

    _tag_signals: dict[str, Signal]
    _wait_marks: dict[uuid.UUID, tuple[tuple[Signal, int], ...]]

    def _tag_signal(self, tag: str) -> Signal:
        signal = self._tag_signals.get(tag)
        if signal is None:
            signal = self._tag_signals[tag] = Signal()
        return signal

    def _slot_freed(self, tag: str) -> None:
        signal = self._tag_signals.get(tag)
        if signal is not None:
            signal.notify()

    def _note_wait(self, run_id: uuid.UUID, details: WaitDetails) -> None:
        marks = tuple(
            (signal, signal.generation)
            for signal in (
                self._tag_signal(name[len(_TAG_PREFIX) :])
                for name in details.wait_for
                if name.startswith(_TAG_PREFIX)
            )
        )
        self._wait_marks[run_id] = marks

    async def wait_for_turn(self, run_id: uuid.UUID, result: OrchestrationResult) -> None:
        """After a WAIT for ``run_id``, return when proposing again is worth it.

        Returns at once for any other status. Otherwise waits until a slot the run waits
        for frees, or ``delay_seconds`` pass on the orchestrator's clock.
        """
        details = result.details
        if not isinstance(details, WaitDetails):
            return
        with self._lock:
            marks = self._wait_marks.pop(run_id, ())
            deadline = self.clock.now() + timedelta(seconds=details.delay_seconds)
        await wait_for_any(marks, until=functools.partial(self.clock.sleep_until, deadline))

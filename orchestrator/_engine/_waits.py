"""Serving WAIT: a run told to wait is woken when what it waits for frees.

A WAIT names what the run waits for (``"tag:<tag>"`` for a concurrency slot) and the
longest it should wait. :meth:`WaitsMixin.wait_for_turn` returns as soon as the slot
table would admit the run (its turn came, first come first served), or when the delay
has passed on the orchestrator's clock, whichever comes first. The slot table tells the
engine a tag may have room through ``on_free``, which notifies that tag's signal; the
turn-keeping itself is in :mod:`orchestrator._engine._turns`.
"""

from __future__ import annotations

import uuid

from .._core._outcomes import OrchestrationResult
from .._core._wakeup import Signal
from ._engine import EngineBase
from ._turns import wait_for_admission

__all__ = ["WaitsMixin"]


class WaitsMixin(EngineBase):
    """Wake-ups for runs that were told to WAIT."""

    _tag_signals: dict[str, Signal]

    def _tag_signal(self, tag: str) -> Signal:
        signal = self._tag_signals.get(tag)
        if signal is None:
            signal = self._tag_signals[tag] = Signal()
        return signal

    def _slot_freed(self, tag: str) -> None:
        signal = self._tag_signals.get(tag)
        if signal is not None:
            signal.notify()

    async def wait_for_turn(self, run_id: uuid.UUID, result: OrchestrationResult) -> None:
        """After a WAIT for ``run_id``, return when proposing again is worth it.

        Returns at once for any other status. Otherwise waits until the slot table would
        admit the run on every tag it waits for, or ``delay_seconds`` pass on the
        orchestrator's clock. Only the runs whose turn came are woken, so a freed slot
        costs one re-proposal, not one per waiter.
        """
        await wait_for_admission(self, run_id, result)

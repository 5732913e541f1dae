"""A task worker's run slots: how many runs it may hold at once, with an event-driven wait."""

from __future__ import annotations

from typing import final

from .._core._wakeup import Signal

__all__ = ["RunSlots"]


@final
class RunSlots:
    """At most ``limit`` runs at once (no limit when None).

    Used from one event loop. :meth:`acquire` takes a slot without yielding when one is
    free, and otherwise waits to be woken by :meth:`release` (no polling). A cancelled
    wait takes nothing.
    """

    __slots__ = ("_freed", "_in_use", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._in_use = 0
        self._freed = Signal()

    @property
    def in_use(self) -> int:
        """Slots taken now."""
        return self._in_use

    @property
    def available(self) -> int | None:
        """Slots free now (None without a limit)."""
        limit = self.limit
        return None if limit is None else limit - self._in_use

    async def acquire(self) -> None:
        """Take a slot, waiting for one to free when all are taken."""
        limit = self.limit
        freed = self._freed
        while limit is not None and self._in_use >= limit:
            seen = freed.generation
            if self._in_use < limit:
                break
            await freed.wait(seen)
        self._in_use += 1

    def release(self) -> None:
        """Give a slot back and wake whoever waits for one."""
        self._in_use -= 1
        if self._freed.waiting:
            self._freed.notify()

    def __repr__(self) -> str:
        return f"RunSlots(in_use={self._in_use}, limit={self.limit})"

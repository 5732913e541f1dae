"""The Orchestrator as a context manager: current orchestrator and time skipping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from orchestrator import InvalidArgument, Orchestrator, SystemClock, VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_with_makes_it_current_and_nests() -> None:
    outer = Orchestrator(clock=VirtualClock(), seed=1)
    inner = Orchestrator(clock=VirtualClock(), seed=2)
    with pytest.raises(RuntimeError, match="no current orchestrator"):
        Orchestrator.current()
    with outer:
        assert Orchestrator.current() is outer
        with inner:
            assert Orchestrator.current() is inner
        assert Orchestrator.current() is outer
    with pytest.raises(RuntimeError):
        Orchestrator.current()


async def test_async_with_and_autojump_skip_idle_time() -> None:
    clock = VirtualClock(START)
    orch = Orchestrator(clock=clock, seed=1, autojump=True)
    woke: list[datetime] = []
    async with orch:
        assert Orchestrator.current() is orch
        for delay in (60, 600, 3600):
            await clock.sleep(delay)
            woke.append(clock.now())
    assert woke == [
        START + timedelta(seconds=60),
        START + timedelta(seconds=660),
        START + timedelta(seconds=4260),
    ]
    with pytest.raises(RuntimeError):
        Orchestrator.current()


async def test_without_autojump_the_clock_stands_still() -> None:
    clock = VirtualClock(START)
    async with Orchestrator(clock=clock, seed=1):
        with anyio.move_on_after(0.05):  # real seconds: nothing moves the virtual clock
            await clock.sleep(60)
    assert clock.now() == START


def test_autojump_needs_a_virtual_clock() -> None:
    with pytest.raises(InvalidArgument, match="needs a VirtualClock"):
        Orchestrator(clock=SystemClock(), autojump=True)

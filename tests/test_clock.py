"""Clocks: the virtual clock moves only when told, and wakes sleepers at exact times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import anyio
import pytest

from orchestrator import InvalidArgument, SystemClock, VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_virtual_clock_starts_at_a_fixed_aware_time() -> None:
    clock = VirtualClock()
    assert clock.now() == START
    assert clock.now().tzinfo is UTC
    assert clock.is_virtual


def test_advance_and_set_move_forward_exactly() -> None:
    clock = VirtualClock(START)
    assert clock.advance(1.5) == START + timedelta(seconds=1.5)
    clock.set(START + timedelta(hours=1))
    assert clock.now() == START + timedelta(hours=1)
    assert clock.timestamp() == (START + timedelta(hours=1)).timestamp()


def test_virtual_clock_refuses_going_back_or_naive_times() -> None:
    clock = VirtualClock(START)
    with pytest.raises(InvalidArgument, match="only moves forward"):
        clock.set(START - timedelta(seconds=1))
    with pytest.raises(InvalidArgument, match="negative"):
        clock.advance(-1)
    with pytest.raises(InvalidArgument, match="no timezone"):
        clock.set(datetime(2030, 1, 1))
    assert clock.now() == START


def test_other_timezones_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    clock = VirtualClock(datetime(2026, 1, 1, 2, tzinfo=plus_two))
    assert clock.now() == START
    assert clock.now().tzinfo is UTC


def test_system_clock_reads_aware_utc() -> None:
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    assert not clock.is_virtual


async def test_sleepers_wake_at_exact_virtual_times_in_order() -> None:
    clock = VirtualClock(START)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "late", 60)
        tg.start_soon(sleeper, "early", 10)
        await clock.wait_for_sleeper()
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() == START + timedelta(seconds=10)
        assert clock.advance_to_next() == START + timedelta(seconds=10)
        await anyio.wait_all_tasks_blocked()
        assert woke == [("early", START + timedelta(seconds=10))]
        clock.advance(100)
    assert woke == [
        ("early", START + timedelta(seconds=10)),
        ("late", START + timedelta(seconds=110)),
    ]
    assert clock.next_deadline() is None
    assert clock.advance_to_next() is None


async def test_a_cancelled_sleeper_leaves_no_deadline_behind() -> None:
    clock = VirtualClock(START)
    with anyio.move_on_after(0):
        await clock.sleep(30)
    assert clock.next_deadline() is None


async def test_sleeping_until_a_past_time_returns_at_once() -> None:
    clock = VirtualClock(START)
    await clock.sleep_until(START - timedelta(seconds=5))
    await clock.sleep(0)
    assert clock.now() == START

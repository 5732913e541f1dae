"""A thread-safe virtual clock: sleepers in plain threads and in other threads' event loops."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import anyio
import anyio.to_thread
import pytest

from orchestrator import InvalidArgument, SystemClock, VirtualClock
from orchestrator._core._activity import Activity, parked_blocking
from orchestrator._engine._foreign_loop import foreign_loop

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


async def test_a_thread_blocked_on_the_clock_wakes_when_another_thread_advances_it() -> None:
    clock = VirtualClock(START)
    woke: list[datetime] = []

    def sleeper() -> None:
        clock.sleep_blocking(60)
        woke.append(clock.now())

    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, sleeper)
        await clock.wait_for_sleeper()
        assert clock.next_deadline() == at(60)
        clock.advance(59)
        assert woke == []
        clock.advance(1)
    assert woke == [at(60)]
    assert clock.next_deadline() is None


async def idle(activity: Activity) -> None:
    """Wait until no counted thread is busy (the snapshot-then-check pattern)."""
    while True:
        seen = activity.changed.generation
        if not activity.executing:
            return
        await activity.changed.wait(seen)


async def test_sleepers_of_threads_and_tasks_wake_in_deadline_order() -> None:
    clock = VirtualClock(START)
    activity = Activity()
    woke: list[tuple[str, datetime]] = []
    lock = threading.Lock()

    def thread_sleeper(name: str, seconds: float, started: threading.Event) -> None:
        with activity.counted():
            started.set()
            clock.sleep_until_blocking(at(seconds))
            with lock:
                woke.append((name, clock.now()))

    async def task_sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        with lock:
            woke.append((name, clock.now()))

    async with anyio.create_task_group() as group:
        for name, seconds in (("thread-30", 30), ("thread-20", 20)):
            started = threading.Event()
            group.start_soon(anyio.to_thread.run_sync, thread_sleeper, name, seconds, started)
            await anyio.to_thread.run_sync(started.wait)
        group.start_soon(task_sleeper, "task-10", 10)
        await anyio.wait_all_tasks_blocked()
        await idle(activity)  # both threads parked: their sleepers are registered
        while clock.advance_to_next() is not None:
            await anyio.wait_all_tasks_blocked()
            await idle(activity)
    assert woke == [("task-10", at(10)), ("thread-20", at(20)), ("thread-30", at(30))]


def idle_blocking(activity: Activity) -> None:
    """From a plain thread: wait until no unit counted on ``activity`` is busy."""
    while True:
        seen = activity.changed.generation
        if not activity.executing:
            return
        assert activity.changed.wait_blocking(seen, timeout=5)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_sleepers_in_a_foreign_loop_wake_from_this_thread(backend: str) -> None:
    clock = VirtualClock(START)
    activity = Activity()
    woke: list[datetime] = []
    started = threading.Event()

    async def main() -> None:
        async def one(seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append(clock.now())

        async with foreign_loop(activity), anyio.create_task_group() as group:
            group.start_soon(one, 5)
            group.start_soon(one, 7)
            started.set()

    thread = threading.Thread(target=anyio.run, args=(main,), kwargs={"backend": backend})
    thread.start()
    assert started.wait(5)
    idle_blocking(activity)  # the loop reports itself idle: both sleep on the clock
    assert clock.next_deadline() == at(5)
    clock.advance(6)  # marks the loop busy before it posts the wake-up
    idle_blocking(activity)
    assert woke == [at(6)]
    clock.advance(1)
    thread.join(5)
    assert not thread.is_alive()
    assert woke == [at(6), at(7)]
    assert activity.executing == 0


async def test_a_blocking_sleep_in_an_event_loop_is_refused() -> None:
    clock = VirtualClock(START)
    with pytest.raises(RuntimeError, match="would block"):
        clock.sleep_blocking(1)
    clock.sleep_blocking(0)  # nothing to wait for: fine anywhere
    assert clock.next_deadline() is None


def test_blocking_sleeps_check_their_argument() -> None:
    clock = VirtualClock(START)
    with pytest.raises(InvalidArgument, match="seconds"):
        clock.sleep_blocking(float("nan"))
    with pytest.raises(InvalidArgument, match="seconds"):
        clock.sleep_blocking("1")  # type: ignore[arg-type]
    clock.sleep_blocking(-5)
    assert clock.now() == START


def test_the_system_clock_sleeps_blocking_in_real_time() -> None:
    clock = SystemClock()
    before = clock.timestamp()
    clock.sleep_blocking(0.02)
    assert clock.timestamp() - before >= 0.02
    clock.sleep_until_blocking(clock.now() - timedelta(seconds=1))  # past: at once


async def test_the_waker_marks_a_counted_sleeper_busy_before_waking_it() -> None:
    clock = VirtualClock(START)
    activity = Activity()
    release = threading.Event()
    seen: list[int] = []

    def counted_sleeper() -> None:
        with activity.counted():
            clock.sleep_blocking(10)
            release.wait(5)  # hold the thread: only the waker can have re-marked it

    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, counted_sleeper)
        await clock.wait_for_sleeper()
        while activity.executing:  # parked just after registering: event-driven wait
            await activity.changed.wait(activity.changed.generation - 1)
        seen.append(activity.executing)
        clock.advance(10)
        seen.append(activity.executing)  # synchronously busy again, before the thread runs
        release.set()
    assert seen == [0, 1]
    assert activity.executing == 0
    assert activity.statistics().executed == 1


def test_parked_blocking_does_nothing_outside_counted_code() -> None:
    activity = Activity()
    with parked_blocking() as parking:
        parking.park()
        wake = parking.waking(lambda: None)
        wake()
    assert activity.executing == 0
    with activity.counted():
        assert activity.executing == 1
        with activity.counted():  # nested on the same activity: counted once
            assert activity.executing == 1
            with parked_blocking() as parking:
                parking.park()
                assert activity.executing == 0
                parking.waking(lambda: None)()
                assert activity.executing == 1
            assert activity.executing == 1
    assert activity.executing == 0


def test_a_resume_before_the_park_keeps_the_unit_busy() -> None:
    activity = Activity()
    with activity.counted(), parked_blocking() as parking:
        parking.resume()  # the wake-up came first
        parking.park()
        assert activity.executing == 1

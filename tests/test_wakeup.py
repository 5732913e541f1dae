"""Wake-ups across threads: Signal, Waiter and wait_for_any on asyncio and trio."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio
import pytest

from orchestrator import VirtualClock
from orchestrator._core._wakeup import Signal, Waiter, current_async_library, wait_for_any


def notify_from_thread(signal: Signal, *, under: threading.Lock | None = None) -> int:
    """Notify ``signal`` from a new thread (holding ``under`` if given); return its ident."""
    idents: list[int] = []

    def run() -> None:
        idents.append(threading.get_ident())
        if under is None:
            signal.notify()
        else:
            with under:
                signal.notify()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return idents[0]


async def finishes(function: Callable[[], Awaitable[object]]) -> bool:
    """Run ``function`` in a child task until every task is blocked; True if it returned.

    A wait that should return but blocks makes the test fail at once instead of hanging.
    Two rounds: a wake posted from a thread while the child runs is a ready callback of
    the loop, which asyncio's blocked-task check does not see; the second round runs it.
    """
    done: list[bool] = []
    async with anyio.create_task_group() as group:

        async def run() -> None:
            await function()
            done.append(True)

        group.start_soon(run)
        await anyio.wait_all_tasks_blocked()
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    return done == [True]


# -- Signal, synchronous surface ----------------------------------------------------------


def test_generation_counts_notifications_and_notify_without_waiters_returns() -> None:
    signal = Signal()
    assert (signal.generation, signal.waiting) == (0, 0)
    signal.notify()
    signal.notify()
    assert (signal.generation, signal.waiting) == (2, 0)
    assert repr(signal) == "Signal(generation=2, waiting=0)"


def test_watch_refuses_a_stale_snapshot_and_registers_a_current_one() -> None:
    class Recorder:
        woken = 0

        def wake(self) -> None:
            self.woken += 1

    signal = Signal()
    seen = signal.generation
    signal.notify()
    recorder = Recorder()
    assert signal.watch(recorder, seen) is False
    assert signal.waiting == 0
    assert signal.watch(recorder, signal.generation) is True
    assert signal.watch(recorder) is True  # None: always registers (once per object)
    assert signal.waiting == 1
    signal.notify()
    assert (recorder.woken, signal.waiting) == (1, 0)
    signal.unwatch(recorder)  # no longer registered: no error


def test_a_failing_wakeable_is_logged_and_the_others_are_still_woken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def wake(self) -> None:
            raise ValueError("broken")

    class Recorder:
        woken = False

        def wake(self) -> None:
            self.woken = True

    signal = Signal()
    recorder = Recorder()
    signal.watch(Broken())
    signal.watch(recorder)
    with caplog.at_level(logging.ERROR, logger="orchestrator._core._wakeup"):
        signal.notify()
    assert recorder.woken is True
    assert [r.getMessage().startswith("waking ") for r in caplog.records] == [True]


def test_wait_blocking_returns_true_at_once_for_a_stale_snapshot() -> None:
    signal = Signal()
    seen = signal.generation
    signal.notify()
    assert signal.wait_blocking(seen) is True
    assert signal.waiting == 0


def test_wait_blocking_times_out_with_false_and_unregisters() -> None:
    signal = Signal()
    assert signal.wait_blocking(timeout=0) is False
    assert signal.waiting == 0


def test_wait_blocking_is_woken_by_another_thread() -> None:
    signal = Signal()
    registered = threading.Event()
    results: list[bool] = []

    def waiter() -> None:
        seen = signal.generation
        registered.set()
        results.append(signal.wait_blocking(seen, timeout=10))  # fails, not hangs, if lost

    thread = threading.Thread(target=waiter)
    thread.start()
    registered.wait()
    signal.notify()  # before or after it blocks: the snapshot covers both
    thread.join()
    assert results == [True]
    assert signal.waiting == 0


def test_current_async_library_is_none_outside_an_event_loop() -> None:
    assert current_async_library() is None


def test_a_waiter_needs_an_event_loop() -> None:
    with pytest.raises(RuntimeError, match="needs a running asyncio or trio event loop"):
        Waiter.for_current_task()


# -- async surface, on both backends -------------------------------------------------------


async def test_current_async_library_names_the_backend(anyio_backend: str) -> None:
    assert current_async_library() == anyio_backend
    assert await anyio.to_thread.run_sync(current_async_library) is None


async def test_wait_blocking_refuses_to_block_the_event_loop(anyio_backend: str) -> None:
    signal = Signal()
    with pytest.raises(RuntimeError, match=f"would block the {anyio_backend} event loop"):
        signal.wait_blocking(timeout=0)
    assert signal.waiting == 0


async def test_wait_blocking_in_a_worker_thread_sees_a_notify_from_the_loop() -> None:
    signal = Signal()
    seen = signal.generation
    async with anyio.create_task_group() as group:
        results: list[bool] = []

        async def blocking() -> None:
            waiting = functools.partial(signal.wait_blocking, seen, timeout=10)
            results.append(await anyio.to_thread.run_sync(waiting))

        group.start_soon(blocking)
        signal.notify()
    assert results == [True]


async def test_wait_returns_at_once_when_notified_after_the_snapshot() -> None:
    signal = Signal()
    seen = signal.generation
    signal.notify()  # lands between the check and the wait: must not be lost
    assert await finishes(lambda: signal.wait(seen))
    assert signal.waiting == 0
    assert not await finishes(lambda: signal.wait(signal.generation))  # nothing new: it waits


async def test_a_parked_wait_is_woken_by_notify_from_the_loop() -> None:
    signal = Signal()
    woken: list[str] = []
    async with anyio.create_task_group() as group:

        async def waiter(name: str) -> None:
            await signal.wait()
            woken.append(name)

        group.start_soon(waiter, "a")
        group.start_soon(waiter, "b")
        await anyio.wait_all_tasks_blocked()
        assert (woken, signal.waiting) == ([], 2)
        signal.notify()  # a broadcast: both wake
        await anyio.wait_all_tasks_blocked()
        assert sorted(woken) == ["a", "b"]
    assert signal.waiting == 0


async def test_a_parked_wait_is_woken_by_notify_from_another_thread() -> None:
    signal = Signal()
    lock = threading.Lock()
    woken: list[bool] = []
    async with anyio.create_task_group() as group:

        async def waiter() -> None:
            await signal.wait(signal.generation)
            woken.append(True)

        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert woken == []
        ident = notify_from_thread(signal, under=lock)
        assert ident != threading.get_ident()
        await anyio.wait_all_tasks_blocked()
        assert woken == [True]


async def test_a_cancelled_wait_unregisters_and_a_later_notify_is_harmless() -> None:
    signal = Signal()
    async with anyio.create_task_group() as group:
        group.start_soon(signal.wait)
        await anyio.wait_all_tasks_blocked()
        assert signal.waiting == 1
        group.cancel_scope.cancel()
    assert signal.waiting == 0
    signal.notify()
    notify_from_thread(signal)
    assert signal.generation == 2


async def test_a_waiter_woken_before_it_waits_returns_at_once() -> None:
    async def woken_first() -> None:
        waiter = Waiter.for_current_task()
        waiter.wake()
        waiter.wake()  # idempotent
        await waiter.wait()

    async def never_woken() -> None:
        await Waiter.for_current_task().wait()

    assert await finishes(woken_first)
    assert not await finishes(never_woken)


async def test_a_waiter_woken_from_a_thread_before_it_waits_returns() -> None:
    async def woken_from_thread() -> None:
        waiter = Waiter.for_current_task()
        thread = threading.Thread(target=waiter.wake)
        thread.start()
        thread.join()
        await waiter.wait()

    assert await finishes(woken_from_thread)


async def test_waking_a_cancelled_waiter_does_nothing() -> None:
    waiter = Waiter.for_current_task()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await waiter.wait()
    assert scope.cancelled_caught
    waiter.wake()
    thread = threading.Thread(target=waiter.wake)
    thread.start()
    thread.join()
    await anyio.lowlevel.checkpoint()  # the posted wake runs here, and must not raise


async def test_many_threads_notifying_never_lose_a_wakeup() -> None:
    # A consumer that snapshots, checks, then waits must see every producer's work.
    signal = Signal()
    produced = [0]
    lock = threading.Lock()
    total = 4 * 500

    def producer() -> None:
        for _ in range(500):
            with lock:
                produced[0] += 1
            signal.notify()

    async def consumer() -> None:
        while True:
            seen = signal.generation
            with lock:
                if produced[0] == total:
                    return
            await signal.wait(seen)

    def produce_all() -> None:
        threads = [threading.Thread(target=producer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    done: list[bool] = []
    async with anyio.create_task_group() as group:

        async def consume() -> None:
            await consumer()
            done.append(True)

        group.start_soon(consume)
        await anyio.to_thread.run_sync(produce_all)  # the loop keeps serving the consumer
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    assert done == [True]
    assert signal.waiting == 0


# -- wait_for_any --------------------------------------------------------------------------


async def test_wait_for_any_returns_at_once_when_one_snapshot_is_stale() -> None:
    first, second = Signal(), Signal()
    seen = second.generation
    second.notify()
    assert await finishes(lambda: wait_for_any([(first, first.generation), (second, seen)]))
    assert (first.waiting, second.waiting) == (0, 0)


async def test_wait_for_any_wakes_on_either_signal_and_unregisters_from_all() -> None:
    first, second = Signal(), Signal()
    done: list[bool] = []
    async with anyio.create_task_group() as group:

        async def waiter() -> None:
            await wait_for_any([(first, first.generation), (second, second.generation)])
            done.append(True)

        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert (first.waiting, second.waiting) == (1, 1)
        notify_from_thread(second)
        await anyio.wait_all_tasks_blocked()
        assert done == [True]
    assert (first.waiting, second.waiting) == (0, 0)


async def test_wait_for_any_returns_when_until_finishes_on_the_clock() -> None:
    clock = VirtualClock()
    signal = Signal()
    deadline = clock.now() + timedelta(seconds=30)
    woke_at: list[object] = []
    async with anyio.create_task_group() as group:

        async def waiter() -> None:
            await wait_for_any([(signal, None)], functools.partial(clock.sleep_until, deadline))
            woke_at.append(clock.now())

        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() == deadline
        clock.advance(29.999999)
        await anyio.wait_all_tasks_blocked()
        assert woke_at == []
        clock.advance(0.000001)
        await anyio.wait_all_tasks_blocked()
        assert woke_at == [deadline]
    assert signal.waiting == 0


async def test_wait_for_any_cancels_its_timer_when_a_signal_fires() -> None:
    clock = VirtualClock()
    signal = Signal()
    deadline = clock.now() + timedelta(seconds=30)
    async with anyio.create_task_group() as group:
        group.start_soon(
            wait_for_any, [(signal, None)], functools.partial(clock.sleep_until, deadline)
        )
        await anyio.wait_all_tasks_blocked()
        assert (clock.next_deadline(), signal.waiting) == (deadline, 1)
        signal.notify()
    assert (clock.next_deadline(), signal.waiting) == (None, 0)


async def test_wait_for_any_cancelled_leaves_no_registration() -> None:
    signal = Signal()
    async with anyio.create_task_group() as group:
        group.start_soon(wait_for_any, [(signal, signal.generation)])
        await anyio.wait_all_tasks_blocked()
        assert signal.waiting == 1
        group.cancel_scope.cancel()
    assert signal.waiting == 0

"""Virtual time across threads and event loops: counted threads, foreign loops, time drivers.

Every scenario runs a few virtual minutes or hours in well under a second of real time,
and checks the exact virtual times; each thread is joined with a bound, never a hang.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from orchestrator import Orchestrator, VirtualClock
from orchestrator._core._wakeup import Signal
from orchestrator._engine._autojump import TimeSkipper, active_time_skipper
from orchestrator._engine._drive_time import drive_time, drive_time_async
from orchestrator._engine._foreign_loop import foreign_loop, run_sync_counted

START = datetime(2026, 1, 1, tzinfo=UTC)
BACKENDS = ["asyncio", "trio"]


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def autojumping() -> Orchestrator:
    return Orchestrator(VirtualClock(START), autojump=True)


def in_threads(*targets: Callable[[], object]) -> None:
    """Run each target in a thread of its own; join them all, bounded."""
    errors: list[BaseException] = []

    def run(target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as error:  # reported to the test below
            errors.append(error)

    # Daemon threads: a thread that hangs fails the test below and cannot keep the
    # test process from exiting.
    threads = [threading.Thread(target=run, args=(target,), daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "a thread hangs"
    if errors:
        raise errors[0]


def test_three_blocking_sleeps_of_a_counted_thread_take_exactly_thirty_minutes() -> None:
    orchestrator = autojumping()
    clock = orchestrator.clock
    times: list[datetime] = []

    def flow_like() -> None:
        with drive_time(orchestrator), orchestrator.activity.counted():
            for _ in range(3):
                clock.sleep_blocking(600)
                times.append(clock.now())

    began = time.perf_counter()
    in_threads(flow_like)
    assert time.perf_counter() - began < 1
    assert times == [at(600), at(1200), at(1800)]
    assert clock.now() == at(1800)
    assert active_time_skipper(orchestrator) is None  # stopped at the end of the call
    assert orchestrator.activity.executing == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_foreign_loop_gathering_two_clock_sleeps(backend: str) -> None:
    orchestrator = autojumping()
    clock = orchestrator.clock
    times: list[tuple[str, datetime]] = []

    async def main() -> None:
        async def one(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            times.append((name, clock.now()))

        async with foreign_loop(orchestrator.activity), anyio.create_task_group() as group:
            group.start_soon(one, "twenty", 20)
            group.start_soon(one, "ten", 10)

    with drive_time(orchestrator) as skipper:
        assert skipper is not None
        in_threads(lambda: anyio.run(main, backend=backend))
    assert times == [("ten", at(10)), ("twenty", at(20))]
    assert clock.now() == at(20)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ping_pong_between_a_counted_thread_and_a_foreign_loop(backend: str) -> None:
    orchestrator = autojumping()
    clock = orchestrator.clock
    activity = orchestrator.activity
    rounds = 20
    ping, pong = Signal(), Signal()
    times: list[tuple[str, datetime]] = []

    def thread_side() -> None:
        with activity.counted():
            for i in range(rounds):
                clock.sleep_blocking(10)
                times.append(("thread", clock.now()))
                ping.notify()
                pong.wait_blocking(i, timeout=5)  # the i+1-th pong

    async def loop_side() -> None:
        async with foreign_loop(activity):
            for i in range(rounds):
                await ping.wait(i)  # the i+1-th ping
                await clock.sleep(5)
                times.append(("loop", clock.now()))
                pong.notify()

    began = time.perf_counter()
    with drive_time(orchestrator):
        in_threads(thread_side, lambda: anyio.run(loop_side, backend=backend))
    assert time.perf_counter() - began < 2
    expected: list[tuple[str, datetime]] = []
    for i in range(rounds):
        expected += [("thread", at(15 * i + 10)), ("loop", at(15 * i + 15))]
    assert times == expected


def test_time_never_jumps_over_a_counted_thread_doing_real_work() -> None:
    orchestrator = autojumping()
    clock = orchestrator.clock
    activity = orchestrator.activity
    working = threading.Event()
    seen: dict[str, datetime] = {}

    def worker() -> None:
        with activity.counted():
            working.set()
            threading.Event().wait(0.05)  # real work: 50 ms the skipper cannot see
            seen["after work"] = clock.now()

    def sleeper() -> None:
        assert working.wait(5)  # the worker counts before anyone sleeps
        with activity.counted():
            clock.sleep_blocking(1)
            seen["woke"] = clock.now()

    with drive_time(orchestrator):
        in_threads(worker, sleeper)
    assert seen == {"after work": START, "woke": at(1)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_never_jumps_over_real_work_in_a_foreign_loop(backend: str) -> None:
    orchestrator = autojumping()
    clock = orchestrator.clock
    activity = orchestrator.activity
    working = threading.Event()
    seen: dict[str, datetime] = {}

    async def loop_worker() -> None:
        async with foreign_loop(activity):
            working.set()
            await anyio.sleep(0.05)  # a real-time sleep holds virtual time
            seen["after work"] = clock.now()
            await clock.sleep(2)
            seen["loop woke"] = clock.now()

    def sleeper() -> None:
        assert working.wait(5)
        with activity.counted():
            clock.sleep_blocking(1)
            seen["woke"] = clock.now()

    with drive_time(orchestrator):
        in_threads(lambda: anyio.run(loop_worker, backend=backend), sleeper)
    assert seen == {"after work": START, "woke": at(1), "loop woke": at(2)}


def test_calls_in_two_threads_share_one_skipper_until_the_last_one_ends() -> None:
    orchestrator = autojumping()
    clock = orchestrator.clock
    times: dict[str, datetime] = {}
    both = threading.Barrier(2, timeout=5)

    def call(name: str, seconds: float) -> Callable[[], None]:
        def body() -> None:
            with drive_time(orchestrator), orchestrator.activity.counted():
                both.wait()  # both calls counted before either sleeps
                clock.sleep_blocking(seconds)
                times[name] = clock.now()

        return body

    in_threads(call("short", 60), call("long", 3600))
    assert times == {"short": at(60), "long": at(3600)}
    assert active_time_skipper(orchestrator) is None


def test_drive_time_does_nothing_without_autojump() -> None:
    orchestrator = Orchestrator(VirtualClock(START))
    with drive_time(orchestrator) as skipper:
        assert skipper is None
        assert active_time_skipper(orchestrator) is None


async def test_drive_time_leaves_the_users_own_skipper_in_charge() -> None:
    orchestrator = autojumping()
    async with orchestrator:
        own = active_time_skipper(orchestrator)
        assert own is not None
        with drive_time(orchestrator) as skipper:
            assert skipper is None
            assert active_time_skipper(orchestrator) is own
        async with drive_time_async(orchestrator) as skipper:
            assert skipper is None
            await orchestrator.clock.sleep(30)
        assert orchestrator.clock.now() == at(30)


async def test_an_async_call_is_driven_from_a_helper_thread() -> None:
    orchestrator = autojumping()
    clock = orchestrator.clock
    times: list[datetime] = []
    async with drive_time_async(orchestrator) as skipper:
        assert skipper is not None
        for _ in range(3):
            await clock.sleep(600)
            times.append(clock.now())

        def sync_sleep() -> datetime:
            clock.sleep_blocking(60)
            return clock.now()

        assert await run_sync_counted(orchestrator.activity, sync_sleep) == at(1860)
    assert times == [at(600), at(1200), at(1800)]
    assert clock.now() == at(1860)
    assert active_time_skipper(orchestrator) is None


def test_a_call_that_joins_while_the_skipper_starts_keeps_it_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The second call joins in the instant between the skipper registering and the
    # first call's start() returning: both calls must count, so the first one leaving
    # does not stop the skipper under the second (whose sleep would never end).
    orchestrator = autojumping()
    joined = threading.Event()
    original = TimeSkipper._register

    def register_then_let_another_call_join(skipper: TimeSkipper) -> None:
        original(skipper)
        if not joined.is_set():
            joined.set()
            second.start()
            entered.wait(5)

    entered = threading.Event()
    release = threading.Event()
    times: dict[str, datetime] = {}

    def second_call() -> None:
        with drive_time(orchestrator), orchestrator.activity.counted():
            entered.set()
            release.wait(5)
            orchestrator.clock.sleep_blocking(600)
            times["second"] = orchestrator.clock.now()

    second = threading.Thread(target=second_call, daemon=True)
    monkeypatch.setattr(TimeSkipper, "_register", register_then_let_another_call_join)
    with drive_time(orchestrator):
        assert entered.is_set()
    # The first call has left; the second still needs the skipper to reach its time.
    assert active_time_skipper(orchestrator) is not None
    release.set()
    second.join(10)
    assert not second.is_alive(), "the second call's sleep was never woken"
    assert times == {"second": at(600)}
    assert active_time_skipper(orchestrator) is None

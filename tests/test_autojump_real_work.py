"""Time skipping never jumps over real work (issue 12, item 2), on asyncio and trio.

Under autojump a run whose async function awaits anything but the orchestrator (a
real-time sleep, a subprocess, a socket, a thread) holds virtual time still until it
returns; a run that waits on the orchestrator's clock or primitives does not. Every test
bounds its real time with ``fail_after``.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
import pytest

from orchestrator import Orchestrator, VirtualClock, task
from orchestrator.testing import (
    TimeSkipper,
    assert_state_times,
    run_until_idle,
    run_until_idle_sync,
)
from orchestrator.workers import TaskWorker

START = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
REAL = 0.2  # seconds of real time the real work takes
LIMIT = 10.0  # real seconds any test may take


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def make(*, autojump: bool = True, **options: Any) -> Orchestrator:
    return Orchestrator(VirtualClock(START), seed=0, autojump=autojump, **options)


Seen = list[tuple[str, datetime]]


def real_sleep() -> Callable[[], Awaitable[None]]:
    async def work() -> None:
        await anyio.sleep(REAL)

    return work


def a_subprocess() -> Callable[[], Awaitable[None]]:
    async def work() -> None:
        done = await anyio.run_process([sys.executable, "-c", f"import time; time.sleep({REAL})"])
        assert done.returncode == 0
        async with await anyio.open_process(
            [sys.executable, "-c", f"import time; time.sleep({REAL}); print('out')"]
        ) as process:
            assert process.stdout is not None
            output = b"".join([chunk async for chunk in process.stdout])
        assert output.strip() == b"out"

    return work


def a_thread() -> Callable[[], Awaitable[None]]:
    async def work() -> None:
        import time

        await anyio.to_thread.run_sync(time.sleep, REAL)

    return work


REAL_WORK = {"real sleep": real_sleep, "subprocess": a_subprocess, "thread": a_thread}


def recording_task(
    orchestrator: Orchestrator, work: Callable[[], Awaitable[None]], seen: Seen
) -> Any:
    """An async task: 10 s on the clock, the real work, 5 s on the clock (timeout 16 s)."""
    clock = orchestrator.clock

    @task(timeout_seconds=16)
    async def job() -> str:
        await clock.sleep(10)
        seen.append(("before", clock.now()))
        await work()
        seen.append(("after", clock.now()))
        await clock.sleep(5)
        return "done"

    return job


EXPECTED_STATES = [("Scheduled", 0), ("Pending", 0), ("Running", 0), ("Completed", 15)]


@pytest.mark.parametrize("kind", sorted(REAL_WORK))
async def test_real_work_holds_virtual_time_under_autojump(kind: str) -> None:
    orchestrator = make()
    seen: Seen = []
    job = recording_task(orchestrator, REAL_WORK[kind](), seen)
    with anyio.fail_after(LIMIT):
        async with orchestrator, TaskWorker(job, orchestrator=orchestrator):
            future = orchestrator.submit(job)
            # The future's timeout is a clock sleep too: it must not fire during real work.
            assert await future.aresult(timeout=16) == "done"
    assert seen == [("before", at(10)), ("after", at(10))]
    assert_state_times(orchestrator, future, EXPECTED_STATES)


async def test_a_loopback_socket_round_trip_holds_virtual_time() -> None:
    orchestrator = make()
    seen: Seen = []

    async def echo_later(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            data = await stream.receive()
            await anyio.sleep(REAL)
            await stream.send(data.upper())

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def round_trip() -> None:
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(b"ping")
            assert await stream.receive() == b"PING"

    job = recording_task(orchestrator, round_trip, seen)
    with anyio.fail_after(LIMIT):
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, echo_later)
            async with orchestrator, TaskWorker(job, orchestrator=orchestrator):
                future = orchestrator.submit(job)
                assert await future.aresult(timeout=1000) == "done"
            group.cancel_scope.cancel()
    assert seen == [("before", at(10)), ("after", at(10))]
    assert_state_times(orchestrator, future, EXPECTED_STATES)


async def test_aresult_with_a_short_timeout_does_not_time_out_during_real_work() -> None:
    orchestrator = make()

    @task
    async def slow() -> str:
        await anyio.sleep(REAL)
        return "slow"

    with anyio.fail_after(LIMIT):
        async with orchestrator, TaskWorker(slow, orchestrator=orchestrator):
            value: object = await orchestrator.submit(slow).aresult(timeout=1)
    assert value == "slow"
    assert orchestrator.clock.now() == START


async def test_a_slot_waiter_behind_a_real_work_holder_does_not_spin_the_clock() -> None:
    orchestrator = make(slot_wait_seconds=30)
    orchestrator.create_concurrency_limit("db", 1)
    finished: Seen = []
    clock = orchestrator.clock

    @task(tags=["db"])
    async def query(name: str) -> str:
        await anyio.sleep(REAL)
        finished.append((name, clock.now()))
        return name

    with anyio.fail_after(LIMIT):
        async with orchestrator, TaskWorker(query, orchestrator=orchestrator, limit=2):
            skipper = orchestrator._engine.time_skipper
            assert skipper is not None
            first = orchestrator.submit(query, "first")
            second = orchestrator.submit(query, "second")
            values: list[object] = [await second.aresult(), await first.aresult()]
            jumps = skipper.statistics().jumps
    # The waiter's 30 s re-check delay never fired while the holder did real work: the
    # clock did not move at all.
    assert values == ["second", "first"]
    assert sorted(finished) == [("first", START), ("second", START)]
    assert jumps == 0
    assert orchestrator.clock.now() == START


async def test_run_until_idle_does_not_stall_during_real_work() -> None:
    orchestrator = make(autojump=False)
    seen: Seen = []
    job = recording_task(orchestrator, real_sleep(), seen)
    with anyio.fail_after(LIMIT):
        async with TaskWorker(job, orchestrator=orchestrator):
            future = orchestrator.submit(job)
            result = await run_until_idle(orchestrator, max_idle_jumps=3)
    assert result.finished == 1
    assert result.jumps == 2
    assert seen == [("before", at(10)), ("after", at(10))]
    assert_state_times(orchestrator, future, EXPECTED_STATES)


def test_run_until_idle_sync_holds_virtual_time_during_real_work(anyio_backend: str) -> None:
    orchestrator = make(autojump=False)
    seen: Seen = []
    job = recording_task(orchestrator, a_subprocess(), seen)
    with orchestrator:
        future = orchestrator.submit(job)
        result = run_until_idle_sync(orchestrator, job, timeout=LIMIT, backend=anyio_backend)
        assert future.result(timeout=0) == "done"
    assert result.jumps == 2
    assert seen == [("before", at(10)), ("after", at(10))]
    assert_state_times(orchestrator, future, EXPECTED_STATES)


# -- what does not hold time -----------------------------------------------------------------


async def test_child_tasks_on_the_clock_and_a_parent_waiting_for_them_let_time_fly() -> None:
    orchestrator = make()
    clock = orchestrator.clock
    seen: Seen = []

    @task
    async def fan_out() -> None:
        done = anyio.Event()

        async def child(seconds: float) -> None:
            await clock.sleep(seconds)
            seen.append((f"child {seconds:g}", clock.now()))
            if seconds == 60:
                done.set()

        async with anyio.create_task_group() as group:
            group.start_soon(child, 30)
            group.start_soon(child, 60)
            await done.wait()  # the run's own event, set by its own child
            seen.append(("event", clock.now()))
        seen.append(("joined", clock.now()))

    with anyio.fail_after(LIMIT):
        async with orchestrator, TaskWorker(fan_out, orchestrator=orchestrator):
            assert (await orchestrator.submit(fan_out).wait_async()).name == "Completed"
    assert seen == [
        ("child 30", at(30)),
        ("child 60", at(60)),
        ("event", at(60)),
        ("joined", at(60)),
    ]


async def test_a_child_doing_real_work_holds_time_while_its_parent_sleeps_on_the_clock() -> None:
    orchestrator = make()
    clock = orchestrator.clock
    seen: Seen = []

    @task
    async def heartbeat() -> None:
        async def real() -> None:
            await anyio.sleep(REAL)
            seen.append(("real", clock.now()))

        async with anyio.create_task_group() as group:
            group.start_soon(real)
            await clock.sleep(0.1)  # must not fire before the child's real work is done
            seen.append(("beat", clock.now()))

    with anyio.fail_after(LIMIT):
        async with orchestrator, TaskWorker(heartbeat, orchestrator=orchestrator):
            assert (await orchestrator.submit(heartbeat).wait_async()).name == "Completed"
    assert seen == [("real", START), ("beat", at(0.1))]


async def test_tasks_outside_any_run_do_not_hold_time() -> None:
    orchestrator = make()
    seen: Seen = []

    async def outsider() -> None:
        await anyio.sleep(LIMIT)  # real time, but not a run's: the clock jumps anyway

    with anyio.fail_after(LIMIT / 2):
        async with anyio.create_task_group() as group:
            group.start_soon(outsider)
            async with TimeSkipper(orchestrator):
                await orchestrator.clock.sleep(3600)
                seen.append(("slept", orchestrator.clock.now()))
            group.cancel_scope.cancel()
    assert seen == [("slept", at(3600))]

"""Time skipping: settle(), wait_until_idle() and TimeSkipper, on asyncio and trio."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import anyio
import pytest

from orchestrator import (
    ConcurrencyLimit,
    InvalidArgument,
    Orchestrator,
    Running,
    Scheduled,
    SetStateStatus,
    StateDetails,
    SystemClock,
    VirtualClock,
    WorkerError,
)
from orchestrator._engine._autojump import (
    TimeSkipper,
    TimeSkipperStatistics,
    active_time_skipper,
    next_due,
    settle,
    virtual_clock_of,
    wait_until_idle,
)

START = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
DEFERRED = StateDetails(deferred=True)


def at(seconds: float) -> datetime:
    """The virtual time ``seconds`` after the start."""
    return START + timedelta(seconds=seconds)


def make() -> Orchestrator:
    return Orchestrator(VirtualClock(START), seed=0)


async def sleep_and_record(
    orchestrator: Orchestrator, name: str, delays: Sequence[float], seen: list[tuple[str, datetime]]
) -> None:
    for delay in delays:
        await orchestrator.clock.sleep(delay)
        seen.append((name, orchestrator.clock.now()))


# -- TimeSkipper with plain sleepers ---------------------------------------------------------


async def test_sleepers_wake_at_their_exact_virtual_times() -> None:
    orchestrator = make()
    seen: list[tuple[str, datetime]] = []
    async with TimeSkipper(orchestrator) as skipper, anyio.create_task_group() as group:
        group.start_soon(sleep_and_record, orchestrator, "a", [60, 60, 60], seen)
        group.start_soon(sleep_and_record, orchestrator, "b", [90, 150], seen)
    assert sorted(seen) == [
        ("a", at(60)),
        ("a", at(120)),
        ("a", at(180)),
        ("b", at(90)),
        ("b", at(240)),
    ]
    assert [time for _, time in seen] == sorted(time for _, time in seen)
    assert skipper.statistics() == TimeSkipperStatistics(
        running=False, held=0, jumps=5, skipped=timedelta(seconds=240), last_jump=at(240)
    )


async def test_a_skipper_registers_itself_while_it_runs() -> None:
    orchestrator = make()
    skipper = TimeSkipper(orchestrator)
    assert active_time_skipper(orchestrator) is None
    async with skipper:
        assert active_time_skipper(orchestrator) is skipper
        assert skipper.statistics().running
        assert repr(skipper) == f"<TimeSkipper running jumps=0 clock={orchestrator.clock!r}>"
    assert active_time_skipper(orchestrator) is None
    assert not skipper.statistics().running
    assert skipper.orchestrator is orchestrator


async def test_run_in_a_task_group_reports_started_and_stops_when_cancelled() -> None:
    orchestrator = make()
    skipper = TimeSkipper(orchestrator)
    async with anyio.create_task_group() as group:
        await group.start(skipper.run)
        assert active_time_skipper(orchestrator) is skipper
        await orchestrator.clock.sleep(3600)
        assert orchestrator.clock.now() == at(3600)
        group.cancel_scope.cancel()
    assert active_time_skipper(orchestrator) is None


async def test_an_error_in_the_block_propagates_unwrapped() -> None:
    orchestrator = make()
    with pytest.raises(KeyError, match="boom"):
        async with TimeSkipper(orchestrator):
            raise KeyError("boom")
    assert active_time_skipper(orchestrator) is None


async def test_one_skipper_per_orchestrator() -> None:
    orchestrator = make()
    first = TimeSkipper(orchestrator)
    async with first:
        with pytest.raises(WorkerError, match="already drives the clock"):
            async with TimeSkipper(orchestrator):
                pass  # pragma: no cover - never entered
        with pytest.raises(WorkerError, match="already running"):
            await first.run()
        assert active_time_skipper(orchestrator) is first


def test_a_skipper_needs_a_virtual_clock() -> None:
    orchestrator = Orchestrator(SystemClock(), seed=0)
    with pytest.raises(InvalidArgument, match=r"TimeSkipper moves time.*VirtualClock"):
        TimeSkipper(orchestrator)
    with pytest.raises(InvalidArgument, match="advance_to_next moves time"):
        virtual_clock_of(orchestrator, "advance_to_next")


async def test_two_orchestrators_skip_time_side_by_side_in_one_loop() -> None:
    first, second = make(), make()
    seen: list[tuple[str, datetime]] = []
    async with TimeSkipper(first), TimeSkipper(second), anyio.create_task_group() as group:
        group.start_soon(sleep_and_record, first, "first", [10, 10], seen)
        group.start_soon(sleep_and_record, second, "second", [7, 7, 7], seen)
    assert sorted(seen) == [
        ("first", at(10)),
        ("first", at(20)),
        ("second", at(7)),
        ("second", at(14)),
        ("second", at(21)),
    ]


# -- what keeps the clock still ----------------------------------------------------------------


async def test_no_jump_while_a_run_executes_in_a_thread() -> None:
    orchestrator = make()
    activity = orchestrator.activity
    gate = threading.Event()
    seen: list[tuple[str, datetime]] = []

    async def execute() -> None:
        activity.begin()
        try:
            await anyio.to_thread.run_sync(gate.wait)
            seen.append(("executed", orchestrator.clock.now()))
        finally:
            activity.end()

    async with TimeSkipper(orchestrator) as skipper, anyio.create_task_group() as group:
        group.start_soon(sleep_and_record, orchestrator, "sleeper", [60], seen)
        group.start_soon(execute)
        await settle()
        await settle()
        assert orchestrator.clock.now() == START
        assert skipper.statistics().jumps == 0
        gate.set()
    assert seen == [("executed", START), ("sleeper", at(60))]


async def test_a_hold_stops_jumping_until_it_ends() -> None:
    orchestrator = make()
    seen: list[tuple[str, datetime]] = []
    async with TimeSkipper(orchestrator) as skipper, anyio.create_task_group() as group:
        with skipper.hold(), skipper.hold():
            group.start_soon(sleep_and_record, orchestrator, "sleeper", [5], seen)
            await settle()
            assert skipper.statistics().held == 2
            assert orchestrator.clock.now() == START
        assert skipper.statistics().held == 0
    assert seen == [("sleeper", at(5))]


async def test_wait_until_idle_waits_for_executing_runs() -> None:
    orchestrator = make()
    activity = orchestrator.activity
    order: list[str] = []
    activity.begin()

    async def idle() -> None:
        await wait_until_idle(activity)
        order.append("idle")

    async with anyio.create_task_group() as group:
        group.start_soon(idle)
        await settle()
        order.append("ending")
        activity.end()
    assert order == ["ending", "idle"]


# -- the orchestrator's own timers -------------------------------------------------------------


async def test_queued_runs_reach_a_consumer_exactly_when_due() -> None:
    orchestrator = make()
    for seconds in (300, 60, 3600):
        orchestrator.create_task_run("k", state=Scheduled(at(seconds), deferred=True))
    queue = orchestrator.multi_queue(["k"])
    received = []
    async with TimeSkipper(orchestrator):
        for _ in range(3):
            run = await queue.get()
            received.append(orchestrator.clock.now())
            assert run.state is not None
            assert run.state.details.scheduled_time == orchestrator.clock.now()
    assert received == [at(60), at(300), at(3600)]


async def test_a_wait_for_a_slot_ends_after_its_delay() -> None:
    orchestrator = Orchestrator(VirtualClock(START), seed=0, slot_wait_seconds=30)
    orchestrator.create_concurrency_limit("db", 1)
    holder, _ = orchestrator.create_task_run("k", tags=["db"])
    waiter, _ = orchestrator.create_task_run("k", tags=["db"])
    assert orchestrator.set_task_run_state(holder.id, Running()).status is SetStateStatus.ACCEPT
    result = orchestrator.set_task_run_state(waiter.id, Running())
    assert result.status is SetStateStatus.WAIT
    async with TimeSkipper(orchestrator):
        await orchestrator.wait_for_turn(waiter.id, result)
    assert orchestrator.clock.now() == at(30)
    limit = orchestrator.read_concurrency_limit("db")
    assert isinstance(limit, ConcurrencyLimit)
    assert limit.active_slots == frozenset({holder.id})


async def test_the_skipper_waits_for_a_sleeper_before_anything() -> None:
    orchestrator = make()
    async with TimeSkipper(orchestrator) as skipper:
        await settle()
        assert skipper.statistics().jumps == 0
        await orchestrator.clock.sleep(1)
    assert orchestrator.clock.now() == at(1)


# -- jump() and next_due() ---------------------------------------------------------------------


def test_jump_without_sleepers_moves_nothing() -> None:
    orchestrator = make()
    skipper = TimeSkipper(orchestrator)
    assert skipper.jump() is None
    assert skipper.statistics().jumps == 0


def test_jump_to_a_time_moves_the_clock_there_and_counts() -> None:
    orchestrator = make()
    skipper = TimeSkipper(orchestrator)
    assert skipper.jump(at(42)) == at(42)
    assert orchestrator.clock.now() == at(42)
    assert skipper.statistics() == TimeSkipperStatistics(
        running=False, held=0, jumps=1, skipped=timedelta(seconds=42), last_jump=at(42)
    )
    with pytest.raises(InvalidArgument, match="only moves forward"):
        skipper.jump(at(1))


def test_next_due_takes_the_earliest_of_sleepers_and_future_queue_entries() -> None:
    orchestrator = make()
    clock = orchestrator.clock
    assert isinstance(clock, VirtualClock)
    assert next_due(orchestrator, clock) is None
    orchestrator.create_task_run("k", state=Scheduled(deferred=True))  # due now: not a time
    assert next_due(orchestrator, clock) is None
    orchestrator.create_task_run("k", state=Scheduled(at(90), deferred=True))
    assert next_due(orchestrator, clock) == at(90)


async def test_next_due_prefers_an_earlier_sleeper() -> None:
    orchestrator = make()
    clock = orchestrator.clock
    assert isinstance(clock, VirtualClock)
    orchestrator.create_task_run("k", state=Scheduled(at(90), deferred=True))
    async with anyio.create_task_group() as group:
        group.start_soon(clock.sleep, 30)
        await settle()
        assert next_due(orchestrator, clock) == at(30)
        group.cancel_scope.cancel()


# -- settle() ----------------------------------------------------------------------------------


async def test_settle_lets_runnable_tasks_run_until_they_block() -> None:
    steps: list[int] = []

    async def busy() -> None:
        for step in range(50):
            steps.append(step)
            await anyio.lowlevel.checkpoint()
        await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        group.start_soon(busy)
        await settle()
        assert steps == list(range(50))
        group.cancel_scope.cancel()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_settle_on_asyncio_runs_ready_callbacks_first() -> None:
    loop = asyncio.get_running_loop()
    calls: list[int] = []

    def chain(count: int) -> None:
        calls.append(count)
        if count:
            loop.call_soon(chain, count - 1)
        else:
            loop.call_soon(calls.append, 99).cancel()  # a cancelled callback does not count

    loop.call_soon(chain, 5)
    await settle()
    assert calls == [5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_settle_on_asyncio_counts_other_settlers_as_blocked() -> None:
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(settle)
        await settle()


def test_settle_outside_an_event_loop_is_refused() -> None:
    coroutine = settle()
    with pytest.raises(RuntimeError, match="asyncio or trio task"):
        coroutine.send(None)

"""MultiQueue and TaskQueue.get: fairness, wake-ups, due times, cancellation, admission waits.

Every async test runs on asyncio and trio. Time moves only through the VirtualClock;
"the getter is waiting" is established with ``anyio.wait_all_tasks_blocked``.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime

import anyio
import pytest

from orchestrator import InvalidArgument, TaskRun
from orchestrator._queues._registry import MultiQueue
from tests.queue_helpers import World


def names(runs: list[TaskRun]) -> list[str]:
    """The runs' names, in order."""
    return [run.name for run in runs]


def due_time(run: TaskRun) -> datetime | None:
    """The scheduled time of the run's current state."""
    assert run.state is not None
    return run.state.details.scheduled_time


# -- MultiQueue, synchronously ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("ab", "not the string 'ab'"),
        ([], "needs at least one task key"),
        (["a", "a"], "must not repeat a key"),
        (["a", ""], "a task key must be a non-empty string"),
    ],
)
def test_multi_queue_refuses_bad_keys(keys: object, message: str) -> None:
    world = World()
    with pytest.raises(InvalidArgument, match=message):
        MultiQueue(keys, queues=world.queues)  # type: ignore[arg-type]


def test_multi_queue_reports_its_keys() -> None:
    multi = MultiQueue(iter(["b", "a"]), queues=World().queues)
    assert multi.task_keys == ("b", "a")
    assert repr(multi) == "MultiQueue(['b', 'a'])"


def test_keys_are_served_round_robin_starting_after_the_last_served() -> None:
    world = World()
    for key, count in (("a", 3), ("b", 1), ("c", 2)):
        for index in range(count):
            world.run(key, f"{key}{index}")
    multi = MultiQueue(["a", "b", "c"], queues=world.queues)
    delivered = [multi.get_nowait().name for _ in range(6)]
    assert delivered == ["a0", "b0", "c0", "a1", "c1", "a2"]
    with pytest.raises(anyio.WouldBlock):
        multi.get_nowait()


def test_within_a_key_the_retry_part_goes_first() -> None:
    world = World()
    world.run("a", "a-s")
    world.run("b", "b-s")
    world.run("b", "b-r", retry=True)
    world.run("a", "a-r", retry=True)
    multi = MultiQueue(["a", "b"], queues=world.queues)
    assert [multi.get_nowait().name for _ in range(4)] == ["a-r", "b-r", "a-s", "b-s"]


def test_fairness_ten_thousand_on_one_key_do_not_starve_ten_on_another() -> None:
    world = World(scheduled_size=20_000)
    for index in range(10_000):
        world.run("A", f"A{index}")
    for index in range(10):
        world.run("B", f"B{index}")
    multi = MultiQueue(["A", "B"], queues=world.queues)
    first = [multi.get_nowait().name for _ in range(20)]
    assert [name for name in first if name.startswith("B")] == [f"B{i}" for i in range(10)]
    assert first[:4] == ["A0", "B0", "A1", "B1"]


async def test_fairness_holds_for_async_get_too() -> None:
    world = World(scheduled_size=20_000)
    for index in range(10_000):
        world.run("A", f"A{index}")
    for index in range(10):
        world.run("B", f"B{index}")
    multi = MultiQueue(["A", "B"], queues=world.queues)
    first = [(await multi.get()).name for _ in range(20)]
    assert sorted(name for name in first if name.startswith("B")) == [f"B{i}" for i in range(10)]


def test_a_multi_queue_never_hands_out_a_run_before_it_is_due() -> None:
    world = World()
    world.run("a", "a-later", due_in=20)
    world.run("b", "b-later", due_in=10)
    multi = MultiQueue(["a", "b"], queues=world.queues)
    with pytest.raises(anyio.WouldBlock):
        multi.get_nowait()
    world.clock.advance(10)
    assert multi.get_nowait().name == "b-later"
    with pytest.raises(anyio.WouldBlock):
        multi.get_nowait()


# -- waiting -------------------------------------------------------------------------------------


async def test_get_returns_at_once_when_a_run_is_due() -> None:
    world = World()
    world.run(name="ready")
    world.run(name="also-ready")
    queue = world.queues.for_key("a")
    assert [(await queue.get()).name, (await queue.get()).name] == ["ready", "also-ready"]


async def test_a_waiting_get_wakes_at_exactly_the_due_time() -> None:
    world = World()
    got: list[TaskRun] = []
    multi = MultiQueue(["a", "b"], queues=world.queues)
    async with anyio.create_task_group() as group:

        async def getter() -> None:
            got.append(await multi.get())

        group.start_soon(getter)
        await anyio.wait_all_tasks_blocked()
        world.run("b", "b-due", due_in=45)
        await anyio.wait_all_tasks_blocked()
        assert world.clock.next_deadline() == world.at(45)  # the getter sleeps on the clock
        world.clock.advance(44.999999)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        world.clock.advance_to_next()
        await anyio.wait_all_tasks_blocked()
        assert names(got) == ["b-due"]
    assert due_time(got[0]) == world.clock.now() == world.at(45)
    assert world.clock.next_deadline() is None


async def test_an_earlier_entry_re_arms_the_getters_timer() -> None:
    world = World()
    world.run(name="late", due_in=60)
    got: list[TaskRun] = []
    async with anyio.create_task_group() as group:

        async def getter() -> None:
            got.append(await world.queues.for_key("a").get())

        group.start_soon(getter)
        await anyio.wait_all_tasks_blocked()
        assert world.clock.next_deadline() == world.at(60)
        world.run(name="early", due_in=10)
        await anyio.wait_all_tasks_blocked()
        assert world.clock.next_deadline() == world.at(10)
        world.clock.advance_to_next()
    assert names(got) == ["early"]
    assert world.clock.now() == world.at(10)


async def test_a_put_from_another_thread_wakes_a_waiting_get() -> None:
    world = World()
    engine_lock = threading.RLock()
    run = world.run(name="from-thread", put=False)
    got: list[TaskRun] = []
    async with anyio.create_task_group() as group:

        async def getter() -> None:
            got.append(await MultiQueue(["z", "a"], queues=world.queues).get())

        group.start_soon(getter)
        await anyio.wait_all_tasks_blocked()
        assert world.queues.statistics().queues["a"].waiting_getters == 1

        def engine_commit() -> None:
            with engine_lock:  # the engine puts under its own lock
                world.queues.put(run, retry=False)

        thread = threading.Thread(target=engine_commit)
        thread.start()
        thread.join()
        await anyio.wait_all_tasks_blocked()
        assert names(got) == ["from-thread"]
    assert world.clock.now() == world.start
    assert world.queues.statistics().queues["a"].waiting_getters == 0


async def test_a_cancelled_get_loses_nothing() -> None:
    world = World()
    multi = MultiQueue(["a"], queues=world.queues)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await multi.get()
    assert scope.cancelled_caught
    async with anyio.create_task_group() as group:
        group.start_soon(multi.get)
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    world.run(name="kept")
    assert multi.get_nowait().name == "kept"
    assert world.queues.statistics().queues["a"].waiting_getters == 0


async def test_a_get_cancelled_just_as_it_is_woken_delivers_exactly_once() -> None:
    world = World()
    multi = MultiQueue(["a"], queues=world.queues)
    got: list[TaskRun] = []
    async with anyio.create_task_group() as group:

        async def getter() -> None:
            got.append(await multi.get())

        group.start_soon(getter)
        await anyio.wait_all_tasks_blocked()
        world.run(name="raced")  # wakes the getter ...
        group.cancel_scope.cancel()  # ... which is cancelled before it runs again
    left: list[TaskRun] = []
    with contextlib.suppress(anyio.WouldBlock):
        left.append(multi.get_nowait())
    assert names(got + left) == ["raced"]


async def test_two_multi_queues_over_one_key_get_distinct_runs() -> None:
    world = World()
    first = MultiQueue(["a"], queues=world.queues)
    second = MultiQueue(["b", "a"], queues=world.queues)
    got: dict[str, TaskRun] = {}
    async with anyio.create_task_group() as group:

        async def getter(label: str, multi: MultiQueue) -> None:
            got[label] = await multi.get()

        group.start_soon(getter, "first", first)
        group.start_soon(getter, "second", second)
        await anyio.wait_all_tasks_blocked()
        assert world.queues.statistics().queues["a"].waiting_getters == 2
        world.run(name="one")
        await anyio.wait_all_tasks_blocked()
        assert len(got) == 1
        world.run(name="two")
    assert sorted(run.name for run in got.values()) == ["one", "two"]
    assert world.queues.statistics().delivered == 2


async def test_threads_and_getters_deliver_every_run_exactly_once() -> None:
    world = World(scheduled_size=10_000)
    per_thread, threads_count = 500, 4
    runs = [
        [world.run(f"k{t % 2}", f"t{t}-{i}", put=False) for i in range(per_thread)]
        for t in range(threads_count)
    ]
    total = per_thread * threads_count
    got: list[TaskRun] = []
    async with anyio.create_task_group() as group:

        async def consume(multi: MultiQueue) -> None:
            while True:
                got.append(await multi.get())

        group.start_soon(consume, MultiQueue(["k0", "k1"], queues=world.queues))
        group.start_soon(consume, MultiQueue(["k1", "k0"], queues=world.queues))
        group.start_soon(consume, MultiQueue(["k0"], queues=world.queues))
        await anyio.wait_all_tasks_blocked()

        def produce(batch: list[TaskRun]) -> None:
            for run in batch:
                world.queues.put(run, retry=False)

        def produce_all() -> None:
            producers = [threading.Thread(target=produce, args=(batch,)) for batch in runs]
            for thread in producers:
                thread.start()
            for thread in producers:
                thread.join()

        await anyio.to_thread.run_sync(produce_all)  # the getters run meanwhile
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    assert sorted(run.id.int for run in got) == list(range(1, total + 1))
    world.queues.check_invariants()
    assert (len(world.queues), world.queues.statistics().delivered) == (0, total)


# -- admission waits ------------------------------------------------------------------------------


async def test_wait_for_room_returns_at_once_when_there_is_room() -> None:
    world = World(scheduled_size=1)
    await world.queues.wait_for_room("a")
    assert world.queues.task_keys == ("a",)


async def test_wait_for_room_wakes_when_a_scheduled_entry_is_taken() -> None:
    world = World(scheduled_size=2)
    world.run(name="s1")
    world.run(name="s2")
    queue = world.queues.for_key("a")
    assert world.queues.has_room("a") is False
    done: list[bool] = []
    async with anyio.create_task_group() as group:

        async def submitter() -> None:
            await world.queues.wait_for_room("a")
            done.append(True)

        group.start_soon(submitter)
        await anyio.wait_all_tasks_blocked()
        assert queue.statistics().waiting_for_room == 1
        world.run(name="r1", retry=True)
        assert queue.get_nowait().name == "r1"  # a retry leaving frees no room
        await anyio.wait_all_tasks_blocked()
        assert done == []
        assert queue.get_nowait().name == "s1"
        await anyio.wait_all_tasks_blocked()
        assert done == [True]
    assert queue.statistics().waiting_for_room == 0


async def test_wait_for_room_wakes_when_the_bound_grows_or_a_stale_entry_is_dropped() -> None:
    world = World(scheduled_size=1)
    stale = world.run(name="stale")
    done: list[str] = []
    async with anyio.create_task_group() as group:

        async def submitter(key: str) -> None:
            await world.queues.wait_for_room(key)
            done.append(key)

        group.start_soon(submitter, "a")
        world.run("b", "b1")
        group.start_soon(submitter, "b")
        await anyio.wait_all_tasks_blocked()
        world.queues.configure_task_key("b", scheduled_size=2)
        await anyio.wait_all_tasks_blocked()
        assert done == ["b"]
        del world.runs[stale.id]
        with pytest.raises(anyio.WouldBlock):
            world.queues.for_key("a").get_nowait()
        await anyio.wait_all_tasks_blocked()
        assert done == ["b", "a"]


async def test_wait_for_room_after_a_lowered_bound_waits_until_below_it() -> None:
    world = World()
    for index in range(3):
        world.run(name=f"s{index}")
    world.queues.configure_task_key("a", scheduled_size=2)
    queue = world.queues.for_key("a")
    done: list[bool] = []
    async with anyio.create_task_group() as group:

        async def submitter() -> None:
            await world.queues.wait_for_room("a")
            done.append(True)

        group.start_soon(submitter)
        await anyio.wait_all_tasks_blocked()
        queue.get_nowait()
        await anyio.wait_all_tasks_blocked()
        assert done == []  # 2 queued, bound 2: still full
        queue.get_nowait()
        await anyio.wait_all_tasks_blocked()
        assert done == [True]

"""TaskQueues and TaskQueue, synchronously: ordering, due times, staleness, admission, checks.

The async side (get, wake-ups, cancellation, MultiQueue) is in ``test_task_queue.py``.
"""

from __future__ import annotations

import anyio
import pytest

from orchestrator import InvalidArgument, State, StateType, TaskRun
from orchestrator._queues._registry import MultiQueue, TaskQueues, TaskQueueStatistics
from tests.queue_helpers import World


def drain(queue: TaskQueues | MultiQueue, key: str = "a") -> list[str]:
    """Names of the runs ``get_nowait`` hands out until it would block."""
    source = queue.for_key(key) if isinstance(queue, TaskQueues) else queue
    names: list[str] = []
    while True:
        try:
            names.append(source.get_nowait().name)
        except anyio.WouldBlock:
            return names


# -- ordering and due times -------------------------------------------------------------------


def test_an_empty_queue_would_block() -> None:
    world = World()
    with pytest.raises(anyio.WouldBlock):
        world.queues.for_key("a").get_nowait()
    assert world.queues.statistics().queues["a"] == TaskQueueStatistics(
        task_key="a",
        scheduled=0,
        retry=0,
        scheduled_size=1000,
        retry_size=100,
        delivered=0,
        dropped=0,
        waiting_getters=0,
        waiting_for_room=0,
    )


def test_the_retry_part_goes_first() -> None:
    world = World()
    world.run(name="s1")
    world.run(name="s2")
    world.run(name="r1", retry=True)
    assert drain(world.queues) == ["r1", "s1", "s2"]


def test_a_run_due_later_never_blocks_one_due_sooner() -> None:
    world = World()
    world.run(name="later", due_in=60)
    world.run(name="sooner", due_in=10)
    world.run(name="now")
    assert drain(world.queues) == ["now"]
    world.clock.advance(60)
    assert drain(world.queues) == ["sooner", "later"]


def test_equal_due_times_leave_in_the_order_they_came() -> None:
    world = World()
    for index in range(5):
        world.run(name=f"s{index}", due_in=5)
    world.clock.advance(5)
    assert drain(world.queues) == ["s0", "s1", "s2", "s3", "s4"]


def test_nothing_is_handed_out_before_its_due_time() -> None:
    world = World()
    world.run(name="due", due_in=30)
    world.run(name="retry", due_in=30, retry=True)
    world.clock.advance(29.999999)
    assert drain(world.queues) == []
    world.clock.advance(0.000001)
    assert drain(world.queues) == ["retry", "due"]


def test_a_state_without_scheduled_time_is_due_at_its_timestamp() -> None:
    world = World()
    run = world.run(name="stamped", due_in=None, put=False)
    world.clock.advance(10)
    world.queues.put(run, retry=False)
    assert world.queues.next_due() == world.start
    assert drain(world.queues) == ["stamped"]


def test_a_run_without_state_is_due_when_put() -> None:
    world = World()
    run = world.run(name="bare", put=False)
    run.state = None
    world.clock.advance(3)
    world.queues.put(run, retry=False)
    assert world.queues.for_key("a").next_due() == world.at(3)
    assert drain(world.queues) == ["bare"]


def test_next_due_is_the_earliest_entry_across_keys() -> None:
    world = World()
    assert world.queues.next_due() is None
    world.run("a", due_in=50)
    world.run("b", due_in=20, retry=True)
    world.run("b", due_in=40)
    assert world.queues.next_due() == world.at(20)
    assert world.queues.for_key("a").next_due() == world.at(50)


# -- staleness, replacement, discard ---------------------------------------------------------


def test_stale_entries_are_dropped_never_delivered() -> None:
    world = World()
    deleted = world.run(name="deleted")
    moved = world.run(name="moved")
    world.run(name="kept")
    del world.runs[deleted.id]
    moved.state = State(type=StateType.PENDING, id=world.state().id, timestamp=world.start)
    assert drain(world.queues) == ["kept"]
    stats = world.queues.statistics()
    assert (stats.delivered, stats.dropped, stats.queued) == (1, 2, 0)


def test_putting_a_queued_run_again_replaces_its_entry() -> None:
    world = World()
    run = world.run(name="twice", due_in=30)
    world.move(run, due_in=5, retry=True)
    world.queues.put(run, retry=True)
    queue = world.queues.for_key("a")
    assert (len(queue), queue.scheduled_count, queue.retry_count, len(world.queues)) == (1, 0, 1, 1)
    world.queues.check_invariants()
    world.clock.advance(5)
    assert drain(world.queues) == ["twice"]
    world.clock.advance(60)
    assert drain(world.queues) == []
    assert world.queues.statistics().dropped == 0


def test_discard_removes_an_entry_and_reports_whether_there_was_one() -> None:
    world = World()
    run = world.run(name="gone")
    world.run(name="stays")
    assert run.id in world.queues
    assert world.queues.discard(run.id) is True
    assert run.id not in world.queues
    assert world.queues.discard(run.id) is False
    assert drain(world.queues) == ["stays"]
    world.queues.check_invariants()


def test_discarding_most_entries_compacts_the_heap() -> None:
    world = World()
    runs = [world.run(name=f"s{index}") for index in range(300)]
    for run in runs[:290]:
        world.queues.discard(run.id)
    world.queues.check_invariants()  # includes: dead items never outnumber live ones by 64+
    assert drain(world.queues) == [f"s{index}" for index in range(290, 300)]


# -- admission ---------------------------------------------------------------------------


def test_has_room_is_false_at_the_scheduled_bound_and_true_below_it() -> None:
    world = World(scheduled_size=2)
    assert world.queues.has_room("a") is True  # no queue yet
    world.run()
    assert world.queues.has_room("a") is True
    world.run()
    assert world.queues.has_room("a") is False
    assert world.queues.statistics().queues["a"].has_room is False
    world.queues.for_key("a").get_nowait()
    assert world.queues.has_room("a") is True


def test_retries_are_accepted_beyond_their_bound_and_do_not_take_room() -> None:
    world = World(scheduled_size=1, retry_size=1)
    for index in range(3):
        world.run(name=f"r{index}", retry=True)
    queue = world.queues.for_key("a")
    assert (queue.retry_count, queue.retry_size, queue.has_room()) == (3, 1, True)
    assert drain(world.queues) == ["r0", "r1", "r2"]


def test_configure_task_key_sets_and_resets_sizes() -> None:
    world = World(scheduled_size=1000, retry_size=100)
    assert (world.queues.default_scheduled_size, world.queues.default_retry_size) == (1000, 100)
    world.queues.configure_task_key("a", scheduled_size=1, retry_size=7)
    queue = world.queues.for_key("a")
    assert (queue.scheduled_size, queue.retry_size) == (1, 7)
    world.run()
    assert world.queues.has_room("a") is False
    world.queues.configure_task_key("a", scheduled_size=2)
    assert (queue.scheduled_size, queue.retry_size) == (2, 100)
    assert world.queues.has_room("a") is True
    world.queues.configure_task_key("a")
    assert (queue.scheduled_size, queue.retry_size) == (1000, 100)


@pytest.mark.parametrize("size", [0, -1, True, 1.5, "3"])
def test_configure_task_key_refuses_a_bad_size_and_changes_nothing(size: object) -> None:
    world = World()
    world.queues.configure_task_key("a", scheduled_size=5, retry_size=6)
    with pytest.raises(InvalidArgument, match="must be a positive int or None"):
        world.queues.configure_task_key("a", scheduled_size=size)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="retry_size must be a positive int or None"):
        world.queues.configure_task_key("a", retry_size=size)  # type: ignore[arg-type]
    queue = world.queues.for_key("a")
    assert (queue.scheduled_size, queue.retry_size) == (5, 6)


@pytest.mark.parametrize("key", ["", None, 3])
def test_a_task_key_must_be_a_non_empty_string(key: object) -> None:
    world = World()
    with pytest.raises(InvalidArgument, match="a task key must be a non-empty string"):
        world.queues.for_key(key)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="a task key must be a non-empty string"):
        world.queues.configure_task_key(key, scheduled_size=1)  # type: ignore[arg-type]
    assert world.queues.task_keys == ()


@pytest.mark.parametrize(("scheduled", "retry"), [(0, 1), (1, 0), (None, 1), (1, None), (2.0, 1)])
def test_the_registry_refuses_bad_default_sizes(scheduled: object, retry: object) -> None:
    world = World()
    with pytest.raises(InvalidArgument, match="positive int"):
        TaskQueues(
            world.clock,
            lookup=world.runs.get,
            default_scheduled_size=scheduled,  # type: ignore[arg-type]
            default_retry_size=retry,  # type: ignore[arg-type]
        )


def test_a_task_queue_refuses_a_run_of_another_key() -> None:
    world = World()
    other = world.run("b", put=False)
    queue = world.queues.for_key("a")
    with pytest.raises(InvalidArgument, match="has task key 'b'; it belongs on that key's queue"):
        queue.put(other)
    with pytest.raises(InvalidArgument, match="only task runs can be queued"):
        queue.retry("not a run")  # type: ignore[arg-type]
    assert len(world.queues) == 0


def test_task_queue_put_and_retry_fill_their_parts() -> None:
    world = World()
    queue = world.queues.for_key("a")
    queue.put(world.run(name="s", put=False))
    queue.retry(world.run(name="r", put=False))
    assert (queue.scheduled_count, queue.retry_count) == (1, 1)
    assert repr(queue) == "TaskQueue('a', scheduled=1, retry=1)"
    assert drain(world.queues) == ["r", "s"]


# -- statistics and self-checks -----------------------------------------------------------------


def test_statistics_count_per_key_and_in_total() -> None:
    world = World(scheduled_size=10, retry_size=5)
    world.queues.configure_task_key("b", scheduled_size=3)
    world.run("a")
    world.run("a", retry=True)
    stale = world.run("b")
    world.run("b", due_in=100)
    del world.runs[stale.id]
    world.queues.for_key("a").get_nowait()
    with pytest.raises(anyio.WouldBlock):
        world.queues.for_key("b").get_nowait()
    stats = world.queues.statistics()
    assert world.queues.task_keys == ("b", "a")
    assert stats.queues["a"] == TaskQueueStatistics(
        task_key="a",
        scheduled=1,
        retry=0,
        scheduled_size=10,
        retry_size=5,
        delivered=1,
        dropped=0,
        waiting_getters=0,
        waiting_for_room=0,
    )
    assert (stats.queues["b"].scheduled, stats.queues["b"].scheduled_size) == (1, 3)
    assert (stats.queues["b"].dropped, stats.queues["b"].queued) == (1, 1)
    assert (stats.queued, stats.delivered, stats.dropped) == (2, 1, 1)


def test_check_invariants_catches_a_wrong_counter() -> None:
    world = World()
    world.run()
    queue = world.queues.for_key("a")
    queue._heaps.scheduled_count = 2
    with pytest.raises(AssertionError, match="'a' scheduled: 1 live, count 2"):
        world.queues.check_invariants()


def test_check_invariants_catches_a_broken_heap() -> None:
    world = World()
    world.run(due_in=1)
    world.run(due_in=2)
    queue = world.queues.for_key("a")
    queue._heaps.scheduled.reverse()
    with pytest.raises(AssertionError, match="not a heap"):
        world.queues.check_invariants()


def test_a_run_moved_between_parts_keeps_one_live_entry() -> None:
    world = World()
    run = world.run(name="x")
    for retry in (True, False, True):
        world.move(run, retry=retry)
        world.queues.put(run, retry=retry)
        world.queues.check_invariants()
    assert (len(world.queues), world.queues.statistics().queued) == (1, 1)
    assert isinstance(world.queues.for_key("a").get_nowait(), TaskRun)

"""Exactly once under stress, and no run stranded when a worker is cancelled mid-run."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import anyio
import pytest

from orchestrator import (
    Observer,
    Orchestrator,
    State,
    StateType,
    Task,
    TaskRun,
    TaskRunFuture,
    VirtualClock,
    task,
)
from orchestrator._core._states import TERMINAL_TYPES
from orchestrator.workers import TaskWorker
from tests.worker_helpers import HANG_GUARD, Commits, history, names, outcome


class Boom(Exception):
    pass


class Finished(Observer):
    """Sets ``done`` once ``expected`` runs have committed a terminal state."""

    def __init__(self, orchestrator: Orchestrator, expected: int) -> None:
        self.left = expected
        self.done = anyio.Event()
        orchestrator.subscribe(self)

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        if state.type in TERMINAL_TYPES:
            self.left -= 1
            if self.left == 0:
                self.done.set()


RUNNING_NAMES = frozenset({"Running", "Retrying"})


async def test_exactly_once_under_stress() -> None:
    # 4 workers over 3 keys and 10k runs: successes, failures with retries, timeouts,
    # cache hits and a tag limit. Retry delays are 0; a timing-out run moves the clock
    # past its own deadline, so no one has to drive the clock.
    clock = VirtualClock()
    orch = Orchestrator(
        clock, seed=11, scheduled_queue_size=10_000, keep_decisions=False, slot_wait_seconds=3600
    )
    orch.create_concurrency_limit("stress", 3)
    calls: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()

    @task(task_key="stress.a", retries=2, retry_delay_seconds=0)
    async def job_a(i: int) -> int:
        calls["a", i] += 1
        if i % 11 == 0 or (i % 5 == 0 and calls["a", i] == 1):
            raise Boom(i)
        return i

    @task(task_key="stress.b", retries=1, cache_key_fn=lambda p: f"b-{p['i'] % 500}")
    def job_b(i: int) -> int:
        with lock:
            calls["b", i] += 1
            first = calls["b", i] == 1
        if i % 13 == 0 and first:
            raise Boom(i)
        return i % 500

    @task(task_key="stress.c", tags=["stress"], timeout_seconds=5, retries=1)
    async def job_c(i: int) -> int:
        calls["c", i] += 1
        if i % 7 == 0:
            clock.advance(10)  # past the deadline: this call times out
            await anyio.sleep_forever()
        return i

    jobs: dict[str, tuple[Task[[int], Any], int]] = {
        "a": (job_a, 4000),
        "b": (job_b, 3000),
        "c": (job_c, 3000),
    }
    futures: dict[tuple[str, int], TaskRunFuture[Any]] = {}
    for name, (job, count) in jobs.items():
        for i in range(count):
            futures[name, i] = orch.submit(job, i)
    finished = Finished(orch, len(futures))
    workers = [TaskWorker(job_a, job_b, job_c, orchestrator=orch) for _ in range(4)]
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for worker in workers:
                await group.start(worker.run)
            await finished.done.wait()
            for worker in workers:
                worker.stop()

    by_state = orch.statistics().task_runs_by_state
    assert set(by_state) <= TERMINAL_TYPES, by_state
    claims = 0
    for (name, i), future in futures.items():
        states = orch.read_task_run_states(future.task_run_id)
        attempts = sum(state.name in RUNNING_NAMES for state in states)
        assert calls[name, i] == attempts, (name, i, [s.name for s in states])
        assert future.task_run.run_count == attempts
        claims += sum(state.type is StateType.PENDING for state in states)
        final = states[-1]
        if name == "a":
            expected = ("Failed", 3) if i % 11 == 0 else ("Completed", 2 if i % 5 == 0 else 1)
            assert (final.name, attempts) == expected
        elif name == "b":
            assert final.name in ("Completed", "Cached")
            assert final.data == i % 500
            if final.name == "Cached":  # the attempt that hit the cache called nothing
                assert states[-2].type is StateType.PENDING
        else:
            expected = ("TimedOut", 2) if i % 7 == 0 else ("Completed", 1)
            assert (final.name, attempts) == expected
    assert sum(sum(w.status().finished.values()) for w in workers) == claims
    assert orch.read_concurrency_limit("stress").active_slots == frozenset()
    assert orch.task_queues.statistics().queued == 0
    assert len(orch.result_store) == 0
    assert len(orch.pending_leases) == 0
    assert orch.activity.statistics().executing == 0
    orch.check_invariants()


# -- crashes ------------------------------------------------------------------------------------
@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock, seed=5)


async def test_a_run_crashed_by_cancellation_is_retried_without_finishing(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()
    gate = anyio.Event()

    @task(task_key="long", retries=1, retry_delay_seconds=5)
    async def long(x: int) -> int:
        await gate.wait()
        return x

    commits = Commits(orch)
    async with anyio.create_task_group() as group:
        await group.start(TaskWorker(long, orchestrator=orch).run)
        future = orch.submit(long, 1)
        await commits.state(future, "Running")
        group.cancel_scope.cancel()
    assert history(orch, future, start) == [
        ("Scheduled", 0.0),
        ("Pending", 0.0),
        ("Running", 0.0),
        ("AwaitingRetry", 0.0),
    ]
    state = future.state
    assert state.message == "Crashed: the task worker was cancelled; retrying"
    assert state.details.scheduled_time == start + timedelta(seconds=5)  # the retry delay
    assert not future.done()  # never through a terminal state: waiters keep waiting
    assert future.task_run_id in orch.task_queues
    gate.set()
    async with TaskWorker(long, orchestrator=orch):
        await clock.wait_for_sleeper()
        clock.advance(5)
        assert await outcome(future) == 1
    assert history(orch, future, start)[4:] == [
        ("Pending", 5.0),
        ("Retrying", 5.0),
        ("Completed", 5.0),
    ]


async def test_a_run_without_retries_ends_crashed(orch: Orchestrator) -> None:
    @task(task_key="fragile")
    async def fragile(x: int) -> int:
        await anyio.sleep_forever()
        return x

    commits = Commits(orch)
    async with anyio.create_task_group() as group:
        await group.start(TaskWorker(fragile, orchestrator=orch).run)
        future = orch.submit(fragile, 1)
        await commits.state(future, "Running")
        group.cancel_scope.cancel()
    assert names(orch, future) == ["Scheduled", "Pending", "Running", "Crashed"]
    assert future.state.message == "Crashed: the task worker was cancelled"
    assert len(orch.result_store) == 0


async def test_a_sync_run_finishes_even_when_its_worker_is_cancelled(orch: Orchestrator) -> None:
    entered, gate = threading.Event(), threading.Event()

    @task(task_key="blocking")
    def blocking(x: int) -> int:
        entered.set()
        gate.wait()
        return x

    scope = anyio.CancelScope()
    worker = TaskWorker(blocking, orchestrator=orch)

    async def serve_it() -> None:
        with scope:
            await worker.run()

    async with anyio.create_task_group() as group:
        group.start_soon(serve_it)
        future = orch.submit(blocking, 7)
        assert await anyio.to_thread.run_sync(entered.wait, HANG_GUARD)
        scope.cancel()
        await anyio.wait_all_tasks_blocked()
        assert future.state.name == "Running"  # a thread cannot be interrupted
        gate.set()
    assert future.state.name == "Completed"  # its outcome is recorded all the same
    assert await outcome(future) == 7


async def test_cancelling_a_worker_strands_nothing(orch: Orchestrator) -> None:
    # Worker A holds 5 runs: 3 running (the tag allows 3), 2 waiting for a slot; 5 more
    # are queued. Cancelling A puts every one of its runs back on the retry queue, and
    # worker B finishes all ten.
    gate = anyio.Event()

    @task(task_key="crashy", tags=["three"], retries=1)
    async def crashy(x: int) -> int:
        await gate.wait()
        return x

    orch.create_concurrency_limit("three", 3)
    commits = Commits(orch)
    futures = [orch.submit(crashy, i) for i in range(10)]
    async with anyio.create_task_group() as group:
        await group.start(TaskWorker(crashy, orchestrator=orch, limit=5).run)
        await commits.until(
            lambda: (
                sorted(f.state.name for f in futures).count("Running") == 3
                and sum(f.state.name == "Pending" for f in futures) == 2
                and len(orch.pending_leases) == 2
            )
        )
        group.cancel_scope.cancel()
    states = Counter(f.state.name for f in futures)
    assert states == {"AwaitingRetry": 5, "Scheduled": 5}
    assert all(f.task_run_id in orch.task_queues for f in futures)
    queue = orch.task_queues.for_key("crashy")
    assert (queue.retry_count, queue.scheduled_count) == (5, 5)
    assert orch.read_concurrency_limit("three").active_slots == frozenset()
    assert len(orch.pending_leases) == 0
    gate.set()
    async with TaskWorker(crashy, orchestrator=orch, limit=5):
        assert sorted([await outcome(f) for f in futures]) == list(range(10))
    crashed = [f for f in futures if "Crashed" in (f.state.message or "")]
    assert crashed == []  # the final states are the Completed ones
    for future in futures:
        run_states = orch.read_task_run_states(future.task_run_id)
        assert all(state.type is not StateType.CRASHED for state in run_states)
        assert run_states[-1].name == "Completed"
    orch.check_invariants()

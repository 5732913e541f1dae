"""TaskWorker edge cases: runs that move on behind the worker's back, rules that raise, jitter."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

import anyio
import pytest

from orchestrator import (
    Cancelled,
    Orchestrator,
    Scheduled,
    SetStateStatus,
    StateType,
    TransitionContext,
    VirtualClock,
    rule,
    task,
)
from orchestrator.policies import clamped_poisson_delay, core_task_policy
from orchestrator.workers import TaskWorker
from orchestrator.workers._claims import why_stopped
from orchestrator.workers._slots import RunSlots
from tests.worker_helpers import Commits, history, names, outcome


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock, seed=9)


async def test_a_run_moved_on_while_it_executes_stays_where_it_went(
    orch: Orchestrator, caplog: pytest.LogCaptureFixture
) -> None:
    gate = anyio.Event()

    @task(task_key="cancel_me")
    async def cancel_me() -> str:
        await gate.wait()
        return "too late"

    commits = Commits(orch)
    async with TaskWorker(cancel_me, orchestrator=orch):
        future = orch.submit(cancel_me)
        await commits.state(future, "Running")
        orch.set_task_run_state(future.task_run_id, Cancelled(message="by hand"), force=True)
        gate.set()
        await anyio.wait_all_tasks_blocked()
    assert names(orch, future) == ["Scheduled", "Pending", "Running", "Cancelled"]
    assert "moved on while it executed; its outcome (Completed) was dropped" in caplog.text


async def test_a_claim_taken_over_while_it_waits_is_not_run_twice(
    orch: Orchestrator, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    gate = anyio.Event()
    calls: list[int] = []

    @task(task_key="contended", tags=["one"])
    async def contended(x: int) -> int:
        calls.append(x)
        await gate.wait()
        return x

    orch.create_concurrency_limit("one", 1)
    commits = Commits(orch)
    async with TaskWorker(contended, orchestrator=orch):
        first, second = orch.submit(contended, 1), orch.submit(contended, 2)
        await commits.until(
            lambda: (
                len(calls) == 1 and orch.statistics().task_runs_by_state.get(StateType.PENDING) == 1
            )
        )
        waiting = second if calls == [1] else first
        claim = waiting.state
        # what the lease sweeper does to a claim whose lease ran out
        put_back = orch.set_task_run_state(
            waiting.task_run_id,
            Scheduled(name="AwaitingRetry", details=claim.details.replace(scheduled_time=None)),
        )
        assert put_back.status is SetStateStatus.ACCEPT
        gate.set()
        assert sorted([await outcome(first), await outcome(second)]) == [1, 2]
        # the old claimant proposes again when its WAIT's delay passes, and finds its
        # claim gone: it leaves the run to whoever holds it now
        clock.advance(10)
        await anyio.wait_all_tasks_blocked()
        assert "its claim was taken over while it waited" in caplog.text
    assert sorted(calls) == [1, 2]  # each run called once
    assert names(orch, waiting) == [
        "Scheduled",
        "Pending",
        "AwaitingRetry",
        "Pending",
        "Running",
        "Completed",
    ]


async def test_a_rule_that_raises_breaks_the_run_off(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    @rule(to_states=[StateType.COMPLETED])
    def explode(ctx: TransitionContext) -> None:
        if ctx.task_run.task_key == "victim":
            raise RuntimeError("the rule broke")

    orch = Orchestrator(clock, seed=1, task_policy=core_task_policy() + explode)

    @task(task_key="victim", retries=3)
    async def victim() -> int:
        return 1

    @task(task_key="bystander")
    def bystander() -> int:
        return 2

    async with TaskWorker(victim, bystander, orchestrator=orch):
        future = orch.submit(victim)
        state = await future.wait_async()
        assert await outcome(orch.submit(bystander)) == 2  # the worker goes on
    assert (state.type, state.name) == (StateType.CRASHED, "Crashed")
    assert state.message == (
        "Crashed: the task worker failed while executing it: RuntimeError('the rule broke')"
    )
    assert names(orch, future) == ["Scheduled", "Pending", "Running", "Crashed"]
    assert "the worker failed to execute it" in caplog.text
    assert len(orch.result_store) == 0


async def test_a_crash_retry_draws_its_jitter_from_the_orchestrator(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()

    @task(task_key="jittery", retries=2, retry_delay_seconds=10, retry_jitter_factor=0.5)
    async def jittery() -> None:
        await anyio.sleep_forever()

    commits = Commits(orch)
    async with anyio.create_task_group() as group:
        await group.start(TaskWorker(jittery, orchestrator=orch).run)
        future = orch.submit(jittery)
        await commits.state(future, "Running")
        expected = random.Random()
        expected.setstate(orch.random.getstate())
        delay = clamped_poisson_delay(expected, 10.0, 0.5)
        group.cancel_scope.cancel()
    assert history(orch, future, start)[-1] == ("AwaitingRetry", 0.0)
    assert future.state.details.scheduled_time == start + timedelta(seconds=delay)


async def test_a_hand_made_run_gets_its_cache_key_from_the_task(orch: Orchestrator) -> None:
    calls: list[int] = []

    @task(task_key="constant", cache_key_fn=lambda p: "the-one")
    def constant() -> int:
        calls.append(1)
        return 7

    runs = [
        orch.create_task_run("constant", state=Scheduled(deferred=True)).run.id for _ in range(2)
    ]
    worker = TaskWorker(constant, orchestrator=orch)
    for run_id in runs:  # one after the other, without serving
        await worker.execute_task_run(orch.read_task_run(run_id))
    assert calls == [1]
    assert [names(orch, run_id)[-1] for run_id in runs] == ["Completed", "Cached"]
    assert orch.read_task_run(runs[1]).state.data == 7  # type: ignore[union-attr]


async def test_why_a_worker_went_away() -> None:
    assert why_stopped(KeyboardInterrupt()) == "the task worker stopped on KeyboardInterrupt()"


async def test_run_slots() -> None:
    slots = RunSlots(1)
    assert (slots.in_use, slots.available, repr(slots)) == (0, 1, "RunSlots(in_use=0, limit=1)")
    await slots.acquire()
    taken: list[int] = []

    async def second() -> None:
        await slots.acquire()
        taken.append(slots.in_use)

    async with anyio.create_task_group() as group:
        group.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert (taken, slots.available) == ([], 0)
        slots.release()
    assert taken == [1]
    unlimited = RunSlots(None)
    for _ in range(3):
        await unlimited.acquire()
    assert (unlimited.in_use, unlimited.available) == (3, None)


@pytest.fixture(autouse=True)
def _log_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="orchestrator.workers")

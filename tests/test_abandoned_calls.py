"""A sync call left running past its timeout never overlaps its run's next call.

The probe counts the calls of one run's function that are under way at once, and logs
when each starts and returns: the retry must start only after the abandoned call
returned, on the system clock (real-time timeouts), on a virtual clock moved by hand,
with one worker or several on one orchestrator, and when the worker stops or is
cancelled meanwhile.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import anyio
import pytest

from orchestrator import Orchestrator, TaskRunFuture, VirtualClock, task
from orchestrator._core._abandoned import AbandonedCalls
from orchestrator._core._wakeup import Signal
from orchestrator._engine._autojump import TimeSkipper
from orchestrator.workers import TaskWorker
from orchestrator.workers._calls import CallEnding
from tests.worker_helpers import HANG_GUARD, Commits, history, names, outcome

#: The most real seconds any test here may take.
BOUND = 20.0


class Probe:
    """Counts concurrent calls and logs ("start" | "end", attempt) in order; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.attempts = 0
        self.log: list[tuple[str, int]] = []
        self.started = Signal()

    def enter(self) -> int:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.attempts += 1
            attempt = self.attempts
            self.log.append(("start", attempt))
        self.started.notify()
        return attempt

    def leave(self, attempt: int) -> None:
        with self.lock:
            self.active -= 1
            self.log.append(("end", attempt))

    def sequential(self, attempts: int) -> list[tuple[str, int]]:
        """The log of ``attempts`` calls that never overlapped."""
        return [event for n in range(1, attempts + 1) for event in (("start", n), ("end", n))]


async def until_idle(orch: Orchestrator) -> None:
    """Wait until no call counts as executing (an abandoned one counts until it returns)."""
    changed = orch.activity.changed
    while True:
        seen = changed.generation
        if orch.activity.executing == 0:
            return
        await changed.wait(seen)


#: The timeout of the system-clock tests' blocking task: its first call blocks until
#: released and is abandoned at this deadline; the retry returns at once, but its call
#: (a worker thread) must start and finish within it too. 0.05 s was too short for a
#: loaded machine (a retry timed out under load in CI); 0.5 s keeps the tests quick.
FIRST_CALL_TIMEOUT = 0.5


def blocking_task(probe: Probe, release: threading.Event, timeout: float, retries: int) -> Any:
    """A sync task whose first call blocks until ``release`` is set; later ones return."""

    @task(task_key="blocking", timeout_seconds=timeout, retries=retries, retry_delay_seconds=0)
    def blocking(x: int) -> int:
        attempt = probe.enter()
        try:
            if attempt == 1:
                release.wait(HANG_GUARD)
            return x
        finally:
            probe.leave(attempt)

    return blocking


# -- the system clock: the timeout fires in real time ------------------------------------------
@pytest.mark.parametrize(("workers", "limit"), [(1, 1), (1, 3), (2, 1), (3, 2)])
async def test_a_retry_waits_for_the_abandoned_call(workers: int, limit: int) -> None:
    orch = Orchestrator()
    probe, release = Probe(), threading.Event()
    blocking = blocking_task(probe, release, timeout=FIRST_CALL_TIMEOUT, retries=1)
    commits = Commits(orch)
    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as group:
            pool = [TaskWorker(blocking, orchestrator=orch, limit=limit) for _ in range(workers)]
            for worker in pool:
                await group.start(worker.run)
            future = orch.submit(blocking, 7)
            run_id = future.task_run_id
            await commits.state(future, "AwaitingRetry")
            since = orch.abandoned_calls.snapshot()[run_id]
            holder = next(w for w in pool if w.status().abandoned)
            # The abandoning worker's slot stays taken, and it says by what.
            assert holder.status().abandoned == {run_id: since}
            status = holder.status()
            assert status.available == limit - status.current - 1
            if limit == 1 and workers == 1:
                # No slot is free: the retry stays queued until the call returns.
                assert holder.status().available == 0
                assert future.state.name == "AwaitingRetry"
            else:
                # Another slot claims the retry, which waits PENDING and says why.
                await commits.state(future, "Pending", nth=2)
                assert future.state.message == (
                    f"waits for its previous call, left running since {since.isoformat()}, "
                    "to return before it starts again"
                )
            assert probe.attempts == 1
            assert orch.activity.executing == 1  # the abandoned call is still real work
            release.set()
            assert await outcome(future) == 7
            for worker in pool:
                worker.stop()
    assert probe.peak == 1
    assert probe.log == probe.sequential(2)
    assert [name for name in names(orch, future) if name != "Pending"] == [
        "Scheduled",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]
    assert all(w.status().abandoned == {} for w in pool)
    assert len(orch.abandoned_calls) == 0
    orch.check_invariants()


@pytest.mark.parametrize("workers", [1, 2, 4])
async def test_calls_that_always_time_out_never_overlap(workers: int) -> None:
    # Every call sleeps 0.3 s of real time against a timeout of 0.1 s: each one times
    # out, and the next attempt starts only after the previous call returned. (A timeout
    # much shorter could pass before a loaded machine starts the call's thread at all.)
    orch = Orchestrator()
    probe = Probe()

    @task(task_key="sleepy", timeout_seconds=0.1, retries=3, retry_delay_seconds=0)
    def sleepy() -> None:
        attempt = probe.enter()
        try:
            time.sleep(0.3)
        finally:
            probe.leave(attempt)

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as group:
            pool = [TaskWorker(sleepy, orchestrator=orch, limit=2) for _ in range(workers)]
            for worker in pool:
                await group.start(worker.run)
            state = await orch.submit(sleepy).wait_async()
            await until_idle(orch)
            for worker in pool:
                worker.stop()
    assert state.name == "TimedOut"
    assert probe.peak == 1
    assert probe.log == probe.sequential(4)
    assert len(orch.abandoned_calls) == 0


async def test_many_runs_on_several_workers_never_overlap_their_own_calls() -> None:
    # 12 runs of a task whose first call of each run outlives its timeout, on 3 workers:
    # per run at most one call at a time, and every run completes on its retry.
    orch = Orchestrator()
    probes = {i: Probe() for i in range(12)}

    # The retry must finish inside the timeout: 0.2 s leaves a loaded machine room.
    @task(task_key="each", timeout_seconds=0.2, retries=2, retry_delay_seconds=0)
    def each(i: int) -> int:
        probe = probes[i]
        attempt = probe.enter()
        try:
            if attempt == 1:
                time.sleep(0.5)
            return i
        finally:
            probe.leave(attempt)

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as group:
            pool = [TaskWorker(each, orchestrator=orch, limit=4) for _ in range(3)]
            for worker in pool:
                await group.start(worker.run)
            futures = [orch.submit(each, i) for i in range(12)]
            assert [await outcome(f) for f in futures] == list(range(12))
            for worker in pool:
                worker.stop()
    for probe in probes.values():
        assert probe.peak == 1
        assert probe.log == probe.sequential(2)


# -- a virtual clock moved by hand, and time skipping ------------------------------------------
async def test_on_a_virtual_clock_the_timeout_fires_when_the_clock_passes_it() -> None:
    clock = VirtualClock()
    start = clock.now()
    orch = Orchestrator(clock, seed=3)
    probe, release = Probe(), threading.Event()
    blocking = blocking_task(probe, release, timeout=5, retries=1)
    commits = Commits(orch)
    with anyio.fail_after(BOUND):
        async with TaskWorker(blocking, orchestrator=orch, limit=2) as worker:
            future: TaskRunFuture[int] = orch.submit(blocking, 1)
            await commits.state(future, "Running")
            while probe.attempts == 0:
                seen = probe.started.generation
                if probe.attempts:
                    break
                await probe.started.wait(seen)
            clock.advance(5)
            await commits.state(future, "Pending", nth=2)
            five = start + timedelta(seconds=5)
            assert worker.status().abandoned == {future.task_run_id: five}
            assert worker.status().available == 0  # one slot waits, one holds the call
            clock.advance(60)  # time alone does not release the retry
            assert future.state.name == "Pending"
            assert probe.attempts == 1
            release.set()
            assert await outcome(future) == 1
    assert history(orch, future, start) == [
        ("Scheduled", 0.0),
        ("Pending", 0.0),
        ("Running", 0.0),
        ("AwaitingRetry", 5.0),
        ("Pending", 5.0),
        ("Retrying", 65.0),
        ("Completed", 65.0),
    ]
    assert probe.log == probe.sequential(2)


async def test_under_time_skipping_a_sync_call_cannot_time_out() -> None:
    # A thread counts as busy: virtual time holds still while it runs, so its virtual
    # timeout cannot pass before it returns (real work takes no virtual time).
    clock = VirtualClock()
    start = clock.now()
    orch = Orchestrator(clock, seed=4)
    probe = Probe()

    @task(task_key="real_work", timeout_seconds=1, retries=1)
    def real_work() -> str:
        attempt = probe.enter()
        try:
            time.sleep(0.1)
            return "done"
        finally:
            probe.leave(attempt)

    with anyio.fail_after(BOUND):
        async with TimeSkipper(orch), TaskWorker(real_work, orchestrator=orch):
            assert await outcome(orch.submit(real_work)) == "done"
    assert clock.now() == start
    assert probe.log == probe.sequential(1)


# -- stopping and cancelling while a call is abandoned --------------------------------------------
@pytest.mark.parametrize("how", ["stop", "cancel"])
async def test_a_worker_leaves_without_waiting_and_the_rule_still_holds(how: str) -> None:
    # A worker holding an abandoned call ends at once when stopped or cancelled (it
    # would otherwise wait on a thread it cannot stop); the run still waits for the
    # call before a second worker runs it.
    orch = Orchestrator()
    probe, release = Probe(), threading.Event()
    blocking = blocking_task(probe, release, timeout=FIRST_CALL_TIMEOUT, retries=1)
    commits = Commits(orch)
    with anyio.fail_after(BOUND):
        first = TaskWorker(blocking, orchestrator=orch, limit=1)
        async with anyio.create_task_group() as group:
            await group.start(first.run)
            future = orch.submit(blocking, 3)
            await commits.state(future, "AwaitingRetry")
            assert first.status().abandoned.keys() == {future.task_run_id}
            if how == "stop":
                first.stop()
            else:
                group.cancel_scope.cancel()
        assert not first.started
        assert first.status().abandoned == {}
        assert future.task_run_id in orch.abandoned_calls.snapshot()
        async with TaskWorker(blocking, orchestrator=orch) as second:
            await commits.state(future, "Pending", nth=2)
            assert probe.attempts == 1
            release.set()
            assert await outcome(future) == 3
        assert second.status().abandoned == {}
    assert probe.peak == 1
    assert probe.log == probe.sequential(2)


async def test_a_waiting_retry_is_handed_back_when_its_worker_stops() -> None:
    orch = Orchestrator()
    probe, release = Probe(), threading.Event()
    blocking = blocking_task(probe, release, timeout=FIRST_CALL_TIMEOUT, retries=1)
    commits = Commits(orch)
    with anyio.fail_after(BOUND):
        async with TaskWorker(blocking, orchestrator=orch, limit=2):
            future = orch.submit(blocking, 5)
            await commits.state(future, "Pending", nth=2)
        assert future.state.name == "AwaitingRetry"
        assert future.state.message == (
            "handed back before it started: the task worker stopped while the run waited "
            "for its call"
        )
        assert probe.attempts == 1
        release.set()
        async with TaskWorker(blocking, orchestrator=orch):
            assert await outcome(future) == 5
    assert probe.log == probe.sequential(2)


async def test_cancelling_a_worker_mid_call_leaves_the_call_and_delays_the_retry() -> None:
    # Cancelled before its deadline, a sync call with a timeout is left running too: the
    # run is crashed and retried, and the retry waits for the call.
    orch = Orchestrator()
    probe, release = Probe(), threading.Event()
    blocking = blocking_task(probe, release, timeout=60, retries=1)
    commits = Commits(orch)
    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as group:
            await group.start(TaskWorker(blocking, orchestrator=orch).run)
            future = orch.submit(blocking, 9)
            await commits.state(future, "Running")
            while probe.attempts == 0:
                seen = probe.started.generation
                if probe.attempts:
                    break
                await probe.started.wait(seen)
            group.cancel_scope.cancel()
        assert future.state.name == "AwaitingRetry"
        assert future.state.message == "Crashed: the task worker was cancelled; retrying"
        async with TaskWorker(blocking, orchestrator=orch):
            await commits.state(future, "Pending", nth=2)
            assert probe.attempts == 1
            release.set()
            assert await outcome(future) == 9
    assert probe.log == probe.sequential(2)


# -- the pieces ------------------------------------------------------------------------------------
def test_a_call_ending_runs_its_callbacks_once_from_whoever_finishes() -> None:
    seen: list[str] = []
    ending = CallEnding()
    ending.when_returned(lambda: seen.append("early"))
    assert ending.start()
    assert ending.leave()  # still running: abandoned
    assert ending.finish()  # the thread learns it was abandoned
    ending.when_returned(lambda: seen.append("late"))  # after the return: at once
    assert seen == ["early", "late"]
    assert ending.returned
    finished = CallEnding()
    assert finished.start()
    assert not finished.finish()  # returned before anyone left: not abandoned
    assert not finished.leave()
    skipped = CallEnding()
    assert not skipped.leave()  # left before the thread started it: nothing runs on
    assert not skipped.start()  # so the thread skips the call


async def test_abandoned_calls_are_forgotten_when_they_return() -> None:
    calls = AbandonedCalls()
    clock = VirtualClock()
    run_id = Orchestrator(clock, seed=1).new_id()
    call = calls.add(run_id, "k", clock.now())
    assert calls.get(run_id) is call
    assert calls.snapshot() == {run_id: clock.now()}
    assert repr(call).endswith("running)")
    done = threading.Thread(target=call.mark_returned)
    with anyio.fail_after(BOUND):
        done.start()
        await call.wait()
    done.join()
    call.mark_returned()  # idempotent
    assert calls.get(run_id) is None
    assert len(calls) == 0
    assert repr(calls) == "AbandonedCalls(0 running)"

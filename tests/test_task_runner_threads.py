"""A task runner's threads and time skipping: a handed-off run is work, a queued one waits.

A run submitted inside a flow goes to a thread of the flow run's task runner. From
that hand-off until it returns it counts as executing, so time skipping never jumps
while it sits in the pool's queue for a thread about to take it (the race once let
``examples/from_prefect.py`` log a line 10 virtual seconds late). A run beyond the
runner's ``max_workers`` waits for a running one to finish, uncounted: if the runs
holding the threads sleep on the clock, time moves on, as it would in real time.
"""

from __future__ import annotations

import sys
import threading
from datetime import timedelta

from orchestrator import Orchestrator, ThreadPoolTaskRunner, VirtualClock, flow, task
from orchestrator._core._activity import Activity
from orchestrator._flows._task_runners import RunnerThreads

BOUND = 10.0  # seconds any real wait below may take


def test_a_handed_off_run_counts_as_executing_from_the_hand_off_until_it_returns() -> None:
    activity = Activity()
    threads = RunnerThreads("test-runner")
    threads.start(sys.maxsize)
    release, ran = threading.Event(), threading.Event()

    def run() -> None:
        release.wait(BOUND)
        ran.set()

    threads.run(activity, run)
    # Whether or not a thread has taken it yet, the run is work in progress.
    assert activity.executing == 1
    release.set()
    threads.stop()
    assert ran.is_set()
    assert activity.executing == 0
    assert activity.statistics().executed == 1


def test_a_run_beyond_the_limit_waits_uncounted_then_takes_the_freed_thread() -> None:
    activity = Activity()
    threads = RunnerThreads("test-runner")
    threads.start(1)
    order: list[str] = []
    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        order.append("first")
        first_in.set()
        release.wait(BOUND)

    def second() -> None:
        order.append("second")

    threads.run(activity, first)
    assert first_in.wait(BOUND)
    threads.run(activity, second)
    assert activity.executing == 1  # only the run holding the thread
    assert order == ["first"]
    release.set()
    threads.stop()
    assert order == ["first", "second"]
    assert activity.executing == 0
    assert activity.statistics().executed == 2


ATTEMPTS: list[str] = []


@task(retries=1, retry_delay_seconds=10)
def fails_once() -> int:
    ATTEMPTS.append("fails_once")
    if ATTEMPTS.count("fails_once") == 1:
        raise ValueError("the first attempt fails")
    return 1


@task
def quick(x: int) -> int:
    return x


def test_a_full_runner_lets_time_skip_to_the_retry_that_frees_its_thread() -> None:
    # One thread, held by a run sleeping 10 s for its retry: the next run waits for it.
    ATTEMPTS.clear()

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    def pipeline() -> int:
        first = fails_once.submit()
        second = quick.submit(2)
        return first.result() + second.result()

    orchestrator = Orchestrator(VirtualClock(), autojump=True)
    start = orchestrator.clock.now()
    with orchestrator:
        assert pipeline() == 3
    starts = {
        run.task_key.rsplit(".", 1)[-1]: run.start_time - start
        for run in orchestrator.read_task_runs()
        if run.start_time is not None
    }
    assert starts == {"fails_once": timedelta(0), "quick": timedelta(seconds=10)}
    assert orchestrator.clock.now() - start == timedelta(seconds=10)


def test_time_never_skips_while_submitted_runs_wait_for_their_threads() -> None:
    # While one run sleeps 10 s for its retry, the flow waits on 20 quick runs: each is
    # handed to a thread at once, so no virtual time passes before they all return.
    @flow
    def pipeline(orchestrator: Orchestrator) -> timedelta:
        start = orchestrator.clock.now()
        retried = fails_once.submit()
        assert quick.map(range(20)).result() == list(range(20))
        waited = orchestrator.clock.now() - start
        retried.wait()
        return waited

    for _ in range(20):
        ATTEMPTS.clear()
        orchestrator = Orchestrator(VirtualClock(), autojump=True)
        with orchestrator:
            assert pipeline(orchestrator) == timedelta(0)

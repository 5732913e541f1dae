"""TaskWorker: construction, execution through the policies, retries, caching, limits, timeouts."""

from __future__ import annotations

import functools
import os
import signal
import socket
import threading
from datetime import timedelta
from typing import Any

import anyio
import pytest

from orchestrator import (
    InvalidArgument,
    Orchestrator,
    Pending,
    Scheduled,
    StateDetails,
    StateType,
    StopTaskWorker,
    Task,
    TaskRunFailed,
    TaskRunFuture,
    VirtualClock,
    WorkerError,
    task,
)
from orchestrator._store._results import parameters_key
from orchestrator.workers import TaskWorker, serve, serve_sync
from tests.worker_helpers import Commits, WaitOrder, history, names, outcome, serving, typed


class Boom(Exception):
    pass


@task(task_key="add")
def add(x: int, y: int) -> int:
    return x + y


@task(task_key="double")
async def double(x: int) -> int:
    return 2 * x


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock, seed=7)


# -- construction -------------------------------------------------------------------------------
def test_refuses_what_is_not_a_task(orch: Orchestrator) -> None:
    with pytest.raises(TypeError, match="tasks made with @task"):
        TaskWorker(add, print, orchestrator=orch)  # type: ignore[arg-type]


def test_needs_a_task(orch: Orchestrator) -> None:
    with pytest.raises(InvalidArgument, match="at least one task"):
        TaskWorker(orchestrator=orch)


def test_refuses_two_tasks_with_one_key(orch: Orchestrator) -> None:
    other = add.with_options(name="other")
    with pytest.raises(InvalidArgument, match="share the task key 'add'"):
        TaskWorker(add, other, orchestrator=orch)
    assert TaskWorker(add, add, orchestrator=orch).task_keys == ("add",)


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "3"])
def test_refuses_a_bad_limit(orch: Orchestrator, limit: Any) -> None:
    with pytest.raises(InvalidArgument, match="limit must be None"):
        TaskWorker(add, orchestrator=orch, limit=limit)


@pytest.mark.parametrize("lease", [0, -1.0, "5", None])
def test_refuses_a_bad_lease(orch: Orchestrator, lease: Any) -> None:
    with pytest.raises(InvalidArgument, match="pending_lease_seconds"):
        TaskWorker(add, orchestrator=orch, pending_lease_seconds=lease)


def test_needs_an_orchestrator() -> None:
    with pytest.raises(WorkerError, match="needs an orchestrator"):
        TaskWorker(add)
    with pytest.raises(InvalidArgument, match="must be an Orchestrator"):
        TaskWorker(add, orchestrator=object())  # type: ignore[arg-type]


def test_takes_the_current_orchestrator(orch: Orchestrator) -> None:
    with orch:
        worker = TaskWorker(add, double)
    assert worker.orchestrator is orch
    assert worker.task_keys == ("add", "double")
    assert dict(worker.tasks) == {"add": add, "double": double}


def test_properties_before_it_starts(orch: Orchestrator) -> None:
    worker = TaskWorker(add, orchestrator=orch, limit=3)
    assert (worker.started, worker.started_at, worker.stopping) == (False, None, False)
    assert (worker.limit, worker.current_tasks, worker.available_tasks) == (3, 0, 3)
    assert worker.status_address is None
    unlimited = TaskWorker(add, orchestrator=orch, limit=None)
    assert (unlimited.limit, unlimited.available_tasks) == (None, None)


def test_client_ids_are_host_pid_and_a_suffix(orch: Orchestrator) -> None:
    first = TaskWorker(add, orchestrator=orch)
    second = TaskWorker(add, orchestrator=orch)
    prefix = f"{socket.gethostname()}-{os.getpid()}-"
    assert first.client_id.startswith(prefix)
    assert second.client_id.startswith(prefix)
    assert first.client_id != second.client_id
    assert len(first.client_id) == len(prefix) + 8


def test_client_ids_are_reproducible_under_a_seed() -> None:
    def client_ids(seed: int) -> list[str]:
        orchestrator = Orchestrator(VirtualClock(), seed=seed)
        return [TaskWorker(add, orchestrator=orchestrator).client_id for _ in range(3)]

    ids = client_ids(7)
    assert client_ids(7) == ids
    assert len(set(ids)) == 3
    # The suffix is the start of the orchestrator's next id, drawn from its seeded source.
    mirror = Orchestrator(VirtualClock(), seed=7)
    assert [client_id.rsplit("-", 1)[1] for client_id in ids] == [
        mirror.new_id().hex[:8] for _ in range(3)
    ]


def test_stop_before_start_is_an_error(orch: Orchestrator) -> None:
    worker = TaskWorker(add, orchestrator=orch)
    with pytest.raises(WorkerError, match="is not serving"):
        worker.stop()
    worker.handle_sigterm(15, None)  # not serving: nothing to do, no error
    assert not worker.stopping


# -- executing ------------------------------------------------------------------------------------
async def test_sync_and_async_tasks_complete(orch: Orchestrator, clock: VirtualClock) -> None:
    start = clock.now()
    async with TaskWorker(add, double, orchestrator=orch) as worker:
        assert worker.started
        assert worker.started_at == start
        sync_future = orch.submit(add, 1, 2)
        async_future = orch.submit(double, 21)
        assert await outcome(sync_future) == 3
        assert await outcome(async_future) == 42
        for future in (sync_future, async_future):
            assert history(orch, future, start) == [
                ("Scheduled", 0.0),
                ("Pending", 0.0),
                ("Running", 0.0),
                ("Completed", 0.0),
            ]
        assert worker.status().finished == {"add": 1, "double": 1}
    assert not serving(worker)
    assert len(orch.result_store) == 0  # parameters are deleted once the runs finished
    orch.check_invariants()


async def test_sync_functions_run_in_worker_threads(orch: Orchestrator) -> None:
    seen: dict[str, int] = {}

    @task(task_key="where_sync")
    def where_sync() -> None:
        seen["sync"] = threading.get_ident()

    @task(task_key="where_async")
    async def where_async() -> None:
        seen["async"] = threading.get_ident()

    async with TaskWorker(where_sync, where_async, orchestrator=orch):
        await orch.submit(where_sync).wait_async()
        await orch.submit(where_async).wait_async()
    assert seen["async"] == threading.get_ident()
    assert seen["sync"] != threading.get_ident()
    assert orch.activity.statistics().executed == 1  # only the thread is counted


async def test_retries_come_back_when_due(orch: Orchestrator, clock: VirtualClock) -> None:
    start = clock.now()
    calls: list[float] = []

    @task(task_key="flaky", retries=2, retry_delay_seconds=[10, 20])
    async def flaky() -> str:
        calls.append((clock.now() - start).total_seconds())
        if len(calls) < 3:
            raise Boom(len(calls))
        return "done"

    commits = Commits(orch)
    async with TaskWorker(flaky, orchestrator=orch):
        future = orch.submit(flaky)
        await commits.state(future, "AwaitingRetry")
        await clock.wait_for_sleeper()  # the worker waits for the retry to come due
        assert clock.next_deadline() == start + timedelta(seconds=10)
        clock.advance_to_next()
        await commits.state(future, "AwaitingRetry", 2)
        await clock.wait_for_sleeper()
        assert clock.next_deadline() == start + timedelta(seconds=30)
        clock.advance_to_next()
        assert await outcome(future) == "done"
    assert calls == [0.0, 10.0, 30.0]
    assert history(orch, future, start) == [
        ("Scheduled", 0.0),
        ("Pending", 0.0),
        ("Running", 0.0),
        ("AwaitingRetry", 0.0),
        ("Pending", 10.0),
        ("Retrying", 10.0),
        ("AwaitingRetry", 10.0),
        ("Pending", 30.0),
        ("Retrying", 30.0),
        ("Completed", 30.0),
    ]
    states = orch.read_task_run_states(future.task_run_id)
    retries = [s for s in states if s.name == "AwaitingRetry"]
    assert [s.details.scheduled_time for s in retries] == [
        start + timedelta(seconds=10),
        start + timedelta(seconds=30),
    ]
    assert [s.message for s in retries] == [
        "Task run encountered an exception: Boom(1)",
        "Task run encountered an exception: Boom(2)",
    ]
    assert future.task_run.run_count == 3


async def test_a_failure_without_retries_left_fails_the_run(orch: Orchestrator) -> None:
    @task(task_key="broken", retries=1)
    def broken(x: int) -> None:
        raise Boom(x)

    async with TaskWorker(broken, add, orchestrator=orch):
        future = orch.submit(broken, 5)
        with pytest.raises(Boom) as raised:
            await outcome(future)
        # a task's exception never stops the worker
        assert await orch.submit(add, 2, 2).aresult() == 4
    assert raised.value.args == (5,)
    assert names(orch, future) == [
        "Scheduled",
        "Pending",
        "Running",
        "AwaitingRetry",
        "Pending",
        "Retrying",
        "Failed",
    ]
    assert future.state.message == "Task run encountered an exception: Boom(5)"
    assert len(orch.result_store) == 0


async def test_a_cache_hit_completes_without_calling(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    calls: list[int] = []

    @task(task_key="cached", cache_key_fn=lambda p: f"sq-{p['x']}", cache_expiration=60)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    async with TaskWorker(square, orchestrator=orch):
        first = orch.submit(square, 3)
        assert await outcome(first) == 9
        second = orch.submit(square, 3)
        assert await outcome(second) == 9
        clock.advance(61)  # expired: computed again
        third = orch.submit(square, 3)
        assert await outcome(third) == 9
    assert calls == [3, 3]
    assert names(orch, second) == ["Scheduled", "Pending", "Cached"]
    completed = first.state
    assert completed.details.cache_key == "sq-3"
    assert completed.details.cache_expiration == completed.timestamp + timedelta(seconds=60)  # type: ignore[operator]
    assert names(orch, third)[-1] == "Completed"
    assert len(orch.result_store) == 0


async def test_refresh_cache_runs_again(orch: Orchestrator) -> None:
    calls: list[int] = []

    @task(task_key="fresh", cache_key_fn=lambda p: "always")
    def fresh() -> int:
        calls.append(1)
        return len(calls)

    refreshing = fresh.with_options(refresh_cache=True)
    async with TaskWorker(fresh, orchestrator=orch):
        assert await orch.submit(fresh).aresult() == 1
        assert await orch.submit(fresh).aresult() == 1  # cached
    async with TaskWorker(refreshing, orchestrator=orch):
        assert await orch.submit(refreshing).aresult() == 2


async def test_a_tag_limit_waits_and_wakes_first_come_first_served(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()
    started: list[int] = []
    release = {i: anyio.Event() for i in range(3)}

    @task(task_key="db_job", tags=["db"])
    async def db_job(i: int) -> int:
        started.append(i)
        await release[i].wait()
        return i

    orch.create_concurrency_limit("db", 1)
    commits = Commits(orch)
    waits = WaitOrder(orch)
    async with TaskWorker(db_job, orchestrator=orch, limit=5) as worker:
        futures = [orch.submit(db_job, i) for i in range(3)]
        by_id = {f.task_run_id: i for i, f in enumerate(futures)}
        await commits.until(lambda: len(started) == 1 and len(waits.run_ids) == 2)
        assert sorted(f.state.name for f in futures) == ["Pending", "Pending", "Running"]
        assert worker.current_tasks == 3
        # the waiters hold a lease: the slot wait (10 s) plus the worker's lease (300 s)
        leases = orch.pending_leases
        queue = [by_id[run_id] for run_id in waits.run_ids]
        assert [leases.expiry(futures[i].task_run_id) for i in queue] == [
            start + timedelta(seconds=310)
        ] * 2
        # each waiter starts as soon as the slot frees, in the order it was told to wait
        release[started[0]].set()
        await commits.until(lambda: len(started) == 2)
        assert started[1] == queue[0]
        release[started[1]].set()
        await commits.until(lambda: len(started) == 3)
        assert started[2] == queue[1]
        release[started[2]].set()
        assert [await outcome(f) for f in futures] == [0, 1, 2]
    assert len(leases) == 0
    for future in futures:  # no time passed
        assert [t for _, t in history(orch, future, start)] == [0.0] * 4
    decisions = orch.read_decisions(futures[queue[0]].task_run_id)
    assert [d.reason for d in decisions if d.status.name == "WAIT"] == [
        "Concurrency limit reached for tags: db"
    ]
    assert orch.read_concurrency_limit("db").active_slots == frozenset()
    orch.check_invariants()


# -- timeouts --------------------------------------------------------------------------------------
async def test_an_async_timeout_is_counted_on_the_clock(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()

    @task(task_key="slow", timeout_seconds=5)
    async def slow() -> None:
        await clock.sleep(100)

    commits = Commits(orch)
    async with TaskWorker(slow, orchestrator=orch):
        future = orch.submit(slow)
        await commits.state(future, "Running")
        clock.advance(5)
        state = await future.wait_async()
    assert history(orch, future, start)[-1] == ("TimedOut", 5.0)
    assert state.type is StateType.FAILED
    assert state.message == "Task run exceeded its timeout of 5 s"
    assert isinstance(state.data, TimeoutError)
    with pytest.raises(TimeoutError, match="exceeded its timeout of 5 s"):
        typed(future).result()


async def test_a_sync_timeout_abandons_the_thread(orch: Orchestrator, clock: VirtualClock) -> None:
    start = clock.now()
    entered, gate, finished = threading.Event(), threading.Event(), threading.Event()

    @task(task_key="stuck", timeout_seconds=2.5)
    def stuck() -> None:
        entered.set()
        gate.wait()
        finished.set()

    async with TaskWorker(stuck, orchestrator=orch):
        future = orch.submit(stuck)
        assert await anyio.to_thread.run_sync(entered.wait, 5)
        assert orch.activity.executing == 1
        clock.advance(2.5)
        await future.wait_async()
        # The abandoned call is real work still under way: it counts until it returns.
        assert orch.activity.executing == 1
        assert orch.abandoned_calls.snapshot() == {
            future.task_run_id: start + timedelta(seconds=2.5)
        }
    assert history(orch, future, start)[-1] == ("TimedOut", 2.5)
    assert not finished.is_set()  # the thread still runs: it is abandoned, not killed
    gate.set()
    assert finished.wait(5)
    changed = orch.activity.changed
    with anyio.fail_after(5):
        while True:
            seen = changed.generation
            if orch.activity.executing == 0:
                break
            await changed.wait(seen)
    assert len(orch.abandoned_calls) == 0


@pytest.mark.orchestrator(system_clock=True)
async def test_a_timeout_on_the_system_clock_is_real_time() -> None:
    orch = Orchestrator()

    @task(task_key="hangs", timeout_seconds=0.01)
    async def hangs() -> None:
        await anyio.Event().wait()

    async with TaskWorker(hangs, orchestrator=orch):
        state = await orch.submit(hangs).wait_async()
    assert state.name == "TimedOut"


async def test_an_error_within_a_timeout_fails_the_run(orch: Orchestrator) -> None:
    @task(task_key="quick_error", timeout_seconds=5)
    async def quick_error() -> None:
        raise Boom("fast")

    async with TaskWorker(quick_error, orchestrator=orch):
        future = orch.submit(quick_error)
        with pytest.raises(Boom, match="fast"):
            await outcome(future)


# -- runs that cannot start ---------------------------------------------------------------------
async def test_an_unknown_key_fails_the_run_and_keeps_it(orch: Orchestrator) -> None:
    run = orch.create_task_run("nobody", state=Scheduled(deferred=True)).run
    worker = TaskWorker(add, orchestrator=orch)
    await worker.execute_task_run(run)
    state = orch.read_task_run(run.id).state
    assert state is not None
    assert (state.type, state.name) == (StateType.FAILED, "Failed")
    assert state.message == (
        "no task with key 'nobody' is served by this worker (it serves add); serve the task "
        "with that key to run it"
    )
    assert names(orch, run.id) == ["Scheduled", "Pending", "Failed"]
    assert worker.status().finished == {"add": 0, "nobody": 1}
    assert worker.status().tasks == ("add",)


async def test_unreadable_parameters_fail_the_run(orch: Orchestrator) -> None:
    future = orch.submit(add, 1, 2)
    parameters_id = future.state.details.task_parameters_id
    assert parameters_id is not None
    orch.result_store.delete(parameters_key(parameters_id))
    async with TaskWorker(add, orchestrator=orch):
        state = await future.wait_async()
    assert (state.type, state.name) == (StateType.FAILED, "Failed")
    assert state.message == (
        f"the parameters of task run {future.task_run_id} cannot be read: task parameters "
        f"{parameters_id} was not found: they were never stored, or were deleted with their run"
    )
    with pytest.raises(TaskRunFailed, match="cannot be read"):
        await outcome(future)
    assert names(orch, future) == ["Scheduled", "Pending", "Failed"]


async def test_parameters_that_are_not_a_mapping_fail_the_run(orch: Orchestrator) -> None:
    future = orch.submit(add, 1, 2)
    parameters_id = future.state.details.task_parameters_id
    assert parameters_id is not None
    orch.result_store.write(parameters_key(parameters_id), [1, 2])
    async with TaskWorker(add, orchestrator=orch):
        state = await future.wait_async()
    assert state.message is not None
    assert "is not a parameters mapping: [1, 2]" in state.message


async def test_a_run_without_parameters_uses_the_defaults_or_fails(orch: Orchestrator) -> None:
    @task(task_key="greet")
    def greet(name: str = "world") -> str:
        return f"hello {name}"

    defaults = orch.create_task_run("greet", state=Scheduled(deferred=True)).run
    needs = orch.create_task_run("add", state=Scheduled(deferred=True)).run
    async with TaskWorker(greet, add, orchestrator=orch):
        await commits_done(orch, defaults.id, needs.id)
    assert orch.read_task_run(defaults.id).state.data == "hello world"  # type: ignore[union-attr]
    state = orch.read_task_run(needs.id).state
    assert state is not None
    assert state.message == (
        f"task run {needs.id} has no stored parameters (its state carries no "
        "task_parameters_id) but 'add' needs some: missing a required argument: 'x'"
    )


async def commits_done(orch: Orchestrator, *run_ids: Any) -> None:
    commits = Commits(orch)
    await commits.until(
        lambda: all(orch.read_task_run(i).state.is_final() for i in run_ids)  # type: ignore[union-attr]
    )


# -- claims ---------------------------------------------------------------------------------------
async def test_a_run_claimed_elsewhere_is_not_executed(orch: Orchestrator) -> None:
    calls: list[int] = []

    @task(task_key="count")
    async def count(x: int) -> int:
        calls.append(x)
        return x

    taken = orch.submit(count, 1)
    claim = orch.set_task_run_state(taken.task_run_id, Pending(details=StateDetails(deferred=True)))
    assert claim.status.name == "ACCEPT"
    second = orch.set_task_run_state(
        taken.task_run_id, Pending(details=StateDetails(deferred=True))
    )
    assert second.status.name == "ABORT"  # the policy refuses a second claimant
    worker = TaskWorker(count, orchestrator=orch)
    await worker.execute_task_run(taken.task_run)
    async with worker:
        assert await outcome(orch.submit(count, 2)) == 2
    assert calls == [2]
    assert names(orch, taken) == ["Scheduled", "Pending"]
    assert worker.status().finished == {"count": 1}


async def test_execute_task_run_runs_the_same_run_once(orch: Orchestrator) -> None:
    calls: list[int] = []
    gate = anyio.Event()

    @task(task_key="gated")
    async def gated() -> str:
        calls.append(1)
        await gate.wait()
        return "ok"

    commits = Commits(orch)
    worker = TaskWorker(gated, orchestrator=orch, limit=1)
    future = orch.submit(gated)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.execute_task_run, future.task_run)
        group.start_soon(worker.execute_task_run, future.task_run)
        await commits.state(future, "Running")
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert calls == [1]
    assert await outcome(future) == "ok"
    await worker.execute_task_run(future.task_run)  # finished: skipped
    assert calls == [1]


async def test_execute_task_run_shares_the_limit(orch: Orchestrator) -> None:
    gate = anyio.Event()

    @task(task_key="gated2")
    async def gated2(x: int) -> int:
        await gate.wait()
        return x

    commits = Commits(orch)
    worker = TaskWorker(gated2, orchestrator=orch, limit=1)
    first, second = orch.submit(gated2, 1), orch.submit(gated2, 2)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.execute_task_run, first.task_run)
        await commits.state(first, "Running")
        group.start_soon(worker.execute_task_run, second.task_run)
        await anyio.wait_all_tasks_blocked()
        assert second.state.name == "Scheduled"  # waits for the slot, unclaimed
        assert (worker.current_tasks, worker.available_tasks) == (1, 0)
        gate.set()
    assert [await outcome(first), await outcome(second)] == [1, 2]


async def test_execute_task_run_checks_its_argument(orch: Orchestrator) -> None:
    worker = TaskWorker(add, orchestrator=orch)
    with pytest.raises(InvalidArgument, match="takes a TaskRun"):
        await worker.execute_task_run("run")  # type: ignore[arg-type]


# -- stopping -------------------------------------------------------------------------------------
def gated_task(key: str, gate: anyio.Event, **options: Any) -> Task[[int], Any]:
    @task(task_key=key, **options)
    async def gated(x: int) -> int:
        await gate.wait()
        return x

    return gated


async def test_stop_lets_running_runs_finish_then_start_raises(orch: Orchestrator) -> None:
    gate = anyio.Event()
    gated = gated_task("stop_me", gate)
    commits = Commits(orch)
    worker = TaskWorker(gated, orchestrator=orch)
    raised: list[BaseException] = []

    async def serve_it() -> None:
        try:
            await worker.start()
        except StopTaskWorker as exc:
            raised.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(serve_it)
        future = orch.submit(gated, 1)
        await commits.state(future, "Running")
        worker.stop()
        assert worker.stopping
        assert worker.started  # still finishing its run
        later = orch.submit(gated, 2)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert [str(e) for e in raised] == [f"task worker {worker.client_id} was stopped"]
    assert await outcome(future) == 1
    assert later.state.name == "Scheduled"  # taken by nobody: the worker had stopped
    assert not serving(worker)
    assert worker.status().finished == {"stop_me": 1}
    assert orch.activity.workers == ()


async def test_stop_hands_back_runs_waiting_for_their_turn(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    start = clock.now()
    gate = anyio.Event()
    gated = gated_task("limited", gate, tags=["one"])
    orch.create_concurrency_limit("one", 1)
    commits = Commits(orch)
    worker = TaskWorker(gated, orchestrator=orch)
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        first, second = orch.submit(gated, 1), orch.submit(gated, 2)
        await commits.until(
            lambda: sorted([first.state.name, second.state.name]) == ["Pending", "Running"]
        )
        running, waiting = (first, second) if first.state.name == "Running" else (second, first)
        worker.stop()
        await commits.state(waiting, "AwaitingRetry")
        gate.set()
    assert history(orch, waiting, start) == [
        ("Scheduled", 0.0),
        ("Pending", 0.0),
        ("AwaitingRetry", 0.0),
    ]
    assert waiting.state.message == (
        "handed back before it started: the task worker stopped while the run waited for its turn"
    )
    assert waiting.task_run.run_count == 0  # it never ran: no attempt was spent
    assert orch.task_queues.for_key("limited").retry_count == 1
    assert names(orch, running)[-1] == "Completed"
    assert len(orch.pending_leases) == 0
    async with TaskWorker(gated, orchestrator=orch):  # another worker takes it over
        assert await outcome(waiting) in (1, 2)
    assert names(orch, waiting)[-3:] == ["Pending", "Running", "Completed"]


async def test_sigterm_stops_gracefully(orch: Orchestrator) -> None:
    worker = TaskWorker(add, orchestrator=orch)
    raised: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def serve_it() -> None:
            try:
                await worker.start()
            except StopTaskWorker as exc:
                raised.append(exc)

        group.start_soon(serve_it)
        assert await orch.submit(add, 1, 1).aresult() == 2
        worker.handle_sigterm(signal.SIGTERM, None)
        assert worker.stopping
    assert len(raised) == 1
    assert not serving(worker)


async def test_stop_from_another_thread(orch: Orchestrator) -> None:
    worker = TaskWorker(add, orchestrator=orch)
    async with anyio.create_task_group() as group:
        assert await group.start(worker.run) is worker
        await anyio.to_thread.run_sync(worker.stop)
    assert not serving(worker)
    assert worker.stopping


async def test_a_worker_serves_once_at_a_time(orch: Orchestrator) -> None:
    worker = TaskWorker(add, orchestrator=orch)
    async with worker:
        with pytest.raises(WorkerError, match="is serving already"):
            await worker.run()
        with pytest.raises(WorkerError, match="is serving already"):
            await worker.__aenter__()
    async with worker:  # and can serve again after it stopped
        assert await orch.submit(add, 2, 3).aresult() == 5
        assert not worker.stopping


async def test_a_timeout_stops_the_worker_quietly(orch: Orchestrator, clock: VirtualClock) -> None:
    worker = TaskWorker(add, orchestrator=orch)
    async with anyio.create_task_group() as group:
        group.start_soon(functools.partial(worker.start, timeout=30))
        await anyio.wait_all_tasks_blocked()
        assert worker.started
        assert clock.next_deadline() == clock.now() + timedelta(seconds=30)
        clock.advance(30)
    assert not serving(worker)  # start returned: no StopTaskWorker for a timeout
    with pytest.raises(InvalidArgument, match="timeout must be None or seconds"):
        await worker.run(timeout=-1)


async def test_an_error_in_the_block_cancels_the_worker(orch: Orchestrator) -> None:
    gate = anyio.Event()
    gated = gated_task("interrupted", gate)
    commits = Commits(orch)
    futures: list[TaskRunFuture[Any]] = []

    async def interrupted() -> None:
        async with TaskWorker(gated, orchestrator=orch):
            futures.append(orch.submit(gated, 1))
            await commits.state(futures[0], "Running")
            raise Boom("in the block")

    with pytest.raises(Boom, match="in the block"):
        await interrupted()
    future = futures[0]
    state = future.state
    assert (state.name, state.message) == ("Crashed", "Crashed: the task worker was cancelled")
    assert len(orch.result_store) == 0


# -- serve ----------------------------------------------------------------------------------------
async def test_serve_until_its_timeout(orch: Orchestrator, clock: VirtualClock) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    async with anyio.create_task_group() as group:
        worker = await group.start(functools.partial(serve, add, orchestrator=orch, timeout=60))
        assert isinstance(worker, TaskWorker)
        assert signal.getsignal(signal.SIGTERM) == worker.handle_sigterm
        assert await orch.submit(add, 20, 22).aresult() == 42
        clock.advance(60)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert not serving(worker)


async def test_serve_ends_quietly_on_sigterm(orch: Orchestrator) -> None:
    async with anyio.create_task_group() as group:
        worker = await group.start(functools.partial(serve, add, orchestrator=orch, limit=None))
        assert worker.limit is None
        assert await orch.submit(add, 1, 2).aresult() == 3
        signal.raise_signal(signal.SIGTERM)
    assert not serving(worker)


async def test_serve_from_a_thread_installs_no_handler(orch: Orchestrator) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    orch.submit(add, 1, 2)
    await anyio.to_thread.run_sync(functools.partial(serve_sync, add, orchestrator=orch, timeout=0))
    assert signal.getsignal(signal.SIGTERM) is previous


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_serve_sync(orch: Orchestrator, backend: str) -> None:
    future = orch.submit(add, 1, 2)
    serve_sync(add, orchestrator=orch, timeout=0, backend=backend)
    assert future.result() == 3

"""Drain helpers: run_until_idle, advance_to_next, fail-fast and the hang guard.

These tests drive runs with :class:`MiniWorker`, a few lines that do what a task worker
does (claim with PENDING, run, finish; WAIT for slots through ``wait_for_turn``) and
report to the orchestrator's activity as the real workers do.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import anyio
import attrs
import pytest

from orchestrator import (
    Completed,
    Crashed,
    Failed,
    Orchestrator,
    OrchestratorTimeout,
    Paused,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    StateDetails,
    SystemClock,
    TaskRun,
    TaskRunFailed,
    TaskRunPolicy,
    VirtualClock,
    WorkerError,
    task,
)
from orchestrator._engine._autojump import TimeSkipper, active_time_skipper
from orchestrator.testing import assert_state_times
from orchestrator.testing._drain import (
    DrainResult,
    DrainStalled,
    TaskFailure,
    advance_to_next,
    run_until_idle,
    run_until_idle_sync,
)
from orchestrator.testing._stall import MAX_LISTED, explain_waiting, waiting_runs
from orchestrator.workers import TaskWorker

START = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
DEFERRED = StateDetails(deferred=True)

Behaviour = Callable[[TaskRun], object]


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def make(**options: float) -> Orchestrator:
    return Orchestrator(VirtualClock(START), seed=0, **options)  # type: ignore[arg-type]


@attrs.frozen
class Status:
    """The part of a worker's status the drain reads."""

    in_flight: Mapping[str, Mapping[uuid.UUID, object]]


class MiniWorker:
    """Serve ``behaviours`` (task key -> function of the run) like a task worker would."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        behaviours: Mapping[str, Behaviour],
        *,
        limit: int = 10,
        threaded: bool = False,
    ) -> None:
        self.orchestrator = orchestrator
        self.behaviours = dict(behaviours)
        self.task_keys = tuple(behaviours)
        self.in_flight: dict[uuid.UUID, datetime] = {}
        self.calls: list[tuple[str, datetime]] = []
        self.limit = anyio.Semaphore(limit)
        self.threaded = threaded

    def status(self) -> Status:
        return Status({"any": dict(self.in_flight)})

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        orchestrator = self.orchestrator
        queue = orchestrator.multi_queue(self.task_keys)
        orchestrator.activity.add_worker(self)
        try:
            async with anyio.create_task_group() as group:
                task_status.started()
                while True:
                    await self.limit.acquire()
                    run = await queue.get()
                    self.in_flight[run.id] = orchestrator.clock.now()
                    group.start_soon(self._execute, run)
        finally:
            orchestrator.activity.remove_worker(self)

    async def _execute(self, run: TaskRun) -> None:
        orchestrator = self.orchestrator
        try:
            claim = orchestrator.set_task_run_state(run.id, Pending(details=DEFERRED))
            if claim.status is not SetStateStatus.ACCEPT:
                return
            while True:
                result = orchestrator.set_task_run_state(run.id, Running(details=DEFERRED))
                if result.status is not SetStateStatus.WAIT:
                    break
                await orchestrator.wait_for_turn(run.id, result)
            if result.status is not SetStateStatus.ACCEPT:
                return
            self.calls.append((run.name, orchestrator.clock.now()))
            behaviour = self.behaviours[run.task_key]
            try:
                if self.threaded:
                    orchestrator.activity.begin()
                    try:
                        value = await anyio.to_thread.run_sync(behaviour, run)
                    finally:
                        orchestrator.activity.end()
                else:
                    value = behaviour(run)
                    if callable(value):  # an async step: await what it returns
                        value = await value()
            except Exception as error:
                orchestrator.set_task_run_state(run.id, Failed(data=error, details=DEFERRED))
            else:
                orchestrator.set_task_run_state(run.id, Completed(data=value, details=DEFERRED))
        finally:
            del self.in_flight[run.id]
            self.limit.release()


def submit(
    orchestrator: Orchestrator,
    key: str,
    *,
    name: str | None = None,
    when: datetime | None = None,
    retries: int | None = None,
    delay: float | None = None,
    tags: tuple[str, ...] = (),
    flow_run_id: uuid.UUID | None = None,
) -> TaskRun:
    run, _ = orchestrator.create_task_run(
        key,
        name=name,
        state=Scheduled(when, deferred=True),
        policy=TaskRunPolicy(retries=retries, retry_delay=delay),
        tags=tags,
        flow_run_id=flow_run_id,
    )
    return run


def ok(run: TaskRun) -> object:
    return run.name


def fail(run: TaskRun) -> object:
    raise ValueError(f"{run.name} broke")


# -- driving work to completion -----------------------------------------------------------------


async def test_five_retries_a_minute_apart_end_at_exact_virtual_times() -> None:
    orchestrator = make()
    run = submit(orchestrator, "flaky", name="flaky", retries=5, delay=60)
    worker = MiniWorker(orchestrator, {"flaky": fail})
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        result = await run_until_idle(orchestrator, fail_fast=False)
        group.cancel_scope.cancel()
    retries = [
        (name, 60 * attempt)
        for attempt in range(1, 5)
        for name in ("Pending", "Retrying", "AwaitingRetry")
    ]
    assert_state_times(
        orchestrator,
        run,
        [
            ("Scheduled", 0),
            ("Pending", 0),
            ("Running", 0),
            ("AwaitingRetry", 0),
            *retries,
            ("Pending", 300),
            ("Retrying", 300),
            ("Failed", 300),
        ],
    )
    assert worker.calls == [("flaky", at(60 * attempt)) for attempt in range(6)]
    assert orchestrator.read_task_run(run.id).state == result.failures[0].state
    assert result == DrainResult(
        started=START,
        ended=at(300),
        jumps=5,
        finished=1,
        failures=(
            TaskFailure(
                run_id=run.id,
                name="flaky",
                task_key="flaky",
                state=orchestrator.read_task_run(run.id).state,  # type: ignore[arg-type]
            ),
        ),
    )
    assert isinstance(result.failures[0].exception, ValueError)


async def test_a_drain_of_mixed_work_skips_to_each_due_time() -> None:
    orchestrator = make(slot_wait_seconds=10)
    orchestrator.create_concurrency_limit("db", 1)
    now = submit(orchestrator, "a", name="now")
    later = submit(orchestrator, "b", name="later", when=at(3600))
    retried = submit(orchestrator, "flaky", name="retried", retries=1, delay=90)
    attempts: dict[uuid.UUID, int] = {}

    def flaky_once(run: TaskRun) -> object:
        attempts[run.id] = attempts.get(run.id, 0) + 1
        if attempts[run.id] == 1:
            raise RuntimeError("first attempt fails")
        return "second attempt"

    def hold_db(run: TaskRun) -> object:
        async def step() -> str:
            await orchestrator.clock.sleep(25)
            return run.name

        return step

    slotted = [submit(orchestrator, "db", name=f"db{index}", tags=("db",)) for index in range(3)]
    worker = MiniWorker(orchestrator, {"a": ok, "b": ok, "flaky": flaky_once, "db": hold_db})
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        result = await run_until_idle(orchestrator)
        group.cancel_scope.cancel()
    assert result.failures == ()
    assert result.finished == 6
    assert result.ended == at(3600)
    assert sorted(worker.calls) == [
        ("db0", at(0)),
        ("db1", at(25)),
        ("db2", at(50)),
        ("later", at(3600)),
        ("now", at(0)),
        ("retried", at(0)),
        ("retried", at(90)),
    ]
    for run in (now, later, retried, *slotted):
        assert orchestrator.read_task_run(run.id).state_type.name == "COMPLETED"  # type: ignore[union-attr]


async def test_the_drain_waits_for_runs_executing_in_threads() -> None:
    orchestrator = make()
    gate = threading.Event()
    run = submit(orchestrator, "slow", name="slow", retries=1, delay=30)
    calls = []

    def slow(run: TaskRun) -> object:
        calls.append(run.run_count)
        if len(calls) == 1:
            gate.wait()
            raise ValueError("once")
        return "done"

    worker = MiniWorker(orchestrator, {"slow": slow}, threaded=True)
    async with anyio.create_task_group() as group:
        await group.start(worker.run)

        async def release() -> None:
            await anyio.wait_all_tasks_blocked()
            assert orchestrator.clock.now() == START  # the thread holds the clock still
            gate.set()

        group.start_soon(release)
        result = await run_until_idle(orchestrator)
        group.cancel_scope.cancel()
    assert result.ended == at(30)
    assert worker.calls == [("slow", at(0)), ("slow", at(30))]
    assert orchestrator.read_task_run(run.id).state.data == "done"  # type: ignore[union-attr]


async def test_a_drain_with_nothing_to_do_returns_at_once() -> None:
    orchestrator = make()
    result = await run_until_idle(orchestrator)
    assert result == DrainResult(started=START, ended=START, jumps=0, finished=0, failures=())


async def test_a_running_time_skipper_is_held_during_a_drain_and_counts_its_jumps() -> None:
    orchestrator = make()
    run = submit(orchestrator, "k", when=at(120))
    worker = MiniWorker(orchestrator, {"k": ok})
    async with TimeSkipper(orchestrator) as skipper, anyio.create_task_group() as group:
        await group.start(worker.run)
        result = await run_until_idle(orchestrator)
        assert active_time_skipper(orchestrator) is skipper
        assert skipper.statistics().held == 0
        group.cancel_scope.cancel()
    assert result.jumps == 1
    assert skipper.statistics().jumps == 1
    assert worker.calls == [(run.name, at(120))]


async def test_on_the_system_clock_the_drain_waits_for_time_to_pass() -> None:
    orchestrator = Orchestrator(SystemClock(), seed=0)
    run = submit(orchestrator, "flaky", retries=1, delay=0.001)
    attempts = []

    def once(run: TaskRun) -> object:
        attempts.append(run.run_count)
        if len(attempts) == 1:
            raise ValueError("once")
        return "fine"

    worker = MiniWorker(orchestrator, {"flaky": once})
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        result = await run_until_idle(orchestrator, timeout=10)
        group.cancel_scope.cancel()
    assert result.jumps == 0
    assert result.finished == 1
    assert len(attempts) == 2
    assert orchestrator.read_task_run(run.id).state.data == "fine"  # type: ignore[union-attr]


# -- fail-fast -----------------------------------------------------------------------------


async def test_fail_fast_raises_the_tasks_own_exception_naming_the_run() -> None:
    orchestrator = make()
    run = submit(orchestrator, "bad", name="bad-run")
    other = submit(orchestrator, "ok", name="other", when=at(600))
    worker = MiniWorker(orchestrator, {"bad": fail, "ok": ok})
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        with pytest.raises(ValueError, match="bad-run broke") as caught:
            await run_until_idle(orchestrator)
        group.cancel_scope.cancel()
    assert caught.value.__notes__ == [
        f"task run 'bad-run' ({run.id}) ended Failed at 2026-01-01 00:00:00Z; raised by "
        "run_until_idle(fail_fast=True) (pass fail_fast=False to collect failures instead)"
    ]
    assert orchestrator.read_task_run(other.id).state_type.name == "SCHEDULED"  # type: ignore[union-attr]


async def test_fail_fast_raises_task_run_failed_when_the_state_holds_no_exception() -> None:
    orchestrator = make()
    run = submit(orchestrator, "k", name="crashy")

    def crash(task_run: TaskRun) -> object:
        orchestrator.set_task_run_state(task_run.id, Crashed(message="worker died"), force=True)
        return None

    worker = MiniWorker(orchestrator, {"k": crash})
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        with pytest.raises(
            TaskRunFailed, match=rf"task run 'crashy' \({run.id}\) ended Crashed at .*: worker died"
        ):
            await run_until_idle(orchestrator)
        group.cancel_scope.cancel()


async def test_failures_before_the_drain_are_not_its_business() -> None:
    orchestrator = make()
    old = submit(orchestrator, "k")
    orchestrator.set_task_run_state(old.id, Failed(data=ValueError("old")), force=True)
    result = await run_until_idle(orchestrator)
    assert result.failures == ()


# -- the hang guard ---------------------------------------------------------------------------


async def stalled(
    orchestrator: Orchestrator, worker: MiniWorker | None = None, *, max_idle_jumps: int = 1000
) -> DrainStalled:
    """Drain with ``worker`` serving; return the DrainStalled the drain raises."""
    async with anyio.create_task_group() as group:
        if worker is not None:
            await group.start(worker.run)
        with pytest.raises(DrainStalled) as caught:
            await run_until_idle(orchestrator, max_idle_jumps=max_idle_jumps)
        group.cancel_scope.cancel()
    return caught.value


async def test_a_key_nobody_serves_is_reported() -> None:
    orchestrator = make()
    run = submit(orchestrator, "orphan", name="lonely")
    done = submit(orchestrator, "k", name="served")
    error = await stalled(orchestrator, MiniWorker(orchestrator, {"k": ok}))
    assert [waiting.run_id for waiting in error.waiting] == [run.id]
    assert str(error) == (
        "the drain cannot finish: no unfinished task run can progress (the clock reads "
        f"{START.isoformat()}); 1 task run is unfinished:\n"
        f"- task run 'lonely' ({run.id}) is Scheduled since 2026-01-01 00:00:00Z: queued on "
        "task key 'orphan', due now, but no worker serves that key (start a TaskWorker with "
        "this task)\n"
        "    last decision: 2026-01-01T00:00:00+00:00 no state -> Scheduled: ACCEPT"
    )
    assert orchestrator.read_task_run(done.id).state_type.name == "COMPLETED"  # type: ignore[union-attr]


async def test_a_tag_limit_of_zero_is_reported_with_its_decision() -> None:
    orchestrator = make()
    orchestrator.create_concurrency_limit("gpu", 0)
    run = submit(orchestrator, "k", name="needs-gpu", tags=("gpu",))
    error = await stalled(orchestrator, MiniWorker(orchestrator, {"k": ok}))
    (waiting,) = error.waiting
    assert waiting.run_id == run.id
    assert waiting.state_name == "Pending"
    assert waiting.reason == "no worker is executing it (its last proposal was aborted)"
    assert waiting.last_decision is not None
    assert waiting.last_decision == (
        "2026-01-01T00:00:00+00:00 PENDING -> Running: ABORT (run is Pending) by "
        'SecureTaskConcurrencySlots: The concurrency limit on tag "gpu" is 0 and will '
        "deadlock if the task tries to run again."
    )


async def test_a_paused_flow_run_is_reported() -> None:
    orchestrator = make()
    flow = orchestrator.create_flow("f")
    flow_run = orchestrator.create_flow_run(flow.id, name="paused-flow", state=Paused())
    run = submit(orchestrator, "k", name="child", flow_run_id=flow_run.id)
    error = await stalled(orchestrator, MiniWorker(orchestrator, {"k": ok}))
    (waiting,) = error.waiting
    assert waiting.run_id == run.id
    assert waiting.state_name == "NotReady"
    assert waiting.reason == f"its flow run 'paused-flow' ({flow_run.id}) is PAUSED; resume it"


async def test_a_paused_task_run_of_a_running_flow_waits_to_be_resumed() -> None:
    orchestrator = Orchestrator(VirtualClock(START), seed=0, keep_decisions=False)
    flow_run = orchestrator.create_flow_run(orchestrator.create_flow("f").id, state=Running())
    alone = submit(orchestrator, "k", name="alone")
    child = submit(orchestrator, "k", name="child", flow_run_id=flow_run.id)
    for run in (alone, child):
        orchestrator.set_task_run_state(run.id, Paused(), force=True)
    error = await stalled(orchestrator)
    assert [(w.reason, w.last_decision) for w in error.waiting] == [
        ("it waits to be resumed", None),
        ("it waits to be resumed", None),
    ]
    assert "last decision" not in str(error)


async def test_a_slot_held_by_a_run_nobody_executes_is_reported_at_once() -> None:
    orchestrator = make(slot_wait_seconds=10)
    orchestrator.create_concurrency_limit("db", 1)
    holder, _ = orchestrator.create_task_run("manual", name="holder", tags=["db"])
    assert orchestrator.set_task_run_state(holder.id, Running()).status is SetStateStatus.ACCEPT
    waiter = submit(orchestrator, "k", name="waiter", tags=("db",))
    error = await stalled(orchestrator, MiniWorker(orchestrator, {"k": ok}))
    assert orchestrator.clock.now() == START
    reasons = {w.name: w.reason for w in error.waiting}
    assert reasons == {
        "holder": "no worker is executing it",
        "waiter": f"waits for a concurrency slot on 'db', but the slots are held by {holder.id}, "
        "which no worker is executing (or the limit is 0)",
    }
    assert [w.can_progress for w in error.waiting] == [False, False]
    assert waiter.id in {w.run_id for w in error.waiting}


async def test_a_task_waiting_on_its_own_child_with_no_capacity_left_is_reported() -> None:
    orchestrator = make()
    child_done = anyio.Event()

    def behaviour(run: TaskRun) -> object:
        if run.name == "child":
            child_done.set()
            return None
        submit(orchestrator, "k", name="child")
        return child_done.wait  # the only slot of the worker is its own

    parent = submit(orchestrator, "k", name="parent")
    error = await stalled(orchestrator, MiniWorker(orchestrator, {"k": behaviour}, limit=1))
    assert str(error).startswith("the drain cannot finish: nothing is executing and nothing is due")
    assert {w.name: (w.state_name, w.can_progress, w.reason) for w in error.waiting} == {
        "parent": ("Running", True, "a worker is executing it"),
        "child": ("Scheduled", True, "queued on task key 'k', due now"),
    }
    assert parent.id in {w.run_id for w in error.waiting}


async def test_a_task_polling_the_clock_for_ever_runs_out_of_idle_jumps() -> None:
    orchestrator = make()
    child: list[TaskRun] = []

    def behaviour(run: TaskRun) -> object:
        if run.name == "child":
            return None

        async def step() -> None:
            child.append(submit(orchestrator, "k", name="child"))
            while orchestrator.read_task_run(child[0].id).state_type.name != "COMPLETED":  # type: ignore[union-attr]
                await orchestrator.clock.sleep(10)

        return step

    submit(orchestrator, "k", name="parent")
    worker = MiniWorker(orchestrator, {"k": behaviour}, limit=1)
    error = await stalled(orchestrator, worker, max_idle_jumps=3)
    assert str(error).startswith(
        "the drain cannot finish: the clock jumped 3 times in a row and no task run changed "
        "state (the clock reads 2026-01-01T00:00:30+00:00)"
    )
    assert sorted(w.name for w in error.waiting) == ["child", "parent"]


async def test_a_run_on_no_queue_is_reported() -> None:
    orchestrator = make()
    run, _ = orchestrator.create_task_run("k", name="plain", state=Scheduled())
    error = await stalled(orchestrator, MiniWorker(orchestrator, {"k": ok}))
    assert [w.run_id for w in error.waiting] == [run.id]
    assert error.waiting[0].reason.startswith("it is on no task queue")


async def test_the_real_time_timeout_lists_what_waits() -> None:
    orchestrator = make()
    gate = threading.Event()
    run = submit(orchestrator, "k", name="blocked")
    worker = MiniWorker(orchestrator, {"k": lambda run: gate.wait()}, threaded=True)
    try:
        async with anyio.create_task_group() as group:
            await group.start(worker.run)
            with pytest.raises(OrchestratorTimeout) as caught:
                await run_until_idle(orchestrator, timeout=0.05)
            gate.set()
            group.cancel_scope.cancel()
    finally:
        gate.set()
    assert str(caught.value).startswith("run_until_idle gave up after 0.05 s of real time; ")
    assert f"task run 'blocked' ({run.id}) is Running" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be None or real seconds > 0"),
        ({"timeout": True}, "timeout must be None or real seconds > 0"),
        ({"max_idle_jumps": 0}, "max_idle_jumps must be an int >= 1"),
        ({"max_idle_jumps": True}, "max_idle_jumps must be an int >= 1"),
    ],
)
async def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await run_until_idle(make(), **options)  # type: ignore[arg-type]


# -- explain_waiting ---------------------------------------------------------------------------


def test_explain_waiting_with_nothing_waiting() -> None:
    assert explain_waiting(make()) == "no task run is waiting"


def test_explain_waiting_lists_the_stuck_first_and_cuts_long_lists() -> None:
    orchestrator = make()
    for index in range(MAX_LISTED + 5):
        submit(orchestrator, "orphan", name=f"r{index:02d}")
    text = explain_waiting(orchestrator)
    assert text.count("- task run ") == MAX_LISTED
    assert text.endswith("\n... and 5 more")
    assert len(waiting_runs(orchestrator)) == MAX_LISTED + 5


# -- advance_to_next ---------------------------------------------------------------------------


async def test_advance_to_next_moves_to_the_next_queued_due_time() -> None:
    orchestrator = make()
    submit(orchestrator, "k", when=at(90))
    submit(orchestrator, "k", when=at(30))
    assert await advance_to_next(orchestrator) == at(30)
    assert orchestrator.clock.now() == at(30)
    assert await advance_to_next(orchestrator) == at(90)
    assert await advance_to_next(orchestrator) is None
    assert orchestrator.clock.now() == at(90)


async def test_advance_to_next_lets_woken_work_settle() -> None:
    orchestrator = make()
    run = submit(orchestrator, "k", name="later", when=at(45))
    worker = MiniWorker(orchestrator, {"k": ok})
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        assert await advance_to_next(orchestrator) == at(45)
        assert orchestrator.read_task_run(run.id).state_type.name == "COMPLETED"  # type: ignore[union-attr]
        group.cancel_scope.cancel()


async def test_advance_to_next_holds_a_running_skipper() -> None:
    orchestrator = make()
    submit(orchestrator, "k", when=at(5))
    async with TimeSkipper(orchestrator) as skipper:
        assert await advance_to_next(orchestrator) == at(5)
        assert skipper.statistics().jumps == 1
        assert skipper.statistics().held == 0


async def test_a_run_deleted_while_draining_no_longer_counts() -> None:
    orchestrator = make()
    orphan = submit(orchestrator, "orphan", name="orphan", when=at(60))

    def cleanup(run: TaskRun) -> object:
        orchestrator.delete_task_run(orphan.id)
        return None

    submit(orchestrator, "k", name="cleaner", when=at(30))
    worker = MiniWorker(orchestrator, {"k": cleanup})
    async with anyio.create_task_group() as group:
        await group.start(worker.run)
        result = await run_until_idle(orchestrator)
        group.cancel_scope.cancel()
    assert (result.ended, result.finished, result.jumps) == (at(30), 1, 1)


# -- waiting_runs, on states set by hand ---------------------------------------------------------


class FakeWorker:
    """A registered worker that says which keys it serves and which runs it has in flight."""

    def __init__(self, task_keys: tuple[str, ...], in_flight: set[uuid.UUID]) -> None:
        self.task_keys = task_keys
        self.in_flight = in_flight

    def status(self) -> Status:
        return Status({key: dict.fromkeys(self.in_flight) for key in self.task_keys})


def test_a_claimed_run_told_to_wait_for_its_scheduled_time_can_progress() -> None:
    orchestrator = make()
    run, _ = orchestrator.create_task_run("k", state=Scheduled(at(60)))
    orchestrator.set_task_run_state(run.id, Pending())
    result = orchestrator.set_task_run_state(run.id, Running())
    assert result.status is SetStateStatus.WAIT
    orchestrator.activity.add_worker(FakeWorker(("k",), {run.id}))
    (waiting,) = waiting_runs(orchestrator)
    assert (waiting.can_progress, waiting.reason) == (
        True,
        "told to wait: Scheduled time is in the future",
    )


def test_a_wait_for_a_slot_held_by_a_run_in_flight_can_progress() -> None:
    orchestrator = make()
    orchestrator.create_concurrency_limit("db", 1)
    holder, _ = orchestrator.create_task_run("k", tags=["db"])
    waiter, _ = orchestrator.create_task_run("k", tags=["db", "unlimited"])
    orchestrator.set_task_run_state(holder.id, Running())
    assert orchestrator.set_task_run_state(waiter.id, Running()).status is SetStateStatus.WAIT
    orchestrator.activity.add_worker(object())  # not a ServingWorker: tells nothing
    orchestrator.activity.add_worker(FakeWorker(("k",), {holder.id, waiter.id}))
    reasons = {w.run_id: (w.can_progress, w.reason) for w in waiting_runs(orchestrator)}
    assert reasons == {
        holder.id: (True, "a worker is executing it"),
        waiter.id: (True, "waits for a concurrency slot on 'db', held by runs that are executing"),
    }


def test_a_wait_whose_slot_has_freed_can_progress() -> None:
    orchestrator = make()
    orchestrator.create_concurrency_limit("db", 1)
    holder, _ = orchestrator.create_task_run("k", tags=["db"])
    waiter, _ = orchestrator.create_task_run("k", tags=["db"])
    orchestrator.set_task_run_state(holder.id, Running())
    orchestrator.set_task_run_state(waiter.id, Running())
    orchestrator.set_task_run_state(holder.id, Completed())
    orchestrator.activity.add_worker(FakeWorker(("k",), {waiter.id}))
    (waiting,) = waiting_runs(orchestrator)
    assert (waiting.can_progress, waiting.reason) == (
        True,
        "told to wait: Concurrency limit reached for tags: db",
    )


# -- with the TaskWorker -------------------------------------------------------------------------


def fails_then_returns(failures: int, value: object) -> Callable[[], object]:
    """A function that raises ``failures`` times, then returns ``value``; it counts calls."""
    calls: list[int] = []

    def function() -> object:
        calls.append(len(calls))
        if len(calls) <= failures:
            raise ValueError(f"attempt {len(calls)} fails")
        return value

    function.calls = calls  # type: ignore[attr-defined]
    return function


def retry_times(retries: int, delay: float, final: str) -> list[tuple[str, float]]:
    """The state history of a background run retried ``retries`` times ``delay`` apart."""
    history: list[tuple[str, float]] = [("Scheduled", 0), ("Pending", 0), ("Running", 0)]
    for attempt in range(1, retries + 1):
        history += [("AwaitingRetry", delay * (attempt - 1)), ("Pending", delay * attempt)]
        history.append(("Retrying", delay * attempt))
    history.append((final, delay * retries))
    return history


async def serve_and_drain(worker: TaskWorker) -> DrainResult:
    """Serve with ``worker`` while draining its orchestrator (a drain error cancels it)."""
    async with worker:
        return await run_until_idle(worker.orchestrator)


async def test_five_retries_60_s_apart_through_a_task_worker_take_milliseconds() -> None:
    orchestrator = make()
    flaky = task(retries=5, retry_delay_seconds=60)(fails_then_returns(5, "finally"))
    async with TaskWorker(flaky, orchestrator=orchestrator):
        future = orchestrator.submit(flaky)
        result = await run_until_idle(orchestrator)
    assert future.result() == "finally"
    assert flaky.fn.calls == [0, 1, 2, 3, 4, 5]  # type: ignore[attr-defined]
    assert_state_times(orchestrator, future.task_run_id, retry_times(5, 60, "Completed"))
    assert (result.started, result.ended, result.jumps, result.finished) == (START, at(300), 5, 1)


async def test_a_time_skipper_lets_a_test_await_a_retried_future() -> None:
    orchestrator = make()

    @task(retries=3, retry_delay_seconds=[10, 100, 1000])
    async def flaky() -> str:
        if orchestrator.clock.now() < at(1110):
            raise RuntimeError("not yet")
        return "at last"

    async with TimeSkipper(orchestrator), TaskWorker(flaky, orchestrator=orchestrator):
        future = orchestrator.submit(flaky)
        value: object = await future.aresult()
    assert value == "at last"
    assert future.state.timestamp == at(1110)


async def test_a_drain_of_mixed_work_through_a_task_worker() -> None:
    orchestrator = make(slot_wait_seconds=10)
    orchestrator.create_concurrency_limit("db", 1)
    clock = orchestrator.clock

    @task(tags=["db"])
    async def query(n: int) -> int:
        await clock.sleep(20)
        return n

    @task(timeout_seconds=30)
    async def hangs() -> None:
        await anyio.sleep_forever()

    @task
    def later(x: int) -> int:
        return x + 1

    @task(cache_key_fn=lambda parameters: "same", cache_expiration=10_000)
    def cached() -> str:
        return "computed"

    worker = TaskWorker(query, hangs, later, cached, orchestrator=orchestrator)
    async with worker:
        queries = [orchestrator.submit(query, n) for n in range(3)]
        hung = orchestrator.submit(hangs)
        late = orchestrator.schedule(at(7200), later, 1)
        first = orchestrator.submit(cached)
        result = await run_until_idle(orchestrator, fail_fast=False)
        second = orchestrator.submit(cached)
        await run_until_idle(orchestrator)
    values: list[object] = [future.result() for future in queries]
    assert values == [0, 1, 2]
    assert sorted(str(future.state.timestamp) for future in queries) == [
        str(at(20)),
        str(at(40)),
        str(at(60)),
    ]
    assert (hung.state.name, hung.state.timestamp) == ("TimedOut", at(30))
    assert [failure.run_id for failure in result.failures] == [hung.task_run_id]
    assert (late.result(), late.state.timestamp) == (2, at(7200))
    assert (first.state.name, second.state.name, second.result()) == (
        "Completed",
        "Cached",
        "computed",
    )
    assert result.ended == at(7200)


async def test_fail_fast_through_a_task_worker() -> None:
    orchestrator = make()

    @task
    def broken() -> None:
        raise KeyError("missing")

    future = orchestrator.submit(broken)
    with pytest.raises(KeyError, match="missing") as caught:
        await serve_and_drain(TaskWorker(broken, orchestrator=orchestrator))
    assert str(future.task_run_id) in caught.value.__notes__[0]


async def test_hang_cases_through_a_task_worker() -> None:
    orchestrator = make()
    orchestrator.create_concurrency_limit("gpu", 0)
    flow_run = orchestrator.create_flow_run(orchestrator.create_flow("f").id, state=Paused())

    @task(tags=["gpu"])
    def needs_gpu() -> None:
        pass  # pragma: no cover - never runs

    @task
    def in_paused_flow() -> None:
        pass  # pragma: no cover - never runs

    @task
    def nobody_serves() -> None:
        pass  # pragma: no cover - never runs

    gpu = orchestrator.submit(needs_gpu)
    paused, _ = orchestrator.create_task_run(
        in_paused_flow.task_key, flow_run_id=flow_run.id, state=Scheduled(deferred=True)
    )
    unserved = orchestrator.submit(nobody_serves)
    worker = TaskWorker(needs_gpu, in_paused_flow, orchestrator=orchestrator)
    with pytest.raises(DrainStalled) as caught:
        await serve_and_drain(worker)
    reasons = {waiting.run_id: waiting.reason for waiting in caught.value.waiting}
    assert reasons == {
        gpu.task_run_id: "no worker is executing it (its last proposal was aborted)",
        paused.id: f"its flow run {flow_run.name!r} ({flow_run.id}) is PAUSED; resume it",
        unserved.task_run_id: f"queued on task key {nobody_serves.task_key!r}, due now, but no "
        "worker serves that key (start a TaskWorker with this task)",
    }


async def test_a_task_waiting_on_itself_through_a_task_worker() -> None:
    orchestrator = make()

    @task
    def child() -> int:
        return 1  # pragma: no cover - never runs: its parent holds the only slot

    @task
    async def parent() -> int:
        return await orchestrator.submit(child).aresult() + 1

    orchestrator.submit(parent)
    worker = TaskWorker(parent, child, orchestrator=orchestrator, limit=1)
    with pytest.raises(DrainStalled, match="nothing is executing and nothing is due") as caught:
        await serve_and_drain(worker)
    assert sorted(w.state_name for w in caught.value.waiting) == ["Running", "Scheduled"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_until_idle_sync_serves_the_tasks_then_stops(backend: str) -> None:
    orchestrator = make()
    flaky = task(retries=2, retry_delay_seconds=600)(fails_then_returns(2, 42))
    future = orchestrator.submit(flaky)
    result = run_until_idle_sync(orchestrator, flaky, backend=backend)
    assert future.result() == 42
    assert (result.ended, result.jumps) == (at(1200), 2)
    assert_state_times(orchestrator, future.task_run_id, retry_times(2, 600, "Completed"))
    assert orchestrator.activity.workers == ()


def test_run_until_idle_sync_without_tasks_only_drains() -> None:
    orchestrator = make()
    submit(orchestrator, "nobody")
    with pytest.raises(DrainStalled, match="no worker serves that key"):
        run_until_idle_sync(orchestrator)
    assert run_until_idle_sync(make()).jumps == 0


async def test_run_until_idle_sync_refuses_to_run_inside_an_event_loop() -> None:
    with pytest.raises(WorkerError, match=r"use `await run_until_idle\(orchestrator\)`"):
        run_until_idle_sync(make())


# -- under the pytest plugin (pytester) -----------------------------------------------------------

pytest_plugins = ["pytester"]

#: Third-party plugins the inner runs do without (see tests/test_plugin.py).
QUIET = ("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:asyncio")

USER_TESTS = """
import pytest

from orchestrator import task
from orchestrator.testing import assert_state_times, run_until_idle, run_until_idle_sync
from orchestrator.workers import TaskWorker

ATTEMPTS = []

@task(retries=5, retry_delay_seconds=600)
def flaky():
    ATTEMPTS.append(1)
    if len(ATTEMPTS) % 6:
        raise ValueError("not yet")
    return "done"

@task
def broken():
    raise KeyError("no such invoice")

@task
def forgotten():
    pass

EXPECTED = [("Scheduled", 0), ("Pending", 0), ("Running", 0)]
for attempt in range(1, 6):
    EXPECTED += [("AwaitingRetry", 600 * (attempt - 1)), ("Pending", 600 * attempt)]
    EXPECTED += [("Retrying", 600 * attempt)]
EXPECTED += [("Completed", 3000)]

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param

@pytest.mark.anyio
async def test_retries_async(orchestrator):
    async with TaskWorker(flaky, orchestrator=orchestrator):
        future = orchestrator.submit(flaky)
        await run_until_idle(orchestrator)
    assert future.result() == "done"
    assert_state_times(orchestrator, future.task_run_id, EXPECTED)

def test_retries_sync(orchestrator):
    future = flaky.delay()
    run_until_idle_sync(orchestrator, flaky)
    assert future.result() == "done"
    assert_state_times(orchestrator, future.task_run_id, EXPECTED)

def test_fail_fast(orchestrator):
    broken.delay()
    run_until_idle_sync(orchestrator, broken)

def test_hang_guard(orchestrator):
    forgotten.delay()
    run_until_idle_sync(orchestrator, flaky)
"""


def test_under_the_plugin_retries_take_exact_virtual_times_and_failures_surface(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest(*QUIET, "-p", "anyio")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*KeyError: 'no such invoice'",
            "*task run 'broken-*' (*) ended Failed at 2026-01-01 00:00:00Z: Task run "
            "encountered an exception: KeyError('no such invoice'); raised by "
            "run_until_idle(fail_fast=True)*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*DrainStalled: the drain cannot finish: no unfinished task run can progress*",
            "*- task run 'forgotten-*' (*) is Scheduled since 2026-01-01 00:00:00Z: queued on "
            "task key '*forgotten', due now, but no worker serves that key*",
        ]
    )

"""The ProcessWorker with real subprocesses (``sys.executable -c ...``) on a virtual clock.

The orchestrator's clock is virtual, so scheduled times, prefetch windows and health
windows are exact; the processes themselves run in real time. Nothing here sleeps or
polls: tests wait for the orchestrator's commits through an observer.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from orchestrator import (
    Cancelling,
    FlowRun,
    InvalidArgument,
    ObjectNotFound,
    Observer,
    Orchestrator,
    Pending,
    Rule,
    Scheduled,
    State,
    StateType,
    TransitionContext,
    VirtualClock,
    WorkerError,
    rule,
)
from orchestrator._pools._process_config import ProcessJobConfiguration
from orchestrator.policies import core_flow_policy
from orchestrator.workers._child import ENV_PARAMETERS_FILE, read_flow_run_parameters
from orchestrator.workers._healthcheck import HealthServer
from orchestrator.workers._process_worker import ProcessWorker, ProcessWorkerResult
from orchestrator.workers._processes import crash_message, explain_exit_code, start_process
from orchestrator.workers._run_states import RunHandle, RunStates

START = datetime(2026, 1, 1, tzinfo=UTC)
PY = sys.executable


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


class Commits(Observer):
    """Records flow-run commits and lets a test wait for one that matches."""

    def __init__(self) -> None:
        self.states: list[tuple[uuid.UUID, State]] = []
        self._waiters: list[tuple[Any, anyio.Event]] = []

    def flow_run_state_committed(self, run: FlowRun, state: State) -> None:
        self.states.append((run.id, state))
        for check, event in self._waiters:
            if check(run, state):
                event.set()

    async def wait(self, check: Any) -> None:
        event = anyio.Event()
        self._waiters.append((check, event))
        with anyio.fail_after(10):
            await event.wait()

    async def wait_final(self, run_ids: Iterable[uuid.UUID], orch: Orchestrator) -> None:
        pending = {i for i in run_ids if not orch.read_flow_run(i).state.is_final()}  # type: ignore[union-attr]
        if not pending:
            return

        def check(run: FlowRun, state: State) -> bool:
            if state.is_final():
                pending.discard(run.id)
            return not pending

        await self.wait(check)

    def running_order(self) -> list[uuid.UUID]:
        return [run_id for run_id, state in self.states if state.type is StateType.RUNNING]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    orchestrator = Orchestrator(clock=clock, seed=3)
    orchestrator.create_work_pool("pool")
    return orchestrator


@pytest.fixture
def commits(orch: Orchestrator) -> Commits:
    observer = Commits()
    orch.subscribe(observer)
    return observer


def deploy(orch: Orchestrator, code: str, **kwargs: Any) -> uuid.UUID:
    flow = orch.create_flow("flow")
    name = f"d-{len(orch.read_deployments())}"
    return orch.create_deployment(
        flow.id, name, work_pool_name="pool", command=[PY, "-c", code], **kwargs
    ).id


class WaitOnce:
    """A flow rule that WAITs the first proposal of Running, and records every proposal's time."""

    def __init__(self, delay_seconds: float) -> None:
        self.delay_seconds = delay_seconds
        self.proposed: list[datetime] = []  # ctx.now of each PENDING -> RUNNING proposal
        self.waited = anyio.Event()  # set when the WAIT is given
        self.rule: Rule = rule(from_states=[StateType.PENDING], to_states=[StateType.RUNNING])(
            self._before
        )

    def _before(self, ctx: TransitionContext) -> None:
        self.proposed.append(ctx.now)
        if len(self.proposed) == 1:
            ctx.wait(self.delay_seconds, "wait once")
            self.waited.set()


def waiting_orchestrator(clock: VirtualClock, wait: WaitOnce) -> Orchestrator:
    """An orchestrator whose flow policy is the core one plus ``wait``'s rule."""
    orchestrator = Orchestrator(clock=clock, seed=3, flow_policy=core_flow_policy() + wait.rule)
    orchestrator.create_work_pool("pool")
    return orchestrator


def pid_gone(pid: int) -> bool:
    """True when no live process has this pid (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


async def wait_for_exit(pid: int) -> None:
    """Wait (without polling) until a process that is not our child has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        with anyio.fail_after(5):
            await anyio.wait_readable(fd)
    finally:
        os.close(fd)


# -- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": True},
        {"prefetch_seconds": -1},
        {"heartbeat_seconds": 0},
        {"cancel_grace_seconds": "1"},
        {"name": "a/b"},
        {"work_queues": "default"},
    ],
    ids=str,
)
def test_bad_worker_settings_are_refused(orch: Orchestrator, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        ProcessWorker(orch, "pool", **kwargs)


def test_a_worker_needs_an_orchestrator() -> None:
    with pytest.raises(InvalidArgument, match="Orchestrator"):
        ProcessWorker(object(), "pool")  # type: ignore[arg-type]


async def test_an_unknown_pool_or_queue_is_an_error(orch: Orchestrator) -> None:
    with pytest.raises(ObjectNotFound, match="work pool 'nope'"):
        await ProcessWorker(orch, "nope").start(run_once=True)
    with pytest.raises(ObjectNotFound, match="work queue 'q'"):
        await ProcessWorker(orch, "pool", work_queues=["q"]).start(run_once=True)


def test_result_is_truthy_only_for_zero() -> None:
    assert ProcessWorkerResult(identifier="1", status_code=0)
    assert not ProcessWorkerResult(identifier="1", status_code=3)


@pytest.mark.parametrize(
    ("code", "words"),
    [(0, "cleanly"), (1, "general error"), (-9, "killed"), (137, "killed"), (-15, "terminated"),
     (143, "terminated"), (125, "container"), (126, "could not be executed"),
     (127, "not found"), (247, "memory"), (-6, "signal 6"), (2, "unexpected")],
)  # fmt: skip
def test_exit_codes_are_explained(code: int, words: str) -> None:
    assert words in explain_exit_code(code)
    assert crash_message(code).startswith(
        f"Flow run infrastructure exited with non-zero status code {code}. "
    )


# -- running flow runs ----------------------------------------------------------------------------


async def test_exit_codes_decide_the_final_state(orch: Orchestrator) -> None:
    deployment = deploy(orch, "import sys; print('working'); sys.exit(int(sys.argv[1]))")
    ok = orch.create_flow_run_from_deployment(deployment, job_variables={"command": [PY, "-c",
        "print('working')"]})  # fmt: skip
    three = orch.create_flow_run_from_deployment(
        deployment,
        job_variables={"command": [PY, "-c", "import sys; print('working'); sys.exit(3)"]},
    )
    lines: list[str] = []
    await ProcessWorker(orch, "pool").start(run_once=True, printer=lines.append)
    assert lines == ["working", "working"]
    assert ok.state is not None
    assert ok.state.type is StateType.COMPLETED
    assert [s.name for s in orch.read_flow_run_states(ok.id)] == [
        "Scheduled", "Pending", "Submitting", "Running", "Completed",
    ]  # fmt: skip
    assert three.state is not None
    assert three.state.type is StateType.CRASHED
    assert three.state.message == (
        "Flow run infrastructure exited with non-zero status code 3. The process exited "
        "with an unexpected status; its output should say why."
    )
    assert ok.infrastructure_pid is not None
    assert pid_gone(int(ok.infrastructure_pid))
    orch.check_invariants()


async def test_parameters_and_env_reach_the_child(orch: Orchestrator, tmp_path: Path) -> None:
    code = (
        "import os, orchestrator.workers._child as child; "
        "print(child.read_flow_run_parameters(), os.environ['GREETING'], os.getcwd())"
    )
    deployment = deploy(
        orch,
        code,
        parameters={"name": "ada", "n": 1},
        job_variables={"env": {"GREETING": "hi"}, "working_dir": str(tmp_path)},
    )
    run = orch.create_flow_run_from_deployment(deployment, parameters={"n": 2})
    lines: list[str] = []
    await ProcessWorker(orch, "pool").start(run_once=True, printer=lines.append)
    assert lines == [f"{{'name': 'ada', 'n': 2}} hi {tmp_path}"]
    assert run.state_type is StateType.COMPLETED
    assert [p async for p in anyio.Path(tmp_path).iterdir()] == []  # no parameters file left


async def test_a_temporary_working_directory_is_removed(orch: Orchestrator) -> None:
    deployment = deploy(orch, "import os; print(os.getcwd())")
    orch.create_flow_run_from_deployment(deployment)
    lines: list[str] = []
    await ProcessWorker(orch, "pool").start(run_once=True, printer=lines.append)
    [cwd] = lines
    assert "orchestrator-flow-run-" in cwd
    assert not await anyio.Path(cwd).exists()


async def test_inherit_env_false_passes_only_basics(
    orch: Orchestrator,
) -> None:
    code = "import os; print(sorted(k for k in os.environ if k.startswith('SECRET') or k == 'A'))"
    deployment = deploy(orch, code, job_variables={"env": {"A": "1"}, "inherit_env": False})
    orch.create_flow_run_from_deployment(deployment)
    lines: list[str] = []
    worker = ProcessWorker(orch, "pool", environ={"SECRET_TOKEN": "x", "PATH": os.defpath})
    await worker.start(run_once=True, printer=lines.append)
    assert lines == ["['A']"]


async def test_a_missing_command_crashes_the_run_naming_it(orch: Orchestrator) -> None:
    deployment = deploy(orch, "")
    run = orch.create_flow_run_from_deployment(
        deployment, job_variables={"command": ["no-such-program-xyz", "--flag"]}
    )
    await ProcessWorker(orch, "pool").start(run_once=True)
    assert run.state is not None
    assert run.state.type is StateType.CRASHED
    assert run.state.message is not None
    assert run.state.message.startswith(
        "Flow run could not start: the command 'no-such-program-xyz' was not found"
    )
    assert run.infrastructure_pid is None


async def test_a_run_without_command_crashes(orch: Orchestrator) -> None:
    flow = orch.create_flow("flow")
    run = orch.create_flow_run(flow.id, state=Scheduled(), work_pool_name="pool")
    await ProcessWorker(orch, "pool").start(run_once=True)
    assert run.state is not None
    assert run.state.type is StateType.CRASHED
    assert "has no command" in str(run.state.message)


async def test_an_unrenderable_job_crashes_the_run(orch: Orchestrator) -> None:
    template = orch.read_work_pool("pool").base_job_template
    orch.create_work_pool(
        "strict",
        base_job_template={**template, "job_configuration": {
            **template["job_configuration"], "name": "job-{{ missing }}"}},
    )  # fmt: skip
    flow = orch.create_flow("flow")
    deployment = orch.create_deployment(flow.id, "d", work_pool_name="strict", command=[PY])
    run = orch.create_flow_run_from_deployment(deployment.id)
    await ProcessWorker(orch, "strict", strict_templates=True).start(run_once=True)
    assert run.state is not None
    assert run.state.type is StateType.CRASHED
    assert str(run.state.message).startswith("Failed to submit flow run to infrastructure:")
    assert "missing" in str(run.state.message)


async def test_runs_of_a_deleted_deployment_are_cancelled(orch: Orchestrator) -> None:
    deployment = deploy(orch, "print('never')")
    run = orch.create_flow_run_from_deployment(deployment)
    orch.delete_deployment(deployment)
    lines: list[str] = []
    await ProcessWorker(orch, "pool").start(run_once=True, printer=lines.append)
    assert lines == []
    assert run.state is not None
    assert run.state.type is StateType.CANCELLED
    assert run.state.message == "The deployment of this flow run was deleted."


async def test_run_once_takes_one_pass_and_waits_for_its_runs(
    clock: VirtualClock, orch: Orchestrator
) -> None:
    deployment = deploy(orch, "print('ran')")
    due = [orch.create_flow_run_from_deployment(deployment) for _ in range(2)]
    later = orch.create_flow_run_from_deployment(deployment, state=Scheduled(at(60)))
    lines: list[str] = []
    worker = ProcessWorker(orch, "pool", limit=5)
    await worker.start(run_once=True, printer=lines.append)
    assert lines == ["ran", "ran"]
    assert [run.state_type for run in due] == [StateType.COMPLETED, StateType.COMPLETED]
    assert later.state_type is StateType.SCHEDULED
    assert worker.current_flow_runs == frozenset()
    assert not worker.started


async def test_a_running_proposal_told_to_wait_is_made_again_after_the_delay(
    clock: VirtualClock,
) -> None:
    wait = WaitOnce(7.25)
    orch = waiting_orchestrator(clock, wait)
    commits = Commits()
    orch.subscribe(commits)
    run = orch.create_flow_run_from_deployment(deploy(orch, "print('ran')"))
    lines: list[str] = []
    async with anyio.create_task_group() as group:
        group.start_soon(
            functools.partial(ProcessWorker(orch, "pool").start, True, False, lines.append)
        )
        with anyio.fail_after(10):
            await wait.waited.wait()
        # The process has started; the run stays Submitting until the WAIT's delay passed.
        assert run.infrastructure_pid is not None
        assert run.state_name == "Submitting"
        clock.advance(7.25)
        await commits.wait_final([run.id], orch)
    assert wait.proposed == [START, at(7.25)]
    assert [(s.name, s.timestamp) for s in orch.read_flow_run_states(run.id)] == [
        ("Scheduled", START),
        ("Pending", START),
        ("Submitting", START),
        ("Running", at(7.25)),
        ("Completed", at(7.25)),
    ]
    assert lines == ["ran"]


# -- concurrency, order and wake-ups ------------------------------------------------------------


CONCURRENCY_CHILD = """
import json, os, signal
log, pid = os.environ["LOG"], os.getpid()
with open(os.environ["ORCHESTRATOR_FLOW_RUN_PARAMETERS_FILE"]) as file:
    gated = json.load(file)["gated"]

def note(word):
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{word} {pid}\\n".encode())
    os.close(fd)

if gated:  # hold on until the test has seen the whole first batch running
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
note("start")
if gated:
    print(pid, flush=True)
    signal.sigwait({signal.SIGUSR1})
note("end")
"""


async def test_twenty_runs_two_queues_pool_limit_three(
    orch: Orchestrator, commits: Commits, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    orch.update_work_pool("pool", concurrency_limit=3)
    orch.create_work_queue("pool", "low", priority=5)
    orch.create_work_queue("pool", "high", priority=2)
    deployment = deploy(orch, CONCURRENCY_CHILD, job_variables={"env": {"LOG": str(log)}})
    # Scheduled times not in creation order; the three earliest high-priority runs are
    # the first batch (the pool's limit), and each of those waits for a signal.
    plan = [("low" if i % 2 else "high", -100 + (i * 7) % 20) for i in range(20)]
    first_batch = sorted(when for queue, when in plan if queue == "high")[:3]
    runs: dict[str, list[uuid.UUID]] = {"low": [], "high": []}
    for queue, when in plan:
        run = orch.create_flow_run_from_deployment(
            deployment,
            work_queue_name=queue,
            state=Scheduled(at(when)),
            parameters={"gated": queue == "high" and when in first_batch},
        )
        runs[queue].append(run.id)

    def by_time(ids: list[uuid.UUID]) -> list[uuid.UUID]:
        return sorted(ids, key=lambda i: (orch.read_flow_run(i).expected_start_time, ids.index(i)))

    gated: list[int] = []
    batch_running = anyio.Event()

    def printer(line: str) -> None:
        gated.append(int(line))
        if len(gated) == 3:
            batch_running.set()

    worker = ProcessWorker(orch, "pool")
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, False, printer)
        with anyio.fail_after(10):
            await batch_running.wait()
        for pid in gated:
            os.kill(pid, signal.SIGUSR1)
        await commits.wait_final([*runs["low"], *runs["high"]], orch)
        worker.stop()

    every = [*runs["high"], *runs["low"]]
    assert {orch.read_flow_run(i).state_type for i in every} == {StateType.COMPLETED}
    assert commits.running_order() == [*by_time(runs["high"]), *by_time(runs["low"])]
    lines = (await anyio.Path(log).read_text()).splitlines()
    running: set[str] = set()
    most = 0
    for line in lines:
        word, pid_text = line.split()
        if word == "start":
            running.add(pid_text)
            most = max(most, len(running))
        else:
            running.remove(pid_text)
    assert most == 3
    assert running == set()
    pids = {str(orch.read_flow_run(i).infrastructure_pid) for i in every}
    assert len(pids) == 20
    assert pids == {line.split()[1] for line in lines}
    orch.check_invariants()


async def test_the_worker_is_woken_by_new_work(orch: Orchestrator, commits: Commits) -> None:
    deployment = deploy(orch, "print('woken')")
    lines: list[str] = []
    worker = ProcessWorker(orch, "pool")
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, False, lines.append)
        assert worker.last_polled == START
        run = orch.create_flow_run_from_deployment(deployment)  # the clock never moves
        await commits.wait_final([run.id], orch)
        worker.stop()
    assert lines == ["woken"]


async def test_prefetched_runs_start_at_their_time(
    clock: VirtualClock, orch: Orchestrator, commits: Commits
) -> None:
    deployment = deploy(orch, "print('on time')")
    soon = orch.create_flow_run_from_deployment(deployment, state=Scheduled(at(5)))
    later = orch.create_flow_run_from_deployment(deployment, state=Scheduled(at(100)))
    worker = ProcessWorker(orch, "pool", prefetch_seconds=10)
    async with anyio.create_task_group() as group:
        await group.start(worker.start)
        assert soon.state_name == "Submitting"  # claimed within the prefetch window
        assert later.state_type is StateType.SCHEDULED
        await anyio.wait_all_tasks_blocked()
        assert clock.next_deadline() == at(5)  # the prefetched run waits for its time
        clock.advance(5)
        await commits.wait_final([soon.id], orch)
        assert soon.start_time == at(5)
        await anyio.wait_all_tasks_blocked()  # the worker has looked again since
        assert clock.next_deadline() == at(35)  # heartbeat: last poll at 5 + 30 s
        clock.set(at(90))  # 100 - the prefetch window
        await commits.wait(lambda run, state: run.id == later.id and state.name == "Submitting")
        clock.set(at(100))
        await commits.wait_final([later.id], orch)
        worker.stop()
    assert later.start_time == at(100)


async def test_the_worker_limit_caps_its_processes(orch: Orchestrator, commits: Commits) -> None:
    deployment = deploy(orch, "pass")
    runs = [orch.create_flow_run_from_deployment(deployment).id for _ in range(4)]
    worker = ProcessWorker(orch, "pool", limit=1)
    await worker.start(run_once=True)
    assert [orch.read_flow_run(i).state_type for i in runs] == [
        StateType.COMPLETED, StateType.SCHEDULED, StateType.SCHEDULED, StateType.SCHEDULED,
    ]  # fmt: skip
    async with anyio.create_task_group() as group:
        await group.start(worker.start)
        await commits.wait_final(runs, orch)
        worker.stop()
    assert len(commits.running_order()) == 4


# -- cancellation and stopping ---------------------------------------------------------------------


async def test_a_cancelled_run_is_terminated(orch: Orchestrator, commits: Commits) -> None:
    code = "import time; print('ready', flush=True); time.sleep(60)"
    run = orch.create_flow_run_from_deployment(deploy(orch, code))
    ready = anyio.Event()
    worker = ProcessWorker(orch, "pool", cancel_grace_seconds=5)
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, False, lambda line: ready.set())
        with anyio.fail_after(10):
            await ready.wait()
        assert orch.set_flow_run_state(run.id, Cancelling()).state is not None
        with anyio.fail_after(4):  # well within the grace period: SIGTERM was enough
            await commits.wait_final([run.id], orch)
        worker.stop()
    assert run.state is not None
    assert run.state.type is StateType.CANCELLED
    assert [s.type for s in orch.read_flow_run_states(run.id)][-2:] == [
        StateType.CANCELLING, StateType.CANCELLED,
    ]  # fmt: skip
    assert pid_gone(int(str(run.infrastructure_pid)))


async def test_a_process_ignoring_sigterm_is_killed(orch: Orchestrator, commits: Commits) -> None:
    code = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True); time.sleep(60)"
    )
    run = orch.create_flow_run_from_deployment(deploy(orch, code))
    pids: list[str] = []
    ready = anyio.Event()

    def printer(line: str) -> None:
        pids.append(line)
        ready.set()

    worker = ProcessWorker(orch, "pool", cancel_grace_seconds=0.2)
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, False, printer)
        with anyio.fail_after(10):
            await ready.wait()
        orch.set_flow_run_state(run.id, Cancelling())
        await commits.wait_final([run.id], orch)
        worker.stop()
    assert run.state_type is StateType.CANCELLED
    assert pid_gone(int(str(run.infrastructure_pid)))
    await wait_for_exit(int(pids[0]))  # the grandchild was killed with the process group


async def test_cancelling_a_prefetched_run_starts_nothing(
    clock: VirtualClock, orch: Orchestrator, commits: Commits
) -> None:
    run = orch.create_flow_run_from_deployment(
        deploy(orch, "print('never')"), state=Scheduled(at(5))
    )
    lines: list[str] = []
    worker = ProcessWorker(orch, "pool")
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, False, lines.append)
        assert run.state_name == "Submitting"
        orch.set_flow_run_state(run.id, Cancelling())
        await commits.wait_final([run.id], orch)
        worker.stop()
    assert lines == []
    assert run.state_type is StateType.CANCELLED
    assert run.infrastructure_pid is None


async def test_stop_lets_running_processes_finish(orch: Orchestrator) -> None:
    code = "import time; print('started', flush=True); time.sleep(0.2); print('finished')"
    run = orch.create_flow_run_from_deployment(deploy(orch, code))
    started = anyio.Event()
    lines: list[str] = []

    def printer(line: str) -> None:
        lines.append(line)
        started.set()

    worker = ProcessWorker(orch, "pool")
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, False, printer)
        with anyio.fail_after(10):
            await started.wait()
        worker.stop()
    assert run.state_type is StateType.COMPLETED
    assert lines == ["started", "finished"]


async def test_stop_gives_back_runs_not_started_yet(
    clock: VirtualClock, orch: Orchestrator
) -> None:
    run = orch.create_flow_run_from_deployment(
        deploy(orch, "print('never')"), state=Scheduled(at(5))
    )
    worker = ProcessWorker(orch, "pool")
    async with anyio.create_task_group() as group:
        await group.start(worker.start)
        assert run.state_name == "Submitting"
        worker.stop()
    assert clock.now() == START
    assert run.state is not None
    assert (run.state.type, run.state.details.scheduled_time) == (StateType.SCHEDULED, at(5))
    assert worker.current_flow_runs == frozenset()
    assert orch.next_scheduled_time("pool") == at(5)


async def test_a_worker_starts_once_at_a_time(orch: Orchestrator) -> None:
    worker = ProcessWorker(orch, "pool")
    async with anyio.create_task_group() as group:
        await group.start(worker.start)
        assert worker.started
        with pytest.raises(WorkerError, match="already started"):
            await worker.start()
        worker.stop()
    assert not worker.started


async def test_cancelling_the_worker_crashes_its_runs(orch: Orchestrator, commits: Commits) -> None:
    code = "import time; print('ready', flush=True); time.sleep(60)"
    deployment = deploy(orch, code)
    running = orch.create_flow_run_from_deployment(deployment)
    waiting = orch.create_flow_run_from_deployment(deployment, state=Scheduled(at(5)))
    ready = anyio.Event()
    worker = ProcessWorker(orch, "pool", cancel_grace_seconds=5)
    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, False, lambda line: ready.set())
        with anyio.fail_after(10):
            await ready.wait()
        group.cancel_scope.cancel()
    assert running.state is not None
    assert running.state.type is StateType.CRASHED
    assert running.state.message == "The worker stopped before the flow run finished."
    assert pid_gone(int(str(running.infrastructure_pid)))
    assert waiting.state is not None
    assert (waiting.state.type, waiting.state.details.scheduled_time) == (
        StateType.SCHEDULED,
        at(5),
    )
    assert orch.get_scheduled_flow_runs("pool", scheduled_before=at(5)) == [waiting]
    orch.check_invariants()


# -- health --------------------------------------------------------------------------------------


async def test_health_follows_the_last_poll(clock: VirtualClock, orch: Orchestrator) -> None:
    # A heartbeat longer than the health window: what a stuck worker looks like.
    worker = ProcessWorker(orch, "pool", heartbeat_seconds=100, health_window_seconds=60)
    assert not worker.health()

    def get(path: str) -> tuple[int, str]:
        address = worker.health_address
        assert address is not None
        url = f"http://{address[0]}:{address[1]}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    async with anyio.create_task_group() as group:
        await group.start(worker.start, False, True)
        assert worker.health()
        assert await anyio.to_thread.run_sync(get, "/health") == (200, '{"message": "OK"}')
        assert (await anyio.to_thread.run_sync(get, "/other"))[0] == 404
        clock.advance(60)
        assert worker.health()
        clock.advance(1)
        assert not worker.health()
        assert await anyio.to_thread.run_sync(get, "/health") == (
            503,
            '{"message": "Worker may be unresponsive at this time"}',
        )
        worker.stop()
    assert worker.health_address is None


# -- pieces ------------------------------------------------------------------------------------


async def test_run_executes_a_prepared_configuration(orch: Orchestrator) -> None:
    flow = orch.create_flow("flow")
    run = orch.create_flow_run(flow.id, parameters={"x": 1})
    configuration = ProcessJobConfiguration(command=[PY, "-c", "print('direct')"])
    lines: list[str] = []
    worker = ProcessWorker(orch, "pool")
    async with anyio.create_task_group() as group:
        pid = await group.start(
            functools.partial(worker.run, run, configuration, printer=lines.append)
        )
    assert isinstance(pid, int)
    assert lines == ["direct"]
    with pytest.raises(WorkerError, match="has no command"):
        await worker.run(run, ProcessJobConfiguration())
    unserialisable = orch.create_flow_run(flow.id, parameters={"x": object()})
    with pytest.raises(WorkerError, match="JSON"):
        await worker.run(unserialisable, configuration)


async def test_mark_running_serves_a_wait_on_the_clock_then_proposes_again(
    clock: VirtualClock,
) -> None:
    wait = WaitOnce(30.5)
    orch = waiting_orchestrator(clock, wait)
    flow = orch.create_flow("flow")
    run = orch.create_flow_run(flow.id, state=Scheduled(), work_pool_name="pool")
    states = RunStates(orch, "pool", "worker", strict=False, environ=None)
    assert states.claim(run)
    assert orch.set_flow_run_state(run.id, Pending(name="Submitting")).state is not None
    handle = RunHandle()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(states.mark_running, run, handle, 4321)
            await wait.waited.wait()
            await anyio.wait_all_tasks_blocked()
            assert clock.next_deadline() == at(30.5)  # the engine waits the WAIT's delay
            clock.advance(30)
            await anyio.wait_all_tasks_blocked()
            assert (wait.proposed, run.state_name) == ([START], "Submitting")
            clock.advance(0.5)
    assert wait.proposed == [START, at(30.5)]
    assert run.state is not None
    assert (run.state.name, run.state.timestamp) == ("Running", at(30.5))
    assert run.infrastructure_pid == "4321"
    assert not handle.cancel_requested
    assert clock.next_deadline() is None


def test_read_flow_run_parameters(tmp_path: Path) -> None:
    path = tmp_path / "parameters.json"
    path.write_text('{"a": [1, 2]}')
    assert read_flow_run_parameters({ENV_PARAMETERS_FILE: str(path)}) == {"a": [1, 2]}
    with pytest.raises(WorkerError, match="not started by a process worker"):
        read_flow_run_parameters({})
    with pytest.raises(WorkerError, match="cannot read"):
        read_flow_run_parameters({ENV_PARAMETERS_FILE: str(tmp_path / "missing.json")})
    path.write_text("[1]")
    with pytest.raises(WorkerError, match="holds list"):
        read_flow_run_parameters({ENV_PARAMETERS_FILE: str(path)})
    path.write_text("{")
    with pytest.raises(WorkerError, match="not JSON"):
        read_flow_run_parameters({ENV_PARAMETERS_FILE: str(path)})


async def test_start_process_refuses_shell_lines_and_missing_directories(tmp_path: Path) -> None:
    with pytest.raises(WorkerError, match="never run through a shell"):
        await start_process("echo hi", cwd=tmp_path, env={})  # a str is a Sequence[str]
    with pytest.raises(WorkerError, match="does not exist"):
        await start_process([PY], cwd=tmp_path / "nope", env={})
    with pytest.raises(WorkerError, match="could not be executed"):
        await start_process([str(tmp_path)], cwd=tmp_path, env={})


async def test_the_health_server_starts_once() -> None:
    server = HealthServer(lambda: True)
    host, port = await server.bind()
    assert (host, port > 0) == ("127.0.0.1", True)
    try:
        with pytest.raises(RuntimeError, match="already serving"):
            await server.bind()
    finally:
        await server.aclose()
    assert server.address is None
    await server.aclose()  # stopping twice is fine

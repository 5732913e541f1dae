"""The processes of the journal crash test: submit into a journal, drain from it.

Run as ``python -m tests.journal_jobs submit PATH COUNT [virtual]`` or
``python -m tests.journal_jobs drain PATH [virtual]``, or
``python -m tests.journal_jobs flows PATH COUNT`` (run flow runs until COUNT completed).
The task appends its run id to the file named by ``JOURNAL_JOBS_EXECUTIONS``
(opened with O_APPEND, one write per call), so
the test counts executions across processes. A drain prints one JSON line when it has
opened the journal (the completed run ids and the clock it found), then ``completed N``
after each run it completes, then ``drained``; ``flows`` prints the same for flow runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any

import anyio

from orchestrator import (
    FlowRunContext,
    Observer,
    Orchestrator,
    State,
    StateType,
    TaskRun,
    TaskRunContext,
    VirtualClock,
    flow,
    get_run_context,
    task,
)
from orchestrator.workers import TaskWorker

#: The environment variable naming the executions file.
EXECUTIONS = "JOURNAL_JOBS_EXECUTIONS"
#: How far each process moves a virtual clock before its work, in seconds.
HOUR = 3600.0


@task(task_key="journal_jobs.record", retries=1)
def record() -> None:
    """Append this run's id to the executions file, then take a little time."""
    context = get_run_context()
    assert isinstance(context, TaskRunContext)
    _note_execution(context.task_run_id)
    time.sleep(0.002)


@flow
def record_flow() -> None:
    """A flow run that records its id, then runs :func:`record` as a task run of its own."""
    context = get_run_context()
    assert isinstance(context, FlowRunContext)
    _note_execution(context.flow_run_id)
    record()


def _note_execution(run_id: uuid.UUID) -> None:
    """Append ``run_id`` to the executions file in one write (one line per execution)."""
    descriptor = os.open(os.environ[EXECUTIONS], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(descriptor, f"{run_id}\n".encode())
    finally:
        os.close(descriptor)


class Completions(Observer):
    """Prints ``completed N`` at each completion; sets ``done`` after ``expected``."""

    def __init__(self, expected: int) -> None:
        self.left = expected
        self.count = 0
        self.done = anyio.Event()

    def task_run_state_committed(self, run: TaskRun, state: State) -> None:
        """Count a completion once it is committed (and journaled)."""
        if state.type is StateType.COMPLETED:
            self.count += 1
            print(f"completed {self.count}", flush=True)
            self.left -= 1
            if not self.left:
                self.done.set()


def open_orchestrator(path: str, virtual: bool, count: int = 1000) -> Orchestrator:
    """The orchestrator on the journal at ``path`` (on a fresh virtual clock if asked)."""
    clock = VirtualClock() if virtual else None
    return Orchestrator(clock, journal=path, scheduled_queue_size=count + 1)


def submit(path: str, count: int, virtual: bool) -> None:
    """Submit ``count`` background runs of :func:`record` into the journal."""
    with open_orchestrator(path, virtual, count) as orchestrator:
        if virtual:
            orchestrator.clock.advance(HOUR)  # type: ignore[attr-defined]
        for _ in range(count):
            orchestrator.submit(record)


async def drain(path: str, virtual: bool) -> None:
    """Complete every run left in the journal with one worker (limit 10)."""
    with open_orchestrator(path, virtual) as orchestrator:
        runs = orchestrator.read_task_runs()
        completed = [str(run.id) for run in runs if run.state_type is StateType.COMPLETED]
        found: dict[str, Any] = {
            "completed": completed,
            "clock": orchestrator.clock.now().isoformat(),
        }
        print(json.dumps(found), flush=True)
        if virtual:
            orchestrator.clock.advance(HOUR)  # type: ignore[attr-defined]
        left = len(runs) - len(completed)
        completions = Completions(left)
        orchestrator.subscribe(completions)
        if left:
            worker = TaskWorker(record, orchestrator=orchestrator, limit=10)
            async with anyio.create_task_group() as group:
                await group.start(worker.run)
                await completions.done.wait()
                worker.stop()
    print("drained", flush=True)


def flows(path: str, count: int) -> None:
    """Run :func:`record_flow` until ``count`` flow runs completed in the journal."""
    with open_orchestrator(path, False) as orchestrator:
        runs = orchestrator.read_flow_runs()
        found: dict[str, Any] = {
            "completed": [str(run.id) for run in runs if run.state_type is StateType.COMPLETED],
            "other": {str(run.id): str(run.state_type) for run in runs},
        }
        print(json.dumps(found), flush=True)
        for number in range(len(found["completed"]), count):
            record_flow()
            print(f"completed {number + 1}", flush=True)
    print("drained", flush=True)


def main(argv: list[str]) -> None:
    """Run the command ``argv`` names (see the module's docstring)."""
    command, path, *rest = argv
    virtual = "virtual" in rest
    if command == "submit":
        submit(path, int(rest[0]), virtual)
    elif command == "flows":
        flows(path, int(rest[0]))
    else:
        anyio.run(drain, path, virtual)


if __name__ == "__main__":
    main(sys.argv[1:])

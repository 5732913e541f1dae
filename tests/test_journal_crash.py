"""A worker process killed mid-drain loses nothing its journal acknowledged.

Three real processes share one journal: the first submits 900 background runs, the
second drains them with a TaskWorker (limit 10) and is SIGKILLed once some runs have
completed, the third drains what is left. Every execution is appended to a file, so the
test sees what ran, and how often, across the processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Orchestrator, StateType, VirtualClock
from tests.journal_jobs import EXECUTIONS, HOUR

ROOT = Path(__file__).resolve().parent.parent
RUNS = 900
LIMIT = 10
KILL_AFTER = 300  # completions seen before the kill
DEADLINE = 30.0  # seconds any one process may take
VIRTUAL_START = VirtualClock().now()  # where a fresh virtual clock starts


@pytest.fixture
def folder() -> Iterator[Path]:
    """A fresh directory for the journal and the executions file."""
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def start(folder: Path, *args: str) -> subprocess.Popen[str]:
    """Start ``python -m tests.journal_jobs ARGS`` with its output piped to us."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    environment[EXECUTIONS] = str(folder / "executions")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.journal_jobs", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    """Wait (bounded) for ``process`` to succeed; return its output."""
    try:
        out, err = process.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, err
    return out


def drain_and_kill(
    folder: Path, *args: str, command: str = "drain", after: int = KILL_AFTER
) -> None:
    """Drain in a process and SIGKILL it once ``after`` completions are committed."""
    process = start(folder, command, *args)
    guard = threading.Timer(DEADLINE, process.kill)  # a hung drain cannot hang the test
    guard.start()
    try:
        assert process.stdout is not None
        seen = 0
        for line in process.stdout:
            if line.startswith("completed"):
                seen = int(line.split()[1])
                if seen >= after:
                    os.kill(process.pid, signal.SIGKILL)
                    break
        assert seen >= after, "the drain ended before the kill"
    finally:
        guard.cancel()
        process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL


def executions(folder: Path) -> list[str]:
    """Every run id executed so far, one per execution, in order."""
    return (folder / "executions").read_text().split()


def crash_and_recover(folder: Path, *args: str) -> tuple[dict[str, Any], list[str]]:
    """Submit, drain and kill, drain again; return what the last drain found at open."""
    journal = str(folder / "runs.db")
    finish(start(folder, "submit", journal, str(RUNS), *args))
    drain_and_kill(folder, journal, *args)
    before_kill = executions(folder)
    out = finish(start(folder, "drain", journal, *args)).splitlines()
    assert out[-1] == "drained"
    found: dict[str, Any] = json.loads(out[0])
    after = executions(folder)[len(before_kill) :]

    completed = set(found["completed"])
    # Observers hear of a change before its call commits the journal transaction (the
    # call's return is the acknowledgment), so the last completion printed may be lost;
    # each earlier one was committed before the next call could take the engine's lock.
    assert KILL_AFTER - 1 <= len(completed) < RUNS  # the kill came mid-drain
    assert not completed & set(after)  # no run committed Completed ran again
    counts = Counter(before_kill + after)
    twice = {run for run, count in counts.items() if count > 1}
    assert len(twice) <= LIMIT  # at most the runs in flight at the kill ran twice
    assert max(counts.values()) <= 2
    assert twice <= set(before_kill) - completed
    return found, before_kill + after


def final_runs(folder: Path, clock: VirtualClock | None = None) -> Orchestrator:
    """The orchestrator restored from the journal, checked."""
    orchestrator = Orchestrator(clock, journal=folder / "runs.db")
    orchestrator.check_invariants()
    return orchestrator


def test_a_killed_drain_loses_no_run_and_repeats_none_completed(folder: Path) -> None:
    _, ran = crash_and_recover(folder)
    with final_runs(folder) as orchestrator:
        runs = orchestrator.read_task_runs()
        assert len(runs) == RUNS
        assert {run.state_type for run in runs} == {StateType.COMPLETED}
        assert {str(run.id) for run in runs} == set(ran)  # every run ran


def test_a_virtual_clock_resumes_where_it_stopped(folder: Path) -> None:
    found, _ = crash_and_recover(folder, "virtual")
    # The first process moved the clock an hour, the killed one another before its
    # completions: the third found the clock past both, not at the virtual start.
    resumed = VirtualClock()
    with final_runs(folder, resumed) as orchestrator:
        assert str(found["clock"]) >= (VIRTUAL_START + timedelta(seconds=2 * HOUR)).isoformat()
        runs = orchestrator.read_task_runs()
        assert {run.state_type for run in runs} == {StateType.COMPLETED}
        # ... and the third process's own hour is there too once it closed.
        assert resumed.now() >= VIRTUAL_START + timedelta(seconds=3 * HOUR)
        last = max(run.state.timestamp for run in runs if run.state and run.state.timestamp)
        assert resumed.now() >= last


FLOW_RUNS = 200


def test_flow_runs_in_a_killed_process_end_crashed_and_completed_ones_stay(folder: Path) -> None:
    journal = str(folder / "runs.db")
    drain_and_kill(folder, journal, str(FLOW_RUNS), command="flows", after=KILL_AFTER // 3)
    before_kill = executions(folder)
    out = finish(start(folder, "flows", journal, str(FLOW_RUNS))).splitlines()
    assert out[-1] == "drained"
    found = json.loads(out[0])
    completed = set(found["completed"])
    assert KILL_AFTER // 3 - 1 <= len(completed) < FLOW_RUNS
    # The one flow run in flight at the kill (if its creation was committed) ended Crashed.
    unfinished = {run: kind for run, kind in found["other"].items() if run not in completed}
    assert len(unfinished) <= 1
    assert set(unfinished.values()) <= {str(StateType.CRASHED)}
    after = executions(folder)[len(before_kill) :]
    assert not completed & set(after)  # no completed flow run ran again
    assert max(Counter(before_kill + after).values()) == 1
    with final_runs(folder) as orchestrator:
        flow_runs = orchestrator.read_flow_runs()
        kinds = Counter(run.state_type for run in flow_runs)
        assert kinds[StateType.COMPLETED] == FLOW_RUNS
        assert set(kinds) <= {StateType.COMPLETED, StateType.CRASHED}
        finished = {run.id for run in flow_runs if run.state_type is StateType.COMPLETED}
        task_runs = [run for run in orchestrator.read_task_runs() if run.flow_run_id in finished]
        assert len(task_runs) == FLOW_RUNS
        assert {run.state_type for run in task_runs} == {StateType.COMPLETED}

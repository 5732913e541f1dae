"""Values a journal cannot store, met by a TaskWorker and at submission.

A task whose result the journal's serializer refuses ends Failed with a message naming
the run and the value, and the worker goes on serving; a submission whose parameters it
refuses raises and creates nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from orchestrator import JournalSerializationError, Orchestrator, VirtualClock, task
from orchestrator.testing import run_until_idle_sync


@task
def returns_a_lock() -> threading.Lock:
    return threading.Lock()


@task
def returns_one() -> int:
    return 1


@task
def takes(value: object) -> object:
    return value


def test_an_unstorable_result_fails_its_run_and_the_worker_serves_on(tmp_path: Path) -> None:
    with Orchestrator(VirtualClock(), journal=tmp_path / "runs.db") as orchestrator:
        bad = orchestrator.submit(returns_a_lock)
        good = orchestrator.submit(returns_one)
        result = run_until_idle_sync(orchestrator, returns_a_lock, returns_one, fail_fast=False)
        assert [failure.run_id for failure in result.failures] == [bad.task_run_id]
        run = orchestrator.read_task_run(bad.task_run_id)
        failed = run.state
        assert failed is not None
        assert failed.name == "Failed"
        assert failed.message is not None
        assert failed.message.startswith(f"the Completed state of task run '{run.name}' ({run.id})")
        assert "cannot pickle '_thread.lock' object" in failed.message
        assert orchestrator.read_task_run(good.task_run_id).state_name == "Completed"
    with Orchestrator(VirtualClock(), journal=tmp_path / "runs.db") as restored:
        assert restored.read_task_run(bad.task_run_id).state_name == "Failed"
        assert restored.read_task_run(good.task_run_id).state_name == "Completed"


def test_unstorable_parameters_refuse_the_submission(tmp_path: Path) -> None:
    with Orchestrator(VirtualClock(), journal=tmp_path / "runs.db") as orchestrator:
        with pytest.raises(JournalSerializationError, match="cannot be journaled") as caught:
            orchestrator.submit(takes, threading.Lock())
        assert isinstance(caught.value, TypeError)
        assert orchestrator.read_task_runs() == []
        orchestrator.check_invariants()

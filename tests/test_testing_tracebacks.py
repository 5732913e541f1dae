"""Failures of the assertion helpers and drains show the message, not the library's source."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

QUIET = ("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:randomly")

FAILING = """
import anyio
import pytest

from orchestrator import Completed, task
from orchestrator.testing import (
    assert_all_finished, assert_decided, assert_state_times, assert_states, make_task_run,
    run_until_idle, run_until_idle_sync,
)

@pytest.fixture
def anyio_backend():
    return "asyncio"

@task
def declined():
    raise ValueError("card declined")

@task
async def blocks():
    await anyio.sleep_forever()

def test_assert_states(orchestrator):
    run = make_task_run(orchestrator, "COMPLETED")
    assert_states(orchestrator, run, ["Pending", "Failed"])

def test_assert_state_times(orchestrator):
    run = make_task_run(orchestrator, "COMPLETED")
    assert_state_times(orchestrator, run, [("Pending", 5)])

def test_assert_decided(orchestrator):
    run = make_task_run(orchestrator, "PENDING")
    orchestrator.set_task_run_state(run.id, Completed(1), force=True)
    assert_decided(orchestrator, run, "CacheRetrieval")

def test_assert_all_finished(orchestrator):
    orchestrator.create_task_run("k")
    assert_all_finished(orchestrator)

def test_the_sync_drain_raises_the_task_failure(orchestrator):
    declined.delay()
    run_until_idle_sync(orchestrator, declined)

def test_the_sync_drain_stalls(orchestrator):
    blocks.delay()
    run_until_idle_sync(orchestrator, blocks)

@pytest.mark.anyio
async def test_the_drain_stalls(orchestrator, task_worker):
    await task_worker(blocks)
    blocks.delay()
    await run_until_idle(orchestrator)
"""


def test_failures_show_the_message_and_not_the_helpers_source(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FAILING)
    result = pytester.runpytest_inprocess(*QUIET, "-p", "no:asyncio")
    assert result.parseoutcomes() == {"failed": 7}
    out = result.stdout.str()
    # The messages are there, each test's own line marked as where it failed ...
    result.stdout.fnmatch_lines(
        [
            '>       assert_states(orchestrator, run, [[]"Pending", "Failed"[]])',
            "E       AssertionError: task run 'my-task-*' (*) went through other states than "
            "expected",
        ]
    )
    for expected in (
        '>       assert_state_times(orchestrator, run, [[]("Pending", 5)[]])',
        ">       assert_all_finished(orchestrator)",
        ">       run_until_idle_sync(orchestrator, declined)",
        "E       ValueError: card declined",
        ">       run_until_idle_sync(orchestrator, blocks)",
        ">       await run_until_idle(orchestrator)",
        "E       orchestrator.testing.DrainStalled: the drain cannot finish: nothing is "
        "executing and nothing is due*",
    ):
        result.stdout.fnmatch_lines([expected])
    # ... and no frame of the kit (nor the sync drain's event loop) is printed.
    for source in (
        "orchestrator/testing/",
        "raise AssertionError",
        "_raise_failure(",
        "raise _stalled(",
        "anyio/_core/_eventloop.py",
        "asyncio/runners.py",
    ):
        assert source not in out, (source, out)

"""refresh_cache travels with the run, whichever copy of the task the worker serves."""

from __future__ import annotations

from orchestrator import Orchestrator, VirtualClock, task
from orchestrator.testing import assert_states, run_until_idle_sync

CALLS: list[int] = []


@task(cache_key_fn=lambda parameters: "answer")
def compute(value: int) -> int:
    CALLS.append(value)
    return value


def test_a_refresh_submitted_through_a_copy_runs_the_function() -> None:
    CALLS.clear()
    orchestrator = Orchestrator(VirtualClock(), seed=3)
    first = orchestrator.submit(compute, 1)
    run_until_idle_sync(orchestrator, compute)
    cached = orchestrator.submit(compute, 2)
    refreshed = orchestrator.submit(compute.with_options(refresh_cache=True), 3)
    run_until_idle_sync(orchestrator, compute)  # serves the original task object
    assert CALLS == [1, 3]
    assert (first.result(), cached.result(), refreshed.result()) == (1, 1, 3)
    assert_states(orchestrator, cached, ["Scheduled", "Pending", "Cached"])
    assert_states(orchestrator, refreshed, ["Scheduled", "Pending", "Running", "Completed"])

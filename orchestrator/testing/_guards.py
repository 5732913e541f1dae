"""The teardown guard: find runs a test left unfinished and workers it left serving.

A run is *unfinished* when its state is SCHEDULED, PENDING, RUNNING or CANCELLING:
something was meant to move it on and did not. A PENDING "NotReady" run (a run it
depended on did not complete, so it never runs) is settled, not unfinished. PAUSED
runs wait for a person on purpose and terminal runs are done, so neither counts.
:func:`assert_all_finished` raises an :class:`AssertionError` that names each
unfinished run, its state and the last decision taken on it ("why is this run
waiting?"), and each worker still registered with the orchestrator's activity.

The pytest plugin calls it when a test opts in (see :mod:`orchestrator.testing`).
"""

from __future__ import annotations

from typing import Final

from .._core._checks_objects import check_instance
from .._core._models import FlowRun, TaskRun
from .._core._settled import is_not_ready
from .._core._states import StateType
from .._display import format_time
from .._engine._orchestrator import Orchestrator
from ..filters import FlowRunFilter, FlowRunFilterState, TaskRunFilter, TaskRunFilterState

__all__ = ["UNFINISHED_TYPES", "assert_all_finished", "unfinished_runs"]

#: The state types of a run someone still has to move on.
UNFINISHED_TYPES: Final = frozenset(
    {StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING}
)


def _by_creation(run: TaskRun | FlowRun) -> tuple[object, str]:
    return (run.created, str(run.id))


def unfinished_runs(orchestrator: Orchestrator) -> list[TaskRun | FlowRun]:
    """Return the task runs, then the flow runs, whose state is unfinished, oldest first.

    Uses the state-type indexes: O(log n + k) for k unfinished runs.

    Raises:
        InvalidArgument: ``orchestrator`` is not an Orchestrator.
    """
    check_instance(orchestrator, Orchestrator, "orchestrator")
    task_runs = orchestrator.read_task_runs(
        task_runs=TaskRunFilter(state=TaskRunFilterState(type=UNFINISHED_TYPES))
    )
    flow_runs = orchestrator.read_flow_runs(
        flow_runs=FlowRunFilter(state=FlowRunFilterState(type=UNFINISHED_TYPES))
    )
    runs: list[TaskRun | FlowRun] = sorted(
        (run for run in task_runs if not _not_ready(run)), key=_by_creation
    )
    runs.extend(sorted((run for run in flow_runs if not _not_ready(run)), key=_by_creation))
    return runs


def _not_ready(run: TaskRun | FlowRun) -> bool:
    # A NotReady run (an upstream run did not complete) never runs: it is settled.
    return run.state is not None and is_not_ready(run.state)


def _line(orchestrator: Orchestrator, run: TaskRun | FlowRun) -> str:
    kind = "task run" if isinstance(run, TaskRun) else "flow run"
    state = run.state
    assert state is not None  # unfinished runs have a state
    line = f"- {kind} {run.name!r} ({run.id}) is {state.name} since {format_time(state.timestamp)}"
    if state.type is StateType.SCHEDULED and state.details.scheduled_time is not None:
        line += f", due {format_time(state.details.scheduled_time)}"
    decisions = orchestrator.read_decisions(run.id)
    if decisions:
        line += f"\n    last decision: {decisions[-1].explain()}"
    return line


def assert_all_finished(orchestrator: Orchestrator) -> None:
    """Assert that no run is left unfinished and no worker is left serving.

    Unfinished runs are SCHEDULED, PENDING, RUNNING or CANCELLING; serving workers are
    those registered with ``orchestrator.activity`` (a worker registers while it serves).

    Raises:
        AssertionError: the message lists each unfinished run with its state, since when,
            and the last decision on it, then each worker still serving, and how to fix
            the test.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    runs = unfinished_runs(orchestrator)
    workers = orchestrator.activity.workers
    if not runs and not workers:
        return
    parts = []
    if runs:
        count = len(runs)
        parts.append(
            f"{count} run{' was' if count == 1 else 's were'} left unfinished "
            f"(the clock reads {format_time(orchestrator.clock.now())}):\n"
            + "\n".join(_line(orchestrator, run) for run in runs)
        )
    if workers:
        count = len(workers)
        parts.append(
            f"{count} worker{' is' if count == 1 else 's are'} still serving:\n"
            + "\n".join(f"- {worker!r}" for worker in workers)
        )
    raise AssertionError(
        "\n".join(parts)
        + "\nDrive the runs to a final state before the test ends (run the worker until "
        "idle, advance the clock) or delete them, stop the workers, or turn the check off "
        "for this test with @pytest.mark.orchestrator(check_unfinished=False)."
    )

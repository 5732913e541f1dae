"""Why is each unfinished task run waiting, and can anything in this process still move it?

The drain helpers ask this at every idle moment (no run executing, every event-loop
task blocked), and the answer is what their hang guard prints. It is public too:
``print(explain_waiting(orchestrator))`` in a test or a notebook tells what every
unfinished run waits for.

A task run is *unfinished* when it is SCHEDULED, PENDING, RUNNING, CANCELLING or
PAUSED, except a PENDING "NotReady" run: a run it depended on did not complete, so it
never runs; it is settled and nobody waits for it. At an idle moment a run *can
progress* when something still running could move it:

* SCHEDULED, on its task key's queue, and a worker serves that key (a worker
  registered with ``orchestrator.activity`` lists the key in ``task_keys``, or a
  consumer waits on the key's queue): it runs when it is due. Nobody serving the key,
  or a SCHEDULED run on no queue at all (not a background run), cannot progress.
* PENDING, RUNNING or CANCELLING and held by a registered worker (in its
  ``status().in_flight``): the worker is on it. A PENDING run told to WAIT for a
  concurrency slot progresses only if some run holding a slot of each full tag is
  itself held by a worker. A run no worker holds cannot progress (a claim that was
  aborted, a state forced by hand).
* PAUSED never progresses by itself: someone has to resume it (or its flow run).

The explanation of each run ends with the last decision the engine took on it, read
from the decision log.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol, final, runtime_checkable

import attrs

from .._core._checks import wrong_type
from .._core._checks_objects import check_instance
from .._core._outcomes import SetStateStatus
from .._core._settled import is_not_ready
from .._core._states import StateType
from .._display import format_time
from .._engine._orchestrator import Orchestrator
from ..filters import TaskRunFilter, TaskRunFilterState

if TYPE_CHECKING:
    from .._core._models import ConcurrencyLimit, TaskRun

__all__ = [
    "DRAIN_UNFINISHED_TYPES",
    "ServingStatus",
    "ServingWorker",
    "WaitingRun",
    "explain_waiting",
    "waiting_runs",
]

#: The state types of a task run a drain waits for.
DRAIN_UNFINISHED_TYPES: Final = frozenset(
    {
        StateType.SCHEDULED,
        StateType.PENDING,
        StateType.RUNNING,
        StateType.CANCELLING,
        StateType.PAUSED,
    }
)
_EXECUTING: Final = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})
#: How many waiting runs an explanation lists before it summarises the rest.
MAX_LISTED: Final = 20


class ServingStatus(Protocol):
    """The part of a worker's status the drain reads (a TaskWorkerStatus has it)."""

    @property
    def in_flight(self) -> Mapping[str, Mapping[uuid.UUID, object]]:
        """The runs the worker holds (claimed and not finished), per task key."""


@runtime_checkable
class ServingWorker(Protocol):
    """What the drain reads from a worker registered with ``orchestrator.activity``.

    :class:`~orchestrator.TaskWorker` has it. Workers without these attributes still
    count for "idle" (through the activity counter), but the drain cannot tell which
    keys they serve or which runs they hold.
    """

    @property
    def task_keys(self) -> Collection[str]:
        """The task keys the worker serves."""

    def status(self) -> ServingStatus:
        """What the worker is doing now; ``in_flight`` is read."""


@final
@attrs.frozen(kw_only=True)
class WaitingRun:
    """One unfinished task run, what it waits for, and whether it can still progress.

    Attributes:
        run_id, name, task_key: which run.
        state_type, state_name: its current state.
        since: when it entered that state (orchestrator clock).
        reason: what it waits for, in words.
        can_progress: whether something in this process may still move it.
        last_decision: the last decision taken on it, as one line (None if none).
    """

    run_id: uuid.UUID
    name: str
    task_key: str
    state_type: StateType
    state_name: str
    since: datetime | None
    reason: str
    can_progress: bool
    last_decision: str | None

    def explain(self) -> str:
        """Return the run's lines of a listing: who, what state since when, and why."""
        line = (
            f"- task run {self.name!r} ({self.run_id}) is {self.state_name} since "
            f"{format_time(self.since)}: {self.reason}"
        )
        if self.last_decision is not None:
            line += f"\n    last decision: {self.last_decision}"
        return line


@final
class _View:
    """What the workers and queues tell about serving, read once per diagnosis."""

    __slots__ = ("getters", "in_flight", "keys")

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.keys: dict[str, int] = {}
        self.in_flight: set[uuid.UUID] = set()
        for worker in orchestrator.activity.workers:
            if isinstance(worker, ServingWorker):
                for key in worker.task_keys:
                    self.keys[key] = self.keys.get(key, 0) + 1
                for runs in worker.status().in_flight.values():
                    self.in_flight.update(runs)
        queues = orchestrator.task_queues.statistics().queues
        self.getters = {key: stats.waiting_getters for key, stats in queues.items()}

    def serving(self, task_key: str) -> int:
        return self.keys.get(task_key, 0) or self.getters.get(task_key, 0)


def waiting_runs(orchestrator: Orchestrator) -> list[WaitingRun]:
    """Return every unfinished task run with what it waits for, oldest first.

    Meaningful at an idle moment (see the module docstring); at any other moment a run
    another task is about to move may be reported as unable to progress.

    Raises:
        InvalidArgument: ``orchestrator`` is not an Orchestrator.
    """
    check_instance(orchestrator, Orchestrator, "orchestrator")
    runs = orchestrator.read_task_runs(
        task_runs=TaskRunFilter(state=TaskRunFilterState(type=DRAIN_UNFINISHED_TYPES))
    )
    # A NotReady run (an upstream run did not complete) never runs: it is settled.
    runs = [run for run in runs if run.state is None or not is_not_ready(run.state)]
    if not runs:
        return []
    runs.sort(key=lambda run: (run.created, str(run.id)))
    view = _View(orchestrator)
    limits = {limit.tag: limit for limit in orchestrator.read_concurrency_limits()}
    return [_diagnose(orchestrator, view, limits, run) for run in runs]


def explain_waiting(orchestrator: Orchestrator, runs: Iterable[WaitingRun] | None = None) -> str:
    """Return a readable listing of the unfinished task runs and why each one waits.

    Args:
        orchestrator: whose runs to list.
        runs: the diagnosis to print; :func:`waiting_runs` now when None.

    Lists at most :data:`MAX_LISTED` runs (those that cannot progress first).

    Raises:
        InvalidArgument: ``orchestrator`` is not an Orchestrator, or ``runs`` not a
            collection of :class:`WaitingRun`.
    """
    check_instance(orchestrator, Orchestrator, "orchestrator")
    if runs is None:
        listed = waiting_runs(orchestrator)
    else:
        if not isinstance(runs, Iterable):
            raise wrong_type("runs", runs, "None or a list of WaitingRun (from waiting_runs)")
        listed = [check_instance(run, WaitingRun, "every entry of runs") for run in runs]
    if not listed:
        return "no task run is waiting"
    listed.sort(key=lambda run: run.can_progress)  # stable: the stuck ones first
    lines = [run.explain() for run in listed[:MAX_LISTED]]
    if len(listed) > MAX_LISTED:
        lines.append(f"... and {len(listed) - MAX_LISTED} more")
    return "\n".join(lines)


def _diagnose(
    orchestrator: Orchestrator, view: _View, limits: dict[str, ConcurrencyLimit], run: TaskRun
) -> WaitingRun:
    state = run.state
    assert state is not None  # unfinished runs have a state
    decisions = orchestrator.read_decisions(run.id)
    last = decisions[-1] if decisions else None
    kind = state.type
    if kind is StateType.SCHEDULED:
        can, reason = _scheduled(orchestrator, view, run)
    elif kind is StateType.PAUSED:
        can, reason = False, _paused(orchestrator, run)
    elif run.id not in view.in_flight:
        can, reason = False, "no worker is executing it"
        if last is not None and last.status is SetStateStatus.ABORT:
            reason += " (its last proposal was aborted)"
    elif kind is StateType.PENDING and last is not None and last.status is SetStateStatus.WAIT:
        can, reason = _waiting_for_slots(view, limits, run, last.reason)
    else:
        can, reason = True, "a worker is executing it"
    return WaitingRun(
        run_id=run.id,
        name=run.name,
        task_key=run.task_key,
        state_type=kind,
        state_name=state.name,
        since=state.timestamp,
        reason=reason,
        can_progress=can,
        last_decision=None if last is None else last.explain(),
    )


def _scheduled(orchestrator: Orchestrator, view: _View, run: TaskRun) -> tuple[bool, str]:
    if run.id not in orchestrator.task_queues:
        return False, (
            "it is on no task queue, so no worker will claim it (background runs are "
            "created deferred, by orchestrator.submit or task.delay)"
        )
    state = run.state
    assert state is not None
    due = state.details.scheduled_time or state.timestamp
    now = orchestrator.clock.now()
    when = "due now" if due is None or due <= now else f"due {format_time(due)}"
    serving = view.serving(run.task_key)
    if serving:
        return True, f"queued on task key {run.task_key!r}, {when}"
    return False, (
        f"queued on task key {run.task_key!r}, {when}, but no worker serves that key "
        "(start a TaskWorker with this task)"
    )


def _paused(orchestrator: Orchestrator, run: TaskRun) -> str:
    if run.flow_run_id is not None:
        flow_run = orchestrator.read_flow_run(run.flow_run_id)  # deleting it deletes `run`
        if flow_run.state_type is StateType.PAUSED:
            return f"its flow run {flow_run.name!r} ({flow_run.id}) is PAUSED; resume it"
    return "it waits to be resumed"


def _waiting_for_slots(
    view: _View, limits: dict[str, ConcurrencyLimit], run: TaskRun, reason: str | None
) -> tuple[bool, str]:
    full: list[str] = []
    holders: set[uuid.UUID] = set()
    for tag in sorted(run.tags):
        limit = limits.get(tag)
        if limit is None:
            continue
        active = limit.active_slots
        if run.id not in active and len(active) >= limit.concurrency_limit:
            full.append(tag)
            holders.update(active)
    if not full:
        return True, f"told to wait: {reason}" if reason else "told to wait"
    tags = ", ".join(repr(tag) for tag in full)
    if holders & view.in_flight:
        return True, f"waits for a concurrency slot on {tags}, held by runs that are executing"
    held_by = ", ".join(sorted(str(holder) for holder in holders)) or "nobody"
    return False, (
        f"waits for a concurrency slot on {tags}, but the slots are held by {held_by}, "
        "which no worker is executing (or the limit is 0)"
    )

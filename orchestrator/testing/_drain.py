"""Drain helpers: drive submitted work to completion, skipping time, failing fast, never hanging.

:func:`run_until_idle` is the "run everything I submitted" of a test::

    async with TaskWorker(flaky, orchestrator=orchestrator):
        future = orchestrator.submit(flaky)
        await run_until_idle(orchestrator)
    assert_states(orchestrator, future, ["Scheduled", "Pending", "Running", ...])

It waits for idle moments (no run executing in a thread, no run of the event loop doing
real work, every event-loop task blocked; see :mod:`orchestrator._engine._autojump`) and
at each one looks at the unfinished task runs (SCHEDULED, PENDING, RUNNING, CANCELLING,
PAUSED):

* none left: it returns a :class:`DrainResult`;
* on a :class:`~orchestrator.VirtualClock`, some can still progress: it jumps the clock
  to the next deadline (a retry delay, a scheduled time, a WAIT) and goes on; on the
  system clock it waits for the next change instead;
* **hang guard**: none can progress (a key nobody serves, a tag limit of 0, a paused
  flow run, a slot held by a run nobody executes; see
  :mod:`orchestrator.testing._stall`), nothing is due on the clock, or the clock jumped
  ``max_idle_jumps`` times in a row without any run changing state: it raises
  :class:`DrainStalled`, listing every waiting run, why it waits and the last decision
  taken on it;
* **fail-fast**: the first task run that ends FAILED or CRASHED while it drains is
  raised at once: the task's own exception, with a note naming the run (or
  :class:`~orchestrator.TaskRunFailed` when the state holds no exception). With
  ``fail_fast=False`` the failures are collected in :attr:`DrainResult.failures`;
* ``timeout`` (real seconds) is the last resort: :class:`~orchestrator.OrchestratorTimeout`
  with the same listing.

A :class:`~orchestrator.testing.TimeSkipper` running on the orchestrator is held while a
drain runs (the drain moves the clock itself) and resumes afterwards.

:func:`advance_to_next` is the manual step: settle, move the clock to the next due
event, settle again. :func:`run_until_idle_sync` does the whole thing from synchronous
code: an event loop, a task worker serving the given tasks, a drain, a clean stop.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import anyio

from .._core._checks_objects import check_choice
from .._core._clock import VirtualClock
from .._core._errors import (
    OrchestratorTimeout,
    TaskRunFailed,
    WorkerError,
)
from .._core._wakeup import Signal, current_async_library, wait_for_any
from .._engine._autojump import (
    TimeSkipper,
    active_time_skipper,
    next_due,
    virtual_clock_of,
    wait_until_idle,
)
from .._engine._orchestrator import Orchestrator
from ._drain_options import check_drain_options, drain_worker
from ._drain_results import DrainResult, DrainStalled, TaskFailure
from ._drain_watch import Watcher, report, unfinished
from ._progress import ProgressCallback, progress_reporter
from ._stall import WaitingRun, explain_waiting, waiting_runs

if TYPE_CHECKING:
    from .._core._tasks import Task
    from ..workers._worker_setup import ExecutorOption

__all__ = [
    "DrainResult",
    "DrainStalled",
    "TaskFailure",
    "advance_to_next",
    "run_until_idle",
    "run_until_idle_sync",
]


def _raise_failure(failure: TaskFailure) -> NoReturn:
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    note = (
        f"{failure.describe()}; raised by run_until_idle(fail_fast=True) "
        "(pass fail_fast=False to collect failures instead)"
    )
    error = failure.exception
    if error is None:
        raise TaskRunFailed(note)
    error.add_note(note)
    raise error


def _stalled(orchestrator: Orchestrator, why: str, waiting: Sequence[WaitingRun]) -> DrainStalled:
    count = len(waiting)
    return DrainStalled(
        f"the drain cannot finish: {why} (the clock reads "
        f"{orchestrator.clock.now().isoformat()}); {count} task "
        f"run{' is' if count == 1 else 's are'} unfinished:\n"
        + explain_waiting(orchestrator, waiting),
        waiting,
    )


async def run_until_idle(
    orchestrator: Orchestrator,
    *tasks: Task[..., Any],
    timeout: float | None = None,  # noqa: ASYNC109 - the listing needs the drain's own scope
    fail_fast: bool = True,
    max_idle_jumps: int = 1000,
    limit: int | None = 10,
    executor: ExecutorOption | None = None,
    progress: bool | ProgressCallback | None = None,
    progress_interval: float | None = None,
) -> DrainResult:
    """Drive the orchestrator's task runs until none is unfinished (see the module docstring).

    Without ``tasks``, workers must be serving in this event loop (for example ``async
    with TaskWorker(...)``): the drain moves time and watches, it executes nothing
    itself. With ``tasks``, a :class:`~orchestrator.TaskWorker` serves them for the
    drain (with ``limit`` and ``executor``) and is stopped after it.

    Args:
        orchestrator: whose runs to drive.
        *tasks: tasks for a worker of the drain's own to serve (made with ``@task``).
        timeout: real seconds before giving up (None: no limit; the hang guard still
            applies).
        fail_fast: raise the first task run that ends FAILED or CRASHED; when False,
            collect them in the result.
        max_idle_jumps: how many jumps of a virtual clock in a row may pass with no
            task run changing state before the drain gives up (a run waiting on a slot
            that never frees re-proposes forever otherwise).
        limit: the drain's worker's limit (runs at once), when ``tasks`` are given.
        executor: where the drain's worker runs task functions (an
            :class:`orchestrator.executors.Executor`, such as a ``ProcessPoolExecutor``
            or a ``DaskExecutor``), or executors by task as ``TaskWorker`` takes them; None:
            the event loop and threads. Not closed here.
        progress: True shows progress while the drain runs (a line on stderr, or an
            updating display in Jupyter); a callable gets a
            :class:`~orchestrator.testing.DrainProgress` when the counts change and once
            at the end (see :mod:`orchestrator.testing._progress`); None or False: nothing.
        progress_interval: the least real seconds between two reports (None: 0.1 s,
            or 2 s for lines written to a file; 0: every change the drain sees).

    Returns:
        What the drain did, with the failures when ``fail_fast`` is False.

    Raises:
        Exception: with ``fail_fast``, the exception of the first task run that failed.
        TaskRunFailed: with ``fail_fast``, a run that crashed or failed without one.
        DrainStalled: unfinished runs cannot progress; the message says why for each.
        OrchestratorTimeout: ``timeout`` ran out; the message lists the waiting runs.
        InvalidArgument: a bad ``orchestrator``, ``timeout``, ``fail_fast``,
            ``max_idle_jumps``, ``progress`` or ``progress_interval``.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    check_drain_options(orchestrator, timeout, fail_fast, max_idle_jumps)
    worker = drain_worker("run_until_idle", orchestrator, tasks, limit, executor)
    if worker is not None:
        async with worker:
            return await run_until_idle(
                orchestrator,
                timeout=timeout,
                fail_fast=fail_fast,
                max_idle_jumps=max_idle_jumps,
                progress=progress,
                progress_interval=progress_interval,
            )
    clock = orchestrator.clock
    reporter = progress_reporter(clock, progress, progress_interval)
    skipper = active_time_skipper(orchestrator)
    jumper = skipper
    if jumper is None and isinstance(clock, VirtualClock):
        jumper = TimeSkipper(orchestrator)  # never started: used for its jump() and counts
    jumps_before = 0 if jumper is None else jumper.statistics().jumps
    watcher = Watcher(reporter)
    started = clock.now()
    orchestrator.subscribe(watcher)
    before = 0 if reporter is None else unfinished(orchestrator)
    try:
        if reporter is not None:
            reporter.report(0, before, 0)
        with skipper.hold() if skipper is not None else contextlib.nullcontext():
            with anyio.move_on_after(timeout) as scope:
                await _drain(orchestrator, watcher, jumper, fail_fast, max_idle_jumps, before)
            if scope.cancelled_caught:
                waiting = waiting_runs(orchestrator)
                raise OrchestratorTimeout(
                    f"run_until_idle gave up after {timeout} s of real time; "
                    + explain_waiting(orchestrator, waiting)
                )
    finally:
        orchestrator.unsubscribe(watcher)
        if reporter is not None:
            report(reporter, watcher, before, final=True)
    return DrainResult(
        started=started,
        ended=clock.now(),
        jumps=0 if jumper is None else jumper.statistics().jumps - jumps_before,
        finished=watcher.finished,
        failures=tuple(watcher.failures),
    )


async def _drain(
    orchestrator: Orchestrator,
    watcher: Watcher,
    jumper: TimeSkipper | None,
    fail_fast: bool,
    max_idle_jumps: int,
    before: int,
) -> None:
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    activity = orchestrator.activity
    until_idle = functools.partial(wait_until_idle, activity)
    reporter = watcher.reporter
    idle_jumps = 0
    commits_at_jump = -1
    while True:
        # Wake for the first failure (with fail_fast), a progress report that is due
        # (with progress), or an idle moment.
        signals: list[tuple[Signal, int | None]] = []
        if fail_fast:
            signals.append((watcher.failed, watcher.failed.generation))
        due = None if reporter is None else reporter.due.generation
        if reporter is not None:
            signals.append((reporter.due, due))
        await wait_for_any(signals, until_idle) if signals else await until_idle()
        if fail_fast and watcher.failures:
            _raise_failure(watcher.failures[0])
        if reporter is not None and reporter.due.generation != due:
            report(reporter, watcher, before, final=False)
            continue  # back to waiting: an idle moment is seen at once
        # An idle moment: nothing changes until the clock moves (or a thread we do not
        # know of calls in).
        seen = watcher.changed.generation
        waiting = waiting_runs(orchestrator)
        if not waiting:
            return
        if not any(run.can_progress for run in waiting):
            raise _stalled(orchestrator, "no unfinished task run can progress", waiting)
        if jumper is None:  # the system clock: time passes by itself
            await wait_for_any([(watcher.changed, seen), (activity.changed, None)])
            continue
        idle_jumps = idle_jumps + 1 if watcher.commits == commits_at_jump else 0
        if idle_jumps >= max_idle_jumps:
            raise _stalled(
                orchestrator,
                f"the clock jumped {idle_jumps} times in a row and no task run changed state",
                waiting,
            )
        commits_at_jump = watcher.commits
        if jumper.jump() is None:
            raise _stalled(orchestrator, "nothing is executing and nothing is due", waiting)


async def advance_to_next(orchestrator: Orchestrator) -> datetime | None:
    """Let work settle, move the virtual clock to the next due event, let work settle again.

    The next due event is the earliest of a sleeper's deadline (a retry delay, a WAIT,
    a timeout, a worker waiting for a scheduled run) and a queued run's due time.

    Returns:
        The new time, or None (the clock unchanged) when nothing is due.

    Raises:
        InvalidArgument: the orchestrator does not run on a VirtualClock.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    clock = virtual_clock_of(orchestrator, "advance_to_next")
    activity = orchestrator.activity
    skipper = active_time_skipper(orchestrator)
    jumper = TimeSkipper(orchestrator) if skipper is None else skipper
    with skipper.hold() if skipper is not None else contextlib.nullcontext():
        await wait_until_idle(activity)
        target = next_due(orchestrator, clock)
        if target is None:
            return None
        jumper.jump(target)
        await wait_until_idle(activity)
    return target


def run_until_idle_sync(
    orchestrator: Orchestrator,
    *tasks: Task[..., Any],
    limit: int | None = 10,
    timeout: float | None = None,
    fail_fast: bool = True,
    max_idle_jumps: int = 1000,
    backend: str = "asyncio",
    executor: ExecutorOption | None = None,
    progress: bool | ProgressCallback | None = None,
    progress_interval: float | None = None,
) -> DrainResult:
    """From synchronous code: serve ``tasks`` with a TaskWorker until every run is done.

    Runs an event loop (``backend``: "asyncio" or "trio") in this thread, starts a
    :class:`~orchestrator.TaskWorker` for ``tasks`` (none: no worker, the drain only
    moves time), drives the orchestrator's task runs with :func:`run_until_idle`, then
    stops the worker and the loop. Every run goes through the real claims, policies and
    queues; only the waiting is collapsed::

        future = orchestrator.submit(send_invoice, 42)
        run_until_idle_sync(orchestrator, send_invoice)
        assert future.result() == "sent"

    Args:
        orchestrator: whose runs to drive.
        *tasks: the tasks to serve (made with ``@task``).
        limit: the worker's limit (runs at once, and threads for sync functions).
        timeout, fail_fast, max_idle_jumps, progress, progress_interval: as for
            :func:`run_until_idle`.
        backend: the event loop to run.
        executor: where the worker runs task functions (an
            :class:`orchestrator.executors.Executor`, such as a ``ProcessPoolExecutor`` or
            a ``DaskExecutor``), or executors by task as ``TaskWorker`` takes them;
            None: the event loop and threads. Not closed here.

    Returns:
        What the drain did.

    Raises:
        InvalidArgument: a bad option (as for :func:`run_until_idle`) or ``backend``,
            checked before any loop or worker starts.
        WorkerError: called from an event loop's thread (use ``await run_until_idle``).
        Exception: anything :func:`run_until_idle` raises. A drain that raises cancels
            the worker: runs it was executing are handed back or crashed.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this source
    check_drain_options(orchestrator, timeout, fail_fast, max_idle_jumps)
    check_choice(backend, "backend", ("asyncio", "trio"))
    progress_reporter(orchestrator.clock, progress, progress_interval)  # checks only
    library = current_async_library()
    if library is not None:
        raise WorkerError(
            f"run_until_idle_sync() would start an event loop inside this {library} loop; "
            "use `await run_until_idle(orchestrator)` with a TaskWorker serving instead"
        )
    drain = functools.partial(
        run_until_idle,
        orchestrator,
        timeout=timeout,
        fail_fast=fail_fast,
        max_idle_jumps=max_idle_jumps,
        progress=progress,
        progress_interval=progress_interval,
    )
    worker = drain_worker("run_until_idle_sync", orchestrator, tasks, limit, executor)
    raised: list[Exception] = []

    async def serve_and_drain() -> DrainResult | None:
        __tracebackhide__ = True
        # Caught here and raised below, so the traceback skips the event loop's frames.
        try:
            if worker is None:
                return await drain()
            async with worker:
                return await drain()
        except Exception as error:
            raised.append(error)
            return None

    result = anyio.run(serve_and_drain, backend=backend)
    if raised:
        raise raised[0]
    assert result is not None
    return result

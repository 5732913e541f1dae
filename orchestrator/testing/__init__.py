"""orchestrator.testing: the kit for testing code that uses ``orchestrator``, and rules.

Build an orchestrator on a :class:`~orchestrator.VirtualClock`, so every timer (retry
delays, scheduled times, waits) moves only when you move the clock and every timestamp
is exact; then assert on what happened::

    from orchestrator import Orchestrator, VirtualClock
    from orchestrator.testing import assert_states, make_task_run, state_times

    orchestrator = Orchestrator(VirtualClock(), seed=0)
    run = make_task_run(orchestrator, "COMPLETED")
    assert_states(orchestrator, run, ["Pending", "Running", "Completed"])

- Assertions: :func:`assert_states`, :func:`assert_state_times`, :func:`state_times`
  over a run's state history; :func:`assert_decided` and :func:`find_decisions` over the
  decision log. Failures print the history with its times and every decision.
- Factories: :func:`make_task_run` and :func:`make_flow_run` make runs in any state.
- Guards: :func:`assert_all_finished` and :func:`unfinished_runs` find runs a test
  left SCHEDULED, PENDING, RUNNING or CANCELLING.
- Rules: :func:`check_rule` checks a rule you wrote against the rule contract.
- Stubs: :func:`stub_task` makes one orchestrator's workers call a stub instead of a
  task's function (``returns=``, ``raises=``, a script of ``outcomes=`` such as fail,
  fail, succeed, or ``fn=``), recording each :class:`StubCall`; undo it with
  :meth:`TaskStub.undo` or a ``with`` block (the plugin's fixture undoes it at
  teardown).
- Drains and time: :func:`run_until_idle` (and :func:`run_until_idle_sync` from plain
  code) drives submitted runs to the end, skipping virtual time, raising the first task
  failure and refusing to hang (:class:`DrainStalled` says why each run waits, see
  :func:`explain_waiting`); :func:`advance_to_next` steps to the next due event;
  :class:`TimeSkipper` jumps the virtual clock whenever all work is idle.

The pytest plugin (loaded automatically once ``orchestrator`` is installed) provides the
``orchestrator`` and ``orchestrator_clock`` fixtures, the ``task_worker`` fixture
(a :class:`TaskWorkerFactory`: ``await task_worker(*tasks)`` in async tests) and the
``orchestrator`` marker; see :mod:`orchestrator.testing._plugin` for its options
(``autojump=True`` among them) and the teardown guard.

Notebooks and other running event loops: nothing in the library starts or blocks on an
event loop of its own. Creating runs, proposing states, reading and displaying them
are plain calls; everything that waits has an ``await`` form (``await future.wait_async()``,
``await future.result_async()``, ``await clock.sleep(...)``), so in Jupyter write
``await`` at the top level of a cell. The blocking ``future.wait()`` and
``future.result()`` of a background run refuse to run inside an event loop (it would stop
the very loop that finishes the run) and say which ``await`` to use instead.

This package holds the assertions, factories, guards, rule conformance checks, stubs,
drains and the stall explainer, and the pytest plugin with its fixtures. It may import
every wing of the package, the workers included, by their public names only (never
another object's private attributes). Start with ``_drain.py`` and ``_plugin.py``.
"""

from __future__ import annotations

import contextlib

from .._engine._autojump import TimeSkipper as TimeSkipper
from .._engine._autojump import TimeSkipperStatistics as TimeSkipperStatistics
from ._assertions import RunRef as RunRef
from ._assertions import StateSpec as StateSpec
from ._assertions import assert_decided as assert_decided
from ._assertions import assert_state_times as assert_state_times
from ._assertions import assert_states as assert_states
from ._assertions import find_decisions as find_decisions
from ._assertions import state_times as state_times
from ._conformance import check_rule as check_rule
from ._drain import DrainResult as DrainResult
from ._drain import DrainStalled as DrainStalled
from ._drain import TaskFailure as TaskFailure
from ._drain import advance_to_next as advance_to_next
from ._drain import run_until_idle as run_until_idle
from ._drain import run_until_idle_sync as run_until_idle_sync
from ._factories import make_flow_run as make_flow_run
from ._factories import make_task_run as make_task_run
from ._guards import UNFINISHED_TYPES as UNFINISHED_TYPES
from ._guards import assert_all_finished as assert_all_finished
from ._guards import unfinished_runs as unfinished_runs
from ._progress import DrainProgress as DrainProgress
from ._stall import ServingWorker as ServingWorker
from ._stall import WaitingRun as WaitingRun
from ._stall import explain_waiting as explain_waiting
from ._stall import waiting_runs as waiting_runs
from ._stubs import StubCall as StubCall
from ._stubs import StubExhausted as StubExhausted
from ._stubs import TaskStub as TaskStub
from ._stubs import stub_task as stub_task
from ._stubs import undo_stubs as undo_stubs
from ._worker_fixture import TaskWorkerFactory as TaskWorkerFactory

__all__ = (
    "DrainProgress",
    "DrainResult",
    "DrainStalled",
    "RunRef",
    "ServingWorker",
    "StateSpec",
    "StubCall",
    "StubExhausted",
    "TaskFailure",
    "TaskStub",
    "TaskWorkerFactory",
    "TimeSkipper",
    "TimeSkipperStatistics",
    "UNFINISHED_TYPES",
    "WaitingRun",
    "advance_to_next",
    "assert_all_finished",
    "assert_decided",
    "assert_state_times",
    "assert_states",
    "check_rule",
    "explain_waiting",
    "find_decisions",
    "make_flow_run",
    "make_task_run",
    "run_until_idle",
    "run_until_idle_sync",
    "state_times",
    "stub_task",
    "undo_stubs",
    "unfinished_runs",
    "waiting_runs",
)


def _rewrite_module_names() -> None:
    # Show public objects as ``orchestrator.testing.X`` in reprs and docs.
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("orchestrator.testing."):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = __name__


_rewrite_module_names()
del _rewrite_module_names

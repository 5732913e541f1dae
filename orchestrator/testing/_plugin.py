"""The pytest plugin of ``orchestrator``, registered through the ``pytest11`` entry point.

It is inert until a test asks for one of its fixtures: it adds one marker and one ini
option, and no hook runs for tests that do not use it.

Fixtures (function-scoped, sharing nothing between tests, so pytest-xdist is safe):

- ``orchestrator_clock``: a fresh :class:`~orchestrator.VirtualClock` starting at
  2026-01-01T00:00:00Z (or at the marker's ``start``), or the
  :class:`~orchestrator.SystemClock` when the test is marked ``system_clock=True``.
- ``orchestrator``: a fresh :class:`~orchestrator.Orchestrator` on that clock with
  the seed 0 (or the marker's ``seed``), current for the test (``task.delay()`` and
  ``Orchestrator.current()`` find it, in sync tests and in anyio async tests). With
  the marker's ``autojump=True`` it is built with ``autojump=True``: inside ``async
  with orchestrator:`` the virtual clock jumps whenever all work is idle. At teardown
  every task stub left on it (:func:`~orchestrator.testing.stub_task`) is undone.
- ``task_worker`` (async tests only): a :class:`~orchestrator.testing.TaskWorkerFactory`.
  ``worker = await task_worker(*tasks, limit=10)`` starts a
  :class:`~orchestrator.TaskWorker` serving ``tasks`` on the test's orchestrator and
  returns it once it takes runs; at teardown every worker it started is stopped
  (see :class:`~orchestrator.testing.TaskWorkerFactory`). A plain (sync) test has no
  event loop running between its lines, so no worker could serve there: its setup
  fails with a message naming :func:`~orchestrator.testing.run_until_idle_sync`, which
  serves the tasks itself for the length of its drain.

The marker configures them for one test, a class or a module (``pytestmark``); the
closest marker wins, keyword by keyword::

    @pytest.mark.orchestrator(seed=7, start=datetime(2030, 1, 1, tzinfo=UTC))
    def test_something(orchestrator, orchestrator_clock): ...

    @pytest.mark.orchestrator(system_clock=True)
    def test_on_real_time(orchestrator): ...

    @pytest.mark.orchestrator(autojump=True)
    async def test_retries(orchestrator, task_worker):
        await task_worker(flaky)
        async with orchestrator:  # the clock skips idle time from here
            assert await flaky.delay().aresult() == "done"

The teardown guard is off by default. Turn it on for one test (or module) with
``@pytest.mark.orchestrator(check_unfinished=True)``, or for the whole suite with the
ini option ``orchestrator_check_unfinished = true`` (and off again for one test with
``check_unfinished=False``). When it is on and the test passed, the ``orchestrator``
fixture's teardown fails (pytest reports an error at teardown) if any run is left
SCHEDULED, PENDING, RUNNING or CANCELLING, listing each with the last decision taken
on it, or if a worker is still serving. It stays quiet after a failed test, whose own
failure is the news.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, final

import attrs
import pytest

from ._worker_fixture import TaskWorkerFactory

if TYPE_CHECKING:
    from .._core._clock import Clock
    from .._engine._orchestrator import Orchestrator

__all__ = [
    "FixtureOptions",
    "fixture_options",
    "orchestrator",
    "orchestrator_clock",
    "task_worker",
]

MARKER: Final = "orchestrator"
INI_CHECK_UNFINISHED: Final = "orchestrator_check_unfinished"
_KEYWORDS: Final = ("autojump", "check_unfinished", "seed", "start", "system_clock")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini option that turns the teardown guard on for a whole suite."""
    parser.addini(
        INI_CHECK_UNFINISHED,
        type="bool",
        default=False,
        help="orchestrator fixture: fail a passing test at teardown if runs are left "
        "SCHEDULED, PENDING, RUNNING or CANCELLING (default: false)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``orchestrator`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        "orchestrator(*, seed=0, start=None, system_clock=False, autojump=False, "
        "check_unfinished=None): configure the orchestrator and orchestrator_clock "
        "fixtures for this test",
    )


@final
@attrs.frozen(kw_only=True)
class FixtureOptions:
    """The fixtures' settings for one test, from its markers and the ini file.

    Attributes:
        seed: the orchestrator's seed (ids and jitter).
        start: where the virtual clock starts (None: its default, 2026-01-01 UTC).
        system_clock: run on the real clock instead of a virtual one.
        autojump: build the orchestrator with ``autojump=True`` (virtual clock only).
        check_unfinished: fail the test at teardown if runs are left unfinished.
    """

    seed: int = 0
    start: datetime | None = None
    system_clock: bool = False
    autojump: bool = False
    check_unfinished: bool = False


def fixture_options(node: pytest.Item) -> FixtureOptions:
    """Merge the ``orchestrator`` markers of ``node`` (closest first) over the ini default.

    Raises:
        pytest.UsageError: a marker has positional arguments, an unknown keyword, or a
            value of the wrong type.
    """
    given: dict[str, Any] = {}
    for mark in node.iter_markers(MARKER):
        if mark.args:
            raise pytest.UsageError(
                f"{node.nodeid}: @pytest.mark.orchestrator takes keywords only "
                f"({', '.join(_KEYWORDS)}), got positional {mark.args!r}"
            )
        for key, value in mark.kwargs.items():
            if key not in _KEYWORDS:
                raise pytest.UsageError(
                    f"{node.nodeid}: @pytest.mark.orchestrator has no option {key!r}; "
                    f"the options are {', '.join(_KEYWORDS)}"
                )
            given.setdefault(key, value)
    check = given.get("check_unfinished")
    if check is None:
        check = node.config.getini(INI_CHECK_UNFINISHED)
    options = {**given, "check_unfinished": check}
    for key, kind in (
        ("seed", int),
        ("system_clock", bool),
        ("autojump", bool),
        ("check_unfinished", bool),
    ):
        value = options.get(key)
        if value is not None and (not isinstance(value, kind) or (kind is int and value is True)):
            raise pytest.UsageError(
                f"{node.nodeid}: @pytest.mark.orchestrator({key}=...) must be "
                f"{kind.__name__}, got {value!r}"
            )
    start = options.get("start")
    if start is not None and (not isinstance(start, datetime) or start.tzinfo is None):
        raise pytest.UsageError(
            f"{node.nodeid}: @pytest.mark.orchestrator(start=...) must be an aware datetime, "
            f"got {start!r}"
        )
    if start is not None and options.get("system_clock"):
        raise pytest.UsageError(
            f"{node.nodeid}: @pytest.mark.orchestrator cannot set a start on the system clock"
        )
    if options.get("autojump") and options.get("system_clock"):
        raise pytest.UsageError(
            f"{node.nodeid}: @pytest.mark.orchestrator(autojump=True) skips virtual time, "
            "so it cannot run on the system clock"
        )
    return FixtureOptions(**options)


@pytest.fixture
def orchestrator_clock(request: pytest.FixtureRequest) -> Clock:
    """A fresh VirtualClock (or the SystemClock with ``system_clock=True``) for this test."""
    from .._core._clock import SystemClock, VirtualClock

    options = fixture_options(request.node)
    if options.system_clock:
        return SystemClock()
    return VirtualClock(options.start)


@pytest.fixture
def orchestrator(
    request: pytest.FixtureRequest, orchestrator_clock: Clock
) -> Iterator[Orchestrator]:
    """A fresh Orchestrator on ``orchestrator_clock``, current for the test, guarded on request."""
    # Imported here so that loading the plugin, which pytest does in every project where
    # orchestrator is installed, costs nothing beyond the package itself.
    from .._engine._orchestrator import Orchestrator
    from ._guards import assert_all_finished
    from ._stubs import undo_stubs

    options = fixture_options(request.node)
    instance = Orchestrator(orchestrator_clock, seed=options.seed, autojump=options.autojump)
    failed_before = request.session.testsfailed
    with instance:
        yield instance
    undo_stubs(instance)
    # session.testsfailed counts the failed call reports logged so far, so it has grown
    # by now if this test failed: stay quiet then, the failure itself is the news.
    if options.check_unfinished and request.session.testsfailed == failed_before:
        problem = None
        try:
            assert_all_finished(instance)
        except AssertionError as error:
            problem = f"{request.node.nodeid}: {error}"
        if problem is not None:  # failed outside the except: no chained traceback
            pytest.fail(problem, pytrace=False)


@pytest.fixture
async def task_worker(
    request: pytest.FixtureRequest, orchestrator: Orchestrator, anyio_backend: object
) -> AsyncIterator[TaskWorkerFactory]:
    """Start TaskWorkers on the test's orchestrator, stopped at teardown (async tests only)."""
    # Asking for anyio_backend puts anyio's plugin in charge of this fixture even for a
    # sync test, so such a test gets the error below instead of pytest's generic one.
    if not inspect.iscoroutinefunction(request.function):
        pytest.fail(
            f"{request.node.nodeid}: the task_worker fixture serves in the test's event "
            "loop, and a plain (sync) test runs with no loop running between its lines; "
            "make the test async (anyio), or call run_until_idle_sync(orchestrator, "
            "*tasks), which serves the tasks itself while it drains",
            pytrace=False,
        )
    # anyio runs an async fixture's setup, the test and the teardown in one task, so the
    # factory's task group may stay open across the yield.
    async with TaskWorkerFactory(orchestrator) as factory:
        yield factory

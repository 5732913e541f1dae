"""The pytest plugin of ``orchestrator``: its fixtures, marker and options.

pytest loads the plugin through the ``pytest11`` entry point, which names the small
module :mod:`orchestrator._pytest_entry` (it imports nothing of the package, so that
loading it costs a project that never uses the fixtures nothing: the package is imported
the first time a test asks for one). Its fixtures call the functions here. The plugin
adds one marker and one ini option, and no hook runs for tests that do not use it.

Fixtures (function-scoped, sharing nothing between tests, so pytest-xdist is safe):

- ``orchestrator_clock``: a fresh :class:`~orchestrator.VirtualClock` starting at
  2026-01-01T00:00:00Z (or at the marker's ``start``), or the
  :class:`~orchestrator.SystemClock` when the test is marked ``system_clock=True``.
- ``orchestrator``: a fresh :class:`~orchestrator.Orchestrator` on that clock with
  the seed 0 (or the marker's ``seed``), current for the test (``task.delay()`` and
  ``Orchestrator.current()`` find it, in sync and async tests). With the marker's
  ``autojump=True`` it is built with ``autojump=True``: inside ``async with
  orchestrator:`` the virtual clock jumps whenever all work is idle. At teardown every
  task stub left on it (:func:`~orchestrator.testing.stub_task`) is undone.
- ``task_worker`` (async tests only): a :class:`~orchestrator.testing.TaskWorkerFactory`.
  ``worker = await task_worker(*tasks, limit=10)`` starts a
  :class:`~orchestrator.TaskWorker` serving ``tasks`` on the test's orchestrator and
  returns it once it takes runs; at teardown every worker it started is stopped
  (see :class:`~orchestrator.testing.TaskWorkerFactory`). Its workers serve on the
  event loop the test runs on, whichever plugin runs it: anyio's (``@pytest.mark.anyio``
  or ``anyio_mode = "auto"``; asyncio or trio) or pytest-asyncio (``@pytest.mark.asyncio``
  in strict mode, every async test in auto mode; any ``loop_scope``). An async test no
  plugin runs fails at setup with a message naming the marker or mode to use. A plain
  (sync) test has no event loop running between its lines, so no worker could serve
  there: its setup fails with a message naming
  :func:`~orchestrator.testing.run_until_idle_sync`, which serves the tasks itself for
  the length of its drain.

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
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, final

import attrs
import pytest

from .._pytest_entry import INI_CHECK_UNFINISHED, LOOP_SCOPES, MARKER
from ._worker_fixture import task_workers_in_own_task as task_workers_in_own_task

if TYPE_CHECKING:
    from .._core._clock import Clock
    from .._engine._orchestrator import Orchestrator

__all__ = [
    "FixtureOptions",
    "clock_for_test",
    "fixture_options",
    "orchestrator_for_test",
    "task_worker_fixture_name",
    "task_workers_in_own_task",
]

_KEYWORDS: Final = ("autojump", "check_unfinished", "seed", "start", "system_clock")


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


def clock_for_test(request: pytest.FixtureRequest) -> Clock:
    """The ``orchestrator_clock`` fixture: a fresh clock as the test's markers ask."""
    from .._core._clock import SystemClock, VirtualClock

    options = fixture_options(request.node)
    if options.system_clock:
        return SystemClock()
    return VirtualClock(options.start)


def orchestrator_for_test(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Orchestrator]:
    """The ``orchestrator`` fixture: a fresh Orchestrator, current for the test, guarded."""
    from .._engine._orchestrator import Orchestrator
    from ._guards import assert_all_finished
    from ._stubs import undo_stubs

    options = fixture_options(request.node)
    instance = Orchestrator(clock, seed=options.seed, autojump=options.autojump)
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


def task_worker_fixture_name(request: pytest.FixtureRequest) -> str:
    """The async fixture that gives ``task_worker`` on the loop of the plugin running the test.

    Fails the test's setup (``pytest.fail``) with the marker or mode to use when the test
    is sync or no plugin runs it.
    """
    node = request.node
    plugins = request.config.pluginmanager
    with_anyio = plugins.has_plugin("anyio")
    with_asyncio = plugins.has_plugin("asyncio")
    if not inspect.iscoroutinefunction(getattr(node, "function", None)):
        pytest.fail(
            f"{node.nodeid}: the task_worker fixture serves in the test's event "
            "loop, and a plain (sync) test runs with no loop running between its lines; "
            "make the test async (anyio), or call run_until_idle_sync(orchestrator, "
            "*tasks), which serves the tasks itself while it drains",
            pytrace=False,
        )
    # pytest-asyncio runs every test with its marker (its auto mode adds the marker to
    # every async test, those marked for anyio too, and runs them on asyncio); anyio's
    # plugin every other test with the anyio_backend fixture (its marker and auto mode
    # add it).
    marker = node.get_closest_marker("asyncio")
    if with_asyncio and marker is not None:
        if with_anyio and "anyio_backend" in request.fixturenames:
            pytest.fail(
                f"{node.nodeid}: this test is marked for both pytest-asyncio and anyio's "
                "plugin, which then both run its async fixtures (pytest-asyncio runs the "
                "test itself, on asyncio whatever anyio_backend says), so task_worker "
                "cannot serve on its loop: drop @pytest.mark.anyio (asyncio_mode = auto "
                "runs every async test), or set asyncio_mode = strict and keep the anyio "
                "marker",
                pytrace=False,
            )
        scope = (
            marker.kwargs.get("loop_scope")
            or marker.kwargs.get("scope")
            or request.config.getini("asyncio_default_test_loop_scope")
            or "function"
        )
        if scope in LOOP_SCOPES:
            return f"_orchestrator_task_worker_asyncio_{scope}"
    if with_anyio and "anyio_backend" in request.fixturenames:
        return "_orchestrator_task_worker_anyio"
    pytest.fail(f"{node.nodeid}: {_no_async_plugin(with_anyio, with_asyncio)}", pytrace=False)


def _no_async_plugin(with_anyio: bool, with_asyncio: bool) -> str:
    what = (
        "the task_worker fixture serves on the event loop the test runs on, and no "
        "plugin runs this async test: "
    )
    ways = []
    if with_asyncio:
        ways.append(
            "mark it @pytest.mark.asyncio (pytest-asyncio is in strict mode), or set "
            "asyncio_mode = auto in the pytest configuration"
        )
    if with_anyio:
        ways.append('mark it @pytest.mark.anyio, or set anyio_mode = "auto" (anyio\'s plugin)')
    if not ways:
        ways.append(
            "install pytest-asyncio and set asyncio_mode = auto (or mark the test "
            "@pytest.mark.asyncio), or enable anyio's plugin (it is disabled, "
            "-p no:anyio) and mark the test @pytest.mark.anyio"
        )
    return what + "; or ".join(ways)

"""The pytest plugin of ``orchestrator``, as the ``pytest11`` entry point loads it.

pytest loads this module in every project where orchestrator is installed, used or not,
so it imports only pytest and the standard library, and the package's ``__init__``
imports nothing until a public name is asked for: the package is imported the first
time a test asks for one of the fixtures below, not at start-up. Everything the
fixtures do is in :mod:`orchestrator.testing._plugin`, which documents them, the
``orchestrator`` marker and the ini option.

``task_worker`` picks, per test, the async fixture of the plugin that runs the test:
anyio's plugin (``@pytest.mark.anyio`` or ``anyio_mode = "auto"``) or pytest-asyncio
(``@pytest.mark.asyncio`` in strict mode, any async test in auto mode), so its workers
serve on the loop the test runs on.
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from orchestrator import Clock, Orchestrator
    from orchestrator.testing import TaskWorkerFactory

MARKER: Final = "orchestrator"
INI_CHECK_UNFINISHED: Final = "orchestrator_check_unfinished"
#: The event loop scopes of pytest-asyncio: one hidden task_worker fixture per scope.
LOOP_SCOPES: Final = ("function", "class", "module", "package", "session")


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
    """Register the marker, and the pytest-asyncio flavour of task_worker if it is active."""
    config.addinivalue_line(
        "markers",
        "orchestrator(*, seed=0, start=None, system_clock=False, autojump=False, "
        "check_unfinished=None): configure the orchestrator and orchestrator_clock "
        "fixtures for this test",
    )
    if config.pluginmanager.has_plugin("asyncio"):
        config.pluginmanager.register(_asyncio_fixtures(), "orchestrator-asyncio-fixtures")


@pytest.fixture
def orchestrator_clock(request: pytest.FixtureRequest) -> Clock:
    """A fresh VirtualClock (or the SystemClock with ``system_clock=True``) for this test."""
    from orchestrator.testing._plugin import clock_for_test

    return clock_for_test(request)


@pytest.fixture
def orchestrator(
    request: pytest.FixtureRequest, orchestrator_clock: Clock
) -> Iterator[Orchestrator]:
    """A fresh Orchestrator on ``orchestrator_clock``, current for the test, guarded on request."""
    from orchestrator.testing._plugin import orchestrator_for_test

    yield from orchestrator_for_test(request, orchestrator_clock)


@pytest.fixture
def task_worker(request: pytest.FixtureRequest, orchestrator: Orchestrator) -> TaskWorkerFactory:
    """Start TaskWorkers on the test's orchestrator, stopped at teardown (async tests only)."""
    from orchestrator.testing._plugin import task_worker_fixture_name

    factory: TaskWorkerFactory = request.getfixturevalue(task_worker_fixture_name(request))
    return factory


@pytest.fixture
async def _orchestrator_task_worker_anyio(
    orchestrator: Orchestrator, anyio_backend: object
) -> AsyncIterator[TaskWorkerFactory]:
    """task_worker under anyio's plugin, which runs setup, test and teardown in one task."""
    from orchestrator.testing import TaskWorkerFactory

    async with TaskWorkerFactory(orchestrator) as factory:
        yield factory


def _asyncio_fixtures() -> types.ModuleType:
    # pytest-asyncio runs a fixture on the loop of its loop_scope, fixed when the fixture
    # is declared; the test picks its loop scope with its marker. One fixture per scope
    # lets task_worker take the one on the test's own loop.
    import pytest_asyncio

    holder = types.ModuleType("_orchestrator_pytest_asyncio")
    for scope in LOOP_SCOPES:

        async def hosted(orchestrator: Orchestrator) -> AsyncIterator[TaskWorkerFactory]:
            from orchestrator.testing._plugin import task_workers_in_own_task

            async with task_workers_in_own_task(orchestrator) as factory:
                yield factory

        name = f"_orchestrator_task_worker_asyncio_{scope}"
        setattr(holder, name, pytest_asyncio.fixture(hosted, loop_scope=scope, name=name))
    return holder

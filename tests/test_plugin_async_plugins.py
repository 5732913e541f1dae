"""The plugin beside pytest-asyncio (auto and strict) and without anyio's plugin (pytester)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

#: hypothesis imports itself at the end of every run (seconds under pytester) and
#: pytest-benchmark warns when xdist is active: the inner runs do without both.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:randomly")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in-process in the pytester directory with ``args``."""
    return pytester.runpytest_inprocess(*QUIET, *args)


def configure(pytester: pytest.Pytester, mode: str) -> None:
    """An ini file for pytest-asyncio in ``mode`` that turns every warning into an error."""
    pytester.makeini(
        f"""
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        addopts = --strict-markers --strict-config
        """
    )


def assert_green(result: pytest.RunResult, passed: int) -> None:
    """Every test passed, nothing else happened: no error, no failure, no warning."""
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert result.parseoutcomes() == {"passed": passed}, result.stdout.str()


#: The user's project: ``{mark}`` is "" in auto mode, "@pytest.mark.asyncio" in strict mode.
PROJECT = """
import asyncio
from datetime import timedelta

import pytest

from orchestrator import Orchestrator, task
from orchestrator.testing import assert_state_times, run_until_idle

ATTEMPTS = []
WORKERS = []

@task(retries=1, retry_delay_seconds=600)
def flaky():
    ATTEMPTS.append(1)
    if len(ATTEMPTS) % 2:
        raise ValueError("not yet")
    return "done"

EXPECTED = [
    ("Scheduled", 0), ("Pending", 0), ("Running", 0), ("AwaitingRetry", 0),
    ("Pending", 600), ("Retrying", 600), ("Completed", 600),
]

{mark}
async def test_a_retry_on_the_virtual_clock(orchestrator, task_worker):
    worker = await task_worker(flaky)
    WORKERS.append(worker)
    assert Orchestrator.current() is orchestrator
    future = flaky.delay()
    result = await run_until_idle(orchestrator)
    assert (future.result(), result.jumps) == ("done", 1)
    assert_state_times(orchestrator, future, EXPECTED)

{mark}
@pytest.mark.orchestrator(autojump=True)
async def test_autojump_inside_async_with(orchestrator, task_worker):
    WORKERS.append(await task_worker(flaky))
    start = orchestrator.clock.now()
    async with orchestrator:
        assert await flaky.delay().aresult() == "done"
    assert orchestrator.clock.now() - start == timedelta(seconds=600)

{module_mark}
async def test_on_a_module_scoped_loop(orchestrator, task_worker):
    WORKERS.append(await task_worker(flaky))
    future = flaky.delay()
    await run_until_idle(orchestrator)
    assert future.result() == "done"

{mark}
async def test_workers_serve_on_the_tests_own_loop(orchestrator, task_worker):
    seen = []

    @task
    async def where():
        seen.append(asyncio.get_running_loop())

    WORKERS.append(await task_worker(where))
    where.delay()
    await run_until_idle(orchestrator)
    assert seen == [asyncio.get_running_loop()]

def test_every_worker_was_stopped_at_teardown():
    assert len(WORKERS) == 4
    assert [worker.started for worker in WORKERS] == [False] * 4
"""

AUTO = PROJECT.format(mark="", module_mark='@pytest.mark.asyncio(loop_scope="module")')
STRICT = PROJECT.format(
    mark="@pytest.mark.asyncio", module_mark='@pytest.mark.asyncio(loop_scope="module")'
)


@pytest.mark.parametrize("anyio", [(), ("-p", "no:anyio")], ids=["with-anyio", "no-anyio"])
def test_pytest_asyncio_auto_mode(pytester: pytest.Pytester, anyio: tuple[str, ...]) -> None:
    configure(pytester, "auto")
    pytester.makepyfile(AUTO)
    assert_green(run(pytester, *anyio), passed=5)


@pytest.mark.parametrize("anyio", [(), ("-p", "no:anyio")], ids=["with-anyio", "no-anyio"])
def test_pytest_asyncio_strict_mode(pytester: pytest.Pytester, anyio: tuple[str, ...]) -> None:
    configure(pytester, "strict")
    pytester.makepyfile(STRICT)
    assert_green(run(pytester, *anyio), passed=5)


def test_anyio_alone_with_pytest_asyncio_disabled(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        filterwarnings = error
        """
    )
    anyio_project = AUTO.replace('@pytest.mark.asyncio(loop_scope="module")', "").replace(
        "async def test_", "@pytest.mark.anyio\nasync def test_"
    )
    fixture = '@pytest.fixture\ndef anyio_backend():\n    return "asyncio"\n'
    pytester.makepyfile(anyio_project + fixture)
    assert_green(run(pytester, "-p", "no:asyncio"), passed=5)


# -- the tests no plugin can serve fail at setup, naming the marker or mode ----------------------

UNSERVED = """
import pytest

async def test_unmarked(task_worker):
    pass

@pytest.mark.anyio
async def test_marked_for_anyio(task_worker):
    pass
"""


def setup_errors(result: pytest.RunResult) -> list[str]:
    """The one-line messages of the setup errors, in order."""
    return [
        line
        for line in result.stdout.lines
        if line.startswith("test_") and ": " in line and "ERROR" not in line
    ]


def test_strict_mode_names_the_marker_of_each_plugin(pytester: pytest.Pytester) -> None:
    configure(pytester, "strict")
    pytester.makepyfile(UNSERVED)
    result = run(pytester, "-p", "no:anyio")
    assert result.parseoutcomes() == {"errors": 2}
    prefix = (
        "the task_worker fixture serves on the event loop the test runs on, and no plugin "
        "runs this async test: "
    )
    strict = (
        "mark it @pytest.mark.asyncio (pytest-asyncio is in strict mode), or set "
        "asyncio_mode = auto in the pytest configuration"
    )
    assert setup_errors(result) == [
        f"test_strict_mode_names_the_marker_of_each_plugin.py::test_unmarked: {prefix}{strict}",
        "test_strict_mode_names_the_marker_of_each_plugin.py::test_marked_for_anyio: "
        f"{prefix}{strict}",
    ]


def test_without_any_async_plugin_the_error_says_what_to_install(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(UNSERVED.replace("@pytest.mark.anyio", ""))
    result = run(pytester, "-p", "no:anyio", "-p", "no:asyncio")
    assert result.parseoutcomes()["errors"] == 2
    result.stdout.fnmatch_lines(
        [
            "*::test_unmarked: the task_worker fixture serves on the event loop the test "
            "runs on, and no plugin runs this async test: install pytest-asyncio and set "
            "asyncio_mode = auto (or mark the test @pytest.mark.asyncio), or enable anyio's "
            "plugin (it is disabled, -p no:anyio) and mark the test @pytest.mark.anyio"
        ]
    )


def test_auto_mode_and_an_anyio_marker_is_refused_with_the_way_out(
    pytester: pytest.Pytester,
) -> None:
    configure(pytester, "auto")
    pytester.makepyfile(UNSERVED)
    result = run(pytester)
    # The unmarked test is pytest-asyncio's; the marked one is claimed by both plugins.
    assert result.parseoutcomes() == {"passed": 1, "errors": 2}
    result.stdout.fnmatch_lines(
        [
            "*::test_marked_for_anyio?asyncio?: this test is marked for both pytest-asyncio "
            "and anyio's plugin, which then both run its async fixtures (pytest-asyncio "
            "runs the test itself, on asyncio whatever anyio_backend says), so task_worker "
            "cannot serve on its loop: drop @pytest.mark.anyio (asyncio_mode = auto runs "
            "every async test), or set asyncio_mode = strict and keep the anyio marker",
        ]
    )


def test_a_sync_test_is_told_to_drain_with_run_until_idle_sync(pytester: pytest.Pytester) -> None:
    configure(pytester, "auto")
    pytester.makepyfile("def test_sync(task_worker):\n    pass\n")
    result = run(pytester, "-p", "no:anyio")
    assert result.parseoutcomes() == {"errors": 1}
    result.stdout.fnmatch_lines(["*::test_sync: the task_worker fixture serves in the test's*"])


# -- the entry point loads nothing of the package but its own module ------------------------


def test_loading_the_plugin_imports_only_the_entry_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    script = textwrap.dedent(
        """
        import sys
        import pytest
        code = pytest.main(["-q", "-p", "no:orchestrator", "-p", "orchestrator._pytest_entry",
                            "-p", "no:cacheprovider"])
        print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] == "orchestrator"))
        sys.exit(code)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The package's __init__ (lazy: it imports nothing) and the entry module, nothing else.
    assert "LOADED ['orchestrator', 'orchestrator._pytest_entry']" in done.stdout, done.stdout

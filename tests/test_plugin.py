"""The pytest plugin: fixtures, the marker, the teardown guard, xdist. Tested with pytester."""

from __future__ import annotations

import importlib.metadata

import pytest

pytest_plugins = ["pytester"]

#: Third-party plugins the inner runs do without: hypothesis imports itself at the end of
#: every run (seconds under pytester), pytest-benchmark warns when xdist is active, and
#: pytest-asyncio (tested beside the plugin in test_plugin_async_plugins.py) warns unless
#: configured.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:asyncio")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in-process in the pytester directory with ``args``."""
    return pytester.runpytest(*QUIET, *args)


def test_the_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert [p.value for p in points if p.name == "orchestrator"] == ["orchestrator._pytest_entry"]


def test_the_fixtures_give_a_fresh_orchestrator_on_a_virtual_clock(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from datetime import UTC, datetime

        from orchestrator import Orchestrator, VirtualClock

        def test_fixtures(orchestrator, orchestrator_clock):
            assert isinstance(orchestrator_clock, VirtualClock)
            assert orchestrator_clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
            assert orchestrator.clock is orchestrator_clock
            assert orchestrator.seed == 0
            assert Orchestrator.current() is orchestrator

        def test_clock_alone(orchestrator_clock):
            assert orchestrator_clock.advance(5) == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
        """
    )
    run(pytester, "--strict-markers", "--strict-config").assert_outcomes(passed=2)


def test_every_test_gets_its_own_orchestrator_with_the_same_seed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        IDS = []

        @pytest.mark.parametrize("n", range(3))
        def test_isolated(orchestrator, orchestrator_clock, n):
            assert orchestrator.count_task_runs() == 0
            assert orchestrator_clock.now().minute == 0
            run, _ = orchestrator.create_task_run("k")
            orchestrator_clock.advance(60)
            IDS.append(run.id)
            assert len(set(IDS)) == 1  # seed 0 every time: the same ids
        """
    )
    run(pytester).assert_outcomes(passed=3)


def test_the_marker_sets_seed_start_and_clock_closest_first(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from datetime import UTC, datetime

        import pytest
        from orchestrator import SystemClock, VirtualClock

        pytestmark = pytest.mark.orchestrator(seed=7, start=datetime(2030, 1, 1, tzinfo=UTC))

        def test_module_marker(orchestrator, orchestrator_clock):
            assert orchestrator.seed == 7
            assert orchestrator_clock.now() == datetime(2030, 1, 1, tzinfo=UTC)

        @pytest.mark.orchestrator(seed=8)
        def test_closest_wins_keyword_by_keyword(orchestrator, orchestrator_clock):
            assert orchestrator.seed == 8
            assert orchestrator_clock.now() == datetime(2030, 1, 1, tzinfo=UTC)

        class TestSystemClock:
            pytestmark = pytest.mark.orchestrator(system_clock=True, start=None)

            def test_real_time(self, orchestrator, orchestrator_clock):
                assert isinstance(orchestrator_clock, SystemClock)
                assert orchestrator.clock is orchestrator_clock
                assert orchestrator.seed == 7
        """
    )
    run(pytester, "--strict-markers").assert_outcomes(passed=3)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("orchestrator(3)", "takes keywords only"),
        ("orchestrator(speed=3)", "has no option 'speed'; the options are autojump, check_"),
        ("orchestrator(seed='7')", r"orchestrator\(seed=...\) must be int, got '7'"),
        ("orchestrator(seed=True)", r"orchestrator\(seed=...\) must be int, got True"),
        ("orchestrator(system_clock=1)", r"\(system_clock=...\) must be bool, got 1"),
        ("orchestrator(check_unfinished='yes')", r"\(check_unfinished=...\) must be bool"),
        ("orchestrator(autojump=1)", r"\(autojump=...\) must be bool, got 1"),
        (
            "orchestrator(autojump=True, system_clock=True)",
            r"\(autojump=True\) skips virtual time, so it cannot run on the system clock",
        ),
        ("orchestrator(start=datetime(2030, 1, 1))", "must be an aware datetime"),
        (
            "orchestrator(start=datetime(2030, 1, 1, tzinfo=UTC), system_clock=True)",
            "cannot set a start on the system clock",
        ),
    ],
)
def test_a_bad_marker_is_an_error_that_says_what_is_wrong(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        from datetime import UTC, datetime

        import pytest

        @pytest.mark.{marker}
        def test_marked(orchestrator):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.re_match_lines([f".*UsageError: test_a_bad_marker.*{message}.*"])


def test_the_marker_is_registered_and_documented(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.orchestrator(*, seed=0, start=None, system_clock=False, "
            "autojump=False, check_unfinished=None): configure the orchestrator*"
        ]
    )


def test_the_plugin_is_inert_for_tests_that_do_not_use_it(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        filterwarnings = error
        """
    )
    pytester.makepyfile(
        """
        def test_plain():
            assert True
        """
    )
    result = run(pytester, "--strict-markers", "--strict-config")
    result.assert_outcomes(passed=1)


LEAVES_A_RUN = """
import pytest
from orchestrator import Completed

def test_leaves_a_run(orchestrator):
    run, _ = orchestrator.create_task_run("k", name="left-behind")

def test_finishes_its_run(orchestrator):
    run, _ = orchestrator.create_task_run("k")
    orchestrator.set_task_run_state(run.id, Completed(), force=True)
"""


def test_the_teardown_guard_is_off_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LEAVES_A_RUN)
    run(pytester).assert_outcomes(passed=2)


def test_the_marker_turns_the_teardown_guard_on(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\npytestmark = pytest.mark.orchestrator(check_unfinished=True)\n"
        + LEAVES_A_RUN
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.no_fnmatch_line("*During handling of the above exception*")
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaves_a_run*",
            "*test_leaves_a_run: 1 run was left unfinished (the clock reads 2026-01-01 00:00:00Z):",
            "- task run 'left-behind' (*) is Pending since 2026-01-01 00:00:00Z",
            "    last decision: 2026-01-01T00:00:00+00:00 no state -> Pending: ACCEPT",
            "Drive the runs to a final state*@pytest.mark.orchestrator(check_unfinished=False).",
        ]
    )


def test_the_ini_option_turns_the_guard_on_and_the_marker_off_again(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(
        """
        [pytest]
        orchestrator_check_unfinished = true
        """
    )
    pytester.makepyfile(
        LEAVES_A_RUN
        + """
@pytest.mark.orchestrator(check_unfinished=False)
def test_opted_out(orchestrator):
    orchestrator.create_task_run("k")
"""
    )
    result = run(pytester, "--strict-config")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaves_a_run*"])
    result.stdout.no_fnmatch_line("*teardown of test_opted_out*")


def test_the_guard_stays_quiet_after_a_failed_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.orchestrator(check_unfinished=True)
        def test_fails(orchestrator):
            orchestrator.create_task_run("k")
            assert False, "the real problem"
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*left unfinished*")


def test_the_fixtures_work_in_async_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from orchestrator import Completed, Orchestrator
        from orchestrator._engine._futures import TaskRunFuture

        @pytest.mark.anyio
        @pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
        async def test_async(orchestrator, orchestrator_clock, anyio_backend):
            assert Orchestrator.current() is orchestrator
            run, _ = orchestrator.create_task_run("k")
            orchestrator.set_task_run_state(run.id, Completed(3), force=True)
            assert await TaskRunFuture(orchestrator, run.id).aresult() == 3
            await orchestrator_clock.sleep(0)
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_the_fixtures_share_nothing_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_isolated(orchestrator, orchestrator_clock, n):
            assert orchestrator.count_task_runs() == 0
            orchestrator_clock.advance(n)
            run, _ = orchestrator.create_task_run("k")
            assert run.created.second == n
        """
    )
    result = run(pytester, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=8)


# -- the task_worker fixture and autojump ----------------------------------------------------

WORKER_TESTS = """
from datetime import timedelta

import anyio
import pytest

from orchestrator import task
from orchestrator.testing import DrainStalled, assert_state_times, run_until_idle

pytestmark = pytest.mark.orchestrator(check_unfinished=True)

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param

WORKERS = []
ORCHESTRATORS = []
BLOCKED = []
ATTEMPTS = []

@task(retries=2, retry_delay_seconds=600)
def flaky():
    ATTEMPTS.append(1)
    if len(ATTEMPTS) % 3:
        raise ValueError("not yet")
    return "done"

@task
async def blocks():
    await anyio.sleep_forever()

EXPECTED = [
    ("Scheduled", 0), ("Pending", 0), ("Running", 0), ("AwaitingRetry", 0),
    ("Pending", 600), ("Retrying", 600), ("AwaitingRetry", 600),
    ("Pending", 1200), ("Retrying", 1200), ("Completed", 1200),
]

@pytest.mark.anyio
async def test_a_started_worker_serves_the_tests_orchestrator(orchestrator, task_worker):
    worker = await task_worker(flaky, limit=3)
    WORKERS.append(worker)
    ORCHESTRATORS.append(orchestrator)
    assert (worker.started, worker.orchestrator, worker.limit) == (True, orchestrator, 3)
    assert worker.task_keys == (flaky.task_key,)
    assert orchestrator.activity.workers == (worker,)
    assert task_worker.workers == (worker,)
    future = flaky.delay()
    await run_until_idle(orchestrator)
    assert future.result() == "done"
    assert_state_times(orchestrator, future, EXPECTED)

@pytest.mark.anyio
async def test_a_worker_stuck_on_a_run_is_cancelled_at_teardown(orchestrator, task_worker):
    WORKERS.append(await task_worker(blocks))
    WORKERS.append(await task_worker(flaky))  # idle: stopped gracefully
    BLOCKED.append(blocks.delay())
    with pytest.raises(DrainStalled, match="nothing is executing and nothing is due"):
        await run_until_idle(orchestrator)
    assert BLOCKED[-1].state.name == "Running"

@pytest.mark.anyio
@pytest.mark.orchestrator(autojump=True)
async def test_autojump_skips_idle_time_inside_async_with(orchestrator, task_worker):
    WORKERS.append(await task_worker(flaky))
    start = orchestrator.clock.now()
    async with orchestrator:
        future = flaky.delay()
        assert await future.aresult() == "done"
    assert orchestrator.clock.now() - start == timedelta(seconds=1200)
    assert_state_times(orchestrator, future, EXPECTED)

def test_a_sync_test_is_told_to_drain_with_run_until_idle_sync(task_worker):
    pass

def test_every_worker_was_stopped_and_deregistered():
    assert len(WORKERS) == 8
    assert [worker.started for worker in WORKERS] == [False] * 8
    assert [o.activity.workers for o in ORCHESTRATORS] == [(), ()]
    assert [future.state.name for future in BLOCKED] == ["Crashed", "Crashed"]
"""


def test_task_worker_starts_workers_and_stops_them_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(WORKER_TESTS)
    result = run(pytester)
    # One error: task_worker no longer asks for anyio_backend, so the sync test is not
    # parametrized over the module's two backends any more (it was, before issue 13).
    result.assert_outcomes(passed=7, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_a_sync_test_is_told_to_drain_with_run_until_idle_sync*",
            "*test_a_sync_test_is_told*: the task_worker fixture serves in the test's event "
            "loop, and a plain (sync) test runs with no loop running between its lines; make "
            "the test async (anyio), or call run_until_idle_sync(orchestrator, *tasks), which "
            "serves the tasks itself while it drains",
        ]
    )
    result.stdout.no_fnmatch_line("*left unfinished*")
    result.stdout.no_fnmatch_line("*still serving*")


# -- stubs under the plugin ----------------------------------------------------------------------


class RealFunctionCalled(Exception):
    """The inner tests' workers called a task's real function instead of its stub."""


STUB_TESTS = """
from datetime import timedelta

import anyio
import pytest

from orchestrator import Orchestrator, VirtualClock, task
from orchestrator.testing import (
    assert_state_times, run_until_idle, run_until_idle_sync, stub_task,
)
from orchestrator.workers import TaskWorker

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param

STUBS = []

@task(retries=2, retry_delay_seconds=600)
def charge(customer):
    raise RuntimeError("REAL FUNCTION CALLED")

@task
def refund(customer):
    raise RuntimeError("REAL FUNCTION CALLED")

@task
def where(name):
    if name == "stubbed":
        raise RuntimeError("REAL FUNCTION CALLED")
    return f"real {name}"

@pytest.mark.anyio
async def test_fail_fail_succeed(orchestrator, task_worker):
    boom = ValueError("gateway down")
    stub = stub_task(orchestrator, charge, outcomes=[boom, boom, "receipt"])
    STUBS.append(stub)
    await task_worker(charge)
    future = charge.delay("ada")
    await run_until_idle(orchestrator)
    assert future.result() == "receipt"
    assert [call.attempt for call in stub.calls] == [1, 2, 3]
    assert [call.parameters for call in stub.calls] == [{"customer": "ada"}] * 3
    assert_state_times(orchestrator, future, [
        ("Scheduled", 0), ("Pending", 0), ("Running", 0), ("AwaitingRetry", 0),
        ("Pending", 600), ("Retrying", 600), ("AwaitingRetry", 600),
        ("Pending", 1200), ("Retrying", 1200), ("Completed", 1200),
    ])
    first = stub.calls[0].time
    assert [call.time - first for call in stub.calls] == [
        timedelta(0), timedelta(seconds=600), timedelta(seconds=1200)
    ]

def test_fail_fail_succeed_sync(orchestrator):
    stub = stub_task(orchestrator, charge, outcomes=[KeyError, KeyError, "receipt"])
    STUBS.append(stub)
    future = charge.delay("bob")
    result = run_until_idle_sync(orchestrator, charge)
    assert (future.result(), stub.call_count, result.jumps) == ("receipt", 3, 2)

@pytest.mark.anyio
async def test_without_retries_the_drain_raises_the_scripted_exception(orchestrator, task_worker):
    STUBS.append(stub_task(orchestrator, refund, raises=ValueError("card declined")))
    await task_worker(refund)
    refund.delay("bob")
    await run_until_idle(orchestrator)

@pytest.mark.anyio
async def test_a_stub_on_one_orchestrator_leaves_another_alone(orchestrator, task_worker):
    other = Orchestrator(VirtualClock(), seed=1)
    STUBS.append(stub_task(orchestrator, where, returns="stub"))
    await task_worker(where)
    async with TaskWorker(where, orchestrator=other):
        mine = orchestrator.submit(where, "stubbed")
        theirs = other.submit(where, "plain")
        await run_until_idle(orchestrator)
        await run_until_idle(other)
    assert (mine.result(), theirs.result()) == ("stub", "real plain")

@pytest.mark.anyio
async def test_a_stub_that_never_returns(orchestrator, task_worker):
    async def never(customer):
        await anyio.sleep_forever()

    STUBS.append(stub_task(orchestrator, refund, fn=never))
    await task_worker(refund)
    refund.delay("eve")
    await run_until_idle(orchestrator)

def test_the_stubs_were_undone_at_teardown():
    assert len(STUBS) == 9
    assert [stub.active for stub in STUBS] == [False] * 9
"""


def test_stubs_under_the_plugin_fail_fast_stay_isolated_and_trip_the_hang_guard(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(STUB_TESTS)
    result = run(pytester)
    if "REAL FUNCTION CALLED" in result.stdout.str():
        raise RealFunctionCalled(result.stdout.str())
    result.assert_outcomes(passed=6, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*ValueError: card declined",
            "*task run 'refund-*' (*) ended Failed at 2026-01-01 00:00:00Z: Task run "
            "encountered an exception: ValueError('card declined'); raised by "
            "run_until_idle(fail_fast=True)*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*DrainStalled: the drain cannot finish: nothing is executing and nothing is due*",
            "*- task run 'refund-*' (*) is Running since 2026-01-01 00:00:00Z*",
        ]
    )

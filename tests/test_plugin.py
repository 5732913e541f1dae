"""The pytest plugin: fixtures, the marker, the teardown guard, xdist. Tested with pytester."""

from __future__ import annotations

import importlib.metadata

import pytest

pytest_plugins = ["pytester"]

#: Third-party plugins the inner runs do without: hypothesis imports itself at the end of
#: every run (seconds under pytester) and pytest-benchmark warns when xdist is active.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:benchmark")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in-process in the pytester directory with ``args``."""
    return pytester.runpytest(*QUIET, *args)


def test_the_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert [p.value for p in points if p.name == "orchestrator"] == ["orchestrator.testing._plugin"]


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
        ("orchestrator(speed=3)", "has no option 'speed'; the options are check_unfinished"),
        ("orchestrator(seed='7')", r"orchestrator\(seed=...\) must be int, got '7'"),
        ("orchestrator(seed=True)", r"orchestrator\(seed=...\) must be int, got True"),
        ("orchestrator(system_clock=1)", r"\(system_clock=...\) must be bool, got 1"),
        ("orchestrator(check_unfinished='yes')", r"\(check_unfinished=...\) must be bool"),
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
            "check_unfinished=None): configure the orchestrator*"
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
        from orchestrator._futures import TaskRunFuture

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

"""Run logs (issue 15, item 4): get_run_logger(), read_logs, caplog, bounds, levels, deletes."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest

import orchestrator
from orchestrator import (
    Completed,
    FlowRun,
    InvalidArgument,
    MissingContextError,
    Orchestrator,
    Retention,
    RunLog,
    RunLogger,
    TaskRun,
    TaskWorker,
    VirtualClock,
    flow,
    get_run_logger,
    logs_table,
    read_logs,
    task,
)
from orchestrator._engine._current_run_logs import run_logger_for
from orchestrator.testing import run_until_idle

RUNS = "orchestrator.runs"
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock, seed=3)


def run_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == RUNS]


def messages(lines: list[RunLog]) -> list[str]:
    return [line.message for line in lines]


def run_that_logged(orch: Orchestrator, message: str) -> TaskRun:
    (line,) = (line for line in orch.read_logs() if line.message == message)
    assert line.task_run_id is not None
    return orch.read_task_run(line.task_run_id)


# -- inline task runs ---------------------------------------------------------------------------


def test_a_task_logs_lines_kept_on_its_run_with_the_clocks_exact_times(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    @task
    def fetch(rows: int) -> int:
        logger = get_run_logger()
        logger.info("fetched %d rows", rows)
        clock.advance(90.5)
        logger.warning("slow source")
        return rows

    with orch:
        assert fetch(7) == 7
    (run,) = orch.read_task_runs()
    start = clock.now().replace(minute=0, second=0, microsecond=0)
    assert orch.read_logs(task_run_id=run.id) == [
        RunLog(
            timestamp=start,
            level=logging.INFO,
            message="fetched 7 rows",
            task_run_id=run.id,
            flow_run_id=None,
        ),
        RunLog(
            timestamp=start.replace(minute=1, second=30, microsecond=500000),
            level=logging.WARNING,
            message="slow source",
            task_run_id=run.id,
            flow_run_id=None,
        ),
    ]
    first = orch.read_logs(task_run_id=run.id)[0]
    assert (first.level_name, first.logger) == ("INFO", RUNS)
    assert start == datetime(2026, 1, 1, tzinfo=UTC)


def test_info_lines_are_kept_while_the_stdlib_logger_is_at_warning(orch: Orchestrator) -> None:
    @task
    def quiet() -> None:
        get_run_logger().info("kept anyway")

    assert not logging.getLogger(RUNS).isEnabledFor(logging.INFO)
    with orch:
        quiet()
    assert messages(orch.read_logs()) == ["kept anyway"]


def test_caplog_sees_each_line_with_the_run_ids_names_and_clock_time(
    orch: Orchestrator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RUNS)

    @task(name="loader")
    def load() -> None:
        get_run_logger().info("loading %s", "users", extra={"table": "users"})

    @flow
    def nightly() -> None:
        get_run_logger().info("starting")
        load()

    with orch:
        nightly()
    (flow_run,) = orch.read_flow_runs()
    (task_run,) = orch.read_task_runs()
    records = run_records(caplog)
    assert [r.getMessage() for r in records] == ["starting", "loading users"]
    flow_line, task_line = records
    assert (flow_line.flow_run_id, flow_line.task_run_id) == (flow_run.id, None)  # type: ignore[attr-defined]
    assert (flow_line.flow_run_name, flow_line.task_run_name) == (flow_run.name, None)  # type: ignore[attr-defined]
    assert (task_line.task_run_id, task_line.flow_run_id) == (task_run.id, flow_run.id)  # type: ignore[attr-defined]
    assert (task_line.task_run_name, task_line.flow_run_name) == (task_run.name, flow_run.name)  # type: ignore[attr-defined]
    assert task_line.clock_time == START  # type: ignore[attr-defined]
    assert task_line.table == "users"  # type: ignore[attr-defined]
    # The record points at the caller, not at the adapter.
    assert (task_line.funcName, task_line.filename) == ("load", "test_run_logs.py")
    assert "loading users" in caplog.text


def test_the_stdlib_level_filters_what_is_forwarded_not_what_is_kept(
    orch: Orchestrator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=RUNS)

    @task
    def chatty() -> None:
        logger = get_run_logger()
        logger.debug("not kept: below INFO")
        logger.info("kept, not forwarded")
        logger.error("kept and forwarded")

    with orch:
        chatty()
    assert messages(orch.read_logs()) == ["kept, not forwarded", "kept and forwarded"]
    assert [r.getMessage() for r in run_records(caplog)] == ["kept and forwarded"]


def test_an_exception_is_kept_with_its_traceback(orch: Orchestrator) -> None:
    @task
    def careful() -> None:
        try:
            raise KeyError("missing")
        except KeyError:
            get_run_logger().exception("lookup failed for %s", "id-1")

    with orch:
        careful()
    (line,) = orch.read_logs()
    assert line.level == logging.ERROR
    first, *rest = line.message.splitlines()
    assert first == "lookup failed for id-1"
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "KeyError: 'missing'"


def test_a_bad_format_is_kept_as_given_rather_than_lost(orch: Orchestrator) -> None:
    @task
    def sloppy() -> None:
        get_run_logger().info("%d rows", "many")

    with orch:
        sloppy()
    (line,) = orch.read_logs()
    assert line.message.startswith("%d rows % ('many',) (could not format: TypeError(")


# -- flows ----------------------------------------------------------------------------------------


def test_a_flow_runs_lines_include_its_task_runs_oldest_first(orch: Orchestrator) -> None:
    @task
    def step(n: int) -> int:
        get_run_logger().info("step %d", n)
        return n

    @flow
    def pipeline() -> int:
        logger = get_run_logger()
        logger.info("begin")
        total = step(1) + step(2)
        logger.info("end with %d", total)
        return total

    with orch:
        assert pipeline() == 3
    (flow_run,) = orch.read_flow_runs()
    first, second = (run_that_logged(orch, f"step {n}") for n in (1, 2))
    assert messages(orch.read_logs(flow_run_id=flow_run.id)) == [
        "begin",
        "step 1",
        "step 2",
        "end with 3",
    ]
    assert messages(orch.read_logs(task_run_id=second.id)) == ["step 2"]
    assert messages(orch.read_logs(task_run_id=first.id, flow_run_id=flow_run.id)) == ["step 1"]
    assert orch.read_logs(task_run_id=first.id, flow_run_id=uuid.uuid4()) == []
    lines = orch.read_logs(flow_run_id=flow_run.id)
    assert {line.flow_run_id for line in lines} == {flow_run.id}
    assert [line.task_run_id for line in lines] == [None, first.id, second.id, None]


def test_submitted_tasks_log_from_the_runners_threads(orch: Orchestrator) -> None:
    @task
    def square(n: int) -> int:
        get_run_logger().info("squaring %d", n)
        return n * n

    @flow
    def fan_out() -> list[int]:
        return [future.result() for future in [square.submit(n) for n in range(4)]]

    with orch:
        assert fan_out() == [0, 1, 4, 9]
    (flow_run,) = orch.read_flow_runs()
    assert sorted(messages(orch.read_logs(flow_run_id=flow_run.id))) == [
        f"squaring {n}" for n in range(4)
    ]
    for run in orch.read_task_runs():
        (line,) = orch.read_logs(task_run_id=run.id)
        assert line.message.startswith("squaring ")


async def test_an_async_flow_and_its_async_task_log_on_their_runs(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    @task
    async def fetch() -> str:
        get_run_logger().info("fetching")
        clock.advance(5)
        return "data"

    @flow
    async def etl() -> str:
        get_run_logger().info("etl starts")
        data = await fetch()
        get_run_logger().info("etl got %s", data)
        return data

    async with orch:
        assert await etl() == "data"
    (flow_run,) = orch.read_flow_runs()
    (task_run,) = orch.read_task_runs()
    lines = orch.read_logs(flow_run_id=flow_run.id)
    assert [(line.message, line.task_run_id, line.timestamp) for line in lines] == [
        ("etl starts", None, START),
        ("fetching", task_run.id, START),
        ("etl got data", None, START.replace(second=5)),
    ]


def test_the_issues_scenario_a_flow_calling_a_logging_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    @task
    def say_hello(name: str) -> str:
        get_run_logger().info("Hello %s!", name)
        return name

    @flow
    def greet() -> str:
        return say_hello("Marvin")

    with Orchestrator(VirtualClock(), autojump=True) as current:
        assert greet() == "Marvin"
        (run,) = current.read_task_runs()
        assert messages(read_logs(task_run_id=run.id)) == ["Hello Marvin!"]
    assert "Hello Marvin!" in [r.getMessage() for r in run_records(caplog)]


# -- background runs (TaskWorker) -----------------------------------------------------------------


async def test_background_runs_log_on_their_task_runs(
    orch: Orchestrator, clock: VirtualClock
) -> None:
    @task(retries=1, retry_delay_seconds=30, task_key="logs.flaky")
    async def flaky() -> str:
        logger = get_run_logger()
        run_count = orchestrator.get_run_context().task_run.run_count  # type: ignore[union-attr]
        logger.info("attempt %d", run_count)
        if run_count == 1:
            raise ValueError("not yet")
        return "ok"

    @task(task_key="logs.sync")
    def plain(n: int) -> int:
        get_run_logger().warning("plain %d", n)
        return n

    async with TaskWorker(flaky, plain, orchestrator=orch):
        first = orch.submit(flaky)
        second = orch.submit(plain, 4)
        await run_until_idle(orch)
    assert first.result() == "ok"
    assert second.result() == 4
    assert [
        (line.message, line.timestamp, line.flow_run_id)
        for line in orch.read_logs(task_run_id=first.task_run_id)
    ] == [("attempt 1", START, None), ("attempt 2", START.replace(second=30), None)]
    (line,) = orch.read_logs(task_run_id=second.task_run_id)
    assert (line.message, line.level_name) == ("plain 4", "WARNING")
    assert clock.now() == START.replace(second=30)


@task
def noop() -> None:
    return None


@flow
def wrapper() -> None:
    noop()


def finished_flow_with_a_task(orch: Orchestrator) -> tuple[FlowRun, TaskRun]:
    with orch:
        wrapper()
    (flow_run,) = orch.read_flow_runs()
    (task_run,) = orch.read_task_runs()
    return flow_run, task_run


# -- outside any run ------------------------------------------------------------------------------


def test_outside_any_run_get_run_logger_says_where_to_call_it() -> None:
    with pytest.raises(MissingContextError, match=r"inside the body of a @task or @flow"):
        get_run_logger()
    assert issubclass(MissingContextError, RuntimeError)


def test_a_run_logger_from_ids_logs_on_that_run_outside_it(orch: Orchestrator) -> None:
    flow_run, task_run = finished_flow_with_a_task(orch)
    logger = orch.run_logger(task_run_id=task_run.id)
    assert isinstance(logger, RunLogger)
    assert isinstance(logger, logging.LoggerAdapter)
    assert (logger.task_run_id, logger.flow_run_id) == (task_run.id, flow_run.id)
    assert repr(logger) == f"<RunLogger task_run_id={task_run.id}>"
    logger.info("hook ran")
    orch.run_logger(flow_run_id=str(flow_run.id)).info("flow hook ran")  # type: ignore[arg-type]
    assert repr(orch.run_logger(flow_run_id=flow_run.id)) == (
        f"<RunLogger flow_run_id={flow_run.id}>"
    )
    assert [(line.message, line.task_run_id) for line in orch.read_logs()] == [
        ("hook ran", task_run.id),
        ("flow hook ran", None),
    ]
    gone = orch.run_logger(task_run_id=uuid.uuid4())
    gone.info("an unknown run's line is not kept")
    assert len(orch.read_logs()) == 2
    with pytest.raises(InvalidArgument, match="task_run_id"):
        orch.run_logger()


def test_run_logger_for_and_exceptions_given_as_values(orch: Orchestrator) -> None:
    flow_run, task_run = finished_flow_with_a_task(orch)
    logger = run_logger_for(orch, task_run_id=task_run.id, flow_run_id=flow_run.id)
    assert (logger.task_run_id, logger.flow_run_id) == (task_run.id, flow_run.id)
    error = ValueError("bad hook")
    logger.error("hook failed", exc_info=error)
    logger.error("hook failed again", exc_info=(ValueError, error, None))
    logger.error("no exception to show", exc_info=True)
    first, second, third = messages(orch.read_logs(task_run_id=task_run.id))
    assert first.splitlines()[0] == "hook failed"
    assert first.splitlines()[-1] == "ValueError: bad hook"
    assert second.splitlines() == ["hook failed again", "ValueError: bad hook"]
    assert third == "no exception to show"


def test_module_level_read_logs_reads_the_current_orchestrator(orch: Orchestrator) -> None:
    @task
    def one() -> None:
        get_run_logger().info("one")

    with orch:
        one()
        assert messages(read_logs()) == ["one"]
    with pytest.raises(RuntimeError, match="no current orchestrator"):
        read_logs()


def test_two_orchestrators_never_see_each_others_lines(clock: VirtualClock) -> None:
    @task
    def tell(text: str) -> None:
        get_run_logger().info(text)

    first, second = Orchestrator(clock, seed=1), Orchestrator(clock, seed=2)
    with first:
        tell("first")
    with second:
        tell("second")
    assert messages(first.read_logs()) == ["first"]
    assert messages(second.read_logs()) == ["second"]


# -- bounds, levels, arguments --------------------------------------------------------------------


def test_each_run_keeps_its_newest_lines_and_counts_those_dropped(clock: VirtualClock) -> None:
    orch = Orchestrator(clock, run_log_limit=3)

    @task
    def noisy(tag: str) -> None:
        for n in range(5):
            get_run_logger().info("%s %d", tag, n)

    @flow
    def both() -> None:
        get_run_logger().info("flow line")
        noisy("a")
        noisy("b")

    with orch:
        both()
    (flow_run,) = orch.read_flow_runs()
    first = run_that_logged(orch, "a 4")
    assert messages(orch.read_logs(task_run_id=first.id)) == ["a 2", "a 3", "a 4"]
    assert orch.count_dropped_logs(task_run_id=first.id) == 2
    assert messages(orch.read_logs(flow_run_id=flow_run.id)) == [
        "flow line", "a 2", "a 3", "a 4", "b 2", "b 3", "b 4",
    ]  # fmt: skip
    assert orch.count_dropped_logs(flow_run_id=flow_run.id) == 4
    assert orch.count_dropped_logs() == 4
    orch.check_invariants()


def test_the_level_threshold_decides_what_is_kept_and_read(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RUNS)
    orch = Orchestrator(clock, run_log_level="warning")

    @task
    def mixed() -> None:
        logger = get_run_logger()
        logger.info("info")
        logger.warning("warning")
        logger.error("error")
        logger.log(45, "custom")

    with orch:
        mixed()
    assert messages(orch.read_logs()) == ["warning", "error", "custom"]
    assert messages(orch.read_logs(level="ERROR")) == ["error", "custom"]
    assert messages(orch.read_logs(level=logging.CRITICAL)) == []
    assert orch.read_logs()[-1].level_name == "Level 45"
    assert orch.count_dropped_logs() == 0
    # The stdlib logger's own level decides what goes on to handlers.
    assert [r.getMessage() for r in run_records(caplog)] == ["info", "warning", "error", "custom"]


def test_an_unknown_id_reads_nothing(orch: Orchestrator) -> None:
    assert orch.read_logs(task_run_id=uuid.uuid4()) == []
    assert orch.read_logs(flow_run_id=uuid.uuid4()) == []
    assert orch.read_logs() == []
    assert orch.count_dropped_logs(task_run_id=uuid.uuid4()) == 0


@pytest.mark.parametrize(
    ("arguments", "named", "kind"),
    [
        ({"task_run_id": 3}, "task_run_id", TypeError),
        ({"task_run_id": "not an id"}, "task_run_id", ValueError),
        ({"flow_run_id": ["x"]}, "flow_run_id", TypeError),
        ({"level": "LOUD"}, "level", ValueError),
        ({"level": -1}, "level", ValueError),
        ({"level": True}, "level", TypeError),
        ({"level": 2.5}, "level", TypeError),
    ],
)
def test_bad_read_arguments_name_the_parameter(
    orch: Orchestrator, arguments: dict[str, object], named: str, kind: type[Exception]
) -> None:
    with pytest.raises(InvalidArgument, match=f"^{named} must be") as raised:
        orch.read_logs(**arguments)  # type: ignore[arg-type]
    assert isinstance(raised.value, kind)


@pytest.mark.parametrize(
    ("arguments", "named", "kind"),
    [
        ({"run_log_limit": 0}, "run_log_limit", ValueError),
        ({"run_log_limit": "10"}, "run_log_limit", TypeError),
        ({"run_log_limit": True}, "run_log_limit", TypeError),
        ({"run_log_level": "chatty"}, "run_log_level", ValueError),
        ({"run_log_level": None}, "run_log_level", TypeError),
    ],
)
def test_bad_constructor_arguments_name_the_parameter(
    arguments: dict[str, object], named: str, kind: type[Exception]
) -> None:
    with pytest.raises(InvalidArgument, match=f"^{named} must be") as raised:
        Orchestrator(VirtualClock(), **arguments)  # type: ignore[arg-type]
    assert isinstance(raised.value, kind)


def test_a_level_that_is_not_a_number_is_refused_when_logging(orch: Orchestrator) -> None:
    @task
    def odd() -> None:
        get_run_logger().log("INFO", "text")  # type: ignore[arg-type]

    with orch, pytest.raises(TypeError, match=r"^level must be"):
        odd()


# -- deletes --------------------------------------------------------------------------------------


def test_deleting_runs_drops_their_lines(orch: Orchestrator) -> None:
    @task
    def step(n: int) -> None:
        get_run_logger().info("step %d", n)

    @flow
    def steps() -> None:
        get_run_logger().info("flow")
        step(1)
        step(2)

    with orch:
        step(0)
        steps()
    lone = next(r for r in orch.read_task_runs() if r.flow_run_id is None)
    (flow_run,) = orch.read_flow_runs()
    orch.delete_task_run(lone.id)
    assert orch.read_logs(task_run_id=lone.id) == []
    assert len(orch.read_logs()) == 3
    orch.check_invariants()
    orch.delete_flow_run(flow_run.id)
    assert orch.read_logs() == []
    assert orch.read_logs(flow_run_id=flow_run.id) == []
    orch.check_invariants()
    # A logger of a deleted run keeps nothing more.
    orch.run_logger(task_run_id=lone.id).info("too late")
    assert orch.read_logs() == []


def test_retention_drops_the_lines_of_the_runs_it_deletes(clock: VirtualClock) -> None:
    orch = Orchestrator(clock, retention=Retention(max_terminal_runs=1))

    @task
    def job(n: int) -> None:
        get_run_logger().info("job %d", n)

    with orch:
        job(1)
        job(2)
    (kept,) = orch.read_task_runs()
    assert kept.state_type is Completed().type
    assert messages(orch.read_logs()) == ["job 2"]
    orch.check_invariants()


# -- display --------------------------------------------------------------------------------------


def test_logs_table_shows_time_level_run_and_message(orch: Orchestrator) -> None:
    @task
    def shout() -> None:
        get_run_logger().warning("careful <now>\nsecond line")

    @flow
    def wrapper() -> None:
        get_run_logger().info("flow says hi")
        shout()

    with orch:
        wrapper()
    (flow_run,) = orch.read_flow_runs()
    (task_run,) = orch.read_task_runs()
    table = logs_table(orch.read_logs())
    assert str(table).splitlines() == [
        "Logs",
        "time                  level    run       message",
        "--------------------  -------  --------  -------------------------",
        f"2026-01-01 00:00:00Z  INFO     {flow_run.id.hex[:8]}  flow says hi",
        f"2026-01-01 00:00:00Z  WARNING  {task_run.id.hex[:8]}  careful <now> second line",
    ]
    html = table._repr_html_()
    assert '<td style="text-align: left">careful &lt;now&gt;\nsecond line</td>' in html
    assert logs_table([], title="Nothing").text().splitlines()[0] == "Nothing"

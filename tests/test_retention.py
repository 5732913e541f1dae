"""Retention: finished runs are deleted oldest first, so a long-running process stays flat.

``Orchestrator(retention=Retention(max_age=..., max_terminal_runs=...))`` lines up the
finished top-level runs (task runs without a flow run, flow runs that are not subflows)
in the order their terminal states were committed, and after every state proposal
deletes the ones beyond the newest ``max_terminal_runs`` and those finished ``max_age``
or longer ago on the orchestrator's clock, each with its task runs and subflows.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

import anyio
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orchestrator import (
    Completed,
    Failed,
    FlowRun,
    InvalidArgument,
    ObjectNotFound,
    Observer,
    Orchestrator,
    Pending,
    Retention,
    Running,
    Scheduled,
    TaskRun,
    TaskRunFuture,
    VirtualClock,
    task,
)
from orchestrator.filters import TaskRunFilter
from orchestrator.workers import TaskWorker


def finish(orch: Orchestrator, name: str, *, data: object = None) -> uuid.UUID:
    """Create a task run without a flow run and take it to Completed; return its id."""
    run = orch.create_task_run(name, name=name).run
    orch.set_task_run_state(run.id, Running())
    orch.set_task_run_state(run.id, Completed(data))
    return run.id


def names(orch: Orchestrator) -> list[str]:
    return sorted(run.name for run in orch.read_task_runs())


# -- the value -------------------------------------------------------------------------------


def test_retention_takes_a_timedelta_or_seconds() -> None:
    assert Retention(max_age=90).max_age == timedelta(seconds=90)
    assert Retention(max_age=0.5).max_age == timedelta(milliseconds=500)
    assert Retention(max_age=timedelta(hours=1)).max_age == timedelta(hours=1)
    both = Retention(max_age=60, max_terminal_runs=10)
    assert repr(both) == ("Retention(max_age=datetime.timedelta(seconds=60), max_terminal_runs=10)")
    assert both == Retention(max_age=timedelta(minutes=1), max_terminal_runs=10)
    assert not both.keeps_everything
    assert Retention().keeps_everything
    with pytest.raises(AttributeError):
        both.max_age = None  # type: ignore[misc]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_age": 0}, "max_age must be None, a timedelta > 0 or a number of seconds > 0, got 0"),
        ({"max_age": -5.0}, "got -5.0"),
        ({"max_age": math.nan}, "got nan"),
        ({"max_age": math.inf}, "got inf"),
        ({"max_age": 1e300}, "got 1e+300"),
        ({"max_age": timedelta(0)}, "got datetime.timedelta(0)"),
        ({"max_age": timedelta(seconds=-1)}, "got datetime.timedelta(days=-1, seconds=86399)"),
        ({"max_age": "1h"}, "got '1h'"),
        ({"max_age": True}, "got True"),
        ({"max_terminal_runs": 0}, "max_terminal_runs must be None or an integer >= 1, got 0"),
        ({"max_terminal_runs": -1}, "got -1"),
        ({"max_terminal_runs": 10.0}, "got 10.0"),
        ({"max_terminal_runs": "10"}, "got '10'"),
        ({"max_terminal_runs": True}, "got True"),
    ],
)
def test_bad_limits_are_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        Retention(**arguments)
    assert message in str(info.value)
    assert str(info.value).startswith(next(iter(arguments)))


def test_the_orchestrator_refuses_something_else_than_a_retention() -> None:
    with pytest.raises(InvalidArgument) as info:
        Orchestrator(VirtualClock(), retention=10_000)  # type: ignore[arg-type]
    assert str(info.value) == (
        "retention must be None or a Retention(max_age=..., max_terminal_runs=...), got 10000"
    )


def test_without_limits_nothing_is_deleted_and_nothing_watches() -> None:
    for retention in (None, Retention()):
        orch = Orchestrator(VirtualClock(), seed=1, retention=retention)
        for number in range(5):
            finish(orch, f"r{number}")
        assert orch.count_task_runs() == 5
        assert orch.statistics().observers == 0


# -- max_terminal_runs -----------------------------------------------------------------------


def test_only_the_newest_finished_runs_are_kept_oldest_deleted_first() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=3))
    deleted: list[str] = []

    class Deletions(Observer):
        def task_run_deleted(self, run: TaskRun) -> None:
            deleted.append(run.name)

    orch.subscribe(Deletions())
    unfinished = orch.create_task_run("busy", name="busy").run
    orch.set_task_run_state(unfinished.id, Running())
    for number in range(6):
        finish(orch, f"r{number}")
    assert deleted == ["r0", "r1", "r2"]
    assert names(orch) == ["busy", "r3", "r4", "r5"]
    stats = orch.statistics()
    assert (stats.task_runs, stats.task_run_states, stats.decisions) == (4, 11, 11)
    orch.check_invariants()


def test_a_run_forced_out_of_a_terminal_state_leaves_the_line_and_rejoins_at_the_end() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=2))
    first, second = finish(orch, "first"), finish(orch, "second")
    orch.set_task_run_state(first, Scheduled(), force=True)  # no longer finished
    finish(orch, "third")
    finish(orch, "fourth")  # two finished runs are newer than "second"
    assert names(orch) == ["first", "fourth", "third"]
    orch.set_task_run_state(first, Failed(), force=True)  # finished again: the newest
    assert names(orch) == ["first", "fourth"]
    assert second not in {run.id for run in orch.read_task_runs()}
    orch.check_invariants()


def test_a_run_created_in_a_terminal_state_is_lined_up() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=1))
    orch.create_task_run("a", name="a", state=Completed())
    orch.create_task_run("b", name="b", state=Completed())
    assert names(orch) == ["b"]


# -- max_age ---------------------------------------------------------------------------------


def test_a_finished_run_goes_at_the_first_proposal_max_age_after_it_finished() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=1, retention=Retention(max_age=timedelta(minutes=10)))
    finish(orch, "early")
    clock.advance(300)
    finish(orch, "late")
    clock.advance(299.999)
    orch.create_task_run("probe", name="probe")  # a proposal, 9:59.999 after "early"
    assert names(orch) == ["early", "late", "probe"]
    clock.advance(0.001)
    assert names(orch) == ["early", "late", "probe"]  # time alone deletes nothing...
    orch.create_task_run("probe-2", name="probe-2")  # ...the next proposal does
    assert names(orch) == ["late", "probe", "probe-2"]
    clock.advance(300)
    orch.create_task_run("probe-3", name="probe-3")
    assert names(orch) == ["probe", "probe-2", "probe-3"]
    orch.check_invariants()


def test_both_limits_apply() -> None:
    clock = VirtualClock()
    retention = Retention(max_age=60, max_terminal_runs=2)
    orch = Orchestrator(clock, seed=1, retention=retention)
    for number in range(3):
        finish(orch, f"r{number}")
    assert names(orch) == ["r1", "r2"]
    clock.advance(60)
    finish(orch, "r3")
    assert names(orch) == ["r3"]


# -- flow runs, their task runs and subflows ------------------------------------------------


def test_a_finished_flow_run_goes_with_its_task_runs_and_subflows() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=1))
    flow = orch.create_flow("nightly")
    parent = orch.create_flow_run(flow.id, name="parent")
    orch.set_flow_run_state(parent.id, Running())
    child = orch.create_task_run("child", flow_run_id=parent.id).run
    orch.set_task_run_state(child.id, Running())
    orch.set_task_run_state(child.id, Completed())  # finished, but its flow run is not
    subflow_task = orch.create_task_run("sub", flow_run_id=parent.id).run
    subflow = orch.create_flow_run(flow.id, name="subflow", parent_task_run_id=subflow_task.id)
    grandchild = orch.create_task_run("grandchild", flow_run_id=subflow.id).run
    orch.set_flow_run_state(subflow.id, Running())
    orch.set_flow_run_state(subflow.id, Completed())  # a subflow: never deleted on its own
    for number in range(3):
        finish(orch, f"alone-{number}")
    # The flow run is not finished: nothing of it goes, whatever its runs' states.
    assert orch.count_flow_runs() == 2
    assert {r.id for r in orch.read_task_runs()} >= {child.id, subflow_task.id, grandchild.id}
    orch.set_flow_run_state(parent.id, Completed())  # the newest finished run now
    assert orch.count_flow_runs() == 2
    finish(orch, "newer")
    # The flow run went with its task runs, its subflow and the subflow's task runs.
    assert orch.count_flow_runs() == 0
    assert names(orch) == ["newer"]
    stats = orch.statistics()
    assert (stats.flow_run_states, stats.task_run_states) == (0, 3)
    orch.check_invariants()


def test_a_subflow_whose_parent_task_run_was_deleted_becomes_top_level() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=1))
    flow = orch.create_flow("nightly")
    parent_task = orch.create_task_run("parent", state=Running()).run
    subflow = orch.create_flow_run(flow.id, name="subflow", parent_task_run_id=parent_task.id)
    orch.set_flow_run_state(subflow.id, Running())
    orch.set_flow_run_state(subflow.id, Completed())  # the parent task run finishes too
    assert orch.read_task_run(parent_task.id).state_name == "Completed"
    orch.delete_task_run(parent_task.id)  # the finished subflow joins the line
    orch.check_invariants()
    finish(orch, "newer")
    assert orch.count_flow_runs() == 0
    assert names(orch) == ["newer"]


# -- futures ---------------------------------------------------------------------------------


async def test_a_run_whose_woken_future_has_not_read_it_yet_is_kept() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=1))
    run = orch.create_task_run("awaited", name="awaited", state=Running()).run
    future: TaskRunFuture[str] = TaskRunFuture(orch, run.id)
    results: list[str] = []
    async with anyio.create_task_group() as group:

        async def wait() -> None:
            results.append(await future.aresult())

        group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        # Without yielding: the run finishes (waking the future), then a newer run does.
        orch.set_task_run_state(run.id, Completed("done"))
        finish(orch, "newer")
        assert names(orch) == ["awaited", "newer"]  # kept for the future
    assert results == ["done"]
    orch.create_task_run("probe", name="probe")  # the next proposal lets it go
    assert names(orch) == ["newer", "probe"]
    with pytest.raises(ObjectNotFound):
        future.result()
    orch.check_invariants()


# -- a model ---------------------------------------------------------------------------------


class RetentionMachine(RuleBasedStateMachine):
    """Random creations, finishes, forced restarts, deletes and clock moves, against a model.

    The model keeps the finished runs in a list, oldest finish first, and after each
    proposal drops the ones beyond the limits, as the README describes retention.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.max_runs, self.max_age = 3, timedelta(seconds=100)
        retention = Retention(max_age=self.max_age, max_terminal_runs=self.max_runs)
        self.orch = Orchestrator(self.clock, seed=5, retention=retention)
        self.unfinished: set[uuid.UUID] = set()
        self.line: list[tuple[uuid.UUID, Any]] = []  # (run, when it finished), oldest first

    def proposed(self) -> None:
        now = self.clock.now()
        beyond = len(self.line) - self.max_runs
        self.line = [
            (run, when)
            for index, (run, when) in enumerate(self.line)
            if index >= beyond and when > now - self.max_age
        ]

    @rule()
    def create(self) -> None:
        self.unfinished.add(self.orch.create_task_run("job").run.id)
        self.proposed()

    @precondition(lambda self: self.unfinished)
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from(sorted(self.unfinished)))
        self.orch.set_task_run_state(run, Completed(), force=True)
        self.unfinished.remove(run)
        self.line.append((run, self.clock.now()))
        self.proposed()

    @precondition(lambda self: self.line)
    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from([run for run, _ in self.line]))
        self.orch.set_task_run_state(run, Pending(), force=True)
        self.line = [(r, when) for r, when in self.line if r != run]
        self.unfinished.add(run)
        self.proposed()

    @precondition(lambda self: self.line)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from([run for run, _ in self.line]))
        self.orch.delete_task_run(run)
        self.line = [(r, when) for r, when in self.line if r != run]

    @rule(seconds=st.sampled_from([1, 30, 99, 100, 250]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def the_runs_are_the_models(self) -> None:
        finished = {run.id for run in self.orch.read_task_runs(task_runs=None)} - self.unfinished
        assert finished == {run for run, _ in self.line}
        assert {run.id for run in self.orch.read_task_runs()} >= self.unfinished
        self.orch.check_invariants()


TestRetentionMachine = RetentionMachine.TestCase
TestRetentionMachine.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)


# -- scaled-down soak ------------------------------------------------------------------------


def test_twenty_thousand_runs_through_a_retention_of_a_thousand_stay_bounded() -> None:
    clock = VirtualClock()
    orch = Orchestrator(clock, seed=1, retention=Retention(max_terminal_runs=1000))
    for number in range(20_000):
        run = orch.create_task_run("soak").run
        orch.set_task_run_state(run.id, Running())
        orch.set_task_run_state(run.id, Completed(number))
        clock.advance(0.01)
        if number % 2000 == 1999:
            stats = orch.statistics()
            assert stats.task_runs == 1000
            assert stats.task_run_states == 3000
            assert stats.decisions == 3000
    orch.check_invariants()
    kept = {run.state.data for run in orch.read_task_runs() if run.state is not None}
    assert kept == set(range(19_000, 20_000))


def test_flow_runs_stay_bounded_too() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=50))
    flow = orch.create_flow("batch")
    for _ in range(500):
        flow_run = orch.create_flow_run(flow.id)
        orch.set_flow_run_state(flow_run.id, Running())
        for _ in range(3):
            child = orch.create_task_run("step", flow_run_id=flow_run.id).run
            orch.set_task_run_state(child.id, Running())
            orch.set_task_run_state(child.id, Completed())
        orch.set_flow_run_state(flow_run.id, Completed())
    stats = orch.statistics()
    assert (stats.flow_runs, stats.flow_run_states) == (50, 150)
    assert (stats.task_runs, stats.task_run_states) == (150, 450)
    orch.check_invariants()


def test_deleted_runs_are_reported_to_observers() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=1))
    seen: list[str] = []

    class Watcher(Observer):
        def flow_run_deleted(self, run: FlowRun) -> None:
            seen.append(f"flow run {run.name}")

        def task_run_deleted(self, run: TaskRun) -> None:
            seen.append(f"task run {run.name}")

    orch.subscribe(Watcher())
    flow_run = orch.create_flow_run(orch.create_flow("f").id, name="old", state=Running())
    orch.create_task_run("t", name="inside", flow_run_id=flow_run.id)
    orch.set_flow_run_state(flow_run.id, Completed())
    finish(orch, "new")
    assert seen == ["task run inside", "flow run old"]


# -- with a worker ---------------------------------------------------------------------------


@task(task_key="retained.square")
async def square(x: int) -> int:
    return x * x


async def test_a_worker_s_awaited_results_all_arrive_under_a_tight_retention() -> None:
    orch = Orchestrator(VirtualClock(), seed=1, retention=Retention(max_terminal_runs=3))
    results: dict[int, int] = {}
    async with TaskWorker(square, orchestrator=orch, limit=4):
        futures = {x: orch.submit(square, x) for x in range(20)}
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:

                async def collect(x: int, future: TaskRunFuture[Any]) -> None:
                    results[x] = await future.aresult()

                for x, future in futures.items():
                    group.start_soon(collect, x, future)
    assert results == {x: x * x for x in range(20)}
    orch.create_task_run("probe")  # any proposal: the runs kept for their futures go
    finished = orch.read_task_runs(task_runs=TaskRunFilter(state=["COMPLETED"]))
    assert len(finished) == 3
    assert len(orch.result_store) == 0
    orch.check_invariants()

"""What the docs promise holds: state constructors, sort rules, names of options and methods.

Each test pins one documentation fix: the constructors accept what the docstrings
propose (``Pending(deferred=True)``), the query docs name methods that exist and the
sort rules they state are the ones applied, ``Policy`` is where the README says the
policies are, the retry delay is spelled as on ``TaskRunPolicy``, ``QueueFull`` names
the option that sets the bound, ``TaskWorker``'s ways to be ended are public, and
``infrastructure_pid`` is a documented string.
"""

from __future__ import annotations

import inspect
import re
import typing
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orchestrator
import orchestrator.filters
from orchestrator import (
    ArgumentTypeError,
    Completed,
    Failed,
    FlowRun,
    FlowRunPolicy,
    Orchestrator,
    Pending,
    QueueFull,
    Scheduled,
    SetStateStatus,
    StateDetails,
    StateType,
    TaskRunPolicy,
    VirtualClock,
    task,
)
from orchestrator.filters import FlowRunSort, TaskRunFilter, TaskRunFilterTaskKey, TaskRunSort
from orchestrator.testing import make_flow_run, make_task_run
from orchestrator.workers import TaskWorker

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.fixture
def orch() -> Orchestrator:
    return Orchestrator(VirtualClock(), seed=13)


@task(task_key="names.job")
def job(x: int) -> int:
    return x


# -- Pending(deferred=True) and Scheduled(deferred=True) --------------------------------------


@pytest.mark.parametrize("constructor", [Pending, Scheduled])
def test_both_constructors_accept_deferred(constructor: typing.Any) -> None:
    plain, deferred = constructor(), constructor(deferred=True)
    assert (plain.details.deferred, deferred.details.deferred) == (False, True)
    assert plain.type is deferred.type
    assert deferred.name == plain.name
    assert deferred.details.replace(deferred=False) == plain.details


@given(
    deferred=st.booleans(),
    flag=st.booleans(),
    seconds=st.none() | st.integers(min_value=0, max_value=10**6),
)
def test_pending_deferred_keeps_the_details_it_is_given(
    deferred: bool, flag: bool, seconds: int | None
) -> None:
    when = None if seconds is None else VirtualClock().now() + timedelta(seconds=seconds)
    details = StateDetails(deferred=flag, scheduled_time=when, refresh_cache=True)
    state = Pending(deferred=deferred, details=details)
    # True sets the flag; False keeps whatever the details say; nothing else changes.
    assert state.details == details.replace(deferred=deferred or flag)
    scheduled = Scheduled(deferred=deferred, details=details)
    assert scheduled.details == details.replace(deferred=deferred or flag)


@pytest.mark.parametrize("constructor", [Pending, Scheduled])
def test_a_deferred_that_is_not_a_bool_is_refused_where_it_is_proposed(
    orch: Orchestrator, constructor: typing.Any
) -> None:
    # As for every field, the entry point checks the proposal, naming the field.
    run = orch.create_task_run("names.job").run
    before = run.state
    with pytest.raises(ArgumentTypeError) as info:
        orch.set_task_run_state(run.id, constructor(deferred="yes"))
    assert str(info.value) == "state.details.deferred must be True or False, got 'yes'"
    assert run.state is before
    assert len(orch.read_task_run_states(run.id)) == 1


def test_pending_deferred_is_the_claim_claim_task_run_proposes(orch: Orchestrator) -> None:
    assert "Pending(deferred=True)" in inspect.getdoc(Orchestrator.claim_task_run)  # type: ignore[operator]
    by_hand, by_claim = orch.submit(job, 1), orch.submit(job, 2)
    # Proposed by hand, as the docstring spells it, the claim is accepted like a real one.
    result = orch.set_task_run_state(by_hand.task_run_id, Pending(deferred=True))
    claimed = orch.claim_task_run(by_claim.task_run_id)
    assert claimed is not None
    assert result.status is claimed.status is SetStateStatus.ACCEPT
    assert result.state is not None
    assert claimed.state is not None
    assert (result.state.type, result.state.name, result.state.details.deferred) == (
        StateType.PENDING,
        "Pending",
        True,
    )
    assert (claimed.state.type, claimed.state.name, claimed.state.details.deferred) == (
        StateType.PENDING,
        "Pending",
        True,
    )
    orch.check_invariants()


# -- the query docs name real methods, and the sort rules they state hold ----------------------

QUERY_NAME = re.compile(r"\b(?:query|read|count|paginate|delete)_(?:task|flow)_runs\b")


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(inspect.getdoc(TaskRunSort), id="TaskRunSort"),
        pytest.param(inspect.getdoc(FlowRunSort), id="FlowRunSort"),
        pytest.param(orchestrator.filters.__doc__, id="orchestrator.filters"),
    ],
)
def test_the_query_docs_name_methods_that_exist(doc: str | None) -> None:
    assert doc is not None
    named = set(QUERY_NAME.findall(doc))
    assert named, "the doc names no query method"
    assert {name for name in named if not hasattr(Orchestrator, name)} == set()


def test_the_filters_docstring_example_runs(orch: Orchestrator) -> None:
    doc = orchestrator.filters.__doc__
    assert doc is not None
    example = doc.split("::\n", 1)[1].split("\n\n``sort=``", 1)[0]
    make_task_run(orch, Completed(), task_key="etl.load")
    make_task_run(orch, Completed(), task_key="etl.other")
    namespace: dict[str, object] = {"orchestrator": orch}
    exec(inspect.cleandoc(example), namespace)
    runs = typing.cast("list[typing.Any]", namespace["runs"])
    assert [run.task_key for run in runs] == ["etl.load"]
    assert TaskRunFilterTaskKey.__name__ in example
    assert TaskRunFilter.__name__ in example


@pytest.mark.parametrize("sort_type", [TaskRunSort, FlowRunSort])
def test_the_sort_rules_are_in_the_public_docstrings(sort_type: type) -> None:
    doc = inspect.getdoc(sort_type)
    assert doc is not None
    assert "ties (equal keys) go in creation order" in doc
    assert "whose key is None" in doc
    assert "come\n  last, in either direction" in doc
    module_doc = orchestrator.filters.__doc__
    assert module_doc is not None
    assert "equal keys go in creation order" in module_doc
    assert "runs whose key is None come last" in module_doc


def test_ties_go_in_creation_order_and_none_keys_last(orch: Orchestrator) -> None:
    # Four runs named alike; the second and the fourth end, the others never do.
    runs = [make_task_run(orch, name="same") for _ in range(4)]
    for index in (1, 3):
        orch.set_task_run_state(runs[index].id, Completed(), force=True)
    created = [run.id for run in runs]

    def ids(sort: TaskRunSort) -> list[object]:
        return [run.id for run in orch.read_task_runs(sort=sort)]

    assert ids(TaskRunSort.NAME_ASC) == created
    assert ids(TaskRunSort.NAME_DESC) == created[::-1]
    # Equal end times (the virtual clock did not move) go newest first; then the runs
    # that have not ended, newest first too.
    assert ids(TaskRunSort.END_TIME_DESC) == [created[3], created[1], created[2], created[0]]


# -- Policy lives where the policies live ------------------------------------------------------


def test_policy_is_importable_from_orchestrator_policies() -> None:
    from orchestrator.policies import Policy, core_task_policy

    assert Policy is orchestrator.Policy
    assert "Policy" in orchestrator.policies.__all__
    assert isinstance(core_task_policy(), Policy)
    assert repr(Policy).startswith("<class 'orchestrator.Policy'")


# -- the retry delay is spelled as on TaskRunPolicy ---------------------------------------------


def test_make_task_run_spells_the_retry_options_as_task_run_policy(orch: Orchestrator) -> None:
    options = set(inspect.signature(make_task_run).parameters)
    fields = {"retries", "retry_delay", "retry_jitter_factor"}
    assert fields <= options
    assert fields == set(inspect.signature(TaskRunPolicy).parameters)
    assert "retry_delay_seconds" not in options  # the @task spelling stays on @task
    run = make_task_run(orch, retries=2, retry_delay=[1, 10], retry_jitter_factor=0)
    assert run.empirical_policy == TaskRunPolicy(
        retries=2, retry_delay=[1, 10], retry_jitter_factor=0
    )
    flow_run = make_flow_run(orch, retries=1, retry_delay=5)
    assert flow_run.empirical_policy == FlowRunPolicy(retries=1, retry_delay=5)


def test_make_task_runs_retry_delay_times_the_retry(orch: Orchestrator) -> None:
    run = make_task_run(orch, "RUNNING", retries=1, retry_delay=30)
    result = orch.set_task_run_state(run.id, Failed(ValueError("boom")))
    assert result.state is not None
    assert result.state.name == "AwaitingRetry"
    assert result.state.details.scheduled_time == orch.clock.now() + timedelta(seconds=30)


def test_make_task_run_refuses_the_task_decorator_spelling() -> None:
    with pytest.raises(TypeError, match="retry_delay_seconds"):
        make_task_run(Orchestrator(VirtualClock()), retry_delay_seconds=5)  # type: ignore[call-arg]


# -- QueueFull names the option that sets the bound ----------------------------------------------


def test_queue_full_names_scheduled_queue_size_and_what_to_do() -> None:
    orch = Orchestrator(VirtualClock(), scheduled_queue_size=2)
    orch.submit(job, 1)
    orch.submit(job, 2)
    with pytest.raises(QueueFull) as info:
        orch.submit(job, 3)
    assert str(info.value) == (
        "the scheduled queue of task key 'names.job' is full: 2 runs wait for a worker and "
        "its bound is 2. Start a TaskWorker that serves 'names.job', raise the bound "
        "(Orchestrator(scheduled_queue_size=...) for every key, or "
        "orchestrator.configure_task_key('names.job', scheduled_size=...) for this one), or "
        "submit from async code (asubmit), which waits for room"
    )
    assert orch.count_task_runs() == 2  # nothing was created
    orch.configure_task_key("names.job", scheduled_size=3)
    orch.submit(job, 3)
    with pytest.raises(QueueFull, match=r"3 runs wait for a worker and its bound is 3\."):
        orch.submit(job, 4)
    assert orch.count_task_runs() == 3
    orch.check_invariants()


def test_queue_full_docstring_names_the_options() -> None:
    doc = inspect.getdoc(QueueFull)
    assert doc is not None
    assert "scheduled_queue_size=" in doc
    assert "configure_task_key(" in doc


# -- a TaskWorker's ways to be ended are public --------------------------------------------------


def test_task_worker_documents_stop_and_cancel_publicly() -> None:
    doc = inspect.getdoc(TaskWorker)
    assert doc is not None
    assert "module docstring" not in doc  # the rules are on the public class itself
    for phrase in (":meth:`stop`", "handle_sigterm", "run(timeout=...)", "cancelling the task"):
        assert phrase in doc, phrase
    assert "`worker.stop()`" in README
    assert "cancelling the\ntask group" in README


# -- infrastructure_pid is a documented string ---------------------------------------------------


def test_infrastructure_pid_is_a_documented_string(orch: Orchestrator) -> None:
    assert str(attrs.fields_dict(FlowRun)["infrastructure_pid"].type) == "str | None"
    assert "str(pid)" in (inspect.getdoc(FlowRun) or "")
    run = make_flow_run(orch, "RUNNING")
    orch.update_flow_run(run.id, infrastructure_pid="4242")
    assert run.infrastructure_pid == "4242"
    with pytest.raises(ArgumentTypeError) as info:
        orch.update_flow_run(run.id, infrastructure_pid=4242)  # type: ignore[arg-type]
    assert str(info.value) == (
        "infrastructure_pid must be None or a string, such as str(pid) for a process id, got 4242"
    )
    assert run.infrastructure_pid == "4242"  # unchanged
    orch.update_flow_run(run.id, infrastructure_pid=None)
    assert run.infrastructure_pid is None

"""Work pools, work queues, deployments, and what a worker gets from get_scheduled_flow_runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import (
    Cancelling,
    Completed,
    Failed,
    FlowRunPolicy,
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    StateType,
    TemplateError,
    VirtualClock,
)
from orchestrator._pools._process_config import ProcessJobConfiguration
from orchestrator.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    DeploymentFilterWorkPoolName,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    return Orchestrator(clock=clock, seed=1)


@pytest.fixture
def flow_id(orch: Orchestrator) -> uuid.UUID:
    return orch.create_flow("etl").id


def schedule(
    orch: Orchestrator, flow_id: uuid.UUID, queue: str, when: float, pool: str = "pool"
) -> uuid.UUID:
    run = orch.create_flow_run(
        flow_id, state=Scheduled(at(when)), work_pool_name=pool, work_queue_name=queue
    )
    return run.id


# -- work pools -----------------------------------------------------------------------------


def test_a_new_pool_has_the_process_template_and_a_default_queue(orch: Orchestrator) -> None:
    pool = orch.create_work_pool("pool")
    assert pool.type == "process"
    assert pool.base_job_template == ProcessJobConfiguration.default_base_job_template()
    assert pool.concurrency_limit is None
    assert not pool.is_paused
    assert pool.created == START
    [queue] = orch.read_work_queues("pool")
    assert (queue.name, queue.priority, queue.work_pool_name) == ("default", 1, "pool")
    assert orch.read_work_pool("pool") is pool
    orch.check_invariants()


def test_a_pool_keeps_a_copy_of_its_template(orch: Orchestrator) -> None:
    template = ProcessJobConfiguration.default_base_job_template()
    pool = orch.create_work_pool("pool", base_job_template=template)
    template["job_configuration"]["command"] = "changed"
    assert pool.base_job_template["job_configuration"]["command"] == "{{ command }}"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (["job_configuration"], "must be a mapping"),
        ({"variables": {}}, "'job_configuration' must be a mapping"),
        ({"job_configuration": {}, "variables": []}, "'variables' must be a mapping"),
        (
            {"job_configuration": {}, "variables": {"properties": {"x": 1}}},
            "'variables.properties' must map",
        ),
        ({"job_configuration": {"image": "x"}, "variables": {}}, "does not have"),
    ],
    ids=["list", "no-job-configuration", "variables-list", "bad-property", "unknown-field"],
)
def test_a_bad_template_creates_nothing(orch: Orchestrator, template: object, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        orch.create_work_pool("pool", base_job_template=template)  # type: ignore[arg-type]
    assert orch.read_work_pools() == []


def test_another_pool_type_takes_any_well_formed_template(orch: Orchestrator) -> None:
    template = {"job_configuration": {"image": "{{ image }}"}, "variables": {"properties": {}}}
    pool = orch.create_work_pool("k8s", type="kubernetes", base_job_template=template)
    assert pool.base_job_template == template


@pytest.mark.parametrize(
    "kwargs",
    [{"concurrency_limit": -1}, {"concurrency_limit": True}, {"is_paused": "yes"}, {"type": ""}],
    ids=str,
)
def test_bad_pool_settings_create_nothing(orch: Orchestrator, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        orch.create_work_pool("pool", **kwargs)  # type: ignore[arg-type]
    assert orch.read_work_pools() == []


@pytest.mark.parametrize("name", ["", "a/b", "50%"])
def test_bad_pool_names_are_refused(orch: Orchestrator, name: str) -> None:
    with pytest.raises(InvalidArgument):
        orch.create_work_pool(name)


def test_a_pool_name_is_unique(orch: Orchestrator) -> None:
    pool = orch.create_work_pool("pool")
    with pytest.raises(ObjectAlreadyExists, match="update_work_pool"):
        orch.create_work_pool("pool", concurrency_limit=3)
    assert orch.read_work_pools() == [pool]
    assert pool.concurrency_limit is None


def test_unknown_pool_is_not_found(orch: Orchestrator) -> None:
    orch.create_work_pool("pool")
    with pytest.raises(ObjectNotFound, match=r"work pool 'nope' was not found.*'pool'"):
        orch.read_work_pool("nope")
    with pytest.raises(KeyError):
        orch.read_work_queues("nope")


def test_pools_are_filtered(orch: Orchestrator) -> None:
    a = orch.create_work_pool("a")
    b = orch.create_work_pool("b", is_paused=True)
    c = orch.create_work_pool("c", type="docker")
    assert orch.read_work_pools() == [a, b, c]
    assert orch.read_work_pools(names=["c", "a"]) == [a, c]
    assert orch.read_work_pools(type="process") == [a, b]
    assert orch.read_work_pools(is_paused=True) == [b]


def test_update_changes_only_what_is_given(clock: VirtualClock, orch: Orchestrator) -> None:
    pool = orch.create_work_pool("pool", concurrency_limit=2)
    clock.advance(5)
    orch.update_work_pool("pool", is_paused=True)
    assert (pool.concurrency_limit, pool.is_paused, pool.updated) == (2, True, at(5))
    orch.update_work_pool("pool", concurrency_limit=None)
    assert (pool.concurrency_limit, pool.is_paused) == (None, True)


def test_a_bad_update_changes_nothing(orch: Orchestrator) -> None:
    pool = orch.create_work_pool("pool", concurrency_limit=2)
    template = pool.base_job_template
    with pytest.raises(TemplateError):
        orch.update_work_pool("pool", base_job_template={"job_configuration": []})
    with pytest.raises(InvalidArgument):
        orch.update_work_pool("pool", concurrency_limit=-2, is_paused=True)
    assert (pool.base_job_template, pool.concurrency_limit, pool.is_paused) == (template, 2, False)


def test_delete_pool_with_its_queues(orch: Orchestrator) -> None:
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "fast")
    orch.delete_work_pool("pool")
    assert orch.read_work_pools() == []
    with pytest.raises(ObjectNotFound):
        orch.delete_work_pool("pool")
    orch.create_work_pool("pool")
    assert [q.name for q in orch.read_work_queues("pool")] == ["default"]
    orch.check_invariants()


def test_a_pool_in_use_is_not_deleted(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    with pytest.raises(InvalidArgument, match=r"used by deployments \['d'\]"):
        orch.delete_work_pool("pool")
    orch.delete_deployment(deployment.id)
    schedule(orch, flow_id, "default", 0)
    with pytest.raises(InvalidArgument, match="still has flow runs"):
        orch.delete_work_pool("pool")
    assert orch.read_work_pool("pool").name == "pool"


# -- work queues ----------------------------------------------------------------------------


def test_queue_priority_takes_the_first_gap(orch: Orchestrator) -> None:
    orch.create_work_pool("pool")  # default: 1
    assert orch.create_work_queue("pool", "b").priority == 2
    assert orch.create_work_queue("pool", "d", priority=4).priority == 4
    assert orch.create_work_queue("pool", "c").priority == 3
    assert orch.create_work_queue("pool", "e").priority == 5
    assert orch.create_work_queue("pool", "late", priority=1).priority == 1
    # Priorities stay unique (issue 10): "late" takes 1 and the others move down.
    names = [q.name for q in orch.read_work_queues("pool")]
    assert names == ["late", "default", "b", "c", "d", "e"]
    assert [q.priority for q in orch.read_work_queues("pool")] == [1, 2, 3, 4, 5, 6]
    assert [q.name for q in orch.read_work_queues("pool", names=["e", "b"])] == ["b", "e"]


@pytest.mark.parametrize(
    "kwargs",
    [{"priority": 0}, {"priority": 1.5}, {"concurrency_limit": -1}, {"is_paused": None}],
    ids=str,
)
def test_bad_queue_settings_create_nothing(orch: Orchestrator, kwargs: dict[str, object]) -> None:
    orch.create_work_pool("pool")
    with pytest.raises(InvalidArgument):
        orch.create_work_queue("pool", "q", **kwargs)  # type: ignore[arg-type]
    assert [q.name for q in orch.read_work_queues("pool")] == ["default"]


def test_queue_names_are_unique_per_pool(orch: Orchestrator) -> None:
    orch.create_work_pool("a")
    orch.create_work_pool("b")
    orch.create_work_queue("a", "q")
    orch.create_work_queue("b", "q")
    with pytest.raises(ObjectAlreadyExists):
        orch.create_work_queue("a", "q")
    with pytest.raises(ObjectNotFound):
        orch.create_work_queue("c", "q")


def test_update_and_delete_a_queue(clock: VirtualClock, orch: Orchestrator) -> None:
    orch.create_work_pool("pool")
    queue = orch.create_work_queue("pool", "q")
    clock.advance(1)
    orch.update_work_queue("pool", "q", priority=7, concurrency_limit=2, is_paused=True)
    assert (queue.priority, queue.concurrency_limit, queue.is_paused) == (7, 2, True)
    assert queue.updated == at(1)
    with pytest.raises(InvalidArgument):
        orch.update_work_queue("pool", "q", priority=0)
    assert queue.priority == 7
    orch.delete_work_queue("pool", "q")
    with pytest.raises(ObjectNotFound, match="has no queue by that name"):
        orch.read_work_queue("pool", "q")


def test_the_default_queue_and_busy_queues_stay(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "q")
    with pytest.raises(InvalidArgument, match="cannot be deleted"):
        orch.delete_work_queue("pool", "default")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool", work_queue_name="q")
    with pytest.raises(InvalidArgument, match="used by deployments"):
        orch.delete_work_queue("pool", "q")
    run = orch.create_flow_run_from_deployment(deployment.id)
    orch.delete_deployment(deployment.id)
    with pytest.raises(InvalidArgument, match="still has flow runs"):
        orch.delete_work_queue("pool", "q")
    orch.set_flow_run_state(run.id, Cancelling())  # no infrastructure: straight to Cancelled
    assert run.state_type is StateType.CANCELLED
    orch.delete_work_queue("pool", "q")


# -- deployments ----------------------------------------------------------------------------


def test_create_and_read_a_deployment(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "fast")
    deployment = orch.create_deployment(
        flow_id,
        "nightly",
        work_pool_name="pool",
        work_queue_name="fast",
        parameters={"day": "monday"},
        job_variables={"env": {"MODE": "prod"}},
        command=["python", "flow.py"],
        tags=["etl"],
    )
    assert deployment.command == ("python", "flow.py")
    assert deployment.work_queue_name == "fast"
    assert deployment.parameters == {"day": "monday"}
    assert orch.read_deployment(deployment.id) is deployment
    other = orch.create_deployment(flow_id, "adhoc", work_pool_name="pool")
    assert other.work_queue_name == "default"
    assert orch.read_deployments() == [deployment, other]
    by_name = DeploymentFilter(name=DeploymentFilterName(any_=["adhoc"]))
    assert orch.read_deployments(deployments=by_name) == [other]
    by_pool = DeploymentFilter(work_pool_name=DeploymentFilterWorkPoolName(any_=["pool"]))
    assert orch.read_deployments(deployments=by_pool) == [deployment, other]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"work_pool_name": "nope"}, ObjectNotFound, "work pool 'nope' was not found"),
        ({"work_pool_name": "pool", "work_queue_name": "nope"}, ObjectNotFound, "no queue"),
        ({"work_queue_name": "default"}, InvalidArgument, "needs a work_pool_name"),
        ({"command": "python flow.py"}, InvalidArgument, "never run through a shell"),
        ({"command": []}, InvalidArgument, "argument list is empty"),
        ({"command": ["python", 3]}, InvalidArgument, "must be a string"),
        ({"job_variables": {"env": {"N": 1}}}, InvalidArgument, r"\['N'\] must be a string"),
        ({"job_variables": {"env.N": 1.5}}, InvalidArgument, r"\['N'\] must be a string"),
        ({"job_variables": {"env": "A=1"}}, InvalidArgument, "must be a mapping"),
        ({"job_variables": ["x"]}, InvalidArgument, "must be a mapping"),
        ({"parameters": {"when": object()}}, InvalidArgument, "JSON-serialisable"),
        ({"parameters": {1: "x"}}, InvalidArgument, "names must be strings"),
        ({"paused": 1}, InvalidArgument, "paused must be True or False"),
        (
            {"work_pool_name": "pool", "job_variables": {"stream_output": "{{ x }} y"}},
            TemplateError,
            "stream_output",
        ),
    ],
    ids=[
        "unknown-pool",
        "unknown-queue",
        "queue-without-pool",
        "string-command",
        "empty-command",
        "non-string-argument",
        "int-env",
        "dotted-float-env",
        "string-env",
        "list-variables",
        "unserialisable-parameters",
        "int-parameter-name",
        "int-paused",
        "unrenderable",
    ],
)
def test_bad_deployments_create_nothing(
    orch: Orchestrator,
    flow_id: uuid.UUID,
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    orch.create_work_pool("pool")
    with pytest.raises(error, match=message):
        orch.create_deployment(flow_id, "d", **kwargs)  # type: ignore[arg-type]
    assert orch.read_deployments() == []


def test_deployment_names_are_unique_per_flow(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_deployment(flow_id, "d")
    with pytest.raises(ObjectAlreadyExists, match="update_deployment"):
        orch.create_deployment(flow_id, "d")
    other_flow = orch.create_flow("other").id
    orch.create_deployment(other_flow, "d")
    with pytest.raises(ObjectNotFound, match="create_flow"):
        orch.create_deployment(uuid.UUID(int=1), "d")
    assert len(orch.read_deployments()) == 2


def test_update_a_deployment(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("a")
    orch.create_work_pool("b")
    orch.create_work_queue("a", "fast")
    deployment = orch.create_deployment(
        flow_id, "d", work_pool_name="a", work_queue_name="fast", parameters={"x": 1}
    )
    orch.update_deployment(deployment.id, parameters={"x": 2}, paused=True, tags=["t"])
    assert (deployment.parameters, deployment.paused, deployment.tags) == (
        {"x": 2},
        True,
        frozenset({"t"}),
    )
    assert deployment.work_queue_name == "fast"
    orch.update_deployment(deployment.id, work_pool_name="b")
    assert (deployment.work_pool_name, deployment.work_queue_name) == ("b", "default")
    with pytest.raises(ObjectNotFound):
        orch.update_deployment(deployment.id, work_queue_name="fast")
    with pytest.raises(InvalidArgument):
        orch.update_deployment(deployment.id, command="run it", parameters={"x": 3})
    assert deployment.parameters == {"x": 2}
    assert deployment.work_queue_name == "default"


def test_runs_from_a_deployment(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "fast")
    deployment = orch.create_deployment(
        flow_id,
        "d",
        work_pool_name="pool",
        parameters={"a": 1, "b": 2},
        job_variables={"env": {"A": "1"}},
        tags=["etl"],
    )
    run = orch.create_flow_run_from_deployment(
        deployment.id,
        parameters={"b": 3},
        job_variables={"env": {"B": "2"}},
        tags=["adhoc"],
        work_queue_name="fast",
    )
    assert run.parameters == {"a": 1, "b": 3}
    assert run.job_variables == {"env": {"B": "2"}}
    assert run.tags == frozenset({"etl", "adhoc"})
    assert (run.deployment_id, run.work_pool_name, run.work_queue_name) == (
        deployment.id,
        "pool",
        "fast",
    )
    assert run.state is not None
    assert (run.state.type, run.state.details.scheduled_time) == (StateType.SCHEDULED, START)
    assert orch.get_scheduled_flow_runs("pool") == [run]
    orch.check_invariants()


def test_bad_runs_from_a_deployment_create_nothing(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    for kwargs, error in [
        ({"parameters": {"x": {1, 2}}}, InvalidArgument),
        ({"job_variables": {"env": {"X": ["a"]}}}, InvalidArgument),
        # An unknown queue is created (issue 10), but not by a refused call.
        ({"work_queue_name": "nope", "state": "Scheduled"}, InvalidArgument),
        ({"state": "Scheduled"}, InvalidArgument),
    ]:
        with pytest.raises(error):
            orch.create_flow_run_from_deployment(deployment.id, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ObjectNotFound):
        orch.create_flow_run_from_deployment(uuid.UUID(int=5))
    assert orch.count_flow_runs() == 0
    assert [q.name for q in orch.read_work_queues("pool")] == ["default"]


def test_flow_runs_outside_pools_are_checked_too(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    with pytest.raises(ObjectNotFound, match="work pool 'nope'"):
        orch.create_flow_run(flow_id, work_pool_name="nope")
    orch.create_work_pool("pool")
    with pytest.raises(ObjectNotFound, match="work queue 'q'"):
        orch.create_flow_run(flow_id, work_pool_name="pool", work_queue_name="q")
    with pytest.raises(InvalidArgument, match="env"):
        orch.create_flow_run(flow_id, work_pool_name="pool", job_variables={"env": {"X": 1}})
    assert orch.count_flow_runs() == 0
    run = orch.create_flow_run(flow_id, work_pool_name="pool")
    assert run.work_queue_name == "default"


# -- get_scheduled_flow_runs ------------------------------------------------------------------


def test_runs_come_by_priority_then_time_then_creation(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "low", priority=5)
    orch.create_work_queue("pool", "high", priority=2)
    low_early = schedule(orch, flow_id, "low", -30)
    high_late = schedule(orch, flow_id, "high", -10)
    default_late = schedule(orch, flow_id, "default", -1)
    high_early = schedule(orch, flow_id, "high", -20)
    high_tie_first = schedule(orch, flow_id, "high", -15)
    high_tie_second = schedule(orch, flow_id, "high", -15)
    future = schedule(orch, flow_id, "default", 60)
    runs = orch.get_scheduled_flow_runs("pool", scheduled_before=at(0))
    assert [r.id for r in runs] == [
        default_late,
        high_early,
        high_tie_first,
        high_tie_second,
        high_late,
        low_early,
    ]
    assert future not in [
        r.id for r in orch.get_scheduled_flow_runs("pool", scheduled_before=at(0), limit=10)
    ]
    # Without scheduled_before there is no upper bound (issue 10, as in Prefect).
    assert future in [r.id for r in orch.get_scheduled_flow_runs("pool", limit=10)]
    later = orch.get_scheduled_flow_runs("pool", scheduled_before=at(60), limit=2)
    assert [r.id for r in later] == [default_late, future]
    only_low = orch.get_scheduled_flow_runs("pool", work_queue_names=["low"])
    assert [r.id for r in only_low] == [low_early]


def test_polled_queues_are_marked(clock: VirtualClock, orch: Orchestrator) -> None:
    orch.create_work_pool("pool")
    other = orch.create_work_queue("pool", "other")
    clock.advance(3)
    orch.get_scheduled_flow_runs("pool", work_queue_names=["default"])
    assert orch.read_work_queue("pool", "default").last_polled == at(3)
    assert other.last_polled is None
    orch.get_scheduled_flow_runs("pool")
    assert other.last_polled == at(3)


def test_paused_pools_and_queues_give_nothing(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "q")
    in_default = schedule(orch, flow_id, "default", 0)
    in_q = schedule(orch, flow_id, "q", 0)
    orch.update_work_queue("pool", "default", is_paused=True)
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [in_q]
    orch.update_work_pool("pool", is_paused=True)
    assert orch.get_scheduled_flow_runs("pool") == []
    assert orch.next_scheduled_time("pool", after=at(-1)) is None
    orch.update_work_pool("pool", is_paused=False)
    orch.update_work_queue("pool", "default", is_paused=False)
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [in_default, in_q]


def test_queue_and_pool_limits_count_pending_and_running(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    orch.create_work_pool("pool", concurrency_limit=3)
    orch.create_work_queue("pool", "q", concurrency_limit=1)
    a = [schedule(orch, flow_id, "default", -i) for i in range(4)]
    b = [schedule(orch, flow_id, "q", -10 - i) for i in range(3)]
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [a[3], a[2], a[1]]
    orch.set_flow_run_state(a[3], Pending())
    orch.set_flow_run_state(a[2], Pending())
    orch.set_flow_run_state(a[2], Running())
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [a[1]]
    orch.update_work_queue("pool", "default", priority=3)  # q (priority 2) goes first now
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [b[2]]
    orch.set_flow_run_state(b[2], Pending())
    assert orch.get_scheduled_flow_runs("pool") == []  # the pool is full: 3 taken
    orch.set_flow_run_state(a[2], Completed())
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [a[1]]  # q is full
    orch.update_work_pool("pool", concurrency_limit=None)
    assert [r.id for r in orch.get_scheduled_flow_runs("pool", limit=2)] == [a[1], a[0]]
    orch.check_invariants()


def test_runs_retried_in_process_are_not_handed_out(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    run = orch.create_flow_run(
        flow_id,
        state=Running(),
        work_pool_name="pool",
        policy=FlowRunPolicy(retries=1),
    )
    result = orch.set_flow_run_state(run.id, Failed())
    assert result.status is SetStateStatus.REJECT
    assert run.state_name == "AwaitingRetry"
    assert run.empirical_policy.retry_type == "in_process"
    assert orch.get_scheduled_flow_runs("pool") == []
    orch.check_invariants()


def test_unknown_pools_and_queues_are_errors(orch: Orchestrator) -> None:
    orch.create_work_pool("pool")
    with pytest.raises(ObjectNotFound):
        orch.get_scheduled_flow_runs("nope")
    with pytest.raises(ObjectNotFound, match="work queue 'q'"):
        orch.get_scheduled_flow_runs("pool", work_queue_names=["default", "q"])
    with pytest.raises(InvalidArgument):
        orch.get_scheduled_flow_runs("pool", work_queue_names="default")
    with pytest.raises(InvalidArgument):
        orch.get_scheduled_flow_runs("pool", limit=-1)
    with pytest.raises(InvalidArgument, match="no timezone"):
        orch.get_scheduled_flow_runs("pool", scheduled_before=datetime(2026, 1, 1))


def test_next_scheduled_time(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    orch.create_work_pool("pool")
    orch.create_work_queue("pool", "q")
    assert orch.next_scheduled_time("pool") is None
    schedule(orch, flow_id, "q", 30)
    schedule(orch, flow_id, "default", 0)
    schedule(orch, flow_id, "default", 45)
    assert orch.next_scheduled_time("pool") == at(30)
    assert orch.next_scheduled_time("pool", after=at(30)) == at(45)
    assert orch.next_scheduled_time("pool", work_queue_names=["default"]) == at(45)
    assert orch.next_scheduled_time("pool", after=at(-1)) == START


def test_the_pool_signal_fires_when_work_may_be_found(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    orch.create_work_pool("pool")
    signal = orch.work_pool_signal("pool")
    seen = signal.generation
    run = schedule(orch, flow_id, "default", 0)
    assert signal.generation == seen + 1  # a run became due
    orch.set_flow_run_state(run, Pending())
    assert signal.generation == seen + 1  # claiming it finds no new work
    orch.set_flow_run_state(run, Running())
    orch.set_flow_run_state(run, Completed())
    assert signal.generation == seen + 2  # its slot is free again
    orch.update_work_queue("pool", "default", concurrency_limit=4)
    orch.update_work_pool("pool", is_paused=False)
    assert signal.generation == seen + 4
    other = orch.create_flow_run(flow_id, state=Scheduled())
    assert other.work_pool_name is None
    assert signal.generation == seen + 4

"""Issue 10, the rest of the flow-run surface, against Prefect's documented behaviour.

* renaming a work queue (the default one included) with ``update_work_queue(name=...)``:
  its runs, the pool's run indexes and its deployments follow, and a renamed default queue
  stays the pool's default;
* ``task_runs=`` and ``work_pools=`` on flow-run queries (read, count, delete, paginate):
  runs with a matching task run, runs filed in a queue of a matching pool;
* ``resume_flow_run(run_input=...)`` stores the input under the paused state's response
  key, where ``read_flow_run_input`` reads it.

All on the virtual clock, with exact times.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import (
    Completed,
    FlowRun,
    InvalidArgument,
    ObjectAlreadyExists,
    ObjectNotFound,
    Orchestrator,
    Paused,
    Pending,
    Running,
    Scheduled,
    SetStateStatus,
    StateDetails,
    StateType,
    VirtualClock,
)
from orchestrator.filters import (
    FlowRunFilter,
    FlowRunFilterWorkQueueName,
    FlowRunSort,
    Operator,
    TaskRunFilter,
    WorkPoolFilter,
    WorkPoolFilterName,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def orch(clock: VirtualClock) -> Orchestrator:
    orch = Orchestrator(clock=clock, seed=1)
    orch.create_work_pool("pool")
    return orch


@pytest.fixture
def flow_id(orch: Orchestrator) -> uuid.UUID:
    return orch.create_flow("etl").id


def schedule(
    orch: Orchestrator, flow_id: uuid.UUID, when: float, queue: str | None = None
) -> uuid.UUID:
    run = orch.create_flow_run(
        flow_id, state=Scheduled(at(when)), work_pool_name="pool", work_queue_name=queue
    )
    return run.id


# -- renaming the default work queue ------------------------------------------------------------


def test_renaming_the_default_queue_moves_its_runs_deployments_and_default_role(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect: runs and deployments refer to the queue itself, so a rename carries them;
    the pool's default queue is the same queue under its new name."""
    due = schedule(orch, flow_id, 10)
    done = orch.create_flow_run(flow_id, state=Completed(), work_pool_name="pool").id
    busy = orch.create_flow_run(flow_id, state=Pending(), work_pool_name="pool").id
    deployment = orch.create_deployment(flow_id, "d", work_pool_name="pool")
    clock.advance(5)

    queue = orch.update_work_queue("pool", "default", name="main")

    assert queue.name == "main"
    assert queue.updated == at(5)
    assert [q.name for q in orch.read_work_queues("pool")] == ["main"]
    assert orch.read_work_pool("pool").default_queue_name == "main"
    for run_id in (due, done, busy):
        assert orch.read_flow_run(run_id).work_queue_name == "main"
    assert orch.read_deployment(deployment.id).work_queue_name == "main"
    assert orch.read_deployment(deployment.id).updated == at(5)
    # The store's queue index and the pool's due and active indexes follow.
    by_queue = FlowRunFilter(work_queue_name=FlowRunFilterWorkQueueName(any_=["main"]))
    assert {run.id for run in orch.read_flow_runs(flow_runs=by_queue)} == {due, done, busy}
    old = FlowRunFilter(work_queue_name=FlowRunFilterWorkQueueName(any_=["default"]))
    assert orch.read_flow_runs(flow_runs=old) == []
    assert [r.id for r in orch.get_scheduled_flow_runs("pool", work_queue_names=["main"])] == [due]
    with pytest.raises(Exception, match="default"):
        orch.read_work_queue("pool", "default")
    # A run created without a queue name goes to the renamed default queue.
    later = schedule(orch, flow_id, 20)
    assert orch.read_flow_run(later).work_queue_name == "main"
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [due, later]
    # ... and so does a deployment created without one.
    assert orch.create_deployment(flow_id, "e", work_pool_name="pool").work_queue_name == "main"
    # The renamed default still cannot be deleted; the name "default" is free again.
    with pytest.raises(InvalidArgument, match="'main' is the default queue"):
        orch.delete_work_queue("pool", "main")
    orch.create_work_queue("pool", "default")
    orch.delete_work_queue("pool", "default")
    orch.check_invariants()


def test_renaming_keeps_the_order_of_runs_due_at_the_same_time(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Runs due together keep their creation order after the rename (no re-filing)."""
    orch.create_work_queue("pool", "side", priority=2)
    ids = [schedule(orch, flow_id, 10, "side") for _ in range(3)]
    orch.update_work_queue("pool", "side", name="lane", priority=1)
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == ids
    assert {q.name: q.priority for q in orch.read_work_queues("pool")} == {
        "lane": 1,
        "default": 2,
    }
    orch.check_invariants()


def test_renaming_only_touches_the_queue_of_that_pool(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """A queue of the same name in another pool keeps its runs and its name."""
    orch.create_work_pool("other")
    other = orch.create_flow_run(flow_id, state=Scheduled(at(1)), work_pool_name="other").id
    schedule(orch, flow_id, 1)
    orch.update_work_queue("pool", "default", name="main")
    assert orch.read_flow_run(other).work_queue_name == "default"
    assert orch.read_work_pool("other").default_queue_name == "default"
    assert [r.id for r in orch.get_scheduled_flow_runs("other")] == [other]
    orch.check_invariants()


def test_renaming_to_a_taken_name_is_refused_and_changes_nothing(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Queue names are unique within a pool; a refused update changes nothing at all."""
    orch.create_work_queue("pool", "side")
    run = schedule(orch, flow_id, 1)
    clock.advance(3)
    with pytest.raises(ObjectAlreadyExists, match="already has a queue named 'side'"):
        orch.update_work_queue("pool", "default", name="side", priority=5, is_paused=True)
    default = orch.read_work_queue("pool", "default")
    assert (default.priority, default.is_paused, default.updated) == (1, False, START)
    assert orch.read_flow_run(run).work_queue_name == "default"
    assert orch.read_work_pool("pool").default_queue_name == "default"
    orch.check_invariants()


def test_renaming_to_its_own_name_is_a_plain_update(orch: Orchestrator) -> None:
    queue = orch.update_work_queue("pool", "default", name="default", concurrency_limit=3)
    assert (queue.name, queue.concurrency_limit) == ("default", 3)
    orch.check_invariants()


# -- task-run and work-pool filters on flow-run queries ----------------------------------------


@pytest.fixture
def spread(orch: Orchestrator, flow_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Runs in two pools of two types, one without a pool; task runs in some of them."""
    orch.create_work_pool("docker-pool", type="docker")
    orch.create_work_queue("pool", "side")
    runs = {
        "pool/default": schedule(orch, flow_id, 1),
        "pool/side": schedule(orch, flow_id, 2, "side"),
        "docker": orch.create_flow_run(
            flow_id, state=Scheduled(at(3)), work_pool_name="docker-pool"
        ).id,
        "loose": orch.create_flow_run(flow_id, state=Pending()).id,
    }
    orch.create_task_run("extract", flow_run_id=runs["pool/side"], tags=["db"])
    orch.create_task_run("load", flow_run_id=runs["docker"], state=Running())
    orch.create_task_run("load", flow_run_id=runs["loose"], tags=["db"], state=Running())
    orch.create_task_run("orphan", tags=["db"])  # no flow run: selects nothing
    return runs


def ids(runs: list[FlowRun]) -> set[uuid.UUID]:
    return {run.id for run in runs}


def test_work_pool_filter_keeps_runs_filed_in_a_matching_pool(
    orch: Orchestrator, spread: dict[str, uuid.UUID]
) -> None:
    """Prefect joins a flow run to its queue and the queue to its pool: runs without a
    pool never match; the pool is selected by name, type or id."""
    by_name = WorkPoolFilter(name=["pool"])
    assert ids(orch.read_flow_runs(work_pools=by_name)) == {
        spread["pool/default"],
        spread["pool/side"],
    }
    assert orch.count_flow_runs(work_pools=by_name) == 2
    assert ids(orch.read_flow_runs(work_pools=WorkPoolFilter(type=["docker"]))) == {
        spread["docker"]
    }
    docker_id = orch.read_work_pool("docker-pool").id
    assert ids(orch.read_flow_runs(work_pools=WorkPoolFilter(id=[docker_id]))) == {spread["docker"]}
    like = WorkPoolFilter(name=WorkPoolFilterName(like_="DOCK"))
    assert ids(orch.read_flow_runs(work_pools=like)) == {spread["docker"]}
    either = WorkPoolFilter(name=["pool"], type=["docker"], operator=Operator.OR)
    assert orch.count_flow_runs(work_pools=either) == 3
    assert orch.read_flow_runs(work_pools=WorkPoolFilter(name=["nope"])) == []
    assert orch.count_flow_runs(work_pools=WorkPoolFilter()) == 3  # every pooled run
    # Combined with the other filters (all must hold) and after a queue rename.
    orch.update_work_queue("pool", "side", name="lane")
    queue = FlowRunFilter(work_queue_name=FlowRunFilterWorkQueueName(any_=["lane"]))
    assert ids(orch.read_flow_runs(flow_runs=queue, work_pools=by_name)) == {spread["pool/side"]}


def test_task_run_filter_keeps_runs_with_a_matching_task_run(
    orch: Orchestrator, spread: dict[str, uuid.UUID]
) -> None:
    """Prefect: a flow run matches when one of its task runs matches the filter."""
    tagged = TaskRunFilter(tags=["db"])
    assert ids(orch.read_flow_runs(task_runs=tagged)) == {spread["pool/side"], spread["loose"]}
    running = TaskRunFilter(state=[StateType.RUNNING])
    assert ids(orch.read_flow_runs(task_runs=running)) == {spread["docker"], spread["loose"]}
    assert orch.count_flow_runs(task_runs=tagged, work_pools=WorkPoolFilter(name=["pool"])) == 1
    assert orch.read_flow_runs(task_runs=TaskRunFilter(name=["no-such-task"])) == []
    # The pages of paginate_flow_runs and their count follow the filter: "loose" is
    # expected at 0 s (created PENDING then), "pool/side" at 2 s.
    pages = [
        orch.paginate_flow_runs(
            task_runs=tagged, page=n, limit=1, sort=FlowRunSort.EXPECTED_START_TIME_ASC
        )
        for n in (1, 2)
    ]
    assert [(p.count, p.pages, [r.id for r in p.results]) for p in pages] == [
        (2, 2, [spread["loose"]]),
        (2, 2, [spread["pool/side"]]),
    ]
    pooled = orch.paginate_flow_runs(work_pools=WorkPoolFilter(type=["docker"]))
    assert (pooled.count, [r.id for r in pooled.results]) == (1, [spread["docker"]])


def test_delete_flow_runs_with_pool_and_task_filters(
    orch: Orchestrator, spread: dict[str, uuid.UUID]
) -> None:
    assert orch.delete_flow_runs(work_pools=WorkPoolFilter(type=["docker"])) == 1
    assert orch.delete_flow_runs(task_runs=TaskRunFilter(tags=["db"])) == 2
    assert ids(orch.read_flow_runs()) == {spread["pool/default"]}
    assert [r.id for r in orch.get_scheduled_flow_runs("pool")] == [spread["pool/default"]]
    orch.check_invariants()


def test_pool_and_task_filters_of_the_wrong_type_are_refused(orch: Orchestrator) -> None:
    with pytest.raises(InvalidArgument, match="work_pools"):
        orch.read_flow_runs(work_pools=TaskRunFilter())  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="task_runs"):
        orch.count_flow_runs(task_runs=WorkPoolFilter())  # type: ignore[arg-type]


POOLS = (("a", "process"), ("b", "docker"), ("c", "process"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    placements=st.lists(
        st.tuples(
            st.sampled_from([None, "a", "b", "c"]),
            st.sampled_from(["default", "q"]),
            st.lists(st.tuples(st.sampled_from(["x", "y"]), st.booleans()), max_size=3),
        ),
        max_size=12,
    ),
    renamed=st.booleans(),
    pool_names=st.none() | st.lists(st.sampled_from(["a", "b", "c", "z"]), max_size=2),
    pool_types=st.none() | st.lists(st.sampled_from(["process", "docker"]), max_size=1),
    task_tags=st.none() | st.lists(st.sampled_from(["x", "y"]), max_size=2),
    task_running=st.none() | st.booleans(),
)
def test_pool_and_task_filters_agree_with_a_brute_force_scan(
    placements: list[tuple[str | None, str, list[tuple[str, bool]]]],
    renamed: bool,
    pool_names: list[str] | None,
    pool_types: list[str] | None,
    task_tags: list[str] | None,
    task_running: bool | None,
) -> None:
    """read/count_flow_runs with random pool and task filters equal a scan of every run."""
    orch = Orchestrator(clock=VirtualClock(START), seed=1)
    flow = orch.create_flow("f").id
    for name, kind in POOLS:
        orch.create_work_pool(name, type=kind)
        orch.create_work_queue(name, "q")
    for i, (pool, queue, tasks) in enumerate(placements):
        run = orch.create_flow_run(
            flow,
            state=Scheduled(at(i)),
            work_pool_name=pool,
            work_queue_name=None if pool is None else queue,
        )
        for j, (tag, running) in enumerate(tasks):
            orch.create_task_run(
                f"t{j}", flow_run_id=run.id, tags=[tag], state=Running() if running else None
            )
    if renamed:
        orch.update_work_queue("a", "default", name="main")
    pools = WorkPoolFilter(name=pool_names, type=pool_types)
    tasks_filter = TaskRunFilter(
        tags=task_tags,
        state=None
        if task_running is None
        else [StateType.RUNNING if task_running else StateType.PENDING],
    )

    def pool_ok(run: FlowRun) -> bool:
        pool_name = run.work_pool_name
        if pool_name is None:
            return False
        return pools.matches(orch.read_work_pool(pool_name))

    task_runs = orch.read_task_runs()

    def task_ok(run: FlowRun) -> bool:
        return any(t.flow_run_id == run.id and tasks_filter.matches(t) for t in task_runs)

    every = orch.read_flow_runs()
    expected = {r.id for r in every if pool_ok(r) and task_ok(r)}
    found = orch.read_flow_runs(work_pools=pools, task_runs=tasks_filter)
    assert {r.id for r in found} == expected
    assert len(found) == len(expected)
    assert orch.count_flow_runs(work_pools=pools, task_runs=tasks_filter) == len(expected)
    assert {r.id for r in orch.read_flow_runs(work_pools=pools)} == {
        r.id for r in every if pool_ok(r)
    }
    assert orch.count_flow_runs(task_runs=tasks_filter) == sum(map(task_ok, every))


# -- resume_flow_run(run_input=...) --------------------------------------------------------------


def paused_for_input(orch: Orchestrator, flow_id: uuid.UUID) -> uuid.UUID:
    run = orch.create_flow_run(flow_id, state=Running()).id
    keyset = {"description": "k-description", "response": "k-response", "schema": "k-schema"}
    waiting = Paused(pause_key="approve", details=StateDetails(run_input_keyset=keyset))
    assert orch.set_flow_run_state(run, waiting).status is SetStateStatus.ACCEPT
    return run


def test_resume_with_input_stores_it_under_the_response_key(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect: an accepted resume stores the input under the keyset's "response" key."""
    run = paused_for_input(orch, flow_id)
    clock.advance(30)
    names = ["ann"]
    answer = {"approved": True, "by": names}
    result = orch.resume_flow_run(run, run_input=answer)
    assert result.status is SetStateStatus.ACCEPT
    assert result.state is not None
    assert (result.state.type, result.state.timestamp) == (StateType.RUNNING, at(30))
    stored = orch.read_flow_run_input(run, "k-response")
    assert stored == {"approved": True, "by": ["ann"]}
    names.append("bob")  # the stored input is a copy, and so is what is read
    stored["approved"] = False
    assert orch.read_flow_run_input(run, "k-response") == {"approved": True, "by": ["ann"]}
    with pytest.raises(ObjectNotFound, match=r"'k-schema'.*inputs: 'k-response'"):
        orch.read_flow_run_input(run, "k-schema")


def test_resume_with_input_of_a_pause_waiting_for_none_aborts(
    orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """Prefect aborts a resume that brings input to a pause that asked for none."""
    run = orch.create_flow_run(flow_id, state=Running()).id
    orch.set_flow_run_state(run, Paused())
    result = orch.resume_flow_run(run, run_input={"x": 1})
    assert result.status is SetStateStatus.ABORT
    assert result.details.reason == (
        "Cannot resume with input: the flow run is not waiting for input."
    )
    assert orch.read_flow_run(run).state_type is StateType.PAUSED
    with pytest.raises(ObjectNotFound, match="inputs: none"):
        orch.read_flow_run_input(run, "k-response")
    # Without input the same pause resumes; an empty input counts as none.
    assert orch.resume_flow_run(run, run_input={}).status is SetStateStatus.ACCEPT


def test_a_refused_resume_stores_no_input(
    clock: VirtualClock, orch: Orchestrator, flow_id: uuid.UUID
) -> None:
    """The input is stored only when the resume is accepted (an expired pause fails)."""
    run = orch.create_flow_run(flow_id, state=Running()).id
    keyset = {"response": "k-response"}
    orch.set_flow_run_state(
        run,
        Paused(pause_timeout=at(10), details=StateDetails(run_input_keyset=keyset)),
    )
    clock.advance(11)
    result = orch.resume_flow_run(run, run_input={"x": 1})
    assert result.status is not SetStateStatus.ACCEPT
    with pytest.raises(ObjectNotFound):
        orch.read_flow_run_input(run, "k-response")
    orch.check_invariants()


def test_inputs_go_with_their_run(orch: Orchestrator, flow_id: uuid.UUID) -> None:
    run = paused_for_input(orch, flow_id)
    orch.resume_flow_run(run, run_input={"x": 1})
    orch.delete_flow_run(run)
    with pytest.raises(ObjectNotFound, match="flow run"):
        orch.read_flow_run_input(run, "k-response")

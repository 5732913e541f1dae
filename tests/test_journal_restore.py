"""Restoring an orchestrator from its journal: what a user reads back is what was there.

The property test drives a journaled orchestrator with a random sequence of public
calls on task runs (creations with and without a first state, proposals forced or not,
renames, deletions of runs and of past states, time moving on, a compaction at a random
point), closes it, opens a fresh orchestrator on the same file and compares every read:
each run's fields, its history, query orders and counts; ``check_invariants()`` holds.
Runs left PENDING or RUNNING are recovered as a dead worker's; the other tests pin
that recovery down, and what a failed journal write does.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import (
    AwaitingRetry,
    Completed,
    Failed,
    FlowRun,
    JournalCorrupted,
    JournalError,
    Orchestrator,
    Pending,
    Running,
    Scheduled,
    SQLiteJournal,
    State,
    StateDetails,
    StateType,
    TaskRun,
    TaskRunPolicy,
    VirtualClock,
    task,
)
from orchestrator.filters import TaskRunFilter, TaskRunFilterState, TaskRunSort
from orchestrator.testing import run_until_idle_sync

_ACTIVE = (StateType.PENDING, StateType.RUNNING)


@pytest.fixture
def journal_path() -> Iterator[Path]:
    """A journal path in a fresh directory."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "runs.db"


def run_fields(orchestrator: Orchestrator, run: TaskRun) -> dict[str, Any]:
    """Everything a user reads of one task run, its history included."""
    state = run.state
    assert state is not None
    return {
        "name": run.name,
        "task_key": run.task_key,
        "dynamic_key": run.dynamic_key,
        "flow_run_id": run.flow_run_id,
        "tags": run.tags,
        "labels": dict(run.labels),
        "policy": run.empirical_policy,
        "state": (state.id, state.type, state.name, state.timestamp, state.details),
        "run_count": run.run_count,
        "times": (run.expected_start_time, run.start_time, run.end_time),
        "total_run_time": run.total_run_time,
        "created": run.created,
        "updated": run.updated,
        "history": [
            (s.id, s.type, s.name, s.timestamp, s.message)
            for s in orchestrator.read_task_run_states(run.id)
        ],
        "decisions": orchestrator.read_decisions(run.id),
    }


def flow_run_fields(orchestrator: Orchestrator, run: FlowRun) -> dict[str, Any]:
    """Everything a user reads of one flow run, its history included."""
    state = run.state
    assert state is not None
    return {
        "name": run.name,
        "flow_id": run.flow_id,
        "parameters": dict(run.parameters),
        "tags": run.tags,
        "state": (state.id, state.type, state.name, state.timestamp, state.details),
        "run_count": run.run_count,
        "times": (run.expected_start_time, run.start_time, run.end_time),
        "updated": run.updated,
        "history": [
            (s.id, s.type, s.name, s.timestamp) for s in orchestrator.read_flow_run_states(run.id)
        ],
        "decisions": orchestrator.read_decisions(run.id),
    }


def observe(orchestrator: Orchestrator) -> dict[str, Any]:
    """Every read the comparison makes: runs, query orders and counts by state."""
    runs = {run.id: run_fields(orchestrator, run) for run in orchestrator.read_task_runs()}
    runs.update(
        (run.id, flow_run_fields(orchestrator, run)) for run in orchestrator.read_flow_runs()
    )
    orders = {
        sort: [run.id for run in orchestrator.read_task_runs(sort=sort)]
        for sort in (TaskRunSort.ID_DESC, TaskRunSort.NAME_ASC, TaskRunSort.NAME_DESC)
    }
    counts = {
        kind: orchestrator.count_task_runs(
            task_runs=TaskRunFilter(state=TaskRunFilterState(type=[kind]))
        )
        for kind in StateType
    }
    limits = [
        (limit.id, limit.tag, limit.concurrency_limit, limit.active_slots, limit.updated)
        for limit in orchestrator.read_concurrency_limits()
    ]
    cache = orchestrator._engine.cache
    entries = {
        key: [(entry.expiration, entry.state.id) for entry in cache.entries(key)]
        for key in cache.cache_keys()
    }
    return {
        "runs": runs,
        "orders": orders,
        "counts": counts,
        "limits": limits,
        "cache": entries,
    }


_PROPOSALS = st.sampled_from(["pending", "running", "completed", "failed", "scheduled", "retry"])


def _proposal(kind: str, clock: VirtualClock) -> State:
    if kind == "pending":
        return Pending()
    if kind == "running":
        return Running()
    if kind == "completed":  # cached for a minute: entries are added and pruned
        expiry = clock.now() + timedelta(seconds=60)
        return Completed(details=StateDetails(cache_key="ck", cache_expiration=expiry))
    if kind == "failed":
        return Failed(message="boom")
    if kind == "scheduled":
        return Scheduled(clock.now(), deferred=True)
    return AwaitingRetry(clock.now())


_STEP = st.one_of(
    st.tuples(
        st.just("create"),
        st.sampled_from(["a", "b"]),
        st.sampled_from([None, "pending", "running", "scheduled"]),
        st.booleans(),
    ),
    st.tuples(st.just("propose"), st.integers(0, 20), _PROPOSALS, st.booleans()),
    st.tuples(st.just("rename"), st.integers(0, 20), st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("delete_state"), st.integers(0, 20), st.integers(0, 5)),
    st.tuples(st.just("tick"), st.floats(0, 100)),
    st.tuples(st.just("compact")),
    st.tuples(st.just("flow_run"), st.sampled_from([None, "pending", "running", "scheduled"])),
    st.tuples(st.just("flow_propose"), st.integers(0, 20), _PROPOSALS, st.booleans()),
    st.tuples(st.just("flow_rename"), st.integers(0, 20), st.sampled_from(["p", "q"])),
    st.tuples(st.just("flow_delete"), st.integers(0, 20)),
    st.tuples(st.just("child"), st.integers(0, 20)),
    st.tuples(st.just("limit"), st.sampled_from(["a", "b"]), st.integers(0, 2)),
    st.tuples(st.just("unlimit"), st.sampled_from(["a", "b"])),
    st.tuples(st.just("reset"), st.sampled_from(["a", "b"])),
)


def _apply_limit(orchestrator: Orchestrator, step: tuple[Any, ...]) -> None:
    kind, tag = step[0], step[1]
    if kind == "limit":
        orchestrator.create_concurrency_limit(tag, step[2])
        return
    if tag not in {limit.tag for limit in orchestrator.read_concurrency_limits()}:
        return
    if kind == "unlimit":
        orchestrator.delete_concurrency_limit(tag)
    else:
        orchestrator.reset_concurrency_limit(tag)


def _apply_flow(orchestrator: Orchestrator, clock: VirtualClock, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "flow_run":
        flow = orchestrator.create_flow("f")
        state = None if step[1] is None else _proposal(step[1], clock)
        if step[1] == "scheduled":
            state = Scheduled(clock.now())
        orchestrator.create_flow_run(flow.id, state=state, parameters={"n": 1})
        return
    runs = sorted(orchestrator.read_flow_runs(), key=lambda run: run.created)
    if not runs:
        return
    run = runs[step[1] % len(runs)]
    if kind == "flow_propose":
        proposal = _proposal(step[2], clock)
        if proposal.type is StateType.SCHEDULED:
            proposal = Scheduled(clock.now())
        orchestrator.set_flow_run_state(run.id, proposal, force=step[3])
    elif kind == "flow_rename":
        orchestrator.update_flow_run(run.id, name=step[2])
    elif kind == "flow_delete":
        orchestrator.delete_flow_run(run.id)
    else:
        orchestrator.create_task_run("child", flow_run_id=run.id)


def _apply(orchestrator: Orchestrator, clock: VirtualClock, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind.startswith("flow") or kind == "child":
        _apply_flow(orchestrator, clock, step)
        return
    if kind in ("limit", "unlimit", "reset"):
        _apply_limit(orchestrator, step)
        return
    runs = sorted(orchestrator.read_task_runs(), key=lambda run: run.created)
    if kind == "create":
        _, key, first, retried = step
        policy = TaskRunPolicy(retries=1) if retried else None
        state = None if first is None else _proposal(first, clock)
        if first == "pending":
            state = Pending()
        orchestrator.create_task_run(
            key, state=state, policy=policy, tags={key}, cache_key="ck" if key == "b" else None
        )
    elif kind == "tick":
        clock.advance(step[1])
    elif kind == "compact":
        orchestrator.compact_journal()
    elif runs:
        run = runs[step[1] % len(runs)]
        if kind == "propose":
            orchestrator.set_task_run_state(run.id, _proposal(step[2], clock), force=step[3])
        elif kind == "rename":
            orchestrator.update_task_run(run.id, name=step[2])
        elif kind == "delete":
            orchestrator.delete_task_run(run.id)
        else:
            history = orchestrator.read_task_run_states(run.id)
            if len(history) > 1:
                past = history[step[2] % (len(history) - 1)]
                orchestrator.delete_task_run_state(past.id)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(_STEP, max_size=30),
    threshold=st.sampled_from([None, 7]),
    durability=st.sampled_from(["normal", "batch"]),
)
def test_a_restored_orchestrator_answers_as_the_original(
    journal_path: Path, steps: list[tuple[Any, ...]], threshold: int | None, durability: Any
) -> None:
    journal_path.unlink(missing_ok=True)
    clock = VirtualClock()
    journal = SQLiteJournal(journal_path, compact_threshold=threshold, durability=durability)
    original = Orchestrator(clock, journal=journal)
    for step in steps:
        _apply(original, clock, step)
    before = observe(original)
    active = {run_id for run_id, fields in before["runs"].items() if fields["state"][1] in _ACTIVE}
    original.close()

    restored = Orchestrator(VirtualClock(), journal=journal_path)
    try:
        restored.check_invariants()
        assert restored.clock.now() == clock.now()
        after = observe(restored)
        assert after["runs"].keys() == before["runs"].keys()
        for run_id, fields in before["runs"].items():
            again = after["runs"][run_id]
            if run_id in active:
                # recovered: the history so far is kept, one recovery state follows
                assert again["history"][:-1] == fields["history"]
                assert again["decisions"][:-1] == fields["decisions"]
                assert again["state"][1] in (StateType.SCHEDULED, StateType.CRASHED)
            else:
                assert again == fields
        for sort in (TaskRunSort.ID_DESC, TaskRunSort.NAME_ASC):
            assert after["orders"][sort] == before["orders"][sort]
        assert after["cache"] == before["cache"]
        if not active:
            assert after["counts"] == before["counts"]
            assert after["limits"] == before["limits"]
            assert restored.new_id() == original.new_id()  # the id source resumed
    finally:
        restored.close()


def test_claimed_and_running_runs_are_recovered_as_a_dead_workers(journal_path: Path) -> None:
    clock = VirtualClock()
    with Orchestrator(clock, journal=journal_path) as original:
        queued = original.create_task_run("k", state=Scheduled(deferred=True)).run
        claimed = original.create_task_run("k", state=Scheduled(deferred=True)).run
        original.set_task_run_state(claimed.id, Pending(deferred=True))
        retried = original.create_task_run(
            "k", state=Scheduled(deferred=True), policy=TaskRunPolicy(retries=1)
        ).run
        original.set_task_run_state(retried.id, Pending(deferred=True))
        original.set_task_run_state(retried.id, Running(details=StateDetails(deferred=True)))
        crashed = original.create_task_run("k").run
        original.set_task_run_state(crashed.id, Running())
        clock.advance(30)

    with Orchestrator(VirtualClock(), journal=journal_path) as restored:
        restored.check_invariants()
        assert restored.clock.now() == clock.now()

        def state(run_id: uuid.UUID) -> State:
            found = restored.read_task_run(run_id).state
            assert found is not None
            return found

        assert state(queued.id).name == "Scheduled"
        assert state(claimed.id).name == "AwaitingRetry"
        assert state(claimed.id).details.scheduled_time == clock.now()
        assert state(retried.id).name == "AwaitingRetry"
        assert restored.read_task_run(retried.id).run_count == 1
        assert state(crashed.id).type is StateType.CRASHED
        queues = restored._engine.queues
        assert {queued.id, claimed.id, retried.id} <= {
            run_id for run_id in (queued.id, claimed.id, retried.id) if run_id in queues
        }
        assert crashed.id not in queues


def test_a_recovery_is_itself_journaled(journal_path: Path) -> None:
    with Orchestrator(VirtualClock(), journal=journal_path) as original:
        run = original.create_task_run("k").run
        original.set_task_run_state(run.id, Running())
    with Orchestrator(VirtualClock(), journal=journal_path) as once:
        first = once.read_task_run_states(run.id)
    with Orchestrator(VirtualClock(), journal=journal_path) as twice:
        assert twice.read_task_run_states(run.id) == first


def test_a_failed_commit_raises_and_the_last_committed_call_is_what_restores(
    journal_path: Path,
) -> None:
    original = Orchestrator(VirtualClock(), journal=journal_path)
    run = original.create_task_run("k").run
    original.set_task_run_state(run.id, Running())
    writer = original._engine.journal
    assert writer is not None
    connection = writer.file._connection
    assert connection is not None
    connection.close()
    with pytest.raises(JournalError):
        original.set_task_run_state(run.id, Completed())
    with pytest.raises(JournalError):
        original.create_task_run("k")
    original.close()
    with Orchestrator(VirtualClock(), journal=journal_path) as restored:
        assert [s.type for s in restored.read_task_run_states(run.id)][:2] == [
            StateType.PENDING,
            StateType.RUNNING,
        ]


def test_an_unserialisable_value_refuses_the_change(journal_path: Path) -> None:
    with Orchestrator(VirtualClock(), journal=journal_path) as original:
        run = original.create_task_run("k").run
        with pytest.raises(JournalError, match=r"cannot be journaled"):
            original.set_task_run_state(run.id, Failed(data=lambda: None))
        state = original.read_task_run(run.id).state
        assert state is not None
        assert state.type is StateType.PENDING
        assert len(original.read_task_run_states(run.id)) == 1
        original.check_invariants()


def test_a_journal_object_with_options_and_a_second_opener(journal_path: Path) -> None:
    journal = SQLiteJournal(journal_path, durability="full")
    with (
        Orchestrator(VirtualClock(), journal=journal),
        pytest.raises(JournalError, match="in use by process"),
    ):
        Orchestrator(journal=journal_path)


def test_batch_mode_commits_everything_by_close(journal_path: Path) -> None:
    journal = SQLiteJournal(journal_path, durability="batch", batch_window=3600)
    with Orchestrator(VirtualClock(), journal=journal) as original:
        ids = [original.create_task_run("k").run.id for _ in range(5)]
    with Orchestrator(VirtualClock(), journal=journal_path) as restored:
        assert {run.id for run in restored.read_task_runs()} == set(ids)


def test_an_unclosed_journal_warns_when_collected(journal_path: Path) -> None:
    original = Orchestrator(VirtualClock(), journal=journal_path)
    original.create_task_run("k")
    with pytest.warns(ResourceWarning, match="not closed"):
        original._finalizer()
    with Orchestrator(VirtualClock(), journal=journal_path) as restored:
        assert len(restored.read_task_runs()) == 1


def test_a_journal_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError, match="journal"):
        Orchestrator(journal=42)


@task
def add(x: int, y: int) -> int:
    """A background task for the drain after a restore."""
    return x + y


def test_submitted_runs_and_their_parameters_survive_and_drain_after_a_restore(
    journal_path: Path,
) -> None:
    with Orchestrator(VirtualClock(), journal=journal_path) as original:
        for number in range(3):
            original.submit(add, number, 10)
    with Orchestrator(VirtualClock(), journal=journal_path) as restored:
        assert len(restored.result_store) == 3  # the parameters came back
        run_until_idle_sync(restored, add)
        runs = restored.read_task_runs()
        assert sorted(run.state.data for run in runs if run.state is not None) == [10, 11, 12]
        restored.check_invariants()
    with Orchestrator(VirtualClock(), journal=journal_path) as again:
        assert {run.state.name for run in again.read_task_runs() if run.state} == {"Completed"}
        assert len(again.result_store) == 0  # the parameters went with the finished runs


def _objects(orchestrator: Orchestrator) -> dict[str, Any]:
    """What a user reads of pools, queues, deployments and the runs due in a pool."""
    pools = orchestrator.read_work_pools()
    return {
        "pools": [
            (p.id, p.name, p.concurrency_limit, p.is_paused, p.updated, dict(p.base_job_template))
            for p in pools
        ],
        "queues": [
            (q.id, q.name, q.priority, q.concurrency_limit, q.is_paused, q.updated)
            for p in pools
            for q in orchestrator.read_work_queues(p.name)
        ],
        "deployments": [
            (d.id, d.name, d.work_pool_name, d.work_queue_name, d.tags, d.updated)
            for d in orchestrator.read_deployments()
        ],
        "limits": [
            (limit.tag, limit.concurrency_limit) for limit in orchestrator.read_concurrency_limits()
        ],
    }


def test_pools_queues_and_deployments_are_restored(journal_path: Path) -> None:
    clock = VirtualClock()
    with Orchestrator(clock, journal=journal_path) as original:
        flow = original.create_flow("etl")
        original.create_work_pool("pool", concurrency_limit=3)
        original.create_work_queue("pool", "fast", priority=1)
        original.create_work_queue("pool", "slow")
        deployment = original.create_deployment(
            flow.id, "nightly", work_pool_name="pool", work_queue_name="slow", concurrency_limit=1
        )
        run = original.create_flow_run_from_deployment(deployment.id, state=Scheduled(clock.now()))
        clock.advance(5)
        original.update_work_queue("pool", "slow", name="slower", is_paused=True)
        original.update_work_pool("pool", is_paused=True)
        original.update_deployment(deployment.id, tags=["night"])
        other = original.create_deployment(flow.id, "gone")
        original.delete_deployment(other.id)
        original.create_work_pool("empty")
        original.delete_work_pool("empty")
        original.configure_task_key("k", scheduled_size=5, retry_size=2)
        before = _objects(original)
        run_before = flow_run_fields(original, original.read_flow_run(run.id))

    with Orchestrator(VirtualClock(), journal=journal_path) as restored:
        restored.check_invariants()
        assert _objects(restored) == before
        assert flow_run_fields(restored, restored.read_flow_run(run.id)) == run_before
        assert restored.read_flow_run(run.id).work_queue_name == "slower"
        bounds = restored.task_queues.for_key("k")
        assert (bounds.scheduled_size, bounds.retry_size) == (5, 2)
        restored.compact_journal()
    with Orchestrator(VirtualClock(), journal=journal_path) as compacted:
        compacted.check_invariants()
        assert _objects(compacted) == before
        assert compacted.task_queues.for_key("k").scheduled_size == 5


def test_a_record_that_does_not_fit_is_reported_and_nothing_is_half_loaded(
    journal_path: Path,
) -> None:
    with Orchestrator(VirtualClock(), journal=journal_path) as original:
        run = original.create_task_run("k").run
        original.delete_task_run(run.id)
    connection = sqlite3.connect(journal_path)
    with connection:  # the deletion now comes first: it removes a run never added
        connection.execute(
            "UPDATE log SET seq = -1 WHERE seq = (SELECT max(seq) FROM log WHERE count > 0)"
        )
    connection.close()
    with pytest.raises(JournalCorrupted, match="does not fit"):
        Orchestrator(VirtualClock(), journal=journal_path)
    # the lock was freed: the file can be opened again (and fails the same way)
    with pytest.raises(JournalCorrupted):
        Orchestrator(VirtualClock(), journal=journal_path)


def test_a_batch_is_committed_when_its_window_ends_without_another_call(
    journal_path: Path,
) -> None:
    journal = SQLiteJournal(journal_path, durability="batch", batch_window=0.05)
    with Orchestrator(VirtualClock(), journal=journal) as original:
        original.create_task_run("k")

        def committed() -> int:
            connection = sqlite3.connect(journal_path)
            try:
                (count,) = connection.execute("SELECT total(count) FROM log").fetchone()
            finally:
                connection.close()
            return int(count)  # records in the log's rows

        assert committed() == 0  # waiting for its window
        for thread in threading.enumerate():
            if thread.name == "journal batch":
                thread.join(timeout=10)
        assert committed() > 0


def test_the_log_is_compacted_at_its_threshold_and_restores_the_same(journal_path: Path) -> None:
    journal = SQLiteJournal(journal_path, compact_threshold=10)
    with Orchestrator(VirtualClock(), journal=journal) as original:
        for _ in range(20):
            run = original.create_task_run("k").run
            original.set_task_run_state(run.id, Running())
            original.set_task_run_state(run.id, Completed())
        assert journal.log_count < 10
        before = observe(original)
    with Orchestrator(VirtualClock(), journal=journal_path) as restored:
        restored.check_invariants()
        assert observe(restored) == before

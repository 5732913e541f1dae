"""The journal's wire form: every record it writes positionally comes back exactly.

Runs, states and commits holding any value the models allow, odd ones included (a time
in another zone, an id of another type), go through a row's bytes and back equal, field
by field; a row naming a class is refused unread. Restored runs of one task share one
policy object, as the original's did, and with retention on the file stays flat across
compactions.
"""

from __future__ import annotations

import pickle
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import (
    Completed,
    Orchestrator,
    Retention,
    Running,
    Scheduled,
    SQLiteJournal,
    VirtualClock,
)
from orchestrator._core._models import TaskRun, TaskRunPolicy
from orchestrator._core._state_record import State
from orchestrator._journal._codec import Codec
from orchestrator._journal._records import (
    MirroredDecisions,
    PlainDecision,
    RunAdded,
    RunHistory,
    StateCommitted,
)
from orchestrator._journal._wire import Wire
from orchestrator._journal._writer import register_records
from tests.test_journal_codec import fields, states, task_runs

ODD_TIMES = st.datetimes(timezones=st.sampled_from([None, timezone(timedelta(hours=-3))]))
times = st.none() | st.datetimes(timezones=st.just(UTC)) | ODD_TIMES
numbers = st.integers(0, 10) | st.floats(0, 1e6)


def wire() -> Wire:
    codec = Codec()
    register_records(codec)
    return Wire(codec)


def round_trip(record: Any) -> Any:
    """``record`` through a row's bytes and back."""
    line = wire()
    (back,) = line.load(line.body([line.tree(record, "a record")]))
    return back


def same_state(left: State | None, right: State | None) -> bool:
    if left is None or right is None:
        return left is right
    return bool(left == right and left.id == right.id and left.details == right.details)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60, deadline=None)
@given(task_runs)
def test_a_task_run_added_comes_back_with_every_field(run: TaskRun) -> None:
    back = round_trip(RunAdded(run)).run
    assert type(back) is TaskRun
    mine, theirs = fields(back), fields(run)
    assert same_state(mine.pop("state"), theirs.pop("state"))
    assert mine == theirs


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60, deadline=None)
@given(task_runs, st.lists(states, max_size=3))
def test_a_snapshots_run_history_comes_back_with_its_states(
    run: TaskRun, history: list[State]
) -> None:
    back = round_trip(RunHistory(run, tuple(history)))
    assert len(back.states) == len(history)
    assert all(map(same_state, back.states, history))
    mine, theirs = fields(back.run), fields(run)
    assert mine.pop("state") is None  # the history's last is the state; restore sets it
    theirs.pop("state")
    assert mine == theirs


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=80, deadline=None)
@given(
    st.uuids(),
    st.booleans(),
    states,
    numbers,
    st.none() | numbers,
    numbers,
    st.lists(times, min_size=5, max_size=5),
    st.sampled_from([0, 1, 2]),
)
def test_a_commit_comes_back_with_its_bookkeeping(
    run_id: uuid.UUID,
    flow: bool,
    state: State,
    count: float,
    parent_count: float | None,
    total: float,
    times_: list[datetime | None],
    plain: int,
) -> None:
    values = (count, parent_count, total, state.timestamp, *times_[1:])  # updated is now
    record = StateCommitted(run_id, flow, state, values, None, plain)
    back = round_trip(record)
    assert (back.run_id, back.flow, back.plain) == (run_id, flow, plain)
    assert same_state(back.state, state)
    assert back.values == values
    assert [type(value) for value in back.values] == [type(value) for value in values]
    for mine, theirs in zip(back.values[3:], values[3:], strict=True):
        assert getattr(mine, "tzinfo", None) == getattr(theirs, "tzinfo", None)


def test_decision_marks_come_back() -> None:
    run_id = uuid.uuid4()
    assert round_trip(PlainDecision(run_id, True, True)) == PlainDecision(run_id, True, True)
    assert round_trip(MirroredDecisions(run_id, False, 9)) == MirroredDecisions(run_id, False, 9)


def test_a_row_naming_a_class_is_refused_unread() -> None:
    line = wire()
    with pytest.raises(pickle.UnpicklingError, match=r"names builtins\.print"):
        line.load(pickle.dumps((print,)))


def test_restored_runs_of_a_task_share_one_policy(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    policy = TaskRunPolicy(retries=2, retry_delay=5)  # one task's, shared by its runs
    with Orchestrator(VirtualClock(), journal=path) as original:
        for _ in range(3):
            original.create_task_run("k", state=Scheduled(), policy=policy)
        original.compact_journal()
    with Orchestrator(VirtualClock(), journal=path) as restored:
        policies = {id(run.empirical_policy) for run in restored.read_task_runs()}
        assert len(policies) == 1
        (run, *_) = restored.read_task_runs()
        assert (run.empirical_policy.retries, run.empirical_policy.retry_delay) == (2, 5.0)


def test_with_retention_compaction_keeps_the_file_flat(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    journal = SQLiteJournal(path, compact_threshold=500)
    sizes = []
    with Orchestrator(
        VirtualClock(), journal=journal, retention=Retention(max_terminal_runs=50)
    ) as orchestrator:
        for _ in range(6):
            for _ in range(200):
                run = orchestrator.create_task_run("k").run
                orchestrator.set_task_run_state(run.id, Running())
                orchestrator.set_task_run_state(run.id, Completed())
            orchestrator.compact_journal()
            sizes.append(path.stat().st_size)
        assert len(orchestrator.read_task_runs()) == 50
    assert max(sizes[2:]) <= sizes[1] * 1.1, sizes  # flat: freed pages are given back
